"""Timing shared by the benchmark scripts (run as `python benchmarks/NAME.py`, so this imports as
`timing`)."""

from __future__ import annotations

import time
from typing import Any, Callable


def best_of(repeats: int, work: Callable[[], Any], warm_up: bool = False) -> float:
    """The fastest of ``repeats`` timed calls of ``work``, in seconds (the least-disturbed run on a
    shared machine); ``warm_up`` makes one untimed call first."""
    if warm_up:
        work()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - start)
    return best
