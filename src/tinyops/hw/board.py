"""Board database: MCU boards described as TOML data files, every figure with a cited source.

A board file (see docs/boards.md) lists the MCU, its SRAM regions, internal flash, caches,
external memories, DMA engines and power figures.  Every figure must carry a source: either
the table it sits in has a ``source = "..."`` key, or the figure ``x`` has a sibling
``x_source = "..."`` that overrides it.  The loader validates everything and raises
:class:`BoardError` with one line naming the file, the field path and the problem.

Bundled boards live in ``tinyops/hw/boards/*.toml``; ``load_board`` also accepts a path.
"""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Callable, Literal, Mapping, NoReturn

from tinyops.errors import BoardError, TinyOpsError
from tinyops.files import read_input_file
from tinyops.ir.memory import EXTERNAL_KINDS, SRAM_KINDS, VOLATILE_KINDS

__all__ = [
    "BoardError",
    "SramRegion",
    "SramSpan",
    "InternalFlash",
    "ExternalMemory",
    "DmaEngine",
    "Power",
    "ChipDatasheetPower",
    "PaperConfig",
    "Board",
    "board_ids",
    "load_board",
    "list_boards",
    "CORES",
    "SRAM_KINDS",
    "EXTERNAL_KINDS",
    "ACCELERATORS",
]

CORES = ("M0+", "M3", "M4", "M7", "M33", "M55", "M85")
# SRAM_KINDS, EXTERNAL_KINDS, VOLATILE_KINDS: defined once, in tinyops.ir.memory.
ACCELERATORS = ("ART", "flash-cache", "ICACHE", "none")
# Where a power figure was measured: the chip's supply domain (MLPerf Tiny's energy harness powers
# the MCU alone) or the whole board's supply (TinyOpsV2 Table 2, idle peripherals included).
PowerScope = Literal["chip", "board"]
POWER_SCOPES: tuple[PowerScope, ...] = ("chip", "board")
# Older board files say "mcu" for the chip's supply domain.
POWER_SCOPE_ALIASES = {"mcu": "chip"}
FLASH_NAME = "flash"  # the name DMA `reaches` lists use for internal flash
# What a copy asks of a DMA engine: both ends addressable memory, or one end a peripheral's data
# register (an SPI SD card is read through its SPI peripheral).
TransferKind = Literal["memory-to-memory", "peripheral"]
# How the chip makes its core voltage: a linear regulator draws the core current from the supply
# (supply power ~ V_core), a switching step-down converter draws the core power (~ V_core^2).
Regulator = Literal["LDO", "SMPS"]
REGULATORS: tuple[Regulator, ...] = ("LDO", "SMPS")

# Keys that are descriptive text, not figures: they need no source.
_TEXT_KEYS = frozenset({"id", "name", "notes", "source"})
_PAPER_SUFFIX = "@paper"


# --------------------------------------------------------------------------- dataclasses


@dataclass(frozen=True)
class SramRegion:
    name: str
    base: int
    size_bytes: int
    kind: str
    dma_reachable: bool
    usable_for_data: bool = True

    @property
    def end(self) -> int:
        """One past the last byte."""
        return self.base + self.size_bytes


@dataclass(frozen=True)
class SramSpan:
    """Where ``size_bytes`` at ``offset_bytes`` of an SRAM run really are: regions and addresses."""

    regions: tuple[str, ...]  # every region the span touches, lowest address first
    start_address: int
    size_bytes: int

    @property
    def end_address(self) -> int:
        """The last byte's address (inclusive), as reference manuals write ranges."""
        return self.start_address + max(self.size_bytes, 1) - 1

    @property
    def label(self) -> str:
        """e.g. ``SRAM1 0x20010000-0x2001ffff`` or ``DTCM+SRAM1 0x2000f000-0x20010fff``."""
        return f"{'+'.join(self.regions)} {self.start_address:#010x}-{self.end_address:#010x}"


@dataclass(frozen=True)
class InternalFlash:
    size_bytes: int
    wait_states: tuple[tuple[float, int], ...]  # (max flash-clock MHz, wait states), ascending
    accelerator: str
    read_width_bits: int
    clock_divider: int = 1  # flash (bus) clock = CPU clock / clock_divider (2 on STM32H743)
    voltage_v: float = 3.3
    base: int = 0x08000000  # address the CPU reads it at (linker scripts); board files must state it

    def wait_states_at(self, clock_mhz: float) -> int:
        """Wait states needed at CPU clock ``clock_mhz`` (the table is in flash-clock MHz)."""
        flash_mhz = clock_mhz / self.clock_divider
        for max_mhz, ws in self.wait_states:
            if flash_mhz <= max_mhz + 1e-9:
                return ws
        raise BoardError(
            f"CPU clock {clock_mhz:g} MHz is above the flash wait-state table "
            f"(up to {self.wait_states[-1][0] * self.clock_divider:g} MHz)"
        )


@dataclass(frozen=True)
class ExternalMemory:
    name: str
    kind: str
    part: str
    size_bytes: int
    bus_width_bits: int
    clock_mhz: float
    read_bandwidth_mb_s: float  # MB/s = 10**6 bytes per second, sustained sequential
    write_bandwidth_mb_s: float
    first_access_latency_ns: float  # read
    memory_mapped: bool
    block_size_bytes: int  # transfer block for block devices (SD card); 0 if byte-addressable
    active_power_mw: float  # extra power drawn while the memory is being accessed
    write_latency_ns: float = 0.0  # 0 = same as first_access_latency_ns
    max_clock_mhz: float = 0.0  # 0 = same as clock_mhz
    base: int | None = None  # address when memory-mapped
    power_points: tuple[tuple[float, float], ...] = ()  # measured (clock MHz, board mW) points
    # Read latency when the access follows the previous one in address order: an SDRAM row that
    # is already open, or a memory-mapped QSPI stream the peripheral is prefetching. None: every
    # access pays ``first_access_latency_ns``.
    sequential_latency_ns: float | None = None

    @property
    def volatile(self) -> bool:
        return self.kind in VOLATILE_KINDS

    @property
    def effective_write_latency_ns(self) -> float:
        return self.write_latency_ns or self.first_access_latency_ns

    @property
    def stream_latency_ns(self) -> float:
        """Read latency of an access that continues a sequential stream."""
        return self.first_access_latency_ns if self.sequential_latency_ns is None else self.sequential_latency_ns


@dataclass(frozen=True)
class DmaEngine:
    name: str
    channels: int
    reaches: tuple[str, ...]  # SRAM region names, "flash", external memory names
    memory_to_memory: bool = True  # can copy between two memories (STM32F4/F7 DMA1 cannot)
    peripheral: bool = True  # serves peripheral requests (e.g. SPI RX for an SD card)

    def can_copy(self, src: str, dst: str, kind: TransferKind) -> bool:
        """Whether this engine reaches both ends and does this kind of transfer."""
        capable = self.memory_to_memory if kind == "memory-to-memory" else self.peripheral
        return capable and src in self.reaches and dst in self.reaches


@dataclass(frozen=True)
class ChipDatasheetPower:
    """The chip's Run-mode supply current as its datasheet states it (typical, CoreMark or while(1),
    peripherals off), from which the chip-scope run power is predicted.

    ``ua_per_mhz`` is measured at ``supply_v`` through ``regulator`` at core voltage ``vcore_v``;
    running at ``run_vcore_v`` (the voltage range the run clock needs) scales the dynamic current
    by (run_vcore_v / vcore_v) ** 1 behind an LDO and ** 2 behind an SMPS (dynamic power C V^2 f:
    an LDO passes the core current through, a step-down converter passes the core power). ST's
    STM32L47x power training shows the LDO case: 120 uA/MHz at 80 MHz in range 1 (1.2 V) against
    100 uA/MHz at 26 MHz in range 2 (1.0 V), the ratio of the core voltages.
    A neural-network inference keeps flash, caches and SRAM busier than the datasheet's code:
    ``run_mw`` takes that as one workload factor, fitted on measured energies
    (``tinyops/kernels/profiles/chip_power.toml``, written by benchmarks/calibrate.py).
    """

    ua_per_mhz: float
    supply_v: float
    regulator: Regulator
    conditions: str  # the datasheet's measurement conditions, in words
    static_ua: float = 0.0  # clock-independent current at supply_v (leakage, regulators)
    vcore_v: float | None = None  # core voltage the figure was measured at (None: the run range's)
    run_vcore_v: float | None = None  # core voltage at the board's run clock

    @property
    def run_ua_per_mhz(self) -> float:
        """The datasheet figure moved to the core voltage the run clock needs."""
        if self.vcore_v is None or self.run_vcore_v is None:
            return self.ua_per_mhz
        exponent = 2 if self.regulator == "SMPS" else 1
        return self.ua_per_mhz * (self.run_vcore_v / self.vcore_v) ** exponent

    def run_mw(self, clock_mhz: float, workload_factor: float = 1.0) -> float:
        """Chip supply power at ``clock_mhz``: V x (I_static + workload_factor x uA/MHz x f)."""
        return self.supply_v * (self.static_ua + workload_factor * self.run_ua_per_mhz * clock_mhz) * 1e-3


@dataclass(frozen=True)
class Power:
    run_mw: float
    run_clock_mhz: float
    sleep_mw: float
    run_voltage_v: float | None = None  # supply voltage the run figure was measured at
    scope: PowerScope = "chip"  # where run_mw was measured: "board" supply, or the "chip" alone
    sleep_mode: str = "standby"
    run_external_mw: float | None = None  # run power while using external memory, same scope
    # The run power at run_clock_mhz in the other scope, where the board file gives both.
    chip_run_mw: float | None = None
    board_run_mw: float | None = None
    # The datasheet's Run-mode current, from which the chip-scope run power is predicted.
    chip_datasheet: ChipDatasheetPower | None = None

    def run_mw_in(self, scope: PowerScope) -> float | None:
        """The run power measured in ``scope`` (None where the board file does not give it)."""
        if scope == self.scope:
            return self.run_mw
        return self.chip_run_mw if scope == "chip" else self.board_run_mw

    @property
    def scopes(self) -> tuple[PowerScope, ...]:
        return tuple(s for s in POWER_SCOPES if self.run_mw_in(s) is not None)


@dataclass(frozen=True)
class PaperConfig:
    """A published configuration of the board (e.g. TinyOpsV2 Table 3's 8 MB SDRAM + 8 MB QSPI).

    ``external_sizes`` caps the named external memories; memories not named are left out.
    ``sram_bytes`` / ``flash_bytes`` record what the paper reports (informational).
    """

    name: str
    external_sizes: tuple[tuple[str, int], ...]
    sram_bytes: int | None = None
    flash_bytes: int | None = None
    notes: str = ""


@dataclass(frozen=True)
class Board:
    id: str
    name: str
    mcu: str
    core: str
    max_clock_mhz: float
    sram_regions: tuple[SramRegion, ...]
    internal_flash: InternalFlash
    icache_bytes: int
    dcache_bytes: int
    external_memories: tuple[ExternalMemory, ...]
    dma_engines: tuple[DmaEngine, ...]
    power: Power
    sources: dict[str, str] = field(compare=False, hash=False, repr=False)
    fpu: bool = False
    fpu_double: bool = False
    dsp: bool = False
    notes: str = ""
    paper_config: PaperConfig | None = None
    configuration: str = "physical"  # or the PaperConfig name once applied
    # The clock plans use when the user gives none: the board's usual setting (the H743 boards
    # run revision-Y silicon at 400 MHz in TinyOpsV2, though revision V reaches 480 MHz).
    default_clock_mhz: float | None = None

    @property
    def clock_mhz(self) -> float:
        """The default CPU clock (``default_clock_mhz``, else ``max_clock_mhz``)."""
        return self.default_clock_mhz if self.default_clock_mhz is not None else self.max_clock_mhz

    @property
    def sram_total_bytes(self) -> int:
        """Sum of the SRAM regions usable for data (ITCM and backup SRAM excluded)."""
        return sum(r.size_bytes for r in self.sram_regions if r.usable_for_data)

    @property
    def largest_contiguous_sram_bytes(self) -> int:
        """Largest run of address-adjacent SRAM regions usable for data."""
        best = run = 0
        end: int | None = None
        for r in sorted((r for r in self.sram_regions if r.usable_for_data), key=lambda r: r.base):
            run = run + r.size_bytes if r.base == end else r.size_bytes
            end = r.end
            best = max(best, run)
        return best

    def sram(self, name: str) -> SramRegion | None:
        return next((r for r in self.sram_regions if r.name == name), None)

    def sram_span(self, first_region: str, offset_bytes: int, size_bytes: int) -> SramSpan:
        """The regions and addresses of ``size_bytes`` at ``offset_bytes`` into the address-contiguous
        run of SRAM that starts at region ``first_region`` (an arena may cross region boundaries)."""
        first = self.sram(first_region)
        if first is None:
            raise BoardError(f"board {self.id}: no SRAM region {first_region!r}")
        start = first.base + offset_bytes
        end = start + max(size_bytes, 1)
        touched = [r.name for r in sorted(self.sram_regions, key=lambda r: r.base)
                   if r.base < end and start < r.end and r.base >= first.base]
        return SramSpan(tuple(touched) or (first.name,), start, size_bytes)

    def sram_run_bytes(self, first_region: str) -> int:
        """Bytes of data SRAM address-contiguous from the start of ``first_region`` upward."""
        start = self.sram(first_region)
        if start is None:
            raise BoardError(f"board {self.id}: no SRAM region {first_region!r}")
        end = start.base
        for region in sorted((r for r in self.sram_regions if r.usable_for_data), key=lambda r: r.base):
            if region.base == end:
                end = region.end
        return end - start.base

    def transfer_kind(self, src: str, dst: str) -> TransferKind:
        """A copy from/to a memory the CPU cannot address (an SPI SD card) goes through a peripheral."""
        for name in (src, dst):
            ext = next((m for m in self.external_memories if m.name == name), None)
            if ext is not None and not ext.memory_mapped:
                return "peripheral"
        return "memory-to-memory"

    def dma_for(self, src: str, dst: str) -> DmaEngine | None:
        """The first DMA engine (board-file order) that reaches both ends and can do the transfer."""
        kind = self.transfer_kind(src, dst)
        return next((d for d in self.dma_engines if d.can_copy(src, dst, kind)), None)

    def memory_map(self) -> list[tuple[str, int, int]]:
        """(name, base address, size) of every addressable memory: SRAM regions, internal flash and
        the memory-mapped external memories, lowest address first."""
        spans = [(r.name, r.base, r.size_bytes) for r in self.sram_regions]
        spans.append((FLASH_NAME, self.internal_flash.base, self.internal_flash.size_bytes))
        spans.extend((m.name, m.base, m.size_bytes) for m in self.external_memories
                     if m.memory_mapped and m.base is not None)
        return sorted(spans, key=lambda s: s[1])

    def external(self, kind: str) -> ExternalMemory | None:
        """The first external memory of ``kind`` (e.g. "fmc-sdram"), or one named ``kind``."""
        for m in self.external_memories:
            if m.kind == kind:
                return m
        return next((m for m in self.external_memories if m.name == kind), None)

    def limit_external(self, sizes: Mapping[str, int], *, drop_others: bool = False,
                       source: str = "limit_external()", label: str = "custom") -> Board:
        """A copy with external memories (keyed by name or kind) capped to ``sizes`` bytes.

        With ``drop_others`` the memories not named in ``sizes`` are removed (and from DMA lists).
        """
        known = {m.name for m in self.external_memories} | {m.kind for m in self.external_memories}
        for key, size in sizes.items():
            if key not in known:
                raise BoardError(f"board {self.id}: limit_external: no external memory {key!r}; "
                                 f"have {', '.join(sorted(known)) or 'none'}")
            if isinstance(size, bool) or not isinstance(size, int) or size <= 0:
                raise BoardError(f"board {self.id}: limit_external: {key}: expected a positive "
                                 f"integer, got {size!r}")
        kept: list[ExternalMemory] = []
        sources = {k: v for k, v in self.sources.items() if not k.startswith("external_memory[")}
        for i, m in enumerate(self.external_memories):
            cap = sizes.get(m.name, sizes.get(m.kind))
            if cap is None and drop_others:
                continue
            j = len(kept)
            old, new = f"external_memory[{i}].", f"external_memory[{j}]."
            sources.update({new + k[len(old):]: v for k, v in self.sources.items() if k.startswith(old)})
            if cap is not None:
                if cap > m.size_bytes:
                    raise BoardError(f"board {self.id}: limit_external: {m.name}: {cap} bytes is "
                                     f"more than the {m.size_bytes} bytes the board carries")
                m = dataclasses.replace(m, size_bytes=cap)
                sources[new + "size_bytes"] = source
            kept.append(m)
        names = {m.name for m in kept}
        gone = {m.name for m in self.external_memories} - names
        dma = tuple(dataclasses.replace(d, reaches=tuple(r for r in d.reaches if r not in gone))
                    for d in self.dma_engines)
        return dataclasses.replace(self, external_memories=tuple(kept), dma_engines=dma,
                                   sources=sources, configuration=label)

    def with_paper_config(self) -> Board:
        """The board as a paper configured it (e.g. TinyOpsV2: exactly 8 MB SDRAM + 8 MB QSPI)."""
        pc = self.paper_config
        if pc is None:
            raise BoardError(f"board {self.id} has no paper_config")
        src = self.sources.get("paper_config.external", pc.name)
        return self.limit_external(dict(pc.external_sizes), drop_others=True, source=src,
                                   label=pc.name)

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly dict (tuples become lists), with derived totals."""
        d = _jsonable(dataclasses.asdict(self))
        d["sram_total_bytes"] = self.sram_total_bytes
        d["largest_contiguous_sram_bytes"] = self.largest_contiguous_sram_bytes
        d["external_memories"] = [dict(em, volatile=m.volatile)
                                  for em, m in zip(d["external_memories"], self.external_memories)]
        return d


def _jsonable(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    return x


# --------------------------------------------------------------------------- value checks

Check = Callable[[Any], Any]  # returns the converted value or raises ValueError(message)


def _got(v: Any) -> str:
    if isinstance(v, bool):
        return f"boolean {str(v).lower()}"
    if isinstance(v, (list, dict)):
        return f"{'array' if isinstance(v, list) else 'table'} {v!r}"
    return repr(v)


def _int(minimum: int) -> Check:
    what = "a positive integer" if minimum == 1 else "a non-negative integer"

    def check(v: Any) -> int:
        if isinstance(v, bool) or not isinstance(v, int) or v < minimum:
            raise ValueError(f"expected {what}, got {_got(v)}")
        return v
    return check


def _num(minimum_exclusive: bool) -> Check:
    what = "a positive number" if minimum_exclusive else "a non-negative number"

    def check(v: Any) -> float:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0 or (minimum_exclusive and v == 0):
            raise ValueError(f"expected {what}, got {_got(v)}")
        return float(v)
    return check


def _bool(v: Any) -> bool:
    if not isinstance(v, bool):
        raise ValueError(f"expected true or false, got {_got(v)}")
    return v


def _str(v: Any) -> str:
    if not isinstance(v, str) or not v.strip():
        raise ValueError(f"expected a non-empty string, got {_got(v)}")
    return v


def _enum(options: tuple[str, ...]) -> Check:
    def check(v: Any) -> str:
        if v not in options:
            raise ValueError(f"expected one of {', '.join(options)}; got {_got(v)}")
        return v
    return check


def _str_list(v: Any) -> tuple[str, ...]:
    if not isinstance(v, list) or not all(isinstance(s, str) and s for s in v):
        raise ValueError(f"expected a list of strings, got {_got(v)}")
    return tuple(v)


def _pairs(first: Check, second: Check, what: str) -> Check:
    def check(v: Any) -> tuple[tuple[Any, Any], ...]:
        if not isinstance(v, list) or not v:
            raise ValueError(f"expected a non-empty list of [{what}] pairs, got {_got(v)}")
        out = []
        for i, p in enumerate(v):
            if not isinstance(p, list) or len(p) != 2:
                raise ValueError(f"item {i}: expected a [{what}] pair, got {_got(p)}")
            try:
                out.append((first(p[0]), second(p[1])))
            except ValueError as e:
                raise ValueError(f"item {i}: {e}") from None
        return tuple(out)
    return check


_ID_RE = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
_MISSING = object()


# --------------------------------------------------------------------------- the reader


class _Reader:
    """Reads one board file, collecting a source for every figure."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.sources: dict[str, str] = {}

    def fail(self, path: str, msg: str) -> NoReturn:
        raise BoardError(f"board file {self.label}: {path}: {msg}" if path
                         else f"board file {self.label}: {msg}")

    def table(self, parent: dict[str, Any], key: str, path: str, required: bool = True) -> dict[str, Any] | None:
        v = parent.get(key)
        if v is None:
            if required:
                self.fail(path, "missing required table")
            return None
        if not isinstance(v, dict):
            self.fail(path, f"expected a table, got {_got(v)}")
        return v

    def array(self, parent: dict[str, Any], key: str, required: bool) -> list[dict[str, Any]]:
        v = parent.get(key)
        if v is None:
            if required:
                self.fail(key, f"missing; add at least one [[{key}]] table")
            return []
        if not isinstance(v, list) or not all(isinstance(t, dict) for t in v):
            self.fail(key, f"expected an array of tables ([[{key}]]), got {_got(v)}")
        if required and not v:
            self.fail(key, f"expected at least one [[{key}]] table")
        return v

    def check_keys(self, t: dict[str, Any], path: str, allowed: set[str]) -> None:
        for k in t:
            base = k[: -len("_source")] if k.endswith("_source") else k
            if base not in allowed and k not in allowed:
                where = f"{path}.{k}" if path else k
                self.fail(where, f"unknown field; allowed: {', '.join(sorted(allowed))}")

    def get(self, t: dict[str, Any], path: str, key: str, check: Check, default: Any = _MISSING) -> Any:
        where = f"{path}.{key}" if path else key
        if key not in t:
            if default is _MISSING:
                self.fail(where, "missing required field")
            return default
        try:
            value = check(t[key])
        except ValueError as e:
            self.fail(where, str(e))
        if key not in _TEXT_KEYS:
            self.sources[where] = self.source_for(t, path, key)
        return value

    def source_for(self, t: dict[str, Any], path: str, key: str) -> str:
        where = f"{path}.{key}" if path else key
        for k in (f"{key}_source", "source"):
            if k in t:
                s = t[k]
                if not isinstance(s, str) or not s.strip():
                    self.fail(f"{path}.{k}" if path else k, f"expected a non-empty string, got {_got(s)}")
                return s
        table = f"[{path}]" if path else "the top level"
        self.fail(where, f"figure has no source; add source = \"...\" to {table} "
                         f"or {key}_source = \"...\"")


# --------------------------------------------------------------------------- parsing


def _parse(data: dict[str, Any], label: str, expected_id: str | None) -> Board:
    r = _Reader(label)
    top_tables = {"cache", "sram", "flash", "external_memory", "dma", "power", "paper_config"}
    r.check_keys(data, "", {"id", "name", "mcu", "core", "fpu", "fpu_double", "dsp",
                             "max_clock_mhz", "default_clock_mhz", "notes", "source"} | top_tables)

    board_id = r.get(data, "", "id", _str)
    if not _ID_RE.match(board_id):
        r.fail("id", f"expected lower-case letters, digits, '.', '_' or '-', got {board_id!r}")
    if expected_id is not None and board_id != expected_id:
        r.fail("id", f"must equal the file name {expected_id!r}, got {board_id!r}")
    name = r.get(data, "", "name", _str)
    mcu = r.get(data, "", "mcu", _str)
    core = r.get(data, "", "core", _enum(CORES))
    fpu = r.get(data, "", "fpu", _bool)
    fpu_double = r.get(data, "", "fpu_double", _bool, False)
    dsp = r.get(data, "", "dsp", _bool)
    max_clock = r.get(data, "", "max_clock_mhz", _num(True))
    default_clock = r.get(data, "", "default_clock_mhz", _num(True), None)
    if default_clock is not None and default_clock > max_clock:
        r.fail("default_clock_mhz", f"{default_clock:g} is above max_clock_mhz {max_clock:g}")
    notes = r.get(data, "", "notes", _str, "")
    if fpu_double and not fpu:
        r.fail("fpu_double", "is true but fpu is false")

    cache = r.table(data, "cache", "cache")
    assert cache is not None
    r.check_keys(cache, "cache", {"icache_bytes", "dcache_bytes", "source"})
    icache = r.get(cache, "cache", "icache_bytes", _int(0))
    dcache = r.get(cache, "cache", "dcache_bytes", _int(0))

    regions = _parse_sram(r, data)
    flash = _parse_flash(r, data, max_clock)
    externals = _parse_external(r, data, {x.name for x in regions})
    dmas = _parse_dma(r, data, regions, externals)
    power = _parse_power(r, data)
    paper = _parse_paper(r, data, externals)
    _check_address_map(r, regions, flash, externals)

    return Board(id=board_id, name=name, mcu=mcu, core=core, max_clock_mhz=max_clock,
                 sram_regions=regions, internal_flash=flash, icache_bytes=icache,
                 dcache_bytes=dcache, external_memories=externals, dma_engines=dmas, power=power,
                 sources=r.sources, fpu=fpu, fpu_double=fpu_double, dsp=dsp, notes=notes,
                 paper_config=paper, default_clock_mhz=default_clock)


def _check_address_map(r: _Reader, regions: tuple[SramRegion, ...], flash: InternalFlash,
                       mems: tuple[ExternalMemory, ...]) -> None:
    """No two memories may share an address: linker scripts place sections by these bases."""
    spans = [(f"sram[{i}] {x.name}", x.base, x.end) for i, x in enumerate(regions)]
    spans.append(("flash", flash.base, flash.base + flash.size_bytes))
    spans.extend((f"external_memory[{i}] {m.name}", m.base, m.base + m.size_bytes)
                  for i, m in enumerate(mems) if m.memory_mapped and m.base is not None)
    for i, (name, lo, hi) in enumerate(spans):
        if hi > 1 << 32:
            r.fail(name.split()[0], f"{lo:#010x} + {hi - lo} bytes runs past the 32-bit address space")
        for other, olo, ohi in spans[:i]:
            if lo < ohi and olo < hi and not name.startswith("sram"):
                r.fail(name.split()[0], f"{name} {lo:#010x}-{hi - 1:#010x} overlaps {other} {olo:#010x}-{ohi - 1:#010x}")


def _parse_sram(r: _Reader, data: dict[str, Any]) -> tuple[SramRegion, ...]:
    regions: list[SramRegion] = []
    for i, t in enumerate(r.array(data, "sram", required=True)):
        p = f"sram[{i}]"
        r.check_keys(t, p, {"name", "base", "size_bytes", "kind", "dma_reachable",
                            "usable_for_data", "notes", "source"})
        reg = SramRegion(
            name=r.get(t, p, "name", _str),
            base=r.get(t, p, "base", _int(0)),
            size_bytes=r.get(t, p, "size_bytes", _int(1)),
            kind=r.get(t, p, "kind", _enum(SRAM_KINDS)),
            dma_reachable=r.get(t, p, "dma_reachable", _bool),
            usable_for_data=r.get(t, p, "usable_for_data", _bool, True),
        )
        for j, other in enumerate(regions):
            if other.name == reg.name:
                r.fail(f"{p}.name", f"duplicate region name {reg.name!r} (also sram[{j}])")
            if reg.base < other.end and other.base < reg.end:
                r.fail(p, f"region {reg.name} {reg.base:#010x}-{reg.end - 1:#010x} overlaps "
                          f"sram[{j}] {other.name} {other.base:#010x}-{other.end - 1:#010x}")
        regions.append(reg)
    return tuple(regions)


def _parse_flash(r: _Reader, data: dict[str, Any], max_clock: float) -> InternalFlash:
    t = r.table(data, "flash", "flash")
    assert t is not None
    r.check_keys(t, "flash", {"size_bytes", "base", "wait_states", "accelerator", "read_width_bits",
                              "clock_divider", "voltage_v", "notes", "source"})
    ws = r.get(t, "flash", "wait_states", _pairs(_num(True), _int(0), "max_mhz, wait_states"))
    for k in range(1, len(ws)):
        if ws[k][0] <= ws[k - 1][0] or ws[k][1] < ws[k - 1][1]:
            r.fail("flash.wait_states", f"item {k}: max_mhz must increase and wait states must "
                                        f"not decrease, got {list(ws[k - 1])} then {list(ws[k])}")
    flash = InternalFlash(
        size_bytes=r.get(t, "flash", "size_bytes", _int(1)),
        wait_states=ws,
        accelerator=r.get(t, "flash", "accelerator", _enum(ACCELERATORS)),
        read_width_bits=r.get(t, "flash", "read_width_bits", _int(1)),
        clock_divider=r.get(t, "flash", "clock_divider", _int(1), 1),
        voltage_v=r.get(t, "flash", "voltage_v", _num(True), 3.3),
        base=r.get(t, "flash", "base", _int(0)),
    )
    if ws[-1][0] * flash.clock_divider < max_clock - 1e-9:
        r.fail("flash.wait_states", f"table stops at {ws[-1][0] * flash.clock_divider:g} MHz CPU "
                                    f"clock but max_clock_mhz is {max_clock:g}")
    return flash


def _parse_external(r: _Reader, data: dict[str, Any], sram_names: set[str]) -> tuple[ExternalMemory, ...]:
    mems: list[ExternalMemory] = []
    for i, t in enumerate(r.array(data, "external_memory", required=False)):
        p = f"external_memory[{i}]"
        r.check_keys(t, p, {f.name for f in dataclasses.fields(ExternalMemory)} | {"notes", "source"})
        kind = r.get(t, p, "kind", _enum(EXTERNAL_KINDS))
        is_block = kind == "sdcard-spi"
        m = ExternalMemory(
            name=r.get(t, p, "name", _str),
            kind=kind,
            part=r.get(t, p, "part", _str),
            size_bytes=r.get(t, p, "size_bytes", _int(1)),
            bus_width_bits=r.get(t, p, "bus_width_bits", _int(1)),
            clock_mhz=r.get(t, p, "clock_mhz", _num(True)),
            read_bandwidth_mb_s=r.get(t, p, "read_bandwidth_mb_s", _num(True)),
            write_bandwidth_mb_s=r.get(t, p, "write_bandwidth_mb_s", _num(True)),
            first_access_latency_ns=r.get(t, p, "first_access_latency_ns", _num(False)),
            memory_mapped=r.get(t, p, "memory_mapped", _bool),
            block_size_bytes=r.get(t, p, "block_size_bytes", _int(1) if is_block else _int(0),
                                   _MISSING if is_block else 0),
            active_power_mw=r.get(t, p, "active_power_mw", _num(False)),
            write_latency_ns=r.get(t, p, "write_latency_ns", _num(False), 0.0),
            max_clock_mhz=r.get(t, p, "max_clock_mhz", _num(True), 0.0),
            base=r.get(t, p, "base", _int(0), None),
            power_points=r.get(t, p, "power_points", _pairs(_num(True), _num(True), "clock_mhz, mW"), ()),
            sequential_latency_ns=r.get(t, p, "sequential_latency_ns", _num(False), None),
        )
        if m.name == FLASH_NAME or m.name in sram_names or any(o.name == m.name for o in mems):
            r.fail(f"{p}.name", f"name {m.name!r} is already used by another memory")
        if is_block and m.memory_mapped:
            r.fail(f"{p}.memory_mapped", "an SPI SD card cannot be memory-mapped")
        if m.memory_mapped and m.base is None:
            r.fail(f"{p}.base", "missing: a memory-mapped memory needs the address the CPU reads it at")
        if m.sequential_latency_ns is not None and m.sequential_latency_ns > m.first_access_latency_ns:
            r.fail(f"{p}.sequential_latency_ns", f"{m.sequential_latency_ns:g} is above first_access_latency_ns "
                                                 f"{m.first_access_latency_ns:g}: a stream cannot be slower than a random access")
        if m.max_clock_mhz and m.max_clock_mhz < m.clock_mhz:
            r.fail(f"{p}.max_clock_mhz", f"{m.max_clock_mhz:g} is below clock_mhz {m.clock_mhz:g}")
        mems.append(m)
    return tuple(mems)


def _parse_dma(r: _Reader, data: dict[str, Any], regions: tuple[SramRegion, ...],
               mems: tuple[ExternalMemory, ...]) -> tuple[DmaEngine, ...]:
    targets = {x.name for x in regions} | {m.name for m in mems} | {FLASH_NAME}
    engines: list[DmaEngine] = []
    for i, t in enumerate(r.array(data, "dma", required=False)):
        p = f"dma[{i}]"
        r.check_keys(t, p, {"name", "channels", "reaches", "memory_to_memory", "peripheral", "notes", "source"})
        d = DmaEngine(name=r.get(t, p, "name", _str), channels=r.get(t, p, "channels", _int(1)),
                      reaches=r.get(t, p, "reaches", _str_list),
                      memory_to_memory=r.get(t, p, "memory_to_memory", _bool),
                      peripheral=r.get(t, p, "peripheral", _bool))
        for target in d.reaches:
            if target not in targets:
                r.fail(f"{p}.reaches", f"unknown memory {target!r}; known: {', '.join(sorted(targets))}")
        engines.append(d)
    if engines:  # cross-check the per-region flag against the engines
        reached = {x for d in engines for x in d.reaches}
        for i, reg in enumerate(regions):
            if reg.dma_reachable != (reg.name in reached):
                who = "a [[dma]] engine lists" if reg.name in reached else "no [[dma]] engine lists"
                r.fail(f"sram[{i}].dma_reachable",
                       f"is {str(reg.dma_reachable).lower()} but {who} {reg.name} in its reaches")
    return tuple(engines)


def _parse_power(r: _Reader, data: dict[str, Any]) -> Power:
    t = r.table(data, "power", "power")
    assert t is not None
    p = "power"
    r.check_keys(t, p, ({f.name for f in dataclasses.fields(Power)} - {"chip_datasheet"})
                 | {f"chip_datasheet_{f.name}" for f in dataclasses.fields(ChipDatasheetPower)} | {"notes", "source"})
    scope_text = r.get(t, p, "scope", _enum((*POWER_SCOPES, *POWER_SCOPE_ALIASES)), "chip")
    scope: PowerScope = "board" if scope_text == "board" else "chip"
    power = Power(
        run_mw=r.get(t, p, "run_mw", _num(True)),
        run_clock_mhz=r.get(t, p, "run_clock_mhz", _num(True)),
        sleep_mw=r.get(t, p, "sleep_mw", _num(False)),
        run_voltage_v=r.get(t, p, "run_voltage_v", _num(True), None),
        scope=scope,
        sleep_mode=r.get(t, p, "sleep_mode", _str, "standby"),
        run_external_mw=r.get(t, p, "run_external_mw", _num(True), None),
        chip_run_mw=r.get(t, p, "chip_run_mw", _num(True), None),
        board_run_mw=r.get(t, p, "board_run_mw", _num(True), None),
        chip_datasheet=_parse_chip_datasheet(r, t, p),
    )
    if f"{scope}_run_mw" in t:
        r.fail(f"{p}.{scope}_run_mw", f"repeats run_mw's scope ({scope}); give the other scope's power, or none")
    return power


def _parse_chip_datasheet(r: _Reader, t: dict[str, Any], p: str) -> ChipDatasheetPower | None:
    """The ``chip_datasheet_*`` fields of [power]: all of the required ones, or none."""
    keys = [k for k in t if k.startswith("chip_datasheet_") and not k.endswith("_source")]
    if not keys:
        return None
    k = "chip_datasheet_"
    model = ChipDatasheetPower(
        ua_per_mhz=r.get(t, p, k + "ua_per_mhz", _num(True)),
        supply_v=r.get(t, p, k + "supply_v", _num(True)),
        regulator=r.get(t, p, k + "regulator", _enum(REGULATORS)),
        conditions=r.get(t, p, k + "conditions", _str),
        static_ua=r.get(t, p, k + "static_ua", _num(False), 0.0),
        vcore_v=r.get(t, p, k + "vcore_v", _num(True), None),
        run_vcore_v=r.get(t, p, k + "run_vcore_v", _num(True), None),
    )
    if (model.vcore_v is None) != (model.run_vcore_v is None):
        r.fail(f"{p}.{k}vcore_v", "give both chip_datasheet_vcore_v and chip_datasheet_run_vcore_v, or neither")
    return model


def _parse_paper(r: _Reader, data: dict[str, Any], mems: tuple[ExternalMemory, ...]) -> PaperConfig | None:
    t = r.table(data, "paper_config", "paper_config", required=False)
    if t is None:
        return None
    p = "paper_config"
    r.check_keys(t, p, {"name", "external", "sram_bytes", "flash_bytes", "notes", "source"})
    ext = r.table(t, "external", f"{p}.external")
    assert ext is not None
    r.sources[f"{p}.external"] = r.source_for(t, p, "external")
    by_name = {m.name: m for m in mems}
    sizes: list[tuple[str, int]] = []
    for key, val in ext.items():
        where = f"{p}.external.{key}"
        if key not in by_name:
            r.fail(where, f"no external memory named {key!r}; known: {', '.join(sorted(by_name)) or 'none'}")
        try:
            size = _int(1)(val)
        except ValueError as e:
            r.fail(where, str(e))
        if size > by_name[key].size_bytes:
            r.fail(where, f"{size} bytes is more than the {by_name[key].size_bytes} the board carries")
        sizes.append((key, size))
    return PaperConfig(
        name=r.get(t, p, "name", _str),
        external_sizes=tuple(sizes),
        sram_bytes=r.get(t, p, "sram_bytes", _int(1), None),
        flash_bytes=r.get(t, p, "flash_bytes", _int(1), None),
        notes=r.get(t, p, "notes", _str, ""),
    )


# --------------------------------------------------------------------------- loading


def _bundled_dir() -> Any:
    return resources.files("tinyops.hw").joinpath("boards")


def board_ids() -> list[str]:
    """IDs of the bundled boards, sorted."""
    return sorted(e.name[: -len(".toml")] for e in _bundled_dir().iterdir()
                  if e.name.endswith(".toml"))


def _load_text(text: str, label: str, expected_id: str | None) -> Board:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise BoardError(f"board file {label}: malformed TOML: {e}") from None
    return _parse(data, label, expected_id)


@lru_cache(maxsize=None)
def _load_bundled(board_id: str) -> Board:
    entry = _bundled_dir().joinpath(f"{board_id}.toml")
    return _load_text(entry.read_text(encoding="utf-8"), f"{board_id}.toml", board_id)


MAX_BOARD_FILE_BYTES = 1 << 20  # a board file is a few KB; anything larger is not one


def _exists(spec: str) -> bool:
    """Whether a path names something, without raising for names the OS cannot take."""
    try:
        return os.path.lexists(spec)
    except (OSError, ValueError):
        return False


def _looks_like_path(s: str) -> bool:
    return s.endswith(".toml") or "/" in s or "\\" in s


def load_board(id_or_path: str) -> Board:
    """Load a bundled board by ID, or a board file by path.

    Append ``@paper`` (``"stm32f746g-disco@paper"``) to get the board's published
    configuration (:meth:`Board.with_paper_config`).
    """
    spec = str(id_or_path)
    if not spec.strip():
        raise BoardError(f"board ID is empty; known boards: {', '.join(board_ids())}")
    paper = spec.endswith(_PAPER_SUFFIX) and not _exists(spec)
    if paper:
        spec = spec[: -len(_PAPER_SUFFIX)]
    if _looks_like_path(spec) or _exists(spec):
        try:
            raw = read_input_file(spec, "board file", MAX_BOARD_FILE_BYTES)
            text = raw.decode("utf-8")
        except TinyOpsError as e:
            raise BoardError(str(e)) from None
        except UnicodeDecodeError as e:
            raise BoardError(f"board file {spec}: not UTF-8 text ({e.reason} at byte {e.start})") from None
        board = _load_text(text, spec, None)
    else:
        known = board_ids()
        if spec not in known:
            raise BoardError(f"unknown board {spec!r}; known boards: {', '.join(known)}; "
                             f"or pass a path to a .toml file")
        board = _load_bundled(spec)
    return board.with_paper_config() if paper else board


def list_boards() -> list[Board]:
    """All bundled boards, sorted by ID."""
    return [load_board(i) for i in board_ids()]
