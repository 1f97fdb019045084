"""`tinyops boards [--json]` and `tinyops boards show ID|FILE [--json]`."""

from __future__ import annotations

import argparse

from rich.table import Table

from tinyops.commands.common import make_console, print_json
from tinyops.hw.board import Board, list_boards, load_board
from tinyops.kernels.profile import load_chip_power
from tinyops.sim.energy import run_mw_in


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("boards", help="list the board database, or show one board with sources",
                                   description="List the bundled boards, or show one (ID or .toml path) "
                                               "with the source of every figure.")
    parser.add_argument("action", nargs="?", choices=["list", "show"], default="list")
    parser.add_argument("board", nargs="?", help="board ID or .toml path (for `show`)")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(handler=run)


def _kib(value: int) -> str:
    return f"{value // 1024:,} KB"


def _external_summary(board: Board) -> str:
    return ", ".join(f"{m.kind} {m.size_bytes // (1024 * 1024)} MB" if m.size_bytes >= 1 << 20
                     else f"{m.kind} {_kib(m.size_bytes)}" for m in board.external_memories) or "-"


def _list(args: argparse.Namespace) -> int:
    boards = list_boards()
    if args.json:
        print_json([{"id": b.id, "name": b.name, "mcu": b.mcu, "core": b.core, "max_clock_mhz": b.max_clock_mhz,
                     "default_clock_mhz": b.clock_mhz,
                     "sram_total_bytes": b.sram_total_bytes, "flash_bytes": b.internal_flash.size_bytes,
                     "dcache_bytes": b.dcache_bytes,
                     "external_memories": [{"name": m.name, "kind": m.kind, "size_bytes": m.size_bytes}
                                           for m in b.external_memories]} for b in boards])
        return 0
    table = Table(title="Boards (`tinyops boards show ID` for details and sources)", title_justify="left")
    for column in ("id", "MCU", "core", "clock", "SRAM", "flash", "D-cache", "external memory"):
        table.add_column(column)
    for b in boards:
        clock = f"{b.clock_mhz:g} MHz" + (f" (max {b.max_clock_mhz:g})" if b.clock_mhz != b.max_clock_mhz else "")
        table.add_row(b.id, b.mcu, f"Cortex-{b.core}", clock, _kib(b.sram_total_bytes),
                      _kib(b.internal_flash.size_bytes), _kib(b.dcache_bytes) if b.dcache_bytes else "-",
                      _external_summary(b))
    make_console().print(table)
    return 0


def _show(args: argparse.Namespace) -> int:
    if not args.board:
        from tinyops.errors import BoardError

        raise BoardError("`boards show` needs a board ID or .toml path; see `tinyops boards` for the IDs")
    board = load_board(args.board)
    if args.json:
        payload = board.to_dict()
        payload["sources"] = dict(board.sources)
        print_json(payload)
        return 0
    from tinyops.backends.reports.tables import Column, make_report_console, print_table

    console = make_report_console()
    console.print(f"[bold]{board.name}[/bold] ({board.id}, configuration: {board.configuration})")
    console.print(f"{board.mcu}, Cortex-{board.core} up to {board.max_clock_mhz:g} MHz (plans default to "
                  f"{board.clock_mhz:g} MHz), "
                  f"I-cache {board.icache_bytes} B, D-cache {board.dcache_bytes} B")
    sram = Table(title="SRAM", title_justify="left")
    for column in ("region", "kind", "base", "size", "DMA", "data"):
        sram.add_column(column)
    for region in board.sram_regions:
        sram.add_row(region.name, region.kind, f"0x{region.base:08X}", _kib(region.size_bytes),
                     "yes" if region.dma_reachable else "no", "yes" if region.usable_for_data else "no")
    console.print(sram)
    flash = board.internal_flash
    console.print(f"Internal flash: {_kib(flash.size_bytes)} at 0x{flash.base:08X}, {flash.accelerator}, "
                  f"{flash.wait_states_at(board.max_clock_mhz)} wait states at {board.max_clock_mhz:g} MHz")
    if board.external_memories:
        columns = [Column("name", "left", key=True), Column("kind", "left", key=True), Column("base", key=True),
                   Column("size", key=True), Column("bus", drop_rank=3), Column("clock", drop_rank=4),
                   Column("read MB/s", key=True), Column("write MB/s", drop_rank=2),
                   Column("latency ns", drop_rank=1), Column("mapped", drop_rank=5), Column("power mW", drop_rank=6)]
        rows = [[m.name, m.kind, f"0x{m.base:08X}" if m.base is not None else "-", f"{m.size_bytes / (1 << 20):g} MB",
                 f"{m.bus_width_bits} bit", f"{m.clock_mhz:g} MHz", f"{m.read_bandwidth_mb_s:g}",
                 f"{m.write_bandwidth_mb_s:g}", f"{m.first_access_latency_ns:g}", "yes" if m.memory_mapped else "no",
                 f"{m.active_power_mw:g}"] for m in board.external_memories]
        print_table(console, columns, rows, title="External memory")
    if board.dma_engines:
        columns = [Column("engine", "left", key=True), Column("channels", key=True),
                   Column("memory-to-memory", key=True), Column("peripheral", key=True),
                   Column("reaches", "left", key=True, wrap=True)]
        rows = [[d.name, str(d.channels), "yes" if d.memory_to_memory else "no", "yes" if d.peripheral else "no",
                 ", ".join(d.reaches)] for d in board.dma_engines]
        print_table(console, columns, rows, title="DMA engines (planners copy with the first able one)")
    power = board.power
    runs = ", ".join(f"{run_mw_in(power, scope):.3g} mW ({scope} supply)" for scope in power.scopes)
    console.print(f"Power: run {runs} at {power.run_clock_mhz:g} MHz, "
                  f"{power.sleep_mode} {power.sleep_mw:g} mW ({power.scope} supply)")
    if (chip := power.chip_datasheet) is not None:
        fit = load_chip_power()
        console.print(f"  chip run power: datasheet {chip.run_ua_per_mhz:.3g} uA/MHz ({chip.regulator}) x {chip.supply_v:g} V "
                      f"= {chip.run_mw(power.run_clock_mhz):.3g} mW at {power.run_clock_mhz:g} MHz,\n"
                      f"  x NN workload factor {fit.workload_factor:.3f} (kernels/profiles/chip_power.toml)")
    if board.paper_config is not None:
        console.print(f"Paper configuration available as `{board.id}@paper`: {board.paper_config.name}")
    sources = Table(title="Sources", title_justify="left")
    sources.add_column("figure")
    sources.add_column("source")
    for key, value in board.sources.items():
        sources.add_row(key, value)
    console.print(sources)
    return 0


def run(args: argparse.Namespace) -> int:
    return _show(args) if args.action == "show" else _list(args)
