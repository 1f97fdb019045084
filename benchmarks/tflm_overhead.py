"""TFLM's persistent (tail) allocations per shared model: the TFLM Python interpreter's tail
(measured in this run, the anchor) beside our formula with 64-bit sizes, and the 32-bit (Cortex-M)
figure `analyze` reports, with the arena head and the resulting SRAM total.

    python benchmarks/tflm_overhead.py [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from tinyops.frontends import load_model  # noqa: E402
from tinyops.memory.runtime_overhead import CORTEX_M_ABI, PYTHON_WHEEL_ABI, tflm_runtime_overhead  # noqa: E402
from tinyops.oracles import OracleError, tflm_arena  # noqa: E402

MODELS = Path(__file__).resolve().parents[1].parent / "shared" / "models"


def rows() -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for path in sorted(MODELS.glob("*/*.tflite")):
        graph = load_model(path)
        ours64 = tflm_runtime_overhead(graph, PYTHON_WHEEL_ABI).total_bytes
        ours32 = tflm_runtime_overhead(graph, CORTEX_M_ABI)
        try:
            arena = tflm_arena(path.read_bytes())
        except OracleError as exc:
            out.append({"model": path.stem, "tflm": str(exc), "ours_64bit": ours64, "ours_32bit": ours32.total_bytes})
            continue
        out.append({"model": path.stem, "tflm_head": arena["head"], "tflm_tail": arena["tail"], "ours_64bit": ours64,
                    "error_percent": round(100 * (ours64 - arena["tail"]) / arena["tail"], 2),
                    "ours_32bit": ours32.total_bytes, "sram_32bit": arena["head"] + ours32.total_bytes,
                    "unknown_ops": list(ours32.unknown_ops)})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    table = rows()
    if args.json:
        print(json.dumps(table, indent=2))
        return
    print(f"{'model':28s} {'head':>8s} {'tail x64':>9s} {'ours x64':>9s} {'error':>7s} {'ours M':>8s} {'SRAM M':>8s}")
    for r in table:
        if "tflm_tail" not in r:
            print(f"{r['model']:28s} {'TFLM cannot load it':>27s} {r['ours_64bit']:9,} {'':>7s} {r['ours_32bit']:8,}")
            continue
        print(f"{r['model']:28s} {r['tflm_head']:8,} {r['tflm_tail']:9,} {r['ours_64bit']:9,} "
              f"{r['error_percent']:+6.1f}% {r['ours_32bit']:8,} {r['sram_32bit']:8,}")
    errors = [abs(float(r["error_percent"])) for r in table if "error_percent" in r]  # type: ignore[arg-type]
    print(f"{len(errors)} models TFLM loads: worst |error| {max(errors):.2f}%, mean {sum(errors) / len(errors):.2f}%"
          " (x64 = TFLM Python interpreter on x86-64, the anchor; M = 32-bit Cortex-M build, head + tail)")


if __name__ == "__main__":
    main()
