"""The plan verifier: proves a plan free of buffer overlaps and DMA/compute races, from the plan alone.

Time is the CPU's program order of partitions. Partition p computes at time 4p+2. An "in" DMA
transfer may start right after its ``after`` partition (time 4a+3, or 0 without one) and after
every transfer in its ``waits_for`` has landed; it must have landed before its ``needed_by``
partition computes (time 4n+2); its destination bytes are occupied over that whole span. An
"out" transfer (a row tile written back to external RAM) reads its source bytes from the
computing partition ``after`` (4a+2) until it lands, at 4n (before ``needed_by`` computes). An
operand with a fixed offset occupies its bytes from its first to its last access; constants in
external images are occupied throughout. The verifier checks:

1. no two byte ranges of one memory overlap while both are occupied (an op writing its output
   over its own input, the memory planner's in-place case, is the one allowed contact);
2. every transfer: known memories and engine, the engine reaches both ends, ``after`` precedes
   ``needed_by``, and the partition that waits for it reads exactly those bytes (an "out"
   transfer: the partition ``after`` writes them);
3. data written back to external RAM is complete before it is read: an "in" transfer or a CPU
   access reading bytes an earlier "out" transfer writes starts only after it has landed; on a
   block device (SD card) bytes mean whole blocks, and two write-backs sharing a block are ordered
   (one waits for the other: a partial block is read, modified and written whole);
4. every offset range lies inside its memory (SRAM run, external size).
"""

from __future__ import annotations

from dataclasses import dataclass

from tinyops.errors import TinyOpsError
from tinyops.planning.plan import Plan, StepRef

FOREVER = 1 << 60


class PlanVerificationError(TinyOpsError):
    """A plan that would corrupt data on the device."""


@dataclass(frozen=True)
class Occupancy:
    name: str
    memory: str
    lo_bytes: int
    hi_bytes: int
    first_time: int
    last_time: int
    first_role: str
    last_role: str
    last_step: int
    first_step: int


def capacities(plan: Plan) -> dict[str, int]:
    """Bytes addressable from each memory's base: an SRAM region runs into adjacent regions."""
    board = plan.board
    regions = sorted((r for r in board.sram_regions if r.usable_for_data), key=lambda r: r.base)
    out: dict[str, int] = {}
    for i, r in enumerate(regions):
        size, end = r.size_bytes, r.end
        for nxt in regions[i + 1:]:
            if nxt.base != end:
                break
            size, end = size + nxt.size_bytes, nxt.end
        out[r.name] = size
    for mem in board.external_memories:
        out[mem.name] = mem.size_bytes
    out["flash"] = board.internal_flash.size_bytes
    return out


def _transfer_times(plan: Plan, position: dict[StepRef, int]) -> dict[int, tuple[int, int]]:
    """Transfer id -> (first, last) time its destination (in) or source (out) is occupied."""
    times: dict[int, tuple[int, int]] = {}
    for tr in sorted(plan.transfers, key=lambda t: t.id):
        need = position.get(tr.needed_by, -1)
        if tr.direction == "out":
            produced = position.get(tr.after, 0) if tr.after is not None else 0
            times[tr.id] = (4 * produced + 2, 4 * need)
            continue
        start = 0 if tr.after is None else 4 * position.get(tr.after, -1) + 3
        for other in tr.waits_for:
            if other in times:
                start = max(start, times[other][1] + 1)
        times[tr.id] = (start, 4 * need + 2)
    return times


def occupancies(plan: Plan, position: dict[StepRef, int]) -> list[Occupancy]:
    spans: dict[tuple[str, str, int], list] = {}
    dma_start: dict[tuple[StepRef, str], int] = {}
    times = _transfer_times(plan, position)
    staged: set[tuple[str, str, int | None]] = set()  # constants copied into a buffer at run time
    for tr in plan.transfers:
        if tr.tensor is not None and tr.direction == "in":
            dma_start[(tr.needed_by, tr.tensor)] = times[tr.id][0]
            staged.add((tr.tensor, tr.dst, tr.dst_offset_bytes))
    for st in plan.steps:
        for part in st.partitions:
            ref = (st.step, part.index)
            t = 4 * position[ref] + 2
            for acc in part.accesses:
                if acc.offset_bytes is None:
                    continue
                key = (acc.memory, acc.tensor, acc.offset_bytes)
                start = dma_start.get((ref, acc.tensor), t)
                if (acc.role in ("filter", "constant") and (ref, acc.tensor) not in dma_start
                        and (acc.tensor, acc.memory, acc.offset_bytes) not in staged):
                    start, end = 0, FOREVER  # an image laid out in memory before the run
                else:
                    end = t
                entry = spans.get(key)
                if entry is None:
                    spans[key] = [start, end, acc.role, acc.role, acc.size_bytes, st.step, st.step]
                else:
                    entry[0] = min(entry[0], start)
                    if end >= entry[1]:
                        entry[1], entry[3], entry[6] = end, acc.role, st.step
                    entry[4] = max(entry[4], acc.size_bytes)
    for tr in plan.transfers:
        if tr.direction != "out" or tr.tensor is None or tr.src_offset_bytes is None:
            continue
        entry = spans.get((tr.src, tr.tensor, tr.src_offset_bytes))
        if entry is not None:
            # The tile stays occupied until its write-back has landed.
            entry[1] = max(entry[1], times[tr.id][1])
    return [Occupancy(name, memory, off, off + size, a, b, r0, r1, last_step, first_step)
            for (memory, name, off), (a, b, r0, r1, size, first_step, last_step) in spans.items()]


def _footprint(plan: Plan, memory: str, lo: int, hi: int) -> tuple[int, int]:
    """Bytes a copy touches: whole blocks on a block device (a partial block is read, then written)."""
    port = plan.memories.get(memory)
    block = port.block_bytes if port is not None else 0
    return (lo // block * block, -(-hi // block) * block) if block else (lo, hi)


def write_back_races(plan: Plan, position: dict[StepRef, int]) -> list[str]:
    """Reads of external bytes that an earlier write-back ("out" transfer) may not have finished,
    and, on a block device, write-backs to a shared block that may run at the same time."""
    times = _transfer_times(plan, position)
    outs = [t for t in plan.transfers if t.direction == "out" and t.dst_offset_bytes is not None]
    if not outs:
        return []
    written = {o.id: _footprint(plan, o.dst, o.dst_offset_bytes or 0, (o.dst_offset_bytes or 0) + o.bytes)
               for o in outs}
    issues: list[str] = []
    for tr in plan.transfers:
        if tr.direction != "in" or tr.src_offset_bytes is None:
            continue
        lo, hi = _footprint(plan, tr.src, tr.src_offset_bytes, tr.src_offset_bytes + tr.bytes)
        for out in outs:
            a, b = written[out.id]
            if out.dst != tr.src or not (a < hi and lo < b):
                continue
            if out.after is None or position.get(out.after, 0) >= position.get(tr.needed_by, 0):
                continue  # written after this read: not a dependence of it
            if times[tr.id][0] <= times[out.id][1]:
                issues.append(f"write-back race in {tr.src}: transfer {tr.id} ({tr.tensor}) may read "
                              f"[{lo}, {hi}) before transfer {out.id} ({out.tensor}) has written it")
    for st in plan.steps:
        for part in st.partitions:
            ref = (st.step, part.index)
            for acc in part.accesses:
                if acc.offset_bytes is None or acc.role in ("filter", "constant"):
                    continue
                lo, hi = acc.offset_bytes, acc.offset_bytes + acc.size_bytes
                for out in outs:
                    a, b = written[out.id]
                    if out.dst != acc.memory or not (a < hi and lo < b):
                        continue
                    if out.after is None or position.get(out.after, 0) >= position[ref]:
                        continue
                    if 4 * position[ref] + 2 <= times[out.id][1]:
                        issues.append(f"write-back race in {acc.memory}: partition {ref} reads {acc.tensor} before "
                                      f"transfer {out.id} ({out.tensor}) has written it")
    blocked = [o for o in outs if plan.memories.get(o.dst) is not None and plan.memories[o.dst].block_bytes]
    waits = {t.id: set(t.waits_for) for t in plan.transfers}
    for i, first in enumerate(blocked):
        for second in blocked[i + 1:]:
            a, b = written[first.id]
            c, d = written[second.id]
            if first.dst != second.dst or not (a < d and c < b):
                continue
            if _waits_on(second.id, first.id, waits) or _waits_on(first.id, second.id, waits):
                continue
            issues.append(f"block race in {first.dst}: write-backs {first.id} ({first.tensor}) and {second.id} "
                          f"({second.tensor}) share a block and may run at the same time")
    return issues


def _waits_on(later: int, earlier: int, waits: dict[int, set[int]]) -> bool:
    """Does transfer ``later`` wait (directly or through others) for ``earlier``?"""
    seen, todo = set(), [later]
    while todo:
        current = todo.pop()
        for w in waits.get(current, ()):
            if w == earlier:
                return True
            if w not in seen:
                seen.add(w)
                todo.append(w)
    return False


def _inplace(a: Occupancy, b: Occupancy) -> bool:
    """b is written by the op that last reads a, starting where a ends (memory planner's in-place)."""
    return (a.last_time == b.first_time and a.last_role in ("input",) and b.first_role == "output"
            and a.last_step == b.first_step)


def verify(plan: Plan) -> list[str]:
    """Every violation found, as one line each (empty: the plan is safe)."""
    issues: list[str] = []
    order = [(st.step, p.index) for st in plan.steps for p in st.partitions]
    position = {ref: i for i, ref in enumerate(order)}
    caps = capacities(plan)
    engines = {d.name: d for d in plan.board.dma_engines}
    for tr in plan.transfers:
        label = f"transfer {tr.id} ({tr.tensor}: {tr.src} -> {tr.dst}, {tr.bytes} B)"
        for mem in (tr.src, tr.dst):
            if mem not in plan.memories:
                issues.append(f"{label}: unknown memory {mem}")
        if tr.engine != "cpu":
            dma = engines.get(tr.engine)
            if dma is None:
                issues.append(f"{label}: board has no DMA engine {tr.engine}")
            elif not dma.can_copy(tr.src, tr.dst, copy_kind := plan.board.transfer_kind(tr.src, tr.dst)):
                issues.append(f"{label}: {tr.engine} cannot do this {copy_kind} transfer (reaches "
                              f"{', '.join(dma.reaches)}; memory-to-memory {dma.memory_to_memory})")
        if tr.needed_by not in position:
            issues.append(f"{label}: needed_by {tr.needed_by} is no partition")
            continue
        if tr.after is not None and (tr.after not in position or position[tr.after] >= position[tr.needed_by]):
            issues.append(f"{label}: 'after' {tr.after} does not precede needed_by {tr.needed_by}")
        known = {t.id for t in plan.transfers}
        for other in tr.waits_for:
            if other not in known:
                issues.append(f"{label}: waits for transfer {other}, which the plan does not have")
        if tr.direction == "out":
            if tr.after is None or tr.after not in position:
                issues.append(f"{label}: a write-back names no partition that writes its source")
                continue
            writer = plan.steps[tr.after[0]].partitions[tr.after[1]]
            match = [a for a in writer.accesses if a.tensor == tr.tensor and a.memory == tr.src and a.role == "output"]
            if not match:
                issues.append(f"{label}: partition {tr.after} does not write what it copies back")
            elif tr.src_offset_bytes is not None and match[0].offset_bytes != tr.src_offset_bytes:
                issues.append(f"{label}: copies from offset {tr.src_offset_bytes}, written at {match[0].offset_bytes}")
            elif match[0].size_bytes < tr.bytes:
                issues.append(f"{label}: copies more bytes than the tile holds ({match[0].size_bytes} B)")
            continue
        step = plan.steps[tr.needed_by[0]]
        part = step.partitions[tr.needed_by[1]]
        match = [a for a in part.accesses if a.tensor == tr.tensor and a.memory == tr.dst]
        if not match:
            issues.append(f"{label}: partition {tr.needed_by} does not read what it waits for")
        elif tr.dst_offset_bytes is not None and match[0].offset_bytes != tr.dst_offset_bytes:
            issues.append(f"{label}: lands at offset {tr.dst_offset_bytes}, read at {match[0].offset_bytes}")
        elif match[0].size_bytes < tr.bytes:
            issues.append(f"{label}: copies more bytes than the buffer holds ({match[0].size_bytes} B)")
    issues += write_back_races(plan, position)
    occ = occupancies(plan, position)
    for o in occ:
        cap = caps.get(o.memory)
        if cap is not None and (o.lo_bytes < 0 or o.hi_bytes > cap):
            issues.append(f"{o.name} in {o.memory} at [{o.lo_bytes}, {o.hi_bytes}) is outside its {cap} B")
    by_memory: dict[str, list[Occupancy]] = {}
    for o in occ:
        by_memory.setdefault(o.memory, []).append(o)
    for memory, items in by_memory.items():
        items.sort(key=lambda o: o.lo_bytes)
        for i, a in enumerate(items):
            for b in items[i + 1:]:
                if b.lo_bytes >= a.hi_bytes:
                    break
                if a.first_time > b.last_time or b.first_time > a.last_time:
                    continue
                if _inplace(a, b) or _inplace(b, a):
                    continue
                kind = "DMA/compute race" if (a.first_role == "filter" or b.first_role == "filter") else "overlap"
                issues.append(f"{kind} in {memory}: {a.name} [{a.lo_bytes}, {a.hi_bytes}) and {b.name} "
                              f"[{b.lo_bytes}, {b.hi_bytes}) are live together")
    return issues


def check(plan: Plan) -> Plan:
    """The plan itself, or PlanVerificationError naming the first problem (one line)."""
    issues = verify(plan)
    if issues:
        more = f" (+{len(issues) - 1} more)" if len(issues) > 1 else ""
        raise PlanVerificationError(f"plan {plan.strategy} for {plan.board.id} is unsafe: {issues[0]}{more}")
    return plan


__all__ = ["PlanVerificationError", "verify", "check", "capacities"]
