"""A re-implementation of TFLM's GreedyMemoryPlanner, faithful down to its tie-breaking.

TFLM places buffers one at a time: first the offline-planned ones (at their given offsets, in id
order), then the others from largest to smallest; among equal sizes the buffer added last goes
first (TFLM fills its sort array from the tail, then bubble-sorts it, which is stable). Each buffer
goes into the first gap, scanning already-placed buffers that are live at the same time in
increasing offset order, that is large enough; otherwise above the highest of them. The arena is
the highest end over all placed buffers. Sizes are already 16-byte aligned by the caller, as
TFLM's MicroAllocator does before handing buffers to the planner.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

ONLINE = -1  # kOnlinePlannedBuffer


@dataclass(frozen=True)
class GreedyResult:
    offsets: list[int]
    arena_bytes: int


def _placement_order(sizes: Sequence[int], offline: Sequence[int]) -> list[int]:
    fixed = [i for i in range(len(sizes)) if offline[i] != ONLINE]
    online = [i for i in reversed(range(len(sizes))) if offline[i] == ONLINE]
    # Python's sort is stable like TFLM's bubble sort; the reversed fill makes the later id win ties.
    online.sort(key=lambda i: -sizes[i])
    return fixed + online


def greedy_offsets(sizes: Sequence[int], first_times: Sequence[int], last_times: Sequence[int],
                   offline: Sequence[int] | None = None) -> GreedyResult:
    """Offsets TFLM's greedy planner gives buffers (id order = position in the sequences)."""
    count = len(sizes)
    if count == 0:
        return GreedyResult([], 0)
    offline = list(offline) if offline is not None else [ONLINE] * count
    order = _placement_order(sizes, offline)
    offsets = [ONLINE] * count
    # Placed buffers as a list kept sorted by offset; a new buffer goes after those with an equal offset.
    by_offset: list[int] = []
    for buffer in order:
        if offline[buffer] != ONLINE:
            candidate = offline[buffer]
        else:
            candidate = 0
            first, last = first_times[buffer], last_times[buffer]
            for placed in by_offset:
                if first_times[placed] > last or first > last_times[placed]:
                    continue  # not live at the same time
                if offsets[placed] - candidate >= sizes[buffer]:
                    break  # the gap below this neighbour is large enough
                candidate = max(candidate, offsets[placed] + sizes[placed])
        offsets[buffer] = candidate
        position = len(by_offset)
        while position > 0 and offsets[by_offset[position - 1]] > candidate:
            position -= 1
        by_offset.insert(position, buffer)
    arena = max(offsets[i] + sizes[i] for i in range(count))
    return GreedyResult(offsets, arena)
