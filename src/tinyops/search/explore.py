"""Width x resolution sweeps of zoo families over boards and placement strategies.

A *configuration* is (family, width, resolution, board); each is planned with every requested
strategy, so the table has one row per (configuration, strategy). Work is grouped per model
(family, width, resolution): the graph is built, serialized, analyzed and memory-planned once
(`reuse_memory_plans`) and then planned and simulated on every board, which is what makes a
1000-configuration sweep take seconds, not minutes. Model jobs run in a process pool, or on a Ray
cluster (optional extra) for sweeps that outgrow one machine.

Every latency and energy comes from the cost model simulating a plan (`tinyops.sim.simulate`);
a plan that does not fit has no latency in the table. Accuracy is published where a paper gives
it, else estimated by `tinyops.search.accuracy_model` and marked ``estimated``.
"""

from __future__ import annotations

import csv
import io
import os
import time
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Sequence

from tinyops.errors import TinyOpsError
from tinyops.zoo.scaling import format_resolution, parse_resolution

if TYPE_CHECKING:
    from tinyops.search.accuracy_model import AccuracyModel

REQUIRED_COLUMNS: tuple[str, ...] = (
    "family", "width", "resolution", "board", "strategy", "macs", "params", "weight_bytes",
    "peak_activation_bytes", "arena_bytes", "feasible", "reason", "latency_ms", "energy_mj", "accuracy",
    "accuracy_source", "assumptions")
# After the required ones: what the plots and a reader need to check a row.
EXTRA_COLUMNS: tuple[str, ...] = (
    "kernels", "clock_mhz", "latency_error_pct", "energy_error_pct", "sram_bytes", "flash_bytes", "external_bytes", "macs_conv1x1", "macs_conv_kxk",
    "macs_depthwise3x3", "macs_depthwise_kxk", "macs_fc", "accuracy_note")
COLUMNS: tuple[str, ...] = REQUIRED_COLUMNS + EXTRA_COLUMNS
MAC_CLASSES: tuple[str, ...] = ("conv1x1", "conv_kxk", "depthwise3x3", "depthwise_kxk", "fc")
AUTO = "auto"
CHECKPOINT_INTERVAL_S = 5.0  # rewrite the CSV (atomically) at most this often during a sweep

Row = dict[str, str]
ConfigKey = tuple[str, str, str, str]  # family, width, resolution, board (as written in the CSV)
RowKey = tuple[str, str, str, str, str]  # ... + strategy


def strategy_names() -> tuple[str, ...]:
    """Concrete strategies of the planning registry, in its order (simplest first)."""
    from tinyops.planning.plan import STRATEGIES

    return tuple(STRATEGIES)


def format_width(width: float) -> str:
    return f"{width:g}"


@dataclass(frozen=True)
class Sweep:
    families: tuple[str, ...]
    widths: tuple[float, ...]
    resolutions: tuple[tuple[int, int], ...]
    boards: tuple[str, ...]
    strategies: tuple[str, ...]
    kernels: str = "cmsis-nn"

    def configurations(self) -> list[ConfigKey]:
        return [(f, format_width(w), format_resolution(r), b) for f in self.families for w in self.widths
                for r in self.resolutions for b in self.boards]


@dataclass(frozen=True)
class ModelJob:
    """One model on several boards; ``strategies[i]`` are the strategies still missing on ``boards[i]``."""

    family: str
    width: float
    resolution: tuple[int, int]
    boards: tuple[str, ...]
    strategies: tuple[tuple[str, ...], ...]
    kernels: str

    @property
    def size_hint(self) -> float:
        """Bigger models plan slower: start them first so the pool's tail is short."""
        return self.width ** 2 * self.resolution[0] * self.resolution[1] * len(self.boards)


def validate_sweep(sweep: Sweep) -> Sweep:
    """One-line errors for unknown families, bad widths/resolutions, boards or strategies."""
    from tinyops.hw.board import load_board
    from tinyops.zoo import resolve_request

    if not (sweep.families and sweep.widths and sweep.resolutions and sweep.boards and sweep.strategies):
        raise TinyOpsError("a sweep needs at least one family, width, resolution, board and strategy")
    for family in sweep.families:
        for width in sweep.widths:
            for resolution in sweep.resolutions:
                resolve_request(family, width, resolution)
    for board in sweep.boards:
        load_board(board)
    known = strategy_names() + (AUTO,)
    for name in sweep.strategies:
        if name not in known:
            raise TinyOpsError(f"unknown strategy {name!r}; available: {', '.join(known)}")
    return sweep


def plan_jobs(sweep: Sweep, done: Iterable[RowKey] = ()) -> list[ModelJob]:
    """Model jobs for the rows not in ``done`` (resume), largest first."""
    have = set(done)
    jobs = []
    for family in sweep.families:
        for width in sweep.widths:
            for resolution in sweep.resolutions:
                boards, todo = [], []
                for board in sweep.boards:
                    key = (family, format_width(width), format_resolution(resolution), board)
                    missing = tuple(s for s in sweep.strategies if key + (s,) not in have)
                    if missing:
                        boards.append(board)
                        todo.append(missing)
                if boards:
                    jobs.append(ModelJob(family, width, resolution, tuple(boards), tuple(todo), sweep.kernels))
    return sorted(jobs, key=lambda j: -j.size_hint)


# ----------------------------------------------------------------------------- one model (worker side)
@dataclass
class ModelFacts:
    """What a model is, whatever the board: counts, activation peak and planned arena."""

    macs: int
    params: int
    weight_bytes: int
    peak_activation_bytes: int
    arena_bytes: int
    macs_by_class: dict[str, int]


def mac_class(op: Any) -> str | None:
    """The kernel class of a MAC op, as in TinyOpsV2 Figure 2 (1x1 conv vs kxk depthwise)."""
    if op.kind == "CONV_2D":
        _, k_h, k_w, _ = op.inputs[1].shape
        return "conv1x1" if (k_h, k_w) == (1, 1) else "conv_kxk"
    if op.kind == "DEPTHWISE_CONV_2D":
        _, k_h, k_w, _ = op.inputs[1].shape
        return "depthwise3x3" if (k_h, k_w) == (3, 3) else "depthwise_kxk"
    if op.kind == "FULLY_CONNECTED":
        return "fc"
    return None


def model_facts(graph: Any, kernels: str, analysis: Any) -> ModelFacts:
    from tinyops.memory.plan import plan_memory
    from tinyops.ops import spec_for
    from tinyops.zoo.summary import model_counts

    counts = model_counts(graph)
    by_class = {name: 0 for name in MAC_CLASSES}
    for op in graph.main.ops:
        cls = mac_class(op)
        if cls is not None:
            by_class[cls] += int(spec_for(op).count_macs(op))
    try:
        # The same call as the external strategies' activation layout, so the plan is shared.
        from tinyops.planning.activations import activation_memory_plan

        arena = activation_memory_plan(graph, kernels, "tflm").arena_bytes
    except ImportError:
        arena = plan_memory(graph, kernels=kernels).arena_bytes
    return ModelFacts(counts.macs, counts.parameters, counts.weight_bytes,
                      int(analysis.totals.peak_activation_bytes), int(arena), by_class)


@lru_cache(maxsize=64)
def _board(board_id: str) -> Any:
    from tinyops.hw.board import load_board

    return load_board(board_id)


@dataclass
class Outcome:
    strategy: str
    feasible: bool
    reason: str | None
    latency_ms: float | None = None
    energy_mj: float | None = None
    clock_mhz: float | None = None
    sram_bytes: int | None = None
    flash_bytes: int | None = None
    external_bytes: dict[str, int] = field(default_factory=dict)
    assumptions: str = ""
    # The kernel profile's cross-validated error bands (tinyops.kernels.profile.CoreParams).
    latency_error_pct: float | None = None
    energy_error_pct: float | None = None


def _assumptions(plan: Any) -> str:
    board = plan.board
    what = plan.assumptions.get("strategy", plan.strategy)
    return (f"board {board.id} ({board.core}) at {plan.clock_mhz:g} MHz; kernels {plan.kernels}; "
            f"cost params {plan.params.core}/{plan.params.spec} ({plan.params.status}; latency band "
            f"{plan.params.latency_error_pct}% from {plan.params.band_note}); strategy {what}")


def evaluate_strategy(graph: Any, board: Any, strategy: str, kernels: str, analysis: Any,
                      sram_limit_bytes: int | None = None) -> Outcome:
    """Plan ``graph`` on ``board``; simulate the plan if it is feasible (latency from the cost model).
    ``sram_limit_bytes`` caps the SRAM an external strategy's plan may use (e.g. a paper's figure)."""
    from tinyops.deploy import evaluate
    from tinyops.planning.common import PlanOptions
    from tinyops.planning.internal import plan_internal
    from tinyops.planning.planners import applicable
    from tinyops.sim.simulator import simulate

    if strategy not in applicable(board):
        return Outcome(strategy, False, f"not applicable: {strategy} needs external memory and "
                                        f"{board.id} has none", assumptions=f"board {board.id} ({board.core})")
    try:
        sim = None
        if strategy == "internal":
            # The analysis (serialized size included) is per model, not per board: reuse it.
            plan = plan_internal(graph, board, PlanOptions(kernels), analysis=analysis)
        else:
            evaluated = evaluate(graph, board, strategy, PlanOptions(kernels, sram_limit_bytes=sram_limit_bytes))
            plan, sim = evaluated.plan, evaluated.sim
        outcome = Outcome(strategy, bool(plan.feasible), plan.reason, clock_mhz=float(plan.clock_mhz),
                          sram_bytes=int(plan.sram_bytes), flash_bytes=int(plan.flash_bytes),
                          external_bytes={k: int(v) for k, v in plan.external_bytes.items()},
                          assumptions=_assumptions(plan), latency_error_pct=plan.params.latency_error_pct,
                          energy_error_pct=plan.params.energy_error_pct)
        if plan.feasible:
            from tinyops.planning.verify import verify

            # Only a plan proven free of buffer overlaps and DMA/compute races earns a latency.
            issues = verify(plan)
            if issues:
                outcome.feasible = False
                outcome.reason = f"plan verification failed: {issues[0]}" + (
                    f" (+{len(issues) - 1} more)" if len(issues) > 1 else "")
                return outcome
            sim = sim or simulate(plan)
            outcome.latency_ms, outcome.energy_mj = float(sim.latency_ms), float(sim.energy.total_mj)
            outcome.assumptions += "; plan verified (no buffer overlap, no DMA/compute race)"
        return outcome
    except TinyOpsError as exc:
        # A strategy that cannot plan this model is a finding for the table, not a crash of the sweep.
        return Outcome(strategy, False, f"planning failed: {exc}")


def choose_auto(outcomes: Sequence[Outcome]) -> Outcome:
    """``auto``: the deployment driver's selection (tinyops.deploy.select) over the outcomes."""
    from tinyops.deploy.select import choose

    choice = choose(outcomes)
    if choice.index is None:
        reasons = "; ".join(f"{o.strategy}: {o.reason}" for o in outcomes)
        return Outcome(AUTO, False, f"no strategy is feasible ({reasons})")
    best = outcomes[choice.index]
    return Outcome(AUTO, True, None, best.latency_ms, best.energy_mj, best.clock_mhz, best.sram_bytes,
                   best.flash_bytes, dict(best.external_bytes), f"{choice.note}; {best.assumptions}",
                   best.latency_error_pct, best.energy_error_pct)


def _fmt(value: float | int | None, digits: int = 4) -> str:
    if value is None:
        return ""
    return str(value) if isinstance(value, int) else f"{value:.{digits}f}"


def _row(job: ModelJob, board: str, facts: ModelFacts, outcome: Outcome) -> Row:
    return {
        "family": job.family, "width": format_width(job.width), "resolution": format_resolution(job.resolution),
        "board": board, "strategy": outcome.strategy, "macs": str(facts.macs), "params": str(facts.params),
        "weight_bytes": str(facts.weight_bytes), "peak_activation_bytes": str(facts.peak_activation_bytes),
        "arena_bytes": str(facts.arena_bytes), "feasible": "true" if outcome.feasible else "false",
        "reason": outcome.reason or "", "latency_ms": _fmt(outcome.latency_ms),
        "energy_mj": _fmt(outcome.energy_mj), "accuracy": "", "accuracy_source": "",
        "assumptions": outcome.assumptions, "kernels": job.kernels, "clock_mhz": _fmt(outcome.clock_mhz, 1),
        "latency_error_pct": _fmt(outcome.latency_error_pct, 1), "energy_error_pct": _fmt(outcome.energy_error_pct, 1),
        "sram_bytes": _fmt(outcome.sram_bytes), "flash_bytes": _fmt(outcome.flash_bytes),
        "external_bytes": ";".join(f"{k}:{v}" for k, v in sorted(outcome.external_bytes.items())),
        **{f"macs_{name}": str(facts.macs_by_class[name]) for name in MAC_CLASSES}, "accuracy_note": "",
    }


def evaluate_model(job: ModelJob) -> list[Row]:
    """Every (board, strategy) row of one model. Runs in a worker process (or a Ray task)."""
    from tinyops.analysis.analyze import analyze
    from tinyops.backends.tflite_writer import to_tflite_bytes
    from tinyops.memory.plan import reuse_memory_plans
    from tinyops.zoo import build_model

    graph = build_model(job.family, job.width, job.resolution)
    analysis = analyze(graph, None, kernels=job.kernels, flash_bytes=len(to_tflite_bytes(graph)))
    rows: list[Row] = []
    with reuse_memory_plans():
        facts = model_facts(graph, job.kernels, analysis)
        for board_id, wanted in zip(job.boards, job.strategies):
            board = _board(board_id)
            concrete = [s for s in strategy_names() if s in wanted or AUTO in wanted]
            outcomes = {s: evaluate_strategy(graph, board, s, job.kernels, analysis) for s in concrete}
            if AUTO in wanted:
                outcomes[AUTO] = choose_auto([o for o in outcomes.values()
                                              if not (o.reason or "").startswith("not applicable")])
            rows.extend(_row(job, board_id, facts, outcomes[s]) for s in wanted)
    return rows


# ----------------------------------------------------------------------------- accuracy (parent side)
def accuracy_model(extra_csv: Sequence[str] = ()) -> "AccuracyModel":
    from tinyops.search.accuracy_model import fit_accuracy_model

    return fit_accuracy_model(extra_csv)


def fill_accuracy(rows: Iterable[Row], model: "AccuracyModel", extra_csv: Sequence[str] = ()) -> None:
    """Set accuracy/accuracy_source/accuracy_note on rows that have none (published or estimated)."""
    from tinyops.search.accuracy_model import published_other

    cache: dict[tuple[str, str, str], Any] = {}
    for row in rows:
        if row.get("accuracy_source"):
            continue
        key = (row["family"], row["width"], row["resolution"])
        if key not in cache:
            resolution = parse_resolution(row["resolution"])
            width = float(row["width"])
            estimate = (model.estimate(row["family"], width, resolution) if row["family"] in model.intercepts
                        else published_other(row["family"], width, resolution, extra_csv))
            cache[key] = estimate
        estimate = cache[key]
        if estimate is None:
            row.update(accuracy="", accuracy_source="none", accuracy_note="no published figure and no ImageNet fit")
        else:
            row.update(accuracy=f"{estimate.value:.2f}", accuracy_source=estimate.source, accuracy_note=estimate.note)


# ----------------------------------------------------------------------------- CSV
def row_key(row: Row) -> RowKey:
    return (row["family"], row["width"], row["resolution"], row["board"], row["strategy"])


def read_rows(path: Path) -> list[Row]:
    """Rows of an explore CSV (for --resume); a file that is not one is a one-line error."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TinyOpsError(f"{path}: cannot read ({exc})") from None
    reader = csv.DictReader(io.StringIO(text))
    # CSVs written before the error bands existed lack their columns: those rows have no band.
    later = ("latency_error_pct", "energy_error_pct")
    missing = [c for c in COLUMNS if c not in (reader.fieldnames or []) and c not in later]
    if missing:
        raise TinyOpsError(f"{path}: not a tinyops explore CSV (missing column(s) {', '.join(missing)}); "
                           f"choose another --output")
    rows = []
    for line, row in enumerate(reader, start=2):
        if None in row or any(row.get(c, "") is None for c in COLUMNS):
            raise TinyOpsError(f"{path}:{line}: malformed row (wrong number of fields)")
        rows.append({c: row.get(c, "") for c in COLUMNS})
    return rows


def csv_text(rows: Iterable[Row]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(COLUMNS), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def write_rows(path: Path, rows: Sequence[Row]) -> None:
    """Temp file + rename: a crash never leaves half a table."""
    from tinyops.backends.tflite_writer import write_atomically

    write_atomically(path, csv_text(rows).encode("utf-8"))


# ----------------------------------------------------------------------------- running
def _run_inline(jobs: Sequence[ModelJob]) -> Iterator[tuple[ModelJob, list[Row]]]:
    for job in jobs:
        yield job, evaluate_model(job)


def _run_pool(jobs: Sequence[ModelJob], workers: int) -> Iterator[tuple[ModelJob, list[Row]]]:
    # Submit a bounded window so that a cancelled sweep (Ctrl-C) does not leave a long queue behind.
    with ProcessPoolExecutor(max_workers=workers) as pool:
        queue = list(jobs)
        running: dict[Future[list[Row]], ModelJob] = {}
        try:
            while queue or running:
                while queue and len(running) < 2 * workers:
                    job = queue.pop(0)
                    running[pool.submit(evaluate_model, job)] = job
                finished, _ = wait(list(running), return_when=FIRST_COMPLETED)
                for future in finished:
                    yield running.pop(future), future.result()
        except BaseException:
            for future in running:
                future.cancel()
            raise


def _run_ray(jobs: Sequence[ModelJob], address: str | None) -> Iterator[tuple[ModelJob, list[Row]]]:
    try:
        import ray  # type: ignore[import-not-found]
    except ImportError:
        raise TinyOpsError("--cluster ray needs Ray, an optional extra: pip install 'tinyops[ray]' "
                           "(or use the default process pool)") from None
    ray.init(address=address, ignore_reinit_error=True, log_to_driver=False)
    remote = ray.remote(evaluate_model)
    pending = {remote.remote(job): job for job in jobs}
    while pending:
        done, _ = ray.wait(list(pending), num_returns=1)
        for ref in done:
            yield pending.pop(ref), ray.get(ref)


def run_jobs(jobs: Sequence[ModelJob], workers: int = 1, cluster: str = "local",
             address: str | None = None) -> Iterator[tuple[ModelJob, list[Row]]]:
    """Yield (job, rows) as jobs finish: inline (1 worker), a process pool, or a Ray cluster."""
    if cluster == "ray":
        return _run_ray(jobs, address)
    if cluster != "local":
        raise TinyOpsError(f"unknown cluster {cluster!r}; use local (process pool) or ray")
    if workers < 1:
        raise TinyOpsError(f"--workers must be at least 1, got {workers}")
    if workers == 1 or len(jobs) <= 1:
        return _run_inline(jobs)
    return _run_pool(jobs, min(workers, len(jobs)))


@dataclass
class ExploreResult:
    rows: list[Row]
    new_rows: int
    reused_rows: int
    configurations: int
    elapsed_s: float
    jobs: int


def explore(sweep: Sweep, output: Path, resume: bool = False, workers: int | None = None, cluster: str = "local",
            address: str | None = None, accuracy_csv: Sequence[str] = (),
            progress: Callable[[int, int], None] | None = None) -> ExploreResult:
    """Run a sweep into ``output`` (CSV). ``progress(done, total)`` counts configurations.

    Without ``resume`` an existing ``output`` is refused (never overwritten); with it, its rows are
    kept and only missing (configuration, strategy) rows are computed and appended.
    """
    started = time.perf_counter()
    validate_sweep(sweep)
    existing: list[Row] = []
    if output.exists():
        if not resume:
            raise TinyOpsError(f"{output} exists; pass --resume to continue that sweep, or choose another --output")
        existing = read_rows(output)
    elif output.suffix.lower() != ".csv":
        raise TinyOpsError(f"--output {output}: expected a .csv path")
    done_keys = {row_key(r) for r in existing}
    jobs = plan_jobs(sweep, done_keys)
    total = len(sweep.configurations())
    remaining = sum(len(j.boards) for j in jobs)
    finished = total - remaining
    if progress:
        progress(finished, total)
    rows = list(existing)
    new_rows = 0
    last_write = time.perf_counter()
    count = (os.cpu_count() or 1) if workers is None else workers
    model = accuracy_model(accuracy_csv)
    try:
        for job, job_rows in run_jobs(jobs, count, cluster, address):
            fill_accuracy(job_rows, model, accuracy_csv)
            rows.extend(job_rows)
            new_rows += len(job_rows)
            finished += len(job.boards)
            if progress:
                progress(finished, total)
            if time.perf_counter() - last_write > CHECKPOINT_INTERVAL_S:
                write_rows(output, rows)  # checkpoint: a killed sweep resumes from here
                last_write = time.perf_counter()
    finally:
        if new_rows or not output.exists():
            write_rows(output, rows)
    return ExploreResult(rows, new_rows, len(existing), total, time.perf_counter() - started, len(jobs))


__all__ = ["COLUMNS", "REQUIRED_COLUMNS", "EXTRA_COLUMNS", "MAC_CLASSES", "Sweep", "ModelJob", "ExploreResult",
           "explore", "evaluate_model", "plan_jobs", "read_rows", "write_rows", "fill_accuracy", "strategy_names",
           "validate_sweep", "run_jobs", "mac_class", "accuracy_model"]
