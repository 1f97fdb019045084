"""Offsets for buffers with fixed lifetimes: placement heuristics, local search and a bounded exact search.

The unit of placement is a *region*: one buffer, or an in-place alias group whose members sit at
fixed distances from a common base. A region is a list of time-disjoint boxes (time span x
[lo, hi) bytes above the base). Two regions conflict where boxes overlap in time; their byte
ranges must then be disjoint. Every strategy places regions one at a time at the lowest base that
clears all conflicting boxes already placed; strategies differ in the order. The arena can never
be below the largest total of live box heights at one time (the lower bound), so reaching it
proves the placement optimal.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

from tinyops.memory.inplace import Alias
from tinyops.memory.lifetimes import Buffer


@dataclass(frozen=True)
class Box:
    first_time: int
    last_time: int
    lo: int  # bytes above the region base, inclusive
    hi: int  # exclusive


@dataclass
class Region:
    members: list[tuple[int, int]]  # (buffer key, offset above the region base)
    boxes: list[Box]

    @property
    def height(self) -> int:
        return max(b.hi for b in self.boxes)

    @property
    def first_time(self) -> int:
        return min(b.first_time for b in self.boxes)

    @property
    def last_time(self) -> int:
        return max(b.last_time for b in self.boxes)


def _profile(spans: list[tuple[int, int, int, int]]) -> list[Box]:
    """Time-disjoint boxes covering member spans (first, last, lo, hi): per time, min lo to max hi."""
    if len(spans) == 1:
        first, last, lo, hi = spans[0]
        return [Box(first, last, lo, hi)]
    cuts = sorted({s[0] for s in spans} | {s[1] + 1 for s in spans})
    boxes: list[Box] = []
    for start, stop in zip(cuts, cuts[1:]):
        live = [s for s in spans if s[0] <= start and s[1] >= stop - 1]
        if not live:
            continue
        lo, hi = min(s[2] for s in live), max(s[3] for s in live)
        if boxes and boxes[-1].last_time == start - 1 and (boxes[-1].lo, boxes[-1].hi) == (lo, hi):
            boxes[-1] = Box(boxes[-1].first_time, stop - 1, lo, hi)
        else:
            boxes.append(Box(start, stop - 1, lo, hi))
    return boxes


def build_regions(buffers: Sequence[Buffer], aliases: Sequence[Alias]) -> list[Region]:
    """Group aliased tensors into regions; every other buffer is a region of its own."""
    key_of_tensor = {b.tensor_index: b.key for b in buffers if b.kind == "tensor"}
    root: dict[int, int] = {}
    relative: dict[int, int] = {}
    for alias in aliases:
        source, target = key_of_tensor[alias.source_index], key_of_tensor[alias.tensor_index]
        root.setdefault(source, source)
        relative.setdefault(source, 0)
        root[target] = root[source]
        relative[target] = relative[source] + alias.relative_offset_bytes
    grouped: dict[int, list[int]] = {}
    for buffer in buffers:
        grouped.setdefault(root.get(buffer.key, buffer.key), []).append(buffer.key)
    regions = []
    for keys in grouped.values():
        shift = -min(relative.get(k, 0) for k in keys)  # base = lowest member offset
        members = [(k, relative.get(k, 0) + shift) for k in keys]
        spans = [(buffers[k].first_time, buffers[k].last_time, rel, rel + buffers[k].aligned_bytes)
                 for k, rel in members]
        regions.append(Region(members, _profile(spans)))
    return regions


def lower_bound(regions: Sequence[Region]) -> int:
    """Largest sum of box heights live at one time: no placement can use less."""
    events: dict[int, int] = {}
    for region in regions:
        for box in region.boxes:
            events[box.first_time] = events.get(box.first_time, 0) + box.hi - box.lo
            events[box.last_time + 1] = events.get(box.last_time + 1, 0) - (box.hi - box.lo)
    best = running = 0
    for moment in sorted(events):
        running += events[moment]
        best = max(best, running)
    return best


def peak_time(regions: Sequence[Region]) -> int:
    events: dict[int, int] = {}
    for region in regions:
        for box in region.boxes:
            events[box.first_time] = events.get(box.first_time, 0) + box.hi - box.lo
            events[box.last_time + 1] = events.get(box.last_time + 1, 0) - (box.hi - box.lo)
    best, best_time, running = -1, 0, 0
    for moment in sorted(events):
        running += events[moment]
        if running > best:
            best, best_time = running, moment
    return best_time


class Packer:
    """Places regions in a given order, each at its lowest feasible base."""

    def __init__(self, regions: Sequence[Region]) -> None:
        self.regions = list(regions)
        rows = [(r, b.first_time, b.last_time, b.lo, b.hi) for r, region in enumerate(self.regions)
                for b in region.boxes]
        table = np.array(rows, dtype=np.int64).reshape(-1, 5)
        self.box_region, self.box_first, self.box_last = table[:, 0], table[:, 1], table[:, 2]
        self.box_lo, self.box_hi = table[:, 3], table[:, 4]
        self.boxes_of = [np.flatnonzero(self.box_region == r) for r in range(len(self.regions))]
        # Which regions meet in time (only they constrain each other).
        count = len(self.regions)
        firsts = np.array([r.first_time for r in self.regions], dtype=np.int64)
        lasts = np.array([r.last_time for r in self.regions], dtype=np.int64)
        self.meets = (firsts[:, None] <= lasts[None, :]) & (firsts[None, :] <= lasts[:, None])
        if count:
            np.fill_diagonal(self.meets, False)

    def pack(self, order: Sequence[int], give_up_above: int | None = None) -> tuple[list[int], int]:
        """Bases per region (index = region) and the arena; stops early past ``give_up_above``."""
        bases = [-1] * len(self.regions)
        placed = np.zeros(len(self.regions), dtype=bool)
        arena = 0
        for region in order:
            base = self._lowest_base(region, placed, bases)
            bases[region] = base
            placed[region] = True
            arena = max(arena, base + self.regions[region].height)
            if give_up_above is not None and arena > give_up_above:
                return bases, arena
        return bases, arena

    def _lowest_base(self, region: int, placed: np.ndarray, bases: list[int]) -> int:
        neighbours = np.flatnonzero(self.meets[region] & placed)
        if neighbours.size == 0:
            return 0
        other = np.concatenate([self.boxes_of[n] for n in neighbours])
        other_base = np.array([bases[r] for r in self.box_region[other]], dtype=np.int64)
        other_lo = self.box_lo[other] + other_base
        other_hi = self.box_hi[other] + other_base
        starts: list[np.ndarray] = []
        ends: list[np.ndarray] = []
        for own in self.boxes_of[region]:
            meet = (self.box_first[other] <= self.box_last[own]) & (self.box_first[own] <= self.box_last[other])
            # base is forbidden in the open interval (other_lo - own_hi, other_hi - own_lo)
            starts.append(other_lo[meet] - self.box_hi[own])
            ends.append(other_hi[meet] - self.box_lo[own])
        start = np.concatenate(starts)
        end = np.concatenate(ends)
        sorted_by_start = np.argsort(start, kind="stable")
        base = 0
        for s, e in zip(start[sorted_by_start].tolist(), end[sorted_by_start].tolist()):
            if s >= base:
                break
            if e > base:
                base = e
        return base


@dataclass
class Placement:
    bases: list[int]
    arena_bytes: int
    strategy: str
    proven_optimal: bool = False
    tried: dict[str, int] = field(default_factory=dict)


OrderRule = Callable[[Sequence[Region], int], list[int]]


def _by(key: Callable[[Region], tuple]) -> OrderRule:
    return lambda regions, _peak: sorted(range(len(regions)), key=lambda i: key(regions[i]))


def _duration(region: Region) -> int:
    return region.last_time - region.first_time + 1


def _peak_first(regions: Sequence[Region], peak: int) -> list[int]:
    at_peak = lambda r: any(b.first_time <= peak <= b.last_time for b in r.boxes)  # noqa: E731
    return sorted(range(len(regions)), key=lambda i: (not at_peak(regions[i]), -regions[i].height))


def _conflict_first(regions: Sequence[Region], _peak: int) -> list[int]:
    weight = []
    for region in regions:
        weight.append(sum(other.height for other in regions
                          if other.first_time <= region.last_time and region.first_time <= other.last_time))
    return sorted(range(len(regions)), key=lambda i: (-weight[i], -regions[i].height))


HEURISTICS: dict[str, OrderRule] = {
    "size": _by(lambda r: (-r.height, -_duration(r))),
    "duration": _by(lambda r: (-_duration(r), -r.height)),
    "area": _by(lambda r: (-r.height * _duration(r), -r.height)),
    "start": _by(lambda r: (r.first_time, -r.height)),
    "peak-first": _peak_first,
    "conflict": _conflict_first,
}


def place(regions: Sequence[Region], budget_s: float = 0.3, seed: int = 0,
          exact_max_regions: int = 14, exact_node_limit: int = 20000) -> Placement:
    """Best placement found by the heuristics, a local search and (small graphs) a bounded exact search."""
    if not regions:
        return Placement([], 0, "empty", True)
    packer = Packer(regions)
    bound = lower_bound(regions)
    peak = peak_time(regions)
    best: Placement | None = None
    best_order: list[int] = []
    tried: dict[str, int] = {}
    for name, rule in HEURISTICS.items():
        order = rule(regions, peak)
        bases, arena = packer.pack(order)
        tried[name] = arena
        if best is None or arena < best.arena_bytes:
            best, best_order = Placement(bases, arena, name), order
        if arena == bound:
            break
    assert best is not None
    deadline = time.perf_counter() + budget_s
    if best.arena_bytes > bound:
        best, best_order = _local_search(packer, best, best_order, bound, seed, deadline)
    if best.arena_bytes > bound and len(regions) <= exact_max_regions:
        best = _branch_and_bound(packer, best, bound, exact_node_limit)
    best.proven_optimal = best.proven_optimal or best.arena_bytes == bound
    best.tried = tried
    return best


def _local_search(packer: Packer, best: Placement, order: list[int], bound: int, seed: int,
                  deadline: float) -> tuple[Placement, list[int]]:
    """Swap two regions in the placement order; keep moves that do not make the arena larger."""
    rng = random.Random(seed)
    current = list(order)
    current_arena = best.arena_bytes
    count = len(current)
    iterations = 0
    while count > 1 and time.perf_counter() < deadline and iterations < 4000:
        iterations += 1
        i, j = rng.randrange(count), rng.randrange(count)
        if i == j:
            continue
        current[i], current[j] = current[j], current[i]
        bases, arena = packer.pack(current, give_up_above=current_arena)
        if arena <= current_arena:
            current_arena = arena
            if arena < best.arena_bytes:
                best, order = Placement(bases, arena, "local-search"), list(current)
                if arena == bound:
                    break
        else:
            current[i], current[j] = current[j], current[i]
    return best, order


def _branch_and_bound(packer: Packer, best: Placement, bound: int, node_limit: int) -> Placement:
    """Depth-first over placement orders, pruning partial placements already at the best arena."""
    count = len(packer.regions)
    heights = [r.height for r in packer.regions]
    state: dict[str, Any] = {"nodes": 0, "best": best}

    def search(order: list[int], remaining: list[int]) -> None:
        if state["best"].arena_bytes == bound:
            return
        if state["nodes"] >= node_limit:
            return
        if not remaining:
            bases, arena = packer.pack(order)
            if arena < state["best"].arena_bytes:
                state["best"] = Placement(bases, arena, "branch-and-bound")
            return
        seen_heights: set[tuple[int, int, int]] = set()
        for region in sorted(remaining, key=lambda r: -heights[r]):
            signature = (heights[region], packer.regions[region].first_time, packer.regions[region].last_time)
            if signature in seen_heights:
                continue  # identical regions: one order of them is enough
            seen_heights.add(signature)
            state["nodes"] += 1
            candidate = order + [region]
            _, arena = packer.pack(candidate, give_up_above=state["best"].arena_bytes - 1)
            if arena >= state["best"].arena_bytes:
                continue
            search(candidate, [r for r in remaining if r != region])

    search([], list(range(count)))
    # Finishing the search proves nothing beyond first-fit orders; only the lower bound proves optimality.
    result: Placement = state["best"]
    return result
