"""``generate`` and ``verify``: plan -> C project -> (build) -> (run under QEMU or on the host).

``generate`` writes a project for the board's own memory map (and builds it when the Arm compiler
is installed, to put the ELF's sizes beside the plan's). ``verify`` writes the same project for an
emulated Cortex-M (or the host), builds it warning-free, runs it on seeded inputs and compares every
output byte with ``tinyops.runtime``; the counting plugin attributes instructions and bytes read and
written per board memory to each op.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tinyops.backends.c import toolchain
from tinyops.backends.c.linker import STACK_BYTES
from tinyops.backends.c.memory_report import elf_totals, markdown, report
from tinyops.backends.c.plan_view import DeploymentView, view
from tinyops.backends.c.project import Project, build_project, write_project
from tinyops.backends.c.targets import DMA_BACKENDS, TARGETS, MemoryMap, board_map, qemu_map
from tinyops.backends.c.vectors import make_vectors
from tinyops.errors import TinyOpsError
from tinyops.hw.board import Board
from tinyops.ir.graph import Graph
from tinyops.cost.cost_model import op_counts

KERNEL_LIBRARIES = ("tinyops",)


def default_cache_dir() -> Path:
    base = os.environ.get("TINYOPS_CACHE_DIR") or os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "tinyops"


def choose_dma(deployment: DeploymentView, target: str, dma: str | None) -> str:
    if dma is not None:
        if dma not in DMA_BACKENDS:
            raise TinyOpsError(f"unknown DMA back end {dma!r}; choose one of {', '.join(DMA_BACKENDS)}")
        if dma == "pl081" and target != "qemu-m33":
            raise TinyOpsError("the pl081 back end runs on qemu-m33 (mps2-an505) only")
        if dma == "stm32" and target != "board":
            raise TinyOpsError("the stm32 back end runs on an STM32 board only (QEMU emulates no STM32 DMA)")
        return dma
    if not deployment.transfers:
        return "memcpy"
    if target == "qemu-m33":
        return "pl081"
    return "stm32" if target == "board" else "deferred"


@dataclass
class Generated:
    project: Project
    output: Path
    memory_map: dict[str, Any]
    built: bool


def generate(graph: Graph, board: Board, output: Path, strategy: str = "internal", planner: str = "best",
             force: bool = False, inputs: int = 1, seed: int = 0, dma: str | None = None,
             build: bool | None = None) -> Generated:
    if output.exists() and not force:
        raise TinyOpsError(f"{output} exists; pass --force to replace it")
    deployment = view(graph, board, strategy, planner)
    memory_map = board_map(board)
    backend = choose_dma(deployment, "board", dma)
    vectors, expected = make_vectors(graph, inputs, seed, minimum=0)
    project = build_project(deployment, memory_map, backend, vectors, expected)
    can_build = shutil.which("arm-none-eabi-gcc") is not None and shutil.which("make") is not None
    if build is True and not can_build:
        toolchain.require("arm-none-eabi-gcc")
    do_build = can_build if build is None else build
    sections = symbols = None
    with tempfile.TemporaryDirectory(prefix="tinyops-generate-") as tmp:
        if do_build:
            folder = Path(tmp) / "project"
            write_project(project.files, folder, force=False)
            toolchain.make(folder, "firmware.elf", {})
            elf = folder / "firmware.elf"
            sections = toolchain.elf_sections(elf)
            symbols = toolchain.elf_symbols(elf)
    data = report(project, sections, symbols)
    files = dict(project.files)
    files["memory_map.json"] = (json.dumps(data, indent=2) + "\n").encode()
    files["memory_map.md"] = markdown(data).encode()
    write_project(files, output, force)
    return Generated(project, output, data, do_build)


def _kernel_key(files: dict[str, bytes], cflags: tuple[str, ...], defs: str) -> str:
    """Kernel objects depend on the kernel sources and the flags only, not on the model."""
    import hashlib

    digest = hashlib.sha256(" ".join(cflags).encode() + defs.encode())
    for name in sorted(files):
        if name.startswith("kernels/"):
            digest.update(name.encode() + files[name])
    return digest.hexdigest()[:24]


def _kernel_cache(key: str) -> Path:
    return default_cache_dir() / "kernel-objects" / key


def _restore_kernel_objects(folder: Path, key: str) -> None:
    """Copy cached kernel objects in after the sources were written: newer, so make skips them."""
    cached = _kernel_cache(key)
    if not cached.is_dir():
        return
    target = folder / "build" / "kernels"
    target.mkdir(parents=True, exist_ok=True)
    for obj in cached.glob("*.o"):
        shutil.copyfile(obj, target / obj.name)


def _save_kernel_objects(folder: Path, key: str) -> None:
    cached = _kernel_cache(key)
    if cached.is_dir():
        return
    built = sorted((folder / "build" / "kernels").glob("*.o"))
    if not built:
        return
    cached.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=cached.parent))
    for obj in built:
        shutil.copyfile(obj, staging / obj.name)
    try:
        staging.rename(cached)
    except OSError:  # another process cached the same objects first
        shutil.rmtree(staging, ignore_errors=True)


def _build_firmware(files: dict[str, bytes], folder: Path, memory_map: MemoryMap, defs: str) -> Path:
    key = _kernel_key(files, memory_map.cflags, defs)
    _restore_kernel_objects(folder, key)
    toolchain.make(folder, "firmware.elf", {"DEFS": defs})
    _save_kernel_objects(folder, key)
    return folder / "firmware.elf"


def _run_counted(elf: Path, memory_map: MemoryMap, method: str, plugin: Path | None,
                 folder: Path) -> toolchain.QemuRun:
    plugin_args: list[str] = []
    if method == "plugin":
        marker = toolchain.symbol_address(elf, "tinyops_op_marker")
        plugin_args.append(f"marker={marker & ~1:x}")
        for r in memory_map.regions:
            if r.board_memory is not None:
                plugin_args.append(f"win={r.board_memory}:{r.origin:x}:{r.end:x}")
    assert memory_map.machine is not None
    return toolchain.run_qemu(elf, memory_map.machine, plugin if method == "plugin" else None, plugin_args, folder,
                              icount=method == "systick")


@dataclass
class OpCount:
    index: int
    type: str
    macs: int
    instructions: int
    bytes_read: dict[str, int]
    bytes_written: dict[str, int]


@dataclass
class VerifyResult:
    model: str
    board: str
    target: str
    strategy: str
    planner: str
    inputs: int
    bit_exact: bool
    mismatches: int
    arena_bytes: int
    flash_bytes: int
    ram_bytes: int
    instructions: int
    ops: list[OpCount]
    toolchain: dict[str, str]
    dma: str
    exit_code: int
    wall_s: float
    external_bytes: dict[str, int] = field(default_factory=dict)
    sizes_from: str = "elf"
    counted_with: str = "qemu plugin"
    extra_scratch_bytes: int = 0
    output: str = ""
    stack_used_bytes: int = -1  # deepest stack use measured on the target (-1: not measured)
    build_s: float = 0.0
    run_s: float = 0.0  # QEMU process wall time (start-up included)
    portable: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model, "board": self.board, "target": self.target, "strategy": self.strategy,
            "planner": self.planner, "inputs": self.inputs, "bit_exact": self.bit_exact,
            "mismatches": self.mismatches, "arena_bytes": self.arena_bytes, "flash_bytes": self.flash_bytes,
            "ram_bytes": self.ram_bytes, "external_bytes": self.external_bytes, "instructions": self.instructions,
            "ops": [{"index": o.index, "type": o.type, "macs": o.macs, "instructions": o.instructions,
                     "bytes_read": o.bytes_read, "bytes_written": o.bytes_written} for o in self.ops],
            "toolchain": self.toolchain, "dma": self.dma, "exit_code": self.exit_code,
            "wall_s": round(self.wall_s, 3), "build_s": round(self.build_s, 3), "qemu_s": round(self.run_s, 3),
            "kernel_path": "portable" if self.portable else "dsp where the core has it", "sizes_from": self.sizes_from, "counted_with": self.counted_with,
            "extra_scratch_bytes": self.extra_scratch_bytes, "stack_used_bytes": self.stack_used_bytes,
            "stack_reserved_bytes": STACK_BYTES if self.sizes_from == "elf" else 0,
        }


def _reported(output: str, label: str) -> int:
    for line in output.splitlines():
        if line.startswith(f"tinyops: {label} "):
            return int(line.rsplit(" ", 1)[1])
    return -1


def _parse_counts(path: Path, steps: int) -> tuple[list[str], list[list[int]]]:
    windows: list[str] = []
    rows: list[list[int]] = []
    for line in path.read_text().splitlines():
        parts = line.split()
        if parts and parts[0] == "windows":
            windows = parts[1:]
        elif parts and parts[0] == "seg":
            rows.append([int(v) for v in parts[2:]])
    if len(rows) < steps + 2:
        raise TinyOpsError(f"the counting plugin saw {len(rows) - 1} op markers, expected at least {steps + 1}")
    return windows, rows


def verify(graph: Graph, board: Board, target: str, strategy: str = "internal", planner: str = "best",
           inputs: int = 1, seed: int = 0, dma: str | None = None, keep: Path | None = None,
           drop_wait: int | None = None, count: bool = True, portable: bool = False,
           counting: str = "auto") -> VerifyResult:
    """Generate, build, run and compare (see module doc). ``portable`` builds the kernels' portable
    C path on DSP cores too (TINYOPS_FORCE_PORTABLE); ``drop_wait`` omits one transfer's wait (a
    test that the deferred DMA back end catches it). ``counting``: auto (the plugin, else -icount +
    SysTick), plugin, systick."""
    if counting not in ("auto", "plugin", "systick"):
        raise TinyOpsError(f"unknown counting method {counting!r}; choose auto, plugin or systick")
    import time

    if target not in TARGETS:
        raise TinyOpsError(f"unknown target {target!r}; choose one of {', '.join(TARGETS)}")
    started = time.perf_counter()
    host = target == "host"
    if host:
        toolchain.require(os.environ.get("HOSTCC", "gcc"), "gcc")
    else:
        toolchain.require("arm-none-eabi-gcc")
        toolchain.require("qemu-system-arm")
    deployment = view(graph, board, strategy, planner)
    memory_map: MemoryMap = board_map(board) if host else qemu_map(board, target)
    backend = choose_dma(deployment, target, dma)
    vectors, expected = make_vectors(graph, inputs, seed)
    project = build_project(deployment, memory_map, backend, vectors, expected, drop_wait)
    tmp = None
    if keep is None:
        tmp = tempfile.TemporaryDirectory(prefix="tinyops-verify-")
        folder = Path(tmp.name) / "project"
    else:
        folder = keep
    try:
        write_project(project.files, folder, force=keep is not None)
        steps = len(deployment.steps)
        versions = {"gcc": toolchain.version_of(os.environ.get("HOSTCC", "gcc") if host else "arm-none-eabi-gcc"),
                    "qemu": "" if host else toolchain.version_of("qemu-system-arm")}
        build_s = qemu_s = 0.0
        if host:
            build_started = time.perf_counter()
            toolchain.make(folder, "model_host", {})
            build_s = time.perf_counter() - build_started
            done = subprocess.run([str(folder / "model_host")], capture_output=True, text=True,
                                  timeout=toolchain.RUN_TIMEOUT_S)
            output, code = done.stdout + done.stderr, done.returncode
            ops = [OpCount(s.op_index, s.op.label, int(op_counts(s.op).macs), 0, {}, {}) for s in deployment.steps]
            flash = sum(s.size_bytes for s in project.symbols if s.memory == "flash")
            ram = deployment.arena_bytes + project.extra_scratch_bytes
            ext: dict[str, int] = {}
            total_insns, sizes_from, counted = 0, "plan", "not counted on the host"
        else:
            defs = "-DTINYOPS_HARNESS_REGION -DTINYOPS_PROFILE" + (" -DTINYOPS_FORCE_PORTABLE" if portable else "")
            if memory_map.pl081_base is not None:
                defs += f" -DTINYOPS_PL081_BASE=0x{memory_map.pl081_base:08X}u"
            method = counting if count else "none"
            plugin = None
            if method in ("auto", "plugin"):
                try:
                    plugin = toolchain.plugin_path(default_cache_dir())
                    method = "plugin"
                except TinyOpsError:
                    if method == "plugin":
                        raise
                    method = "systick"
            build_started = time.perf_counter()
            systick = " -DTINYOPS_SYSTICK" if method == "systick" else ""
            elf = _build_firmware(project.files, folder, memory_map, defs + systick)
            build_s = time.perf_counter() - build_started
            run = _run_counted(elf, memory_map, method, plugin, folder)
            if (method == "plugin" and counting == "auto" and run.exit_code not in (0, 1)
                    and "plugin" in run.output.lower()):
                # This QEMU refuses the plugin (e.g. a newer plugin API): count with -icount + SysTick.
                method = "systick"
                elf = _build_firmware(project.files, folder, memory_map, defs + " -DTINYOPS_SYSTICK")
                run = _run_counted(elf, memory_map, method, None, folder)
            output, code, qemu_s = run.output, run.exit_code, run.wall_s
            ops = []
            total_insns = 0
            if code in (0, 1) and method == "plugin" and run.counts_path is not None and run.counts_path.is_file():
                windows, rows = _parse_counts(run.counts_path, steps)
                for k, s in enumerate(deployment.steps):
                    row = rows[k + 1]
                    reads = {w: row[1 + 2 * i] for i, w in enumerate(windows) if row[1 + 2 * i]}
                    writes = {w: row[2 + 2 * i] for i, w in enumerate(windows) if row[2 + 2 * i]}
                    ops.append(OpCount(s.op_index, s.op.label, int(op_counts(s.op).macs), row[0], reads, writes))
                    total_insns += row[0]
            elif code in (0, 1) and method == "systick" and memory_map.instructions_per_tick:
                ticks = [int(line.rsplit(" ", 1)[1]) for line in output.splitlines() if line.startswith("tinyops: tick ")]
                if len(ticks) != steps + 1:
                    raise TinyOpsError(f"the firmware reported {len(ticks)} SysTick marks, expected {steps + 1}")
                for k, s in enumerate(deployment.steps):
                    insns = (ticks[k + 1] - ticks[k]) * memory_map.instructions_per_tick
                    ops.append(OpCount(s.op_index, s.op.label, int(op_counts(s.op).macs), insns, {}, {}))
                    total_insns += insns
            elif method == "systick":
                method = "none"  # no established SysTick rate on this machine
            sections = toolchain.elf_sections(elf)
            totals = elf_totals(memory_map, sections)
            ram_memory = memory_map.by_role("ram")
            assert ram_memory is not None and ram_memory.board_memory is not None
            flash = totals.get("flash", 0)
            ram = totals.get(ram_memory.board_memory, 0)
            ext = {m: v for m, v in totals.items() if m not in ("flash", ram_memory.board_memory)}
            sizes_from, counted = "elf", {
                "plugin": "qemu plugin",
                "systick": f"-icount shift=0 + SysTick ({memory_map.instructions_per_tick} instructions per tick)",
                "none": "not counted"}[method]
        mismatches = _reported(output, "mismatched bytes")
        if code not in (0, 1) or mismatches < 0:
            last = output.strip().splitlines()[-1] if output.strip() else "no output"
            raise TinyOpsError(f"the {target} run ended with status {code} ({last})"
                               + (f"; project kept in {folder}" if keep else ""))
        stack_used = _reported(output, "stack bytes used")
        if stack_used > STACK_BYTES:
            raise TinyOpsError(f"the firmware used {stack_used} B of stack, more than the {STACK_BYTES} B the linker "
                               f"script reserves")
        result = VerifyResult(
            model=Path(deployment.model).name, board=board.id, target=target, strategy=deployment.strategy,
            planner=deployment.planner, inputs=inputs, bit_exact=code == 0 and mismatches == 0,
            mismatches=mismatches, arena_bytes=deployment.arena_bytes, flash_bytes=flash, ram_bytes=ram,
            instructions=total_insns, ops=ops, toolchain=versions, dma=backend, exit_code=code,
            wall_s=time.perf_counter() - started, external_bytes=ext, sizes_from=sizes_from, counted_with=counted,
            extra_scratch_bytes=project.extra_scratch_bytes, output=output,
            stack_used_bytes=stack_used, build_s=build_s, run_s=qemu_s, portable=portable)
        return result
    finally:
        if tmp is not None:
            tmp.cleanup()


__all__ = ["generate", "verify", "VerifyResult", "Generated", "choose_dma", "KERNEL_LIBRARIES", "default_cache_dir"]
