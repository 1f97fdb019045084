"""Fuzz tinyops: mutated shared models through analyze/memory/plan/run, mutated board files through
analyze/plan, and the option/output-path cases; print counts by outcome and the failure places.

    python benchmarks/fuzz.py --cases 20000 --board-cases 1000 --workers 2
    python benchmarks/fuzz.py --cases 500 --only-small      # what CI runs, about a minute

Every failure line ends with a recipe (model, mutator, seed) that
``tinyops.testing.fuzz.replay`` re-runs; see docs/robustness.md.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from tinyops.testing.fuzz import (
    board_cases,
    format_summary,
    model_cases,
    option_cases,
    run_cases,
)

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT.parent / "shared" / "models"
BOARDS = ROOT / "src" / "tinyops" / "hw" / "boards"
SMALL_BYTES = 120_000  # models that run through all four commands in well under a second


def shared_models(models_dir: Path, only_small: bool) -> list[Path]:
    found = sorted(models_dir.rglob("*.tflite"))
    return [p for p in found if not only_small or p.stat().st_size <= SMALL_BYTES]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=2000, help="mutated-model cases (default 2000)")
    parser.add_argument("--board-cases", type=int, default=200, help="mutated-board cases (default 200)")
    parser.add_argument("--no-options", action="store_true", help="skip the option/output-path cases")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--timeout-s", type=float, default=20.0, help="limit per command (default 20 s)")
    parser.add_argument("--models", type=Path, default=MODELS, help="folder of .tflite files to mutate")
    parser.add_argument("--only-small", action="store_true", help=f"only models up to {SMALL_BYTES:,} B")
    args = parser.parse_args()

    models = shared_models(args.models, args.only_small)
    if not models:
        print(f"no .tflite models under {args.models}", file=sys.stderr)
        return 2
    small = min(models, key=lambda p: p.stat().st_size)
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="tinyops-fuzz-options-") as folder:
        cases = model_cases(models, args.cases, args.seed)
        cases += board_cases(sorted(BOARDS.glob("*.toml")), small, args.board_cases, args.seed)
        if not args.no_options:
            cases += option_cases(Path(folder), small, sorted(BOARDS.glob("*.toml"))[0])

        def progress(done: int, total: int) -> None:
            if done % 250 == 0 or done == total:
                print(f"  {done:,}/{total:,} cases, {time.monotonic() - start:,.0f} s", file=sys.stderr)

        summary = run_cases(cases, workers=args.workers, timeout_s=args.timeout_s, progress=progress)
    print(f"{len(models)} models, {args.cases:,} model cases, {args.board_cases:,} board cases, "
          f"seed {args.seed}, {args.workers} workers, {time.monotonic() - start:,.0f} s")
    print(format_summary(summary))
    return 1 if summary.failures() else 0


if __name__ == "__main__":
    sys.exit(main())
