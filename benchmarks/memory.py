"""Activation arena per shared model: TFLM's own head (measured by its interpreter in this run, the
anchor), our reproduction of it, our best plan, the lower bound, and planning time.

    python benchmarks/memory.py [--no-oracle] [--json]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from tinyops.frontends import load_model
from tinyops.ir.dtypes import DType
from tinyops.ir.graph import Op, Subgraph, Tensor
from tinyops.memory import plan_memory
from tinyops.oracles import OracleError, tflm_arena

MODELS = Path(__file__).resolve().parents[1].parent / "shared" / "models"
INT8_CNNS = {"ic_resnet8_int8", "ic_resnet_large_int8", "kws_dscnn_int8", "vww_mobilenetv1_96_int8", "sww_ref_model",
             "person_detect", "micro_speech_quantized", "mcunet_vww", "mcunet_detection"}


def synthetic_graph(num_ops: int, seed: int = 0) -> Subgraph:
    """A MobileNet-like chain with residual ADDs and side branches, for planning-time figures."""
    rng = random.Random(seed)
    x = Tensor("in", (1, 32, 32, 16), DType.INT8)
    tensors, ops, current = [x], [], x
    for index in range(num_ops):
        channels = rng.choice((8, 16, 32, 48))
        out = Tensor(f"t{index}", (1, 32, 32, channels), DType.INT8)
        if index % 5 == 4 and len(tensors) > 3:
            partner = rng.choice(tensors[-4:-1])
            out = Tensor(f"t{index}", current.shape, DType.INT8)
            ops.append(Op("CUSTOM", [current, partner], [out], custom_code="Merge"))
        else:
            ops.append(Op("CUSTOM", [current], [out], custom_code="Layer"))
        tensors.append(out)
        current = out
    subgraph = Subgraph("synthetic", tensors, ops, [x], [current])
    subgraph.link()
    return subgraph


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-oracle", action="store_true", help="skip running the TFLM interpreter")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rows = []
    for path in sorted(MODELS.glob("*/*.tflite")):
        graph = load_model(path)
        tflm_plan = plan_memory(graph, planner="tflm")
        started = time.perf_counter()
        best = plan_memory(graph)
        planning_ms = (time.perf_counter() - started) * 1000
        head = None
        if not args.no_oracle:
            try:
                head = tflm_arena(path.read_bytes())["head"]
            except (OracleError, KeyError):
                head = None
        anchor = head if head is not None else tflm_plan.arena_bytes
        rows.append({"model": path.stem, "ops": len(graph.main.ops), "tflm_head": head, "ours_tflm": tflm_plan.arena_bytes,
                     "ours_best": best.arena_bytes, "lower_bound": best.lower_bound_bytes,
                     "best_vs_tflm": round(best.arena_bytes / anchor, 3) if anchor else None,
                     "reduction": round(1 - best.arena_bytes / anchor, 3) if anchor else 0.0,
                     "planning_ms": round(planning_ms, 1)})
    timings = []
    for num_ops in (100, 200):
        subgraph = synthetic_graph(num_ops)
        started = time.perf_counter()
        plan = plan_memory(subgraph)
        timings.append({"synthetic_ops": num_ops, "planning_ms": round((time.perf_counter() - started) * 1000, 1),
                        "reorder_exact": plan.reorder_exact})
    median = statistics.median(r["reduction"] for r in rows if r["model"] in INT8_CNNS)
    if args.json:
        json.dump({"models": rows, "synthetic": timings, "median_int8_cnn_reduction": median}, sys.stdout, indent=2)
        return 0
    table = Table(title="activation arena (bytes); anchor = TFLM head measured by its interpreter")
    for column in ("model", "ops", "TFLM head", "ours (tflm)", "ours (best)", "lower bound", "best/TFLM",
                   "reduction", "plan ms"):
        table.add_column(column, justify="left" if column == "model" else "right")
    for r in rows:
        table.add_row(r["model"], str(r["ops"]), "n/a" if r["tflm_head"] is None else f"{r['tflm_head']:,}",
                      f"{r['ours_tflm']:,}", f"{r['ours_best']:,}", f"{r['lower_bound']:,}",
                      f"{r['best_vs_tflm']:.3f}", f"{r['reduction']:.1%}", f"{r['planning_ms']:.1f}")
    console = Console(width=150)
    console.print(table)
    console.print(f"median reduction over the int8 CNNs: {median:.1%}")
    for t in timings:
        console.print(f"synthetic {t['synthetic_ops']}-op graph: planned in {t['planning_ms']:.0f} ms "
                      f"(reordering {'exact' if t['reorder_exact'] else 'beam'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
