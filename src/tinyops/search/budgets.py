"""Budgets of a search and the check of an architecture against them with tinyops' own tools.

A budget comes from a board (its internal flash, or its external memory for the external
strategies; its largest contiguous SRAM block) and/or explicit numbers. "Fits" means the whole
RAM the runtime needs: the arena TFLM's planner lays out + the runtime's own structures.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from tinyops.errors import TinyOpsError

if TYPE_CHECKING:  # pragma: no cover - typing only
    from tinyops.hw.board import Board
    from tinyops.ir import Graph

# Used only until the pipeline's TFLM overhead formula (tinyops.memory.runtime_overhead, issue 10)
# is merged: a placeholder, not a measurement. That formula gives 3.4 KB for DS-CNN-S at width
# 0.25 and 26.8 KB for DS-CNN-L (its branch, run here), so this under-counts large networks.
FALLBACK_RUNTIME_OVERHEAD_BYTES = 6 * 1024


def runtime_overhead(graph: "Graph") -> tuple[int, str]:
    """Bytes of SRAM the runtime needs beside the arena, and where the figure comes from."""
    import importlib

    try:
        module: Any = importlib.import_module("tinyops.memory.runtime_overhead")
    except ImportError:
        return FALLBACK_RUNTIME_OVERHEAD_BYTES, "fixed estimate of TFLM's persistent structures (6 KiB)"
    return int(module.tflm_runtime_overhead_bytes(graph)), "tinyops.memory.runtime_overhead (TFLM persistent structures)"


@dataclass(frozen=True)
class Budgets:
    board: str
    latency_board: str
    strategy: str
    kernels: str
    flash_bytes: int | None
    sram_bytes: int | None  # the whole RAM: arena + runtime overhead
    latency_ms: float | None
    sources: dict[str, str] = field(default_factory=dict)

    @property
    def plan_sram_limit_bytes(self) -> int | None:
        """External strategies plan overlay buffers into all free SRAM: capped at the SRAM budget."""
        return None if self.strategy == "internal" else self.sram_bytes

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def flash_capacity(board: "Board", strategy: str) -> tuple[int, str]:
    if strategy == "internal":
        return board.internal_flash.size_bytes, f"{board.id} internal flash"
    memories = [m for m in board.external_memories]
    if not memories:
        raise TinyOpsError(f"strategy {strategy} needs external memory and {board.id} has none")
    largest = max(memories, key=lambda m: m.size_bytes)
    return largest.size_bytes, f"{board.id} external {largest.name}"


def make_budgets(board: "Board", latency_board: "Board", strategy: str, kernels: str, flash_kb: float | None,
                 sram_kb: float | None, latency_ms: float | None, fps: float | None) -> Budgets:
    """Explicit numbers win; the board fills in flash and SRAM; latency has no board default."""
    sources: dict[str, str] = {}
    if flash_kb is not None:
        if flash_kb <= 0:
            raise TinyOpsError(f"--flash-kb must be positive, got {flash_kb:g}")
        flash, sources["flash_bytes"] = int(flash_kb * 1024), "--flash-kb"
    else:
        flash, sources["flash_bytes"] = flash_capacity(board, strategy)
    if sram_kb is not None:
        if sram_kb <= 0:
            raise TinyOpsError(f"--sram-kb must be positive, got {sram_kb:g}")
        sram, sources["sram_bytes"] = int(sram_kb * 1024), "--sram-kb"
    else:
        sram, sources["sram_bytes"] = board.largest_contiguous_sram_bytes, f"{board.id} largest contiguous SRAM"
    if latency_ms is not None and fps is not None:
        raise TinyOpsError("give --latency-ms or --fps, not both")
    latency: float | None = None
    if latency_ms is not None:
        if latency_ms <= 0:
            raise TinyOpsError(f"--latency-ms must be positive, got {latency_ms:g}")
        latency, sources["latency_ms"] = latency_ms, "--latency-ms"
    elif fps is not None:
        if fps <= 0:
            raise TinyOpsError(f"--fps must be positive, got {fps:g}")
        latency, sources["latency_ms"] = 1000.0 / fps, f"--fps {fps:g}"
    if latency is not None:
        sources["latency_ms"] += f" on {latency_board.id} ({strategy}, {kernels}, cost model)"
    return Budgets(board.id, latency_board.id, strategy, kernels, flash, sram, latency, sources)
