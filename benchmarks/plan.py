"""Speed: plan + simulate a 100-op model (target < 200 ms).

    python benchmarks/plan.py
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from tinyops.hw.board import load_board  # noqa: E402
from tinyops.planning.internal import plan_internal  # noqa: E402
from tinyops.sim.simulator import simulate  # noqa: E402
from tinyops.sim.synthetic import mobilenet_like  # noqa: E402

TARGET_MS = 200.0


def main() -> int:
    graph = mobilenet_like(48, 32, 48)  # stem + 48 x (dw3x3 + 1x1) + pool + reshape + fc = 100 ops
    assert len(graph.main.ops) == 100
    board = load_board("stm32f746g-disco")
    simulate(plan_internal(graph, board))  # warm up: parameter files, imports
    times = []
    for _ in range(10):
        t0 = time.perf_counter()
        plan = plan_internal(graph, board)
        sim = simulate(plan)
        times.append((time.perf_counter() - t0) * 1e3)
    median = statistics.median(times)
    print(f"{'model':<28} {'ops':>4} {'board':<18} {'plan+simulate ms (median of 10)':>32} {'target':>7}")
    print(f"{graph.description:<28} {len(graph.main.ops):>4} {board.id:<18} {median:>32.1f} {TARGET_MS:>7.0f}")
    print(f"simulated latency {sim.latency_ms:.2f} ms, {len(sim.tasks)} tasks")
    return 0 if median < TARGET_MS else 1


if __name__ == "__main__":
    sys.exit(main())
