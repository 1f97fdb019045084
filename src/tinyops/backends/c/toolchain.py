"""The tools generated code needs: the Arm cross compiler, QEMU, the host compiler; building a
project, running firmware under QEMU with the counting plugin, and reading an ELF's sizes.

A missing tool is a user error naming the Debian packages that provide it.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from tinyops.errors import TinyOpsError

DEBIAN_PACKAGES = "gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm"
BUILD_TIMEOUT_S = 600
RUN_TIMEOUT_S = 600


def require(tool: str, packages: str = DEBIAN_PACKAGES) -> str:
    path = shutil.which(tool)
    if path is None:
        raise TinyOpsError(f"{tool} not found on PATH; install the Debian packages: apt-get install -y "
                           f"--no-install-recommends {packages}")
    return path


def version_of(tool: str) -> str:
    try:
        out = subprocess.run([tool, "--version"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return out.splitlines()[0].strip() if out else "unknown"


def make(folder: Path, target: str, variables: dict[str, str]) -> None:
    """Run the project's Makefile; a compiler error becomes one line with the first diagnostic."""
    require("make", "make")
    args = ["make", "-s", f"-j{min(os.cpu_count() or 1, 4)}", "-C", str(folder), target] + [f"{k}={v}" for k, v in variables.items()]
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=BUILD_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise TinyOpsError(f"building {target} in {folder} took over {BUILD_TIMEOUT_S} s") from None
    if done.returncode != 0:
        lines = (done.stderr + done.stdout).splitlines()
        first = next((ln for ln in lines if "error" in ln.lower() or "overflow" in ln.lower()),
                     lines[0] if lines else "no output")
        raise TinyOpsError(f"building {target} failed: {first.strip()} (project kept in {folder})")


@dataclass(frozen=True)
class QemuRun:
    exit_code: int
    output: str
    wall_s: float
    counts_path: Path | None


def plugin_path(cache_dir: Path) -> Path:
    """The counting plugin, built once per source text with the host compiler."""
    source = (resources.files("tinyops.backends.c") / "templates" / "count_plugin.c").read_bytes()
    digest = hashlib.sha256(source).hexdigest()[:16]
    target = cache_dir / f"tinyops_count_plugin_{digest}.so"
    if target.is_file():
        return target
    cc = require(os.environ.get("HOSTCC", "gcc"), "gcc")
    cache_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache_dir) as tmp:
        src = Path(tmp) / "count_plugin.c"
        src.write_bytes(source)
        out = Path(tmp) / target.name
        done = subprocess.run([cc, "-O2", "-shared", "-fPIC", "-Wall", "-Wextra", "-o", str(out), str(src)],
                              capture_output=True, text=True, timeout=BUILD_TIMEOUT_S)
        if done.returncode != 0:
            raise TinyOpsError(f"building the QEMU counting plugin failed: {done.stderr.strip().splitlines()[0]}")
        os.replace(out, target)
    return target


def symbol_address(elf: Path, symbol: str) -> int:
    nm = require("arm-none-eabi-nm")
    out = subprocess.run([nm, str(elf)], capture_output=True, text=True, timeout=60).stdout
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[2] == symbol:
            return int(parts[0], 16)
    raise TinyOpsError(f"{elf} has no symbol {symbol}")


def run_qemu(elf: Path, machine: str, plugin: Path | None, plugin_args: list[str], workdir: Path,
             icount: bool = False) -> QemuRun:
    import time

    qemu = require("qemu-system-arm")
    args = [qemu, "-M", machine, "-display", "none", "-monitor", "none", "-serial", "none",
            "-semihosting-config", "enable=on,target=native", "-kernel", str(elf)]
    if icount:
        args += ["-icount", "shift=0"]
    counts = None
    if plugin is not None:
        counts = workdir / "counts.txt"
        counts.unlink(missing_ok=True)
        args += ["-plugin", ",".join([str(plugin), f"out={counts}", *plugin_args])]
    started = time.perf_counter()
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=RUN_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise TinyOpsError(f"{elf.name} did not finish within {RUN_TIMEOUT_S} s under qemu {machine}") from None
    wall = time.perf_counter() - started
    return QemuRun(done.returncode, done.stdout + done.stderr, wall, counts)


LOADED_SECTIONS = (".text", ".ARM.exidx", ".data", ".bss", ".tinyops_arena", ".stack", ".ext_flash", ".sdram",
                   ".harness", ".harness_bss")


def elf_sections(elf: Path, tool: str = "arm-none-eabi-size") -> list[tuple[str, int, int]]:
    """(section, size, address) as ``size -A`` reports them, for the sections the linker script places."""
    size = require(tool)
    out = subprocess.run([size, "-A", str(elf)], capture_output=True, text=True, timeout=60).stdout
    rows = []
    for line in out.splitlines():
        m = re.match(r"^(\.\S+)\s+(\d+)\s+(\d+)\s*$", line)
        if m and m.group(1) in LOADED_SECTIONS:
            rows.append((m.group(1), int(m.group(2)), int(m.group(3))))
    return rows


def elf_symbols(elf: Path, tool: str = "arm-none-eabi-nm") -> dict[str, tuple[int, int]]:
    """Symbol -> (address, size) for sized symbols."""
    nm = require(tool)
    out = subprocess.run([nm, "-S", str(elf)], capture_output=True, text=True, timeout=60).stdout
    found: dict[str, tuple[int, int]] = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 4:
            found[parts[3]] = (int(parts[0], 16), int(parts[1], 16))
    return found


__all__ = ["require", "version_of", "make", "run_qemu", "plugin_path", "elf_sections", "elf_symbols",
           "symbol_address", "QemuRun", "DEBIAN_PACKAGES"]
