"""The fuzzer: damaged models, board files and awkward options through the real CLI, in-process.

Each case runs ``tinyops.cli.main`` in a worker process (as a user's shell would run the command,
minus the interpreter start-up) and is classified:

- ``ok``: exit 0, nothing on stderr beyond what the command prints on purpose;
- ``rejected``: exit 2 with exactly one line on stderr (the clean refusal we want for bad input);
- ``traceback``: an exception other than the project's own error escaped ``main``;
- ``hang``: the command ran past its time limit (the place it was stuck is recorded);
- ``crash``: the worker process died (a segfault, the OOM killer);
- ``noisy``: finished, but a Python warning or a multi-line error reached the user;
- ``unexpected-ok``: an option case that must be refused (an output that is a directory...)
  succeeded.

Failures are deduplicated by place: the innermost ``tinyops`` frame (file:line) and the
exception type. Model mutations are recipes (:mod:`tinyops.testing.mutations`), so every
finding can be replayed with :func:`replay`.
"""

from __future__ import annotations

import contextlib
import io
import multiprocessing
import multiprocessing.connection
import os
import random
import resource
import signal
import tempfile
import traceback
import warnings
from collections import Counter, deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Sequence

import numpy as np

from tinyops.testing.mutations import MODEL_MUTATORS, mutate_board, mutate_model

Outcome = Literal["ok", "rejected", "traceback", "hang", "crash", "noisy", "unexpected-ok"]
FAILURES: tuple[Outcome, ...] = ("traceback", "hang", "crash", "noisy", "unexpected-ok")
Family = Literal["model", "board", "option"]
MODEL_COMMANDS = ("analyze", "memory", "plan", "run")
BOARD_COMMANDS = ("analyze", "plan")
MEMORY_LIMIT_BYTES = 4 << 30  # a runaway allocation becomes a MemoryError, not the OOM killer


@dataclass(frozen=True)
class Case:
    family: Family
    index: int
    source: str  # model or board file; for option cases the case name
    mutator: str
    seed: int
    argv: tuple[str, ...] = ()  # option cases only
    expect_reject: bool = False


@dataclass(frozen=True)
class Result:
    case: Case
    command: str
    outcome: Outcome
    place: str = ""
    detail: str = ""


@dataclass
class Summary:
    results: list[Result] = field(default_factory=list)

    def counts(self) -> Counter[tuple[str, str, Outcome]]:
        return Counter((r.case.family, r.command, r.outcome) for r in self.results)

    def failures(self) -> list[Result]:
        return [r for r in self.results if r.outcome in FAILURES]

    def places(self) -> Counter[tuple[Outcome, str]]:
        return Counter((r.outcome, r.place) for r in self.failures())


class _Timeout(BaseException):
    """Raised by the alarm inside a command that ran too long (BaseException: not swallowed)."""


def _on_alarm(signum: int, frame: Any) -> None:
    raise _Timeout()


def _place(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if "/tinyops/" in f.filename and "/tinyops/testing/" not in f.filename]
    chosen = ours or list(frames)
    where = f"{chosen[-1].filename.split('/tinyops/')[-1]}:{chosen[-1].lineno}" if chosen else "?"
    return f"{where} {type(exc).__name__}"


def invoke(argv: Sequence[str], timeout_s: float) -> tuple[Outcome, str, str]:
    """Run one command line in this process: (outcome, place, first line of detail)."""
    from tinyops.cli import main

    out, err = io.StringIO(), io.StringIO()
    signal.signal(signal.SIGALRM, _on_alarm)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        signal.setitimer(signal.ITIMER_REAL, timeout_s)
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                try:
                    code = main(list(argv))
                except SystemExit as exc:  # argparse usage errors and --help
                    code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
            signal.setitimer(signal.ITIMER_REAL, 0)
        except _Timeout as exc:
            return "hang", _place(exc), f"ran past {timeout_s:g} s"
        except MemoryError as exc:
            signal.setitimer(signal.ITIMER_REAL, 0)
            return "traceback", _place(exc), "MemoryError"
        except Exception as exc:
            signal.setitimer(signal.ITIMER_REAL, 0)
            return "traceback", _place(exc), f"{type(exc).__name__}: {exc}"[:300]
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
    lines = [line for line in err.getvalue().splitlines() if line.strip()]
    if caught:
        warning = caught[0]
        where = f"{str(warning.filename).split('/tinyops/')[-1]}:{warning.lineno}"
        return "noisy", f"{where} {warning.category.__name__}", str(warning.message)[:300]
    if code == 0:
        return "ok", "", ""
    if code == 2 and len(lines) == 1:
        return "rejected", "", lines[0][:300]
    return "noisy", f"exit {code}, {len(lines)} stderr lines", (lines[0] if lines else "")[:300]


# ---- inputs for `run` ------------------------------------------------------------------------------

def _input_arrays(data: bytes, fallback: bytes) -> list[np.ndarray]:
    """Random inputs shaped as the (mutated) model declares, else as the original model does."""
    from tinyops.frontends.loader import load_model_bytes

    for candidate in (data, fallback):
        try:
            graph = load_model_bytes(candidate)
            arrays = []
            for tensor in graph.main.inputs:
                shape = tuple(int(d) for d in tensor.shape)
                if any(d <= 0 for d in shape) or int(np.prod(shape, dtype=np.int64)) > 1 << 20:
                    raise ValueError("unusable input shape")
                dtype = tensor.dtype.numpy
                rng = np.random.default_rng(0)
                if np.issubdtype(dtype, np.integer):
                    info = np.iinfo(dtype)
                    arrays.append(rng.integers(max(info.min, -128), min(info.max, 127) + 1, shape).astype(dtype))
                else:
                    arrays.append(rng.standard_normal(shape).astype(dtype))
            return arrays
        except Exception:
            continue
    return [np.zeros((1,), np.float32)]


def _write_inputs(folder: Path, arrays: list[np.ndarray]) -> Path:
    if len(arrays) == 1:
        path = folder / "x.npy"
        np.save(path, arrays[0])
    else:
        path = folder / "x.npz"
        np.savez(path, **{f"in{i}": a for i, a in enumerate(arrays)})  # type: ignore[arg-type]
    return path


# ---- cases ----------------------------------------------------------------------------------------

def model_argv(command: str, model: Path, folder: Path, seed: int) -> list[str]:
    as_json = ["--json"] if seed % 2 else []
    if command == "run":
        inputs = next(folder.glob("x.np*"))
        return ["run", str(model), "--input", str(inputs), "--output", str(folder / f"y{seed}.npz")]
    if command == "plan" and seed % 3 == 0:
        return ["plan", str(model), "--strategy", "overlay-v2", *as_json]
    return [command, str(model), *as_json]


def run_case(case: Case, timeout_s: float) -> list[Result]:
    with tempfile.TemporaryDirectory(prefix="tinyops-fuzz-") as name:
        folder = Path(name)
        if case.family == "option":
            outcome, place, detail = invoke(list(case.argv), timeout_s)
            if outcome == "ok" and case.expect_reject:
                outcome, place = "unexpected-ok", case.source
            return [Result(case, case.argv[0] if case.argv else "", outcome, place, detail)]
        if case.family == "board":
            board = folder / "board.toml"
            board.write_text(mutate_board(Path(case.source).read_text(), case.seed))
            model = Path(case.mutator)  # board cases name the model they plan in ``mutator``
            results = []
            for command in BOARD_COMMANDS:
                extra = ["--compare", "--json"] if command == "plan" else ["--json"]
                outcome, place, detail = invoke([command, str(model), "--board", str(board), *extra], timeout_s)
                results.append(Result(case, command, outcome, place, detail))
            return results
        original = Path(case.source).read_bytes()
        data = mutate_model(original, case.mutator, case.seed)
        model = folder / "model.tflite"
        model.write_bytes(data)
        _write_inputs(folder, _input_arrays(data, original))
        results = []
        for command in MODEL_COMMANDS:
            outcome, place, detail = invoke(model_argv(command, model, folder, case.seed), timeout_s)
            results.append(Result(case, command, outcome, place, detail))
        return results


def replay(source: str | Path, mutator: str, seed: int, timeout_s: float = 30.0) -> list[Result]:
    """Re-run one model recipe in this process (what a regression test does)."""
    return run_case(Case("model", 0, str(source), mutator, seed), timeout_s)


def model_cases(models: Sequence[Path], count: int, seed: int) -> list[Case]:
    rng = random.Random(seed)
    return [Case("model", i, str(rng.choice(models)), rng.choice(MODEL_MUTATORS), rng.randrange(1 << 30))
            for i in range(count)]


def board_cases(boards: Sequence[Path], model: Path, count: int, seed: int) -> list[Case]:
    rng = random.Random(seed + 1)
    return [Case("board", i, str(rng.choice(boards)), str(model), rng.randrange(1 << 30)) for i in range(count)]


# ---- the parallel runner --------------------------------------------------------------------------

def _worker(connection: multiprocessing.connection.Connection, timeout_s: float) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT_BYTES, MEMORY_LIMIT_BYTES))
    os.chdir(tempfile.mkdtemp(prefix="tinyops-fuzz-cwd-"))
    while True:
        case = connection.recv()
        if case is None:
            return
        connection.send(run_case(case, timeout_s))


@dataclass
class _Slot:
    process: Any
    connection: multiprocessing.connection.Connection
    case: Case | None = None
    deadline: float = 0.0


def _commands_of(case: Case) -> tuple[str, ...]:
    if case.family == "model":
        return MODEL_COMMANDS
    if case.family == "board":
        return BOARD_COMMANDS
    return (case.argv[0] if case.argv else "",)


def run_cases(cases: Sequence[Case], workers: int = 2, timeout_s: float = 20.0,
              progress: Any = None) -> Summary:
    """Run ``cases`` on ``workers`` processes. A worker stuck past every command's time limit
    (a hang the alarm could not interrupt) is killed and the case counted as a hang."""
    import time

    from tinyops.cli import build_parser

    build_parser()  # import every command before forking, so workers start warm
    context = multiprocessing.get_context("fork")

    def start() -> _Slot:
        parent, child = context.Pipe()
        process = context.Process(target=_worker, args=(child, timeout_s), daemon=True)
        process.start()
        child.close()
        return _Slot(process, parent)

    summary = Summary()
    pending = deque(cases)
    slots = [start() for _ in range(max(1, workers))]
    done = 0
    try:
        while pending or any(s.case is not None for s in slots):
            for slot in slots:
                if slot.case is None and pending:
                    slot.case = pending.popleft()
                    slot.deadline = time.monotonic() + timeout_s * (len(_commands_of(slot.case)) + 1) + 30
                    slot.connection.send(slot.case)
            busy = [s for s in slots if s.case is not None]
            ready = multiprocessing.connection.wait([s.connection for s in busy], timeout=1.0)
            for index, slot in enumerate(slots):
                if slot.case is None:
                    continue
                finished: list[Result] | None = None
                if slot.connection in ready:
                    try:
                        finished = slot.connection.recv()
                    except (EOFError, OSError):
                        code = slot.process.exitcode
                        finished = [Result(slot.case, c, "crash", f"worker exit {code}") for c in _commands_of(slot.case)]
                elif time.monotonic() > slot.deadline:
                    finished = [Result(slot.case, c, "hang", "worker killed") for c in _commands_of(slot.case)]
                if finished is None:
                    continue
                summary.results.extend(finished)
                done += 1
                if progress is not None:
                    progress(done, len(cases))
                if any(r.outcome in ("crash",) for r in finished) or finished[0].place == "worker killed":
                    slot.process.kill()
                    slot.process.join()
                    slots[index] = start()
                else:
                    slot.case = None
    finally:
        for slot in slots:
            with contextlib.suppress(Exception):
                slot.connection.send(None)
            slot.process.join(timeout=2)
            if slot.process.is_alive():
                slot.process.kill()
    return summary


def format_summary(summary: Summary, top: int = 15) -> str:
    """Counts per family, command and outcome, then the most frequent failure places."""
    counts = summary.counts()
    outcomes: list[Outcome] = ["ok", "rejected", "traceback", "hang", "crash", "noisy", "unexpected-ok"]
    rows = sorted({(family, command) for family, command, _ in counts})
    header = f"{'family':<8} {'command':<10}" + "".join(f"{o:>14}" for o in outcomes)
    lines = ["runs by outcome (ok: exit 0; rejected: one-line error, exit 2)", header]
    for family, command in rows:
        lines.append(f"{family:<8} {command:<10}" + "".join(f"{counts[(family, command, o)]:>14,}" for o in outcomes))
    total = Counter(r.outcome for r in summary.results)
    lines.append(f"{'all':<8} {'':<10}" + "".join(f"{total[o]:>14,}" for o in outcomes))
    places = summary.places()
    if places:
        lines.append(f"{len(places)} distinct failure places; most frequent:")
        for (outcome, place), count in places.most_common(top):
            example = next(r for r in summary.failures() if (r.outcome, r.place) == (outcome, place))
            recipe = (f"{Path(example.case.source).name} {example.case.mutator} {example.case.seed}"
                      if example.case.family != "option" else example.case.source)
            lines.append(f"  {count:>6}  {outcome:<10} {place}  [{example.command}: {recipe}] {example.detail[:90]}")
    return "\n".join(lines)


# ---- options and output paths ---------------------------------------------------------------------

def option_cases(folder: Path, model: Path, board: Path) -> list[Case]:
    """Awkward command lines: outputs that cannot be written, inputs that are not files, odd numbers.

    ``folder`` receives the fixtures (a directory, a regular file, a FIFO, a hard link to the
    model...). Cases marked ``expect_reject`` must end with a one-line error.
    """
    folder.mkdir(parents=True, exist_ok=True)
    directory = folder / "a_directory"
    directory.mkdir(exist_ok=True)
    regular = folder / "a_file.txt"
    regular.write_text("not a folder\n")
    fifo = folder / "a_fifo"
    if not fifo.exists():
        os.mkfifo(fifo)
    local_model = folder / "model.tflite"
    local_model.write_bytes(model.read_bytes())
    link = folder / "model_link.tflite"
    if not link.exists():
        os.link(local_model, link)
    existing = folder / "existing.png"
    existing.write_bytes(b"keep me")
    arrays = _input_arrays(local_model.read_bytes(), local_model.read_bytes())
    inputs = _write_inputs(folder, arrays)
    garbage = folder / "garbage.npy"
    garbage.write_bytes(b"\x93NUMPY garbage")
    long_name = "n" * 300
    deep = "/".join(["d" * 200] * 25)
    m = str(local_model)
    out = str(folder / "out")
    table: list[tuple[str, list[str], bool]] = [
        ("no command", [], True),
        ("unknown option", ["--bogus"], True),
        ("empty model path", ["analyze", ""], True),
        ("empty board", ["analyze", m, "--board", ""], True),
        ("model is /dev/zero", ["analyze", "/dev/zero"], True),
        ("model is /dev/null", ["memory", "/dev/null"], True),
        ("model is a FIFO", ["analyze", str(fifo)], True),
        ("model is a directory", ["plan", str(directory)], True),
        ("model name too long", ["analyze", str(folder / (long_name + ".tflite"))], True),
        ("model path too long", ["analyze", deep + ".tflite"], True),
        ("board is /dev/zero", ["analyze", m, "--board", "/dev/zero"], True),
        ("board is a FIFO", ["plan", m, "--board", str(fifo)], True),
        ("board is a directory", ["plan", m, "--board", str(directory)], True),
        ("board path too long", ["plan", m, "--board", deep + ".toml"], True),
        ("board name too long", ["plan", m, "--board", long_name + ".toml"], True),
        ("board is the model", ["plan", m, "--board", m], True),
        ("plot is a directory", ["analyze", m, "--plot", str(directory)], True),
        ("plot under a regular file", ["analyze", m, "--plot", str(regular / "x.png")], True),
        ("plot in a missing folder", ["analyze", m, "--plot", str(folder / "missing" / "x.png")], True),
        ("plot in a read-only place", ["analyze", m, "--plot", "/proc/x.png"], True),
        ("plot suffix unknown", ["analyze", m, "--plot", out + ".tflite"], True),
        ("plot without suffix", ["memory", m, "--plot", out + "_nosuffix"], True),
        ("plot name too long", ["analyze", m, "--plot", str(folder / (long_name + ".png"))], True),
        ("plot is the model", ["memory", m, "--plot", m], True),
        ("plot exists", ["analyze", m, "--plot", str(existing)], True),
        ("plot exists --force", ["analyze", m, "--plot", str(existing), "--force"], False),
        ("plot is a FIFO", ["analyze", m, "--plot", str(fifo)], True),
        ("plot is /dev/null", ["analyze", m, "--plot", "/dev/null"], True),
        ("write is the model", ["memory", m, "--write", m], True),
        ("write is a hard link to the model", ["memory", m, "--write", str(link), "--force"], True),
        ("write is a directory", ["memory", m, "--write", str(directory)], True),
        ("write under a regular file", ["memory", m, "--write", str(regular / "x.tflite")], True),
        ("write name too long", ["memory", m, "--write", str(folder / (long_name + ".tflite"))], True),
        ("csv is a directory", ["plan", m, "--csv", str(directory)], True),
        ("csv under a regular file", ["plan", m, "--csv", str(regular / "x.csv")], True),
        ("csv in a read-only place", ["plan", m, "--csv", "/proc/x.csv"], True),
        ("csv is the model", ["plan", m, "--csv", m], True),
        ("timeline suffix unknown", ["plan", m, "--timeline", out + ".xyz"], True),
        ("timeline is a directory", ["plan", m, "--timeline", str(directory)], True),
        ("timeline compare suffix unknown", ["plan", m, "--compare", "--timeline", out + ".tflite"], True),
        ("clock zero", ["plan", m, "--clock-mhz", "0"], True),
        ("clock negative", ["plan", m, "--clock-mhz", "-5"], True),
        ("clock nan", ["plan", m, "--clock-mhz", "nan"], True),
        ("clock inf", ["plan", m, "--clock-mhz", "inf"], True),
        ("clock huge", ["plan", m, "--clock-mhz", "1e30"], True),
        ("sram limit negative", ["plan", m, "--sram-limit-bytes", "-1"], True),
        ("sram limit zero", ["plan", m, "--sram-limit-bytes", "0", "--strategy", "overlay-v2"], False),
        ("sram limit huge", ["plan", m, "--sram-limit-bytes", str(10**30)], False),
        ("run output is a directory", ["run", m, "--input", str(inputs), "--output", str(directory)], True),
        ("run output under a regular file", ["run", m, "--input", str(inputs), "--output", str(regular / "y.npy")], True),
        ("run output is the input", ["run", m, "--input", str(inputs), "--output", str(inputs), "--force"], True),
        ("run output is the model", ["run", m, "--input", str(inputs), "--output", m, "--force"], True),
        ("run output without suffix", ["run", m, "--input", str(inputs), "--output", out], True),
        ("run output name too long", ["run", m, "--input", str(inputs), "--output", str(folder / (long_name + ".npy"))], True),
        ("run input is /dev/zero", ["run", m, "--input", "/dev/zero", "--output", out + ".npy"], True),
        ("run input is a FIFO", ["run", m, "--input", str(fifo), "--output", out + ".npy"], True),
        ("run input is garbage", ["run", m, "--input", str(garbage), "--output", out + ".npy"], True),
        ("run input is the model", ["run", m, "--input", m, "--output", out + ".npy"], True),
        ("run input is missing", ["run", m, "--input", str(folder / "nope.npy"), "--output", out + ".npy"], True),
        ("run trace is a regular file", ["run", m, "--input", str(inputs), "--output", out + "2.npy", "--trace", str(regular)], True),
        ("run empty model", ["run", "", "--input", str(inputs), "--output", out + "3.npy"], True),
        ("quantize output is a directory", ["quantize", m, "--calibration", str(inputs), "--output", str(directory)], True),
        ("quantize output is the model", ["quantize", m, "--calibration", str(inputs), "--output", m, "--force"], True),
        ("quantize calibration is a FIFO", ["quantize", m, "--calibration", str(fifo), "--output", out + ".tflite"], True),
        ("zoo build output is a directory", ["zoo", "build", "dscnn-s", "--output", str(directory), "--force"], True),
        ("zoo build output under a file", ["zoo", "build", "dscnn-s", "--output", str(regular / "m.tflite")], True),
        ("zoo build empty family", ["zoo", "build", "", "--output", out + "z.tflite"], True),
        ("boards show empty", ["boards", "show", ""], True),
        ("boards show FIFO", ["boards", "show", str(fifo)], True),
        ("boards show /dev/zero", ["boards", "show", "/dev/zero"], True),
        ("explore output is a directory", ["explore", "--family", "dscnn-s", "--output", str(directory)], True),
        ("explore output under a file", ["explore", "--family", "dscnn-s", "--output", str(regular / "x.csv")], True),
        ("explore plot dir is a file", ["explore", "--family", "dscnn-s", "--widths", "0.25", "--resolutions", "49x10",
                                        "--output", out + "e.csv", "--plot", str(regular)], True),
    ]
    return [Case("option", i, name, "", 0, tuple(argv), reject) for i, (name, argv, reject) in enumerate(table)]
