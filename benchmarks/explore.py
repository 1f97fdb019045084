"""Speed: a 1000-configuration sweep (4 families x 5 widths x 5 resolutions x 10 boards), every
strategy of the planning registry on each, in under 60 s on 2 cores (the process pool).

    python benchmarks/explore.py [--workers 2] [--keep results.csv]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from tinyops.search.explore import Sweep, explore, strategy_names  # noqa: E402

TARGET_S = 60.0
FAMILIES = ("mobilenetv2", "mobilenetv3-large-no-se", "mnasnet-b1", "proxylessnas-mobile")
WIDTHS = (0.35, 0.5, 0.75, 1.0, 1.4)
RESOLUTIONS = ((96, 96), (128, 128), (160, 160), (192, 192), (224, 224))
# Ten boards: every bundled one but the F446RE, the TinyOpsV2 boards in their paper configuration.
BOARDS = ("nucleo-f746zg", "nucleo-f767zi", "nucleo-h743zi", "nucleo-h7a3zi-q", "nucleo-l4r5zi",
          "nucleo-u575zi-q", "stm32f469i-disco@paper", "stm32f746g-disco@paper", "stm32h743i-eval@paper",
          "stm32l552e-eval")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--keep", help="also keep the CSV at this path")
    args = parser.parse_args()
    sweep = Sweep(FAMILIES, WIDTHS, RESOLUTIONS, BOARDS, strategy_names())
    configurations = len(sweep.configurations())
    with tempfile.TemporaryDirectory() as tmp:
        output = Path(args.keep) if args.keep else Path(tmp) / "explore.csv"
        started = time.perf_counter()
        result = explore(sweep, output, workers=args.workers)
        elapsed = time.perf_counter() - started
    feasible = sum(r["feasible"] == "true" for r in result.rows)
    print(f"{'configurations':>14} {'rows':>6} {'feasible':>8} {'workers':>7} {'cores':>5} {'seconds':>8} {'target':>7}")
    print(f"{configurations:>14} {len(result.rows):>6} {feasible:>8} {args.workers:>7} {os.cpu_count():>5} "
          f"{elapsed:>8.1f} {TARGET_S:>7.0f}")
    print(f"strategies: {', '.join(sweep.strategies)}; {configurations / elapsed:.1f} configurations/s")
    return 0 if elapsed < TARGET_S else 1


if __name__ == "__main__":
    sys.exit(main())
