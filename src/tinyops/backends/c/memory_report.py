"""``memory_map.json`` / ``memory_map.md``: every region, section and placed symbol with its memory,
address and size: the plan's prediction beside what ``size -A`` and ``nm -S`` report for the ELF."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tinyops.backends.c.project import PlacedSymbol, Project, symbols_json
from tinyops.backends.c.targets import MemoryMap, Region

RAM_SECTIONS = (".data", ".bss", ".tinyops_arena", ".stack")


def _region_of(memory_map: MemoryMap, address: int) -> Region | None:
    return next((r for r in memory_map.regions if r.origin <= address < r.end), None)


def elf_totals(memory_map: MemoryMap, sections: list[tuple[str, int, int]]) -> dict[str, int]:
    """Bytes per board memory from the ELF (``.data`` counts in RAM and, as its load image, in flash)."""
    totals: dict[str, int] = {}
    for name, size, address in sections:
        region = _region_of(memory_map, address)
        if region is None or region.board_memory is None or size == 0 or name.startswith(".harness"):
            continue
        totals[region.board_memory] = totals.get(region.board_memory, 0) + size
        if name == ".data":
            totals["flash"] = totals.get("flash", 0) + size
        if name == ".sdram" and memory_map.by_role("ext_flash") is not None:
            home = memory_map.by_role("ext_flash")
            assert home is not None and home.board_memory is not None
            totals[home.board_memory] = totals.get(home.board_memory, 0) + size
    return totals


def report(project: Project, sections: list[tuple[str, int, int]] | None,
           symbols: dict[str, tuple[int, int]] | None) -> dict[str, Any]:
    memory_map = project.memory_map
    view = project.view
    out: dict[str, Any] = {
        "model": Path(view.model).name, "board": view.board.id, "strategy": view.strategy, "planner": view.planner,
        "map": memory_map.kind, "core": memory_map.core, "dma": project.dma,
        "regions": [{"name": r.name, "board_memory": r.board_memory, "role": r.role, "origin": r.origin,
                     "length_bytes": r.length_bytes} for r in memory_map.regions],
        "prediction": dict(view.prediction),
        "extra_scratch_bytes": project.extra_scratch_bytes,
        "symbols": symbols_json(project.symbols),
        "built": sections is not None,
    }
    planned: dict[str, int] = {}
    for s in project.symbols:
        planned[s.memory] = planned.get(s.memory, 0) + s.size_bytes
    out["planned_bytes_by_memory"] = planned
    if sections is not None:
        out["sections"] = []
        for name, size, address in sections:
            region = _region_of(memory_map, address)
            harness = name.startswith(".harness")
            out["sections"].append({"section": name, "address": address, "size_bytes": size,
                                    "region": region.name if region else None,
                                    "memory": region.board_memory if region else None,
                                    "counted": not harness})
        out["elf_bytes_by_memory"] = elf_totals(memory_map, sections)
    if symbols is not None:
        listed = []
        for symbol, (address, size) in sorted(symbols.items(), key=lambda kv: kv[1][0]):
            region = _region_of(memory_map, address)
            if size and region is not None:
                listed.append({"symbol": symbol, "address": address, "size_bytes": size,
                               "memory": region.board_memory, "region": region.name})
        out["elf_symbols"] = listed  # every sized symbol of the ELF (code and data)
        for entry in out["symbols"]:
            found = symbols.get(entry["symbol"])
            entry["address"] = found[0] if found else None
            entry["elf_size_bytes"] = found[1] if found else None
    return out


def markdown(data: dict[str, Any]) -> str:
    lines = [f"# Memory map: {data['model']} on {data['board']} ({data['strategy']}, planner {data['planner']})", "",
             f"Map: {data['map']} ({data['core']}), DMA back end: {data['dma']}. Planned sizes come from the plan; "
             "ELF sizes and addresses from `arm-none-eabi-size -A` / `nm -S` of the built firmware.", "",
             "## Regions", "", "| region | board memory | origin | length (B) |", "|---|---|---|---:|"]
    for r in data["regions"]:
        lines.append(f"| {r['name']} | {r['board_memory'] or '(harness)'} | 0x{r['origin']:08X} | {r['length_bytes']} |")
    if data.get("sections"):
        lines += ["", "## Sections (ELF)", "", "| section | memory | address | size (B) |", "|---|---|---|---:|"]
        for s in data["sections"]:
            if s["size_bytes"]:
                memory = (s["memory"] or "-") + ("" if s.get("counted", True) else " (test vectors, not counted)")
                lines.append(f"| {s['section']} | {memory} | 0x{s['address']:08X} | {s['size_bytes']} |")
        lines += ["", "| memory | planned symbols (B) | ELF (B) |", "|---|---:|---:|"]
        for memory in sorted(set(data["planned_bytes_by_memory"]) | set(data.get("elf_bytes_by_memory", {}))):
            lines.append(f"| {memory} | {data['planned_bytes_by_memory'].get(memory, 0)} | "
                         f"{data.get('elf_bytes_by_memory', {}).get(memory, 0)} |")
    lines += ["", "## Symbols", "", "| symbol | what | memory | section | planned (B) | address | ELF (B) |",
              "|---|---|---|---|---:|---|---:|"]
    for s in data["symbols"]:
        address = f"0x{s['address']:08X}" if s.get("address") is not None else "-"
        lines.append(f"| {s['symbol']} | {s['what']} | {s['memory']} | {s['section']} | {s['size_bytes']} | {address} | "
                     f"{s.get('elf_size_bytes') if s.get('elf_size_bytes') is not None else '-'} |")
    if data.get("elf_symbols"):
        lines += ["", "## Every sized symbol of the ELF", "", "| symbol | memory | address | size (B) |",
                  "|---|---|---|---:|"]
        for s in data["elf_symbols"]:
            lines.append(f"| {s['symbol']} | {s['memory'] or '(harness)'} | 0x{s['address']:08X} | {s['size_bytes']} |")
    lines += ["", "Prediction: " + ", ".join(f"{k} = {v}" for k, v in data["prediction"].items()), ""]
    return "\n".join(lines)


__all__ = ["report", "markdown", "elf_totals", "PlacedSymbol"]
