"""Board files: DMA engine capabilities and a base address for every memory (issue 10, fixes 5 and 6)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tinyops.errors import BoardError
from tinyops.hw.board import board_ids, load_board

from test_boards import USER_TOML, error_for, write

F4_F7 = ("nucleo-f446re", "nucleo-f746zg", "nucleo-f767zi", "stm32f469i-disco", "stm32f746g-disco")


@pytest.mark.parametrize("board_id", F4_F7)
def test_stm32f4_f7_dma1_cannot_copy_memory_to_memory(board_id: str) -> None:
    board = load_board(board_id)
    engines = {d.name: d for d in board.dma_engines}
    assert not engines["DMA1"].memory_to_memory and engines["DMA1"].peripheral
    assert engines["DMA2"].memory_to_memory
    assert "only DMA2" in board.sources["dma[0].memory_to_memory"]


def test_sdram_to_sram_copies_pick_an_engine_that_can_do_them() -> None:
    f746 = load_board("stm32f746g-disco")
    assert f746.transfer_kind("sdram", "DTCM") == "memory-to-memory"
    assert f746.dma_for("sdram", "DTCM").name == "DMA2"  # type: ignore[union-attr]
    h743 = load_board("stm32h743i-eval")
    assert h743.dma_for("sdram", "DTCM").name == "MDMA"  # type: ignore[union-attr]  # D2 DMAs miss the TCMs
    assert h743.dma_for("sdram", "AXI_SRAM").name == "MDMA"  # type: ignore[union-attr]
    f767 = load_board("nucleo-f767zi")  # the SD card is read through SPI: a peripheral transfer
    assert f767.transfer_kind("sdcard", "SRAM1") == "peripheral"
    assert f767.dma_for("sdcard", "SRAM1").name == "DMA1"  # type: ignore[union-attr]


def test_overlay_plans_on_the_f746_copy_with_dma2_and_the_verifier_rejects_dma1() -> None:
    import dataclasses

    from tinyops.frontends import load_model
    from tinyops.deploy import evaluate
    from tinyops.planning.verify import verify
    from tinyops.commands.common import default_model_path

    graph = load_model(default_model_path())
    plan = evaluate(graph, load_board("stm32f746g-disco"), "overlay-v1").plan
    assert plan.transfers and {t.engine for t in plan.transfers} == {"DMA2"}
    assert verify(plan) == []
    wrong = dataclasses.replace(plan, transfers=[dataclasses.replace(t, engine="DMA1") for t in plan.transfers])
    issues = verify(wrong)
    assert issues and "DMA1 cannot do this memory-to-memory transfer" in issues[0]


@pytest.mark.parametrize("board_id", board_ids())
def test_every_memory_of_every_board_has_a_sourced_base_address(board_id: str) -> None:
    board = load_board(board_id)
    # STM32 flash sits at 0x0800_0000; other vendors map it elsewhere (Renesas RA, Nordic, Nuvoton
    # at 0, RA8 at 0x0200_0000, PSoC 6 at 0x1000_0000): the figure must be sourced either way.
    stm32 = board.mcu.startswith("STM32")
    assert (board.internal_flash.base == 0x08000000 or not stm32) and board.sources["flash.base"]
    names = [name for name, _, _ in board.memory_map()]
    assert "flash" in names and all(r.name in names for r in board.sram_regions)
    assert all(m.name in names for m in board.external_memories if m.memory_mapped)
    spans = board.memory_map()
    for (_, lo, size), (_, next_lo, _) in zip(spans, spans[1:]):
        assert lo + size <= next_lo  # no two memories share an address


def test_a_plan_buffer_is_named_by_its_real_region_and_addresses() -> None:
    f746 = load_board("stm32f746g-disco")  # DTCM 64 KB at 0x2000_0000, then SRAM1, then SRAM2
    assert f746.sram_span("DTCM", 100 * 1024, 1024).label == "SRAM1 0x20019000-0x200193ff"
    assert f746.sram_span("DTCM", 65536 - 16, 32).regions == ("DTCM", "SRAM1")
    assert f746.sram_span("DTCM", 0, 325 * 1024).regions == ("DTCM", "SRAM1", "SRAM2")


def test_plan_json_names_regions_not_just_dtcm() -> None:
    from tinyops.frontends import load_model
    from tinyops.backends.reports.plan_compare import sram_buffers
    from tinyops.deploy import evaluate
    from tinyops.commands.common import default_model_path

    plan = evaluate(load_model(default_model_path()), load_board("stm32f746g-disco"), "overlay-v2").plan
    buffers = sram_buffers(plan)
    regions = {region for b in buffers for region in b["regions"]}
    assert {"DTCM", "SRAM1"} <= regions
    for b in buffers:
        start, end = (int(a, 16) for a in b["address_range"])
        assert end - start + 1 == max(b["size_bytes"], 1)
        assert all(f746_region in ("DTCM", "SRAM1", "SRAM2") for f746_region in b["regions"])


def test_flash_base_is_required_and_checked(tmp_path: Path) -> None:
    msg = error_for(tmp_path, USER_TOML.replace("base = 0x08000000\n", ""))
    assert "flash.base" in msg and "missing" in msg
    msg = error_for(tmp_path, USER_TOML.replace("base = 0x08000000\n", "base = 0x20010000\n"))
    assert "flash" in msg and "overlaps" in msg and "SRAM1" in msg


def test_memory_mapped_external_needs_a_base(tmp_path: Path) -> None:
    msg = error_for(tmp_path, USER_TOML.replace("base = 0xC0000000\n", ""))
    assert "external_memory[0].base" in msg


def test_dma_capabilities_are_required(tmp_path: Path) -> None:
    msg = error_for(tmp_path, USER_TOML.replace("memory_to_memory = true\n", ""))
    assert "dma[0].memory_to_memory" in msg and "missing" in msg
    assert load_board(str(write(tmp_path, USER_TOML))).dma_engines[0].memory_to_memory


def test_board_error_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(BoardError) as caught:
        load_board(str(write(tmp_path, USER_TOML.replace("peripheral = true\n", "peripheral = 3\n"))))
    assert "\n" not in str(caught.value) and "dma[0].peripheral" in str(caught.value)


def test_boards_show_lists_bases_and_dma_capabilities_at_100_columns() -> None:
    import os
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "tinyops.cli", "boards", "show", "stm32f746g-disco"],
                          capture_output=True, text=True, env={**os.environ, "COLUMNS": "100"})
    assert done.returncode == 0, done.stderr
    assert "at 0x08000000" in done.stdout and "0xC0000000" in done.stdout and "memory-to-memory" in done.stdout
    assert max(len(line) for line in done.stdout.splitlines()) <= 100
