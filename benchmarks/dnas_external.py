"""DNAS in the external-memory design space beside TinyOpsV2 Table 1's hand-picked scalings.

Run: python benchmarks/dnas_external.py [--synthetic 32] [--epochs 2] [--batch-size 8] [--threads 2] [--json]

For the F746 and F469 `@paper` boards (8 MB SDRAM + 8 MB QSPI, the paper's SRAM figure as the
SRAM cap of every plan), a SHORT search of the ImageNet-shaped MobileNetV2 space (3 x R x R input,
1000 classes; R = 160 on the F746, 128 on the F469) with `--strategy overlay-v2`: flash budget =
the board's largest external memory, latency budget = the fastest hand-picked TinyOpsV2 row of
that board as tinyops predicts it under the same strategy. The search runs on the synthetic VWW
stand-in (tens of images, a couple of epochs, CPU: about a minute per board on a loaded 2-core
machine), so its accuracy means nothing and is not printed beside the paper's; the table compares
COSTS: ops (2 x MACs), flash (the serialized int8 model, `analyze`), SRAM (the overlay-v2 plan:
activations in SRAM + overlay buffers, capped at the paper's SRAM) and predicted latency (the
cost model on the verified overlay-v2 plan at the board's maximum clock, cmsis-nn kernels).
Table 1 rows are built with the zoo exactly as benchmarks/tinyops_tables.py builds them (its row
list); every row, searched or hand-picked, is measured by the same function.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO / "benchmarks"))

from tinyops_tables import BOARDS, ROWS  # noqa: E402

from tinyops.hw.board import load_board  # noqa: E402
from tinyops.search.budgets import make_budgets  # noqa: E402
from tinyops.search.dnas import SearchConfig, materialize, search  # noqa: E402
from tinyops.search.dnas_data import open_data  # noqa: E402
from tinyops.search.proxy import measure  # noqa: E402
from tinyops.search.space import imagenet_space  # noqa: E402

STRATEGY = "overlay-v2"
KERNELS = "cmsis-nn"
RESOLUTION = {"F746": 160, "F469": 128}


def cost_row(label: str, space: str, graph: Any, board: Any, limit: int, paper_ms: float | None) -> dict[str, Any]:
    m = measure(graph, board, KERNELS, STRATEGY, limit)
    return {"model": label, "space": space, "mops": m.ops / 1e6, "flash_kb": m.flash_bytes / 1024,
            "sram_kb": None if m.plan_sram_bytes is None else m.plan_sram_bytes / 1024,
            "latency_ms": m.latency_ms, "feasible": m.feasible, "paper_ms": paper_ms}


def run_board(name: str, args: argparse.Namespace) -> dict[str, Any]:
    from tinyops.zoo import build_model

    board = load_board(BOARDS[name] + "@paper")
    limit: int = (board.paper_config.sram_bytes if board.paper_config and board.paper_config.sram_bytes
                  else board.largest_contiguous_sram_bytes)
    rows = []
    for row in ROWS:
        if row.table != "T1" or row.board != name or row.family is None:
            continue
        graph = build_model(row.family, width=row.width, resolution=row.resolution)
        rows.append(cost_row(row.label, row.design_space, graph, board, limit, row.latency_ms))
    hand_picked = [r for r in rows if r["space"] == "tinyopsv2" and r["latency_ms"] is not None]
    budget_ms = min(r["latency_ms"] for r in hand_picked)
    resolution = RESOLUTION[name]
    data = open_data("vww", None, args.synthetic, args.seed, image_size=resolution, image_channels=3)
    space = imagenet_space(resolution)
    budgets = make_budgets(board, board, STRATEGY, KERNELS, None, limit / 1024, budget_ms, None)
    config = SearchConfig(epochs=args.epochs, batch_size=args.batch_size, seed=args.seed, threads=args.threads)
    started = time.perf_counter()
    result = search(space, materialize(data.train), materialize(data.validation), budgets, board, board, config)
    seconds = time.perf_counter() - started
    searched = cost_row(f"DNAS-r{resolution} ({result.status})", "searched", result.architecture.build_graph(),
                        board, limit, None)
    return {"board": board.id, "resolution": resolution, "latency_budget_ms": budget_ms,
            "sram_limit_kb": limit / 1024, "flash_budget_kb": budgets.flash_bytes / 1024 if budgets.flash_bytes else None,
            "search_seconds": round(seconds, 1), "status": result.status, "repairs": len(result.repairs),
            "widths": list(result.architecture.widths), "rows": rows + [searched]}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--synthetic", type=int, default=32)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    results = [run_board(name, args) for name in ("F746", "F469")]
    if args.json:
        print(json.dumps(results, indent=1))
        return 0
    for r in results:
        print(f"\n{r['board']}@paper, {STRATEGY}, {KERNELS}; SRAM cap {r['sram_limit_kb']:.0f} KiB (paper Table 3); "
              f"flash budget {r['flash_budget_kb']:.0f} KiB external; latency budget {r['latency_budget_ms']:.0f} ms "
              f"(fastest hand-picked row, predicted)")
        print(f"{'model':26} {'space':9} {'Mops':>7} {'flash KiB':>9} {'SRAM KiB':>8} {'pred ms':>8} {'paper ms':>8}")
        for row in r["rows"]:
            latency = "no plan" if row["latency_ms"] is None else f"{row['latency_ms']:.0f}"
            sram = "-" if row["sram_kb"] is None else f"{row['sram_kb']:.0f}"
            paper = "-" if row["paper_ms"] is None else f"{row['paper_ms']:.0f}"
            print(f"{row['model']:26} {row['space']:9} {row['mops']:7.1f} {row['flash_kb']:9.0f} {sram:>8} "
                  f"{latency:>8} {paper:>8}")
        print(f"search: {r['search_seconds']} s, status {r['status']}, {r['repairs']} repair steps; widths "
              + " ".join(str(w) for w in r["widths"]))
    print("\nShort search on synthetic stand-in data (3-channel VWW images, 2 of the 1000 labels used): accuracy "
          "is not comparable and not shown; the table compares costs. Every row is measured by the same "
          "analyze + overlay-v2 plan + simulate, paper rows built by the zoo as benchmarks/tinyops_tables.py does.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
