"""Memory kinds: the one list of the kinds of memory a board description may name.

On-chip SRAM regions keep the reference manuals' names (``DTCM``, ``SRAM1``...); external memories
are named by their interface. Planners group them by what they can do: hold weights across power
cycles (non-volatile), or take CPU stores at run time (external RAM).
"""

from __future__ import annotations

from typing import Literal, get_args

SramKind = Literal["DTCM", "ITCM", "AXI", "SRAM", "SRAM1", "SRAM2", "SRAM3", "SRAM4", "CCM", "BKPSRAM"]
ExternalKind = Literal["qspi-flash", "ospi-flash", "fmc-sdram", "fmc-sram", "sdcard-spi"]
INTERNAL_FLASH_KIND = "internal-flash"
MemoryKind = Literal[SramKind, ExternalKind, "internal-flash"]

SRAM_KINDS: tuple[SramKind, ...] = get_args(SramKind)
EXTERNAL_KINDS: tuple[ExternalKind, ...] = get_args(ExternalKind)
# Tightly coupled memories: on the core's own ports, outside a Cortex-M7's L1 cache.
TCM_KINDS: tuple[SramKind, ...] = ("DTCM", "ITCM")
# External RAM the CPU can load from and store to (activation spill, boot copies of the weights).
VOLATILE_KINDS: tuple[ExternalKind, ...] = ("fmc-sdram", "fmc-sram")
# External stores that keep the weights across power cycles.
NONVOLATILE_KINDS: tuple[ExternalKind, ...] = ("qspi-flash", "ospi-flash", "sdcard-spi")

__all__ = ["EXTERNAL_KINDS", "ExternalKind", "INTERNAL_FLASH_KIND", "MemoryKind", "NONVOLATILE_KINDS", "SRAM_KINDS",
           "SramKind", "TCM_KINDS", "VOLATILE_KINDS"]
