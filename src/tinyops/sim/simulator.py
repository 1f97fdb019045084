"""Event-driven execution of a plan: the CPU, DMA channels and memory buses as resources.

Tasks are the CPU's computations (one per op partition), CPU-driven transfers (in program
order with the computations) and DMA transfers (each on a channel of its engine, free to run
beside the CPU). A task has a duration at full speed and the bytes it moves over each memory's
bus. Between two events the tasks running at the same time share each bus: when their summed
demand exceeds a bus's bandwidth, each is slowed by the same factor (fluid processor sharing),
and a task runs at the speed of its most congested bus. Events are task starts and ends.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tinyops.errors import TinyOpsError
from tinyops.cost.memory_model import dma_cpu_cycles
from tinyops.planning.plan import CPU_ENGINE, Plan, StepRef, Transfer
from tinyops.sim.energy import EnergyReport, energy_of

_EPS = 1e-15


@dataclass
class Task:
    id: int
    kind: str  # compute | transfer
    lane: str  # "cpu" or "<DMA engine>#<channel>" once started
    engine: str  # "cpu" or a DMA engine name
    duration_s: float  # at full speed, alone on its buses
    bus_bytes: dict[str, float]
    deps: list[int]
    step: int
    partition: int
    label: str
    remaining: float = 1.0  # fraction of the work left
    start_s: float | None = None
    end_s: float | None = None


@dataclass
class StepResult:
    step: int
    type: str
    macs: int
    compute_cycles: float  # arithmetic, operands in SRAM
    stall_cycles: float  # memory stalls at full bus speed
    cycles: int  # wall cycles attributed to this op (end of previous op -> end of this op)
    start_ms: float
    end_ms: float
    latency_ms: float
    bytes_read: dict[str, int]
    bytes_written: dict[str, int]


@dataclass
class SimResult:
    latency_ms: float
    steps: list[StepResult]
    tasks: list[Task]
    bytes_read: dict[str, int]
    bytes_written: dict[str, int]
    bus_busy_s: dict[str, float]
    energy: EnergyReport
    assumptions: dict[str, str] = field(default_factory=dict)


def moved_bytes(plan: Plan, memory: str, nbytes: int) -> int:
    """Bytes a transfer of ``nbytes`` moves on ``memory``'s bus: whole blocks on a block device."""
    port = plan.memories[memory]
    return port.blocks(nbytes) * port.block_bytes if port.block_bytes else nbytes


def _transfer_duration_s(plan: Plan, tr: Transfer) -> float:
    """Latency + bytes / the slower side's rate. A block device (SD card) moves whole blocks: the
    bytes are rounded up to its blocks, each block read pays the read latency and each block written
    the write (programming) latency, and a write that covers part of a block first reads that block
    (read-modify-write), as a block device cannot write less than a block (Svoboda et al. §5)."""
    src, dst = plan.memories[tr.src], plan.memories[tr.dst]
    if min(src.read_bytes_per_s, dst.write_bytes_per_s) <= 0:
        raise TinyOpsError(f"transfer {tr.src} -> {tr.dst}: {tr.dst} cannot be written at run time")
    seconds = 0.0
    if src.block_bytes:
        blocks = src.blocks(tr.bytes)
        seconds += blocks * src.access_latency_s + blocks * src.block_bytes / src.read_bytes_per_s
    else:
        seconds += src.access_latency_s + tr.bytes / src.read_bytes_per_s
    if dst.block_bytes:
        blocks = dst.blocks(tr.bytes)
        seconds += blocks * dst.block_write_latency_s + blocks * dst.block_bytes / dst.write_bytes_per_s
        if tr.bytes % dst.block_bytes:
            # The partly written block is read first (one block: a transfer is contiguous here).
            seconds += dst.access_latency_s + dst.block_bytes / dst.read_bytes_per_s
    elif not src.block_bytes:
        # Memory to memory: the two sides stream concurrently at the slower rate.
        seconds = max(src.access_latency_s, dst.access_latency_s) + tr.bytes / min(src.read_bytes_per_s,
                                                                                   dst.write_bytes_per_s)
    return seconds


def build_tasks(plan: Plan) -> list[Task]:
    """The task graph of a plan: CPU program order, transfer edges, buffer-reuse edges."""
    clock_hz = plan.clock_mhz * 1e6
    tasks: list[Task] = []
    compute_id: dict[StepRef, int] = {}
    by_need: dict[StepRef, list[Transfer]] = {}
    for tr in plan.transfers:
        by_need.setdefault(tr.needed_by, []).append(tr)
        for name in (tr.src, tr.dst):
            if name not in plan.memories:
                raise TinyOpsError(f"transfer {tr.id}: unknown memory {name!r}")
    last_cpu: int | None = None
    pending_dma: list[tuple[int, Transfer]] = []
    task_of_transfer: dict[int, int] = {}
    for st in plan.steps:
        for part in st.partitions:
            ref = (st.step, part.index)
            need_ids: list[int] = []
            for tr in by_need.get(ref, []):
                task = Task(len(tasks), "transfer", "cpu" if tr.engine == "cpu" else tr.engine, tr.engine,
                            _transfer_duration_s(plan, tr), {tr.src: moved_bytes(plan, tr.src, tr.bytes),
                                                              tr.dst: moved_bytes(plan, tr.dst, tr.bytes)}, [],
                            st.step, part.index, f"{tr.src}->{tr.dst} {tr.bytes} B")
                if tr.engine == "cpu":
                    if last_cpu is not None:
                        task.deps.append(last_cpu)
                    last_cpu = task.id
                else:
                    pending_dma.append((task.id, tr))
                task_of_transfer[tr.id] = task.id
                tasks.append(task)
                need_ids.append(task.id)
            cycles = st.compute_cycles * part.share
            # The CPU programs each DMA transfer this partition waits for and keeps the D-cache
            # coherent with it (memory_model.dma_cpu_cycles); charged to the partition it serves.
            cycles += sum(dma_cpu_cycles(plan.board, plan.memories[tr.src], plan.memories[tr.dst], tr.bytes)
                          for tr in by_need.get(ref, []) if tr.engine != CPU_ENGINE)
            bus: dict[str, float] = {}
            for acc in part.accesses:
                port = plan.memories.get(acc.memory)
                if port is None:
                    raise TinyOpsError(f"op {st.step}: operand {acc.tensor} in unknown memory {acc.memory!r}")
                writing = acc.role == "output"
                stall = port.cpu_stall(writing, acc.pattern)
                if stall is None and not plan.feasible:
                    # An infeasible plan still gets a latency (it says why it is infeasible): the
                    # bytes as if the CPU polled them through the memory's port.
                    rate = port.write_bytes_per_s if writing else port.read_bytes_per_s
                    stall = clock_hz / rate if rate else 0.0
                if stall is None:
                    raise TinyOpsError(f"op {st.step} ({st.type}): the CPU cannot "
                                       f"{'write' if writing else 'read'} {acc.tensor} in {acc.memory} "
                                       f"({port.kind}); the plan must copy it to SRAM first")
                cycles += stall * acc.traffic_bytes
                bus[acc.memory] = bus.get(acc.memory, 0.0) + acc.traffic_bytes
            task = Task(len(tasks), "compute", "cpu", "cpu", cycles / clock_hz, bus,
                        need_ids + ([last_cpu] if last_cpu is not None else []), st.step, part.index,
                        f"{st.step}:{st.type}" + (f"[{part.index}]" if len(st.partitions) > 1 else ""))
            tasks.append(task)
            compute_id[ref] = task.id
            last_cpu = task.id
    for task_id, tr in pending_dma:
        if tr.after is not None:
            if tr.after not in compute_id:
                raise TinyOpsError(f"transfer {tr.id}: 'after' names no partition {tr.after}")
            tasks[task_id].deps.append(compute_id[tr.after])
    for tr in plan.transfers:
        # A transfer that reads what a write-back writes (or reuses its buffer) starts after it.
        for other in tr.waits_for:
            if other in task_of_transfer and tr.id in task_of_transfer:
                tasks[task_of_transfer[tr.id]].deps.append(task_of_transfer[other])
    return tasks


def _bus_capacity(plan: Plan, name: str) -> float:
    port = plan.memories[name]
    return max(port.read_bytes_per_s, port.write_bytes_per_s)


def run_tasks(plan: Plan, tasks: list[Task]) -> dict[str, float]:
    """Advance time event by event; fills start_s/end_s. Returns busy seconds per memory bus."""
    channels = {d.name: d.channels for d in plan.board.dma_engines}
    in_use: dict[str, int] = {}
    # Dependency counting keeps each event O(ready + running) instead of rescanning every waiting
    # task (overlay plans have thousands of transfers). Ready tasks still start in task order.
    missing = [len(set(t.deps)) for t in tasks]
    dependents: list[list[int]] = [[] for _ in tasks]
    for t in tasks:
        for d in set(t.deps):
            dependents[d].append(t.id)
    ready = [tid for tid in range(len(tasks)) if missing[tid] == 0]
    unfinished = len(tasks)
    running: list[int] = []
    busy: dict[str, float] = {}
    now = 0.0
    cpu_busy = False
    while unfinished:
        # Start every task whose dependencies are done and whose resource is free, in order.
        still = []
        for tid in ready:
            t = tasks[tid]
            if t.engine == "cpu":
                if cpu_busy:
                    still.append(tid)
                    continue
                cpu_busy = True
            else:
                if t.engine not in channels:
                    raise TinyOpsError(f"board {plan.board.id} has no DMA engine {t.engine!r}")
                used = in_use.get(t.engine, 0)
                if used >= channels[t.engine]:
                    still.append(tid)
                    continue
                in_use[t.engine] = used + 1
                t.lane = f"{t.engine}#{used}"
            t.start_s = now
            running.append(tid)
        ready = still
        if not running:
            raise TinyOpsError("plan deadlock: tasks wait on each other")
        # Speeds under bus sharing.
        demand: dict[str, float] = {}
        for tid in running:
            t = tasks[tid]
            if t.duration_s > _EPS:
                for bus, nbytes in t.bus_bytes.items():
                    demand[bus] = demand.get(bus, 0.0) + nbytes / t.duration_s
        factor = {b: min(1.0, _bus_capacity(plan, b) / d) if d > 0 else 1.0 for b, d in demand.items()}
        speed = {tid: min([factor[b] for b in tasks[tid].bus_bytes if b in factor] or [1.0]) for tid in running}
        dt = min(tasks[tid].remaining * tasks[tid].duration_s / speed[tid] for tid in running)
        for b, rate in demand.items():
            if rate > 0:
                busy[b] = busy.get(b, 0.0) + dt * min(rate * factor[b], _bus_capacity(plan, b)) / _bus_capacity(plan, b)
        now += dt
        finished = []
        for tid in running:
            t = tasks[tid]
            if t.duration_s > _EPS:
                t.remaining -= dt * speed[tid] / t.duration_s
            if t.duration_s <= _EPS or t.remaining <= 1e-9:
                t.remaining = 0.0
                t.end_s = now
                finished.append(tid)
        newly_ready = False
        for tid in finished:
            running.remove(tid)
            unfinished -= 1
            t = tasks[tid]
            if t.engine == "cpu":
                cpu_busy = False
            else:
                in_use[t.engine] -= 1
            for nxt in dependents[tid]:
                missing[nxt] -= 1
                if missing[nxt] == 0:
                    ready.append(nxt)
                    newly_ready = True
        if newly_ready:
            ready.sort()
    return busy


def simulate(plan: Plan) -> SimResult:
    tasks = build_tasks(plan)
    busy = run_tasks(plan, tasks)
    clock_hz = plan.clock_mhz * 1e6
    results: list[StepResult] = []
    total_read: dict[str, int] = {}
    total_written: dict[str, int] = {}
    step_end: dict[int, float] = {}
    step_start: dict[int, float] = {}
    for t in tasks:
        assert t.start_s is not None and t.end_s is not None
        if t.kind == "compute" or t.engine == "cpu":
            step_end[t.step] = max(step_end.get(t.step, 0.0), t.end_s)
            step_start[t.step] = min(step_start.get(t.step, t.start_s), t.start_s)
    transfer_read: dict[int, dict[str, int]] = {}
    transfer_written: dict[int, dict[str, int]] = {}
    for tr in plan.transfers:
        r = transfer_read.setdefault(tr.needed_by[0], {})
        w = transfer_written.setdefault(tr.needed_by[0], {})
        r[tr.src] = r.get(tr.src, 0) + moved_bytes(plan, tr.src, tr.bytes)
        w[tr.dst] = w.get(tr.dst, 0) + moved_bytes(plan, tr.dst, tr.bytes)
    prev_end = 0.0
    for st in plan.steps:
        read = dict(transfer_read.get(st.step, {}))
        written = dict(transfer_written.get(st.step, {}))
        stall = 0.0
        for part in st.partitions:
            for acc in part.accesses:
                target = written if acc.role == "output" else read
                target[acc.memory] = target.get(acc.memory, 0) + acc.traffic_bytes
                port = plan.memories[acc.memory]
                s = port.cpu_stall(acc.role == "output", acc.pattern)
                stall += (s or 0.0) * acc.traffic_bytes
        end = step_end.get(st.step, prev_end)
        results.append(StepResult(
            step=st.step, type=st.type, macs=st.macs, compute_cycles=st.compute_cycles, stall_cycles=stall,
            cycles=int(round((end - prev_end) * clock_hz)), start_ms=step_start.get(st.step, prev_end) * 1e3,
            end_ms=end * 1e3, latency_ms=(end - prev_end) * 1e3, bytes_read=read, bytes_written=written))
        for k, v in read.items():
            total_read[k] = total_read.get(k, 0) + v
        for k, v in written.items():
            total_written[k] = total_written.get(k, 0) + v
        prev_end = end
    latency_s = max((t.end_s or 0.0) for t in tasks) if tasks else 0.0
    energy = energy_of(plan, latency_s, total_read, total_written)
    return SimResult(latency_s * 1e3, results, tasks, total_read, total_written, busy, energy)
