"""Where generated firmware runs: a real board (its own memory map) or an emulated Cortex-M.

A :class:`MemoryMap` is what the linker script is written from: named regions with an origin and
a length, and the role each plays (code + constants, the SRAM run with the arena, the external
flash standing for QSPI, the external RAM standing for SDRAM, and, under emulation, a region for
the test harness's inputs and expected outputs that is not part of the board).

Under QEMU the machine's memories stand for the board's: its code RAM for internal flash, its SRAM
for the board's SRAM run, a large RAM (mps2 PSRAM, mps3 QSPI/DDR) for the external memories. Each
region is as long as the board's memory (capped at what the machine has), so a model that does not
fit the board fails to link under emulation too. Addresses: ``notes/qemu_cortex_m.md``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from tinyops.errors import TinyOpsError
from tinyops.hw.board import Board
from tinyops.planning.common import arena_memory

TargetName = Literal["qemu-m4", "qemu-m7", "qemu-m33", "qemu-m55", "host"]
TARGETS: tuple[str, ...] = ("qemu-m4", "qemu-m7", "qemu-m33", "qemu-m55", "host")
Role = Literal["code", "ram", "ext_flash", "ext_ram", "harness", "other"]
DmaBackend = Literal["memcpy", "deferred", "pl081", "stm32"]
DMA_BACKENDS: tuple[str, ...] = ("memcpy", "deferred", "pl081", "stm32")
STM32_FLASH_BASE = 0x08000000  # every STM32's internal flash (reference manuals, memory map)
KIB = 1024
MIB = 1024 * KIB

CORE_FLAGS: dict[str, tuple[str, ...]] = {
    "M0+": ("-mcpu=cortex-m0plus", "-mthumb", "-mfloat-abi=soft"),
    "M3": ("-mcpu=cortex-m3", "-mthumb", "-mfloat-abi=soft"),
    "M4": ("-mcpu=cortex-m4", "-mthumb", "-mfpu=fpv4-sp-d16", "-mfloat-abi=hard"),
    "M7": ("-mcpu=cortex-m7", "-mthumb", "-mfpu=fpv5-d16", "-mfloat-abi=hard"),
    "M33": ("-mcpu=cortex-m33", "-mthumb", "-mfpu=fpv5-sp-d16", "-mfloat-abi=hard"),
    "M55": ("-mcpu=cortex-m55", "-mthumb", "-mfloat-abi=hard"),
}


@dataclass(frozen=True)
class Region:
    name: str  # linker MEMORY name
    origin: int
    length_bytes: int
    role: Role
    board_memory: str | None  # the board memory it is (or stands for); None: harness only
    writable: bool = True
    description: str = ""  # e.g. the SRAM regions a RAM run spans

    @property
    def end(self) -> int:
        return self.origin + self.length_bytes


@dataclass(frozen=True)
class QemuMachine:
    target: str
    machine: str
    core: str
    code: tuple[int, int]  # (origin, bytes) of the memory holding code and internal-flash data
    sram: tuple[int, int]
    ext_flash: tuple[int, int]
    ext_ram: tuple[int, int]
    harness: tuple[int, int]
    pl081_base: int | None = None
    ext_flash_read_only: bool = False
    # Instructions per SysTick tick under -icount shift=0 (1 ns per instruction, SysTick on the
    # core clock: 25 MHz on mps2-an385/386/500, 20 MHz on an505); None: not established here.
    instructions_per_tick: int | None = None


# mps2 PSRAM (16 MiB) is split: 6 MiB stand for QSPI flash, 6 MiB for SDRAM, 4 MiB for the harness.
QEMU_MACHINES: dict[str, QemuMachine] = {
    "qemu-m4": QemuMachine("qemu-m4", "mps2-an386", "M4", (0x00000000, 4 * MIB), (0x20000000, 4 * MIB),
                           (0x21000000, 6 * MIB), (0x21600000, 6 * MIB), (0x21C00000, 4 * MIB),
                           instructions_per_tick=40),
    "qemu-m7": QemuMachine("qemu-m7", "mps2-an500", "M7", (0x00000000, 4 * MIB), (0x20000000, 4 * MIB),
                           (0x60000000, 6 * MIB), (0x60600000, 6 * MIB), (0x60C00000, 4 * MIB),
                           instructions_per_tick=40),
    # an505 resets Secure: Secure aliases of SSRAM1 (code) and SSRAM2+3 (data); PSRAM has no MPC.
    "qemu-m33": QemuMachine("qemu-m33", "mps2-an505", "M33", (0x10000000, 4 * MIB), (0x38000000, 4 * MIB),
                            (0x80000000, 6 * MIB), (0x80600000, 6 * MIB), (0x80C00000, 4 * MIB),
                            pl081_base=0x50110000, instructions_per_tick=50),
    # an547: ITCM for code, DTCM for data, the read-only QSPI region as external flash, DDR for the rest.
    "qemu-m55": QemuMachine("qemu-m55", "mps3-an547", "M55", (0x10000000, 512 * KIB), (0x30000000, 512 * KIB),
                            (0x38000000, 8 * MIB), (0x70000000, 8 * MIB), (0x70800000, 8 * MIB),
                            ext_flash_read_only=True),
}


@dataclass(frozen=True)
class MemoryMap:
    """Linker regions plus what they stand for; ``kind`` says board or emulation target."""

    kind: str  # "board" | a target name
    core: str
    regions: tuple[Region, ...]
    cflags: tuple[str, ...]
    machine: str | None = None
    pl081_base: int | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)
    instructions_per_tick: int | None = None

    def by_role(self, role: Role) -> Region | None:
        return next((r for r in self.regions if r.role == role), None)

    def region_of(self, board_memory: str) -> Region | None:
        return next((r for r in self.regions if r.board_memory == board_memory), None)


def _c_name(name: str) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in name).upper()


def sram_run(board: Board) -> tuple[str, int, int, list[str]]:
    """(first region, base, bytes, member names) of the SRAM run that holds the arena."""
    first = arena_memory(board)
    regions = sorted((r for r in board.sram_regions if r.usable_for_data), key=lambda r: r.base)
    start = next(i for i, r in enumerate(regions) if r.name == first)
    members = [regions[start]]
    for r in regions[start + 1:]:
        if r.base != members[-1].end:
            break
        members.append(r)
    return first, members[0].base, sum(r.size_bytes for r in members), [r.name for r in members]


def _externals(board: Board) -> tuple[str | None, str | None]:
    """(non-volatile external store, external RAM) of the board, by name."""
    flash = [m for m in board.external_memories if m.kind in ("qspi-flash", "ospi-flash") and m.memory_mapped]
    ram = [m for m in board.external_memories if m.kind in ("fmc-sdram", "fmc-sram") and m.memory_mapped]
    return (max(flash, key=lambda m: m.read_bandwidth_mb_s).name if flash else None,
            ram[0].name if ram else None)


def board_map(board: Board) -> MemoryMap:
    """The board's own memory map (every memory the board file lists with an address)."""
    if board.core not in CORE_FLAGS:
        raise TinyOpsError(f"board {board.id} has core {board.core}, for which no compiler flags are known")
    first, base, size, members = sram_run(board)
    regions = [Region("FLASH", STM32_FLASH_BASE, board.internal_flash.size_bytes, "code", "flash", False),
               Region("RAM", base, size, "ram", first, description=" + ".join(members))]
    for r in board.sram_regions:
        if r.name not in members:
            regions.append(Region(_c_name(r.name), r.base, r.size_bytes, "other", r.name))
    ext_flash, ext_ram = _externals(board)
    for m in board.external_memories:
        if m.base is None or not m.memory_mapped:
            continue
        role: Role = "ext_flash" if m.name == ext_flash else "ext_ram" if m.name == ext_ram else "other"
        name = {"ext_flash": "EXT_FLASH", "ext_ram": "EXT_RAM"}.get(role, _c_name(m.name))
        regions.append(Region(name, m.base, m.size_bytes, role, m.name, role != "ext_flash", description=m.name))
    notes = (f"RAM is the SRAM run {' + '.join(members)} holding the arena",
             f"FLASH origin 0x{STM32_FLASH_BASE:08X} assumes an STM32 (the board file gives no flash address)")
    return MemoryMap("board", board.core, tuple(regions), CORE_FLAGS[board.core], notes=notes)


def qemu_map(board: Board, target: str) -> MemoryMap:
    """The emulated machine's memories, each as long as the board memory it stands for."""
    machine = QEMU_MACHINES.get(target)
    if machine is None:
        raise TinyOpsError(f"unknown target {target!r}; choose one of {', '.join(TARGETS)}")
    first, _, sram_bytes, members = sram_run(board)
    flash_note = (f"the {machine.code[1]} B code memory of {machine.machine}, smaller than the board's flash"
                  if machine.code[1] < board.internal_flash.size_bytes else "")
    regions = [Region("FLASH", machine.code[0], min(board.internal_flash.size_bytes, machine.code[1]), "code",
                      "flash", False, description=flash_note),
               Region("RAM", machine.sram[0], min(sram_bytes, machine.sram[1]), "ram", first,
                      description=" + ".join(members))]
    ext_flash, ext_ram = _externals(board)
    notes = [f"{machine.machine}: code RAM stands for internal flash, SRAM for {' + '.join(members)}"]
    if ext_flash is not None:
        size = next(m.size_bytes for m in board.external_memories if m.name == ext_flash)
        regions.append(Region("EXT_FLASH", machine.ext_flash[0], min(size, machine.ext_flash[1]),
                              "ext_flash", ext_flash, False))
        notes.append(f"{ext_flash} stands at 0x{machine.ext_flash[0]:08X}")
    if ext_ram is not None:
        size = next(m.size_bytes for m in board.external_memories if m.name == ext_ram)
        regions.append(Region("EXT_RAM", machine.ext_ram[0], min(size, machine.ext_ram[1]), "ext_ram", ext_ram))
        notes.append(f"{ext_ram} stands at 0x{machine.ext_ram[0]:08X}")
    regions.append(Region("HARNESS", machine.harness[0], machine.harness[1], "harness", None))
    return MemoryMap(target, machine.core, tuple(regions), CORE_FLAGS[machine.core], machine=machine.machine,
                     pl081_base=machine.pl081_base, notes=tuple(notes),
                     instructions_per_tick=machine.instructions_per_tick)


__all__ = ["TARGETS", "DMA_BACKENDS", "QEMU_MACHINES", "MemoryMap", "Region", "board_map", "qemu_map", "sram_run",
           "CORE_FLAGS"]
