"""The memories of a board as the CPU and the DMA engines see them, at a given clock.

For every memory (each SRAM region, the internal flash, each external memory) a
:class:`MemoryPort` gives its bandwidth, the extra CPU cycles per byte when a kernel streams an
operand from it (wait states not hidden by the flash accelerator; cache-line fills from
memory-mapped external memories; nothing for SRAM), the start-up latency of a transfer, and
the energy per byte moved that the board's run power does not already contain.

:func:`operand_traffic_bytes` says how many bytes of an operand actually reach its memory
during one op: a convolution re-reads its filter for every few output columns unless the
filter stays in the data cache.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Literal

from tinyops.errors import TinyOpsError
from tinyops.hw.board import Board, ExternalMemory
from tinyops.ir.memory import INTERNAL_FLASH_KIND, TCM_KINDS, VOLATILE_KINDS
from tinyops.cost.cost_model import OpCounts
from tinyops.kernels.profile import CoreParams, load_memory_energy, load_memory_system

FLASH = "flash"
# The order a kernel loads an operand in: one address after another, or jumping (see
# :func:`access_pattern`).
AccessPattern = Literal["sequential", "strided"]
WORD_BYTES = 4
CACHE_LINE_BYTES = 32  # Cortex-M7 L1 line


@dataclass(frozen=True)
class MemoryPort:
    name: str
    kind: str  # SRAM kind (DTCM, SRAM1...), "internal-flash", or the external kind
    read_bytes_per_s: float
    write_bytes_per_s: float
    cpu_read_stall_cycles_per_byte: float | None  # None: the CPU cannot load from it directly
    cpu_write_stall_cycles_per_byte: float | None
    access_latency_s: float  # per transfer (or per block for block devices)
    block_bytes: int  # 0 = byte addressable
    read_nj_per_byte: float
    write_nj_per_byte: float
    active_power_mw: float
    external: bool
    write_latency_s: float = 0.0  # per write (per block for block devices); 0: as access_latency_s
    # Loads that jump around (a depthwise kernel walking its filter with a stride of C bytes)
    # open a new SDRAM row or restart a QSPI read command each time. None: as the stream stall.
    cpu_strided_read_stall_cycles_per_byte: float | None = None

    @property
    def cpu_addressable(self) -> bool:
        return self.cpu_read_stall_cycles_per_byte is not None

    def cpu_read_stall(self, pattern: AccessPattern) -> float | None:
        """Extra CPU cycles per byte a kernel loads from this memory in ``pattern`` order."""
        if pattern == "strided" and self.cpu_strided_read_stall_cycles_per_byte is not None:
            return self.cpu_strided_read_stall_cycles_per_byte
        return self.cpu_read_stall_cycles_per_byte

    def cpu_stall(self, writing: bool, pattern: AccessPattern) -> float | None:
        """Extra CPU cycles per byte a kernel stores (``writing``) or loads; None: it cannot."""
        return self.cpu_write_stall_cycles_per_byte if writing else self.cpu_read_stall(pattern)

    @property
    def block_write_latency_s(self) -> float:
        return self.write_latency_s or self.access_latency_s

    def blocks(self, nbytes: int) -> int:
        """Whole blocks a block device moves for ``nbytes`` (1 transfer for byte-addressable memories)."""
        return max(1, -(-nbytes // self.block_bytes)) if self.block_bytes else 1


def _sram_port(name: str, kind: str, clock_hz: float, params: CoreParams, core: str) -> MemoryPort:
    # DTCM on the M7 is 64 bits wide; other SRAM: one 32-bit access per bus cycle.
    width = 8 if (kind == "DTCM" and core == "M7") else WORD_BYTES
    stall = params.sram_stall_cycles_per_byte.get(kind, params.sram_stall_cycles_per_byte.get("SRAM", 0.0))
    return MemoryPort(name, kind, width * clock_hz, width * clock_hz, stall, stall, 0.0, 0, 0.0, 0.0, 0.0, False)


def _flash_port(board: Board, clock_mhz: float, params: CoreParams) -> MemoryPort:
    flash = board.internal_flash
    wait_states = flash.wait_states_at(clock_mhz)
    line_bytes = flash.read_width_bits // 8
    cpu_cycles_per_line = (wait_states + 1) * flash.clock_divider
    hidden = params.flash_hidden_fraction.get(flash.accelerator, 0.0)
    stall = cpu_cycles_per_line * (1.0 - hidden) / line_bytes
    read_bps = line_bytes * clock_mhz * 1e6 / cpu_cycles_per_line
    energy = load_memory_energy().internal_flash_read_nj_per_byte
    # Programming the flash at run time is not modelled (Svoboda: orders of magnitude slower).
    return MemoryPort(FLASH, INTERNAL_FLASH_KIND, read_bps, 0.0, stall, None, 0.0, 0, energy, 0.0, 0.0, False)


def _external_port(board: Board, mem: ExternalMemory, clock_mhz: float) -> MemoryPort:
    read_bps = mem.read_bandwidth_mb_s * 1e6
    write_bps = mem.write_bandwidth_mb_s * 1e6
    read_nj = mem.active_power_mw / mem.read_bandwidth_mb_s  # mW / (MB/s) = nJ/B
    write_nj = mem.active_power_mw / mem.write_bandwidth_mb_s
    read_stall: float | None = None
    strided_stall: float | None = None
    write_stall: float | None = None
    if mem.memory_mapped:
        clock_hz = clock_mhz * 1e6
        read_stall = _load_stall_cycles_per_byte(board, mem.stream_latency_ns, read_bps, clock_hz)
        strided_stall = _load_stall_cycles_per_byte(board, mem.first_access_latency_ns, read_bps, clock_hz)
        write_stall = clock_hz / write_bps if mem.kind in VOLATILE_KINDS else None
    return MemoryPort(mem.name, mem.kind, read_bps, write_bps, read_stall, write_stall,
                      mem.first_access_latency_ns * 1e-9, mem.block_size_bytes, read_nj, write_nj,
                      mem.active_power_mw, True, mem.effective_write_latency_ns * 1e-9,
                      cpu_strided_read_stall_cycles_per_byte=strided_stall)


def _load_stall_cycles_per_byte(board: Board, latency_ns: float, read_bps: float, clock_hz: float) -> float:
    """CPU cycles a load stream waits per byte of a memory-mapped memory.

    Without a D-cache every load is one word-sized bus transaction. With one (Cortex-M7), a miss
    fills a 32-byte line critical word first: the load resumes once its own word arrives and
    the rest of the line streams in while the kernel computes (Cortex-M7 TRM, DDI 0489F §5.9
    "L1 caches"). Either way the CPU waits the latency plus one word per transaction; the
    memory's bandwidth still bounds the op, which the simulator enforces by sharing the bus.
    """
    burst = CACHE_LINE_BYTES if board.dcache_bytes > 0 else WORD_BYTES
    wait_cycles = latency_ns * 1e-9 * clock_hz + WORD_BYTES / read_bps * clock_hz
    return wait_cycles / burst


def spi_at_clock(mem: ExternalMemory, spi_clock_mhz: float) -> ExternalMemory:
    """An SPI device (the SD card) at another SPI clock (Svoboda et al. §5: 1 MHz default, up to 25 MHz).

    Bandwidth scales with the clock (one bit per SPI clock; the board file's figures are at its
    ``clock_mhz``); per-block command and card latencies do not. The extra power grows with the
    clock as the board's measured points say (``power_points``: whole-board mW at an SPI clock,
    interpolated linearly); energy per byte = power / bandwidth therefore falls as the clock rises,
    which is the paper's finding. A clock outside (0, ``max_clock_mhz``] is a user error."""
    limit = mem.max_clock_mhz or mem.clock_mhz
    if not 0 < spi_clock_mhz <= limit:
        raise TinyOpsError(f"{mem.name}: SPI clock {spi_clock_mhz:g} MHz is outside (0, {limit:g}] MHz")
    scale = spi_clock_mhz / mem.clock_mhz
    power = mem.active_power_mw
    if len(mem.power_points) >= 2:
        power += _interpolate(mem.power_points, spi_clock_mhz) - _interpolate(mem.power_points, mem.clock_mhz)
    return replace(mem, clock_mhz=spi_clock_mhz, read_bandwidth_mb_s=mem.read_bandwidth_mb_s * scale,
                   write_bandwidth_mb_s=mem.write_bandwidth_mb_s * scale, active_power_mw=max(power, 0.0))


SVOBODA_BLOCK_BYTES = 16384  # the transfer block of Svoboda et al.'s measurements


@dataclass(frozen=True)
class MovementCost:
    """Moving ``nbytes`` into or out of one memory, as Svoboda et al.'s data-movement figures do."""

    memory: str
    kind: str
    note: str  # e.g. "SPI 25 MHz"
    nbytes: int
    read_s: float | None  # None: the memory cannot be read (never here) ...
    write_s: float | None  # ... or written at run time (internal flash)
    read_mj: float
    write_mj: float


def movement_cost(port: MemoryPort, nbytes: int, note: str = "") -> MovementCost:
    """Time and the energy beyond the board's run power to read and to write ``nbytes`` in ``port``:
    whole blocks on a block device (a partial block written is read first), the port's latencies."""
    blocks = port.blocks(nbytes)
    moved = blocks * port.block_bytes if port.block_bytes else nbytes
    read_s = blocks * port.access_latency_s + moved / port.read_bytes_per_s if port.read_bytes_per_s else None
    write_s: float | None = None
    if port.write_bytes_per_s:
        write_s = blocks * port.block_write_latency_s + moved / port.write_bytes_per_s
        if port.block_bytes and nbytes % port.block_bytes:
            write_s += port.access_latency_s + port.block_bytes / port.read_bytes_per_s
    return MovementCost(port.name, port.kind, note, nbytes, read_s, write_s, moved * port.read_nj_per_byte * 1e-6,
                        moved * port.write_nj_per_byte * 1e-6 if write_s is not None else 0.0)


def movement_costs(board: Board, clock_mhz: float, params: CoreParams,
                   nbytes: int = SVOBODA_BLOCK_BYTES) -> list[MovementCost]:
    """Every memory of the board, and an SPI device also at its highest SPI clock."""
    ports = memory_ports(board, clock_mhz, params)
    spi = {m.name: f"SPI {m.clock_mhz:g} MHz" for m in board.external_memories if m.kind == "sdcard-spi"}
    out = [movement_cost(p, nbytes, spi.get(p.name, "")) for p in ports.values()]
    for mem in board.external_memories:
        if mem.kind == "sdcard-spi" and mem.max_clock_mhz > mem.clock_mhz:
            fast = spi_at_clock(mem, mem.max_clock_mhz)
            out.append(movement_cost(_external_port(board, fast, clock_mhz), nbytes, f"SPI {fast.clock_mhz:g} MHz"))
    return out


def _interpolate(points: tuple[tuple[float, float], ...], x: float) -> float:
    pts = sorted(points)
    if x <= pts[0][0]:
        return pts[0][1]
    for (x0, y0), (x1, y1) in zip(pts, pts[1:]):
        if x <= x1:
            return y0 + (y1 - y0) * (x - x0) / (x1 - x0)
    return pts[-1][1]


def memory_ports(board: Board, clock_mhz: float, params: CoreParams) -> dict[str, MemoryPort]:
    """Every memory of ``board`` at CPU clock ``clock_mhz``, by name."""
    clock_hz = clock_mhz * 1e6
    ports = {r.name: _sram_port(r.name, r.kind, clock_hz, params, board.core)
             for r in board.sram_regions if r.usable_for_data}
    ports[FLASH] = _flash_port(board, clock_mhz, params)
    for mem in board.external_memories:
        ports[mem.name] = _external_port(board, mem, clock_mhz)
    return ports


def fastest_sram(board: Board) -> str:
    """The memory the compute-bound estimate puts every operand in (DTCM when there is one)."""
    regions = [r for r in board.sram_regions if r.usable_for_data]
    dtcm = [r for r in regions if r.kind == "DTCM"]
    return (dtcm or sorted(regions, key=lambda r: -r.size_bytes))[0].name


def filter_passes(counts: OpCounts, filter_bytes: int, cache_bytes: int, params: CoreParams) -> int:
    """How many times a MAC kernel streams its filter from memory.

    A filter that fits in half the data cache stays there after the first pass. Otherwise
    CMSIS-NN-style convolutions walk the whole filter once per ``conv_columns_per_filter_pass``
    output pixels, depthwise kernels once per output pixel, fully connected once per row.
    """
    if filter_bytes <= cache_bytes // 2:
        return 1
    out_pixels = counts.outputs // max(counts.out_channels, 1)
    if (counts.kernel_class == "conv1x1" and params.kernels == "cmsis-nn" and cache_bytes
            and 2 * counts.in_channels <= cache_bytes // 2):
        # CMSIS-NN's 1x1 path (arm_nn_mat_mult_nt_t_s8) loops over pairs of filter rows outside
        # the loop over pixels: two rows (2 x C_in bytes) stay in the D-cache while every pixel
        # streams past, so the filter reaches memory once.
        return 1
    if counts.kernel_class in ("conv1x1", "conv"):
        return max(1, math.ceil(out_pixels / params.conv_columns_per_filter_pass))
    if counts.kernel_class in ("dw3x3", "dw"):
        return max(1, out_pixels)
    if counts.kernel_class == "fc":
        return max(1, out_pixels)  # rows of the batch
    return 1


def operand_traffic_bytes(counts: OpCounts, role: str, size_bytes: int, cache_bytes: int,
                          params: CoreParams) -> int:
    """Bytes of one operand that reach its memory in one op (role: filter | constant | input | output)."""
    if role == "filter":
        return size_bytes * filter_passes(counts, size_bytes, cache_bytes, params)
    return size_bytes


def access_pattern(counts: OpCounts, role: str) -> AccessPattern:
    """How a kernel walks an operand. Depthwise kernels (CMSIS-NN's and ours alike) take each
    kernel tap for a group of channels, so consecutive filter loads are C bytes apart; every
    other operand is read front to back."""
    return "strided" if role == "filter" and counts.kernel_class in ("dw3x3", "dw") else "sequential"


def dma_cpu_cycles(board: Board, src: MemoryPort, dst: MemoryPort, nbytes: int) -> float:
    """CPU cycles one DMA transfer of ``nbytes`` costs besides the copy itself: programming and
    waiting for the channel and, on a core with a D-cache, line-by-line maintenance of the ends the
    cache may hold, as the generated code's STM32 back end does it: clean a cached source (what the
    CPU wrote must reach memory), clean+invalidate a cached destination at the start and invalidate
    it again at the wait (templates/tinyops_dma_stm32.c)."""
    system = load_memory_system()
    cycles = system.dma_setup_cycles
    if board.dcache_bytes > 0:
        lines = -(-nbytes // system.dcache_line_bytes)
        passes = (1 if _cached(src) else 0) + (2 if _cached(dst) else 0)
        cycles += passes * lines * system.dcache_maintenance_cycles_per_line
    return cycles


def _cached(port: MemoryPort) -> bool:
    """Whether the L1 D-cache may hold this memory's lines: SRAM other than the TCMs. External
    memories are cached too, but a DMA end there is never read by the CPU in the same plan, and the
    internal flash is read-only."""
    return not port.external and port.kind not in TCM_KINDS and port.kind != INTERNAL_FLASH_KIND
