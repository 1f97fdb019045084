"""Board database: bundled boards load, key figures, paper configurations, validation errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tinyops.errors import BoardError, TinyOpsError
from tinyops.hw.board import Board, board_ids, list_boards, load_board

KB = 1024
MB = 1024 * 1024

REQUIRED_IDS = {
    "stm32f746g-disco", "nucleo-f746zg", "nucleo-f767zi", "stm32f469i-disco", "stm32h743i-eval",
    "nucleo-h743zi", "stm32l552e-eval", "nucleo-f446re", "nucleo-l4r5zi", "nucleo-u575zi-q",
    "nucleo-h7a3zi-q",
}
TINYOPSV2_BOARDS = ("stm32f469i-disco", "stm32f746g-disco", "stm32h743i-eval")

# A small, valid user board: exactly 8 MB SDRAM + 8 MB QSPI, as in TinyOpsV2 Table 3.
USER_TOML = """\
id = "my-board"
name = "My F746 board"
mcu = "STM32F746NG"
core = "M7"
fpu = true
dsp = true
max_clock_mhz = 216
source = "DS10916"

[cache]
icache_bytes = 4096
dcache_bytes = 4096
source = "DS10916"

[[sram]]
name = "DTCM"
kind = "DTCM"
base = 0x20000000
size_bytes = 65536
dma_reachable = true
source = "RM0385 §2.2.2"

[[sram]]
name = "SRAM1"
kind = "SRAM1"
base = 0x20010000
size_bytes = 245760
dma_reachable = true
source = "RM0385 §2.2.2"

[flash]
size_bytes = 1048576
base = 0x08000000
wait_states = [[30, 0], [60, 1], [90, 2], [120, 3], [150, 4], [180, 5], [210, 6], [216, 7]]
accelerator = "ART"
read_width_bits = 256
source = "RM0385"

[[external_memory]]
name = "sdram"
kind = "fmc-sdram"
part = "MT48LC4M32B2"
size_bytes = 8388608
bus_width_bits = 16
clock_mhz = 108
read_bandwidth_mb_s = 150
write_bandwidth_mb_s = 150
first_access_latency_ns = 60
memory_mapped = true
base = 0xC0000000
active_power_mw = 50
source = "TinyOpsV2 Table 3"

[[external_memory]]
name = "qspi"
kind = "qspi-flash"
part = "N25Q128A"
size_bytes = 8388608
bus_width_bits = 4
clock_mhz = 108
read_bandwidth_mb_s = 54
write_bandwidth_mb_s = 0.5
first_access_latency_ns = 230
memory_mapped = true
base = 0x90000000
active_power_mw = 30
source = "TinyOpsV2 Table 3"

[[dma]]
name = "DMA2"
channels = 8
reaches = ["DTCM", "SRAM1", "flash", "sdram", "qspi"]
memory_to_memory = true
peripheral = true
source = "RM0385"

[power]
run_mw = 730
run_clock_mhz = 216
sleep_mw = 0.01
source = "TinyOpsV2 Table 2"
"""


def write(tmp_path: Path, text: str, name: str = "my.toml") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def error_for(tmp_path: Path, text: str) -> str:
    with pytest.raises(BoardError) as exc:
        load_board(str(write(tmp_path, text)))
    msg = str(exc.value)
    assert "\n" not in msg
    assert "my.toml" in msg
    return msg


# --------------------------------------------------------------------------- bundled boards


def test_required_boards_are_bundled() -> None:
    assert REQUIRED_IDS <= set(board_ids())


@pytest.mark.parametrize("board_id", sorted(REQUIRED_IDS))
def test_every_bundled_board_loads(board_id: str) -> None:
    b = load_board(board_id)
    assert isinstance(b, Board)
    assert b.id == board_id
    assert b.sram_total_bytes > 0
    assert 0 < b.largest_contiguous_sram_bytes <= b.sram_total_bytes
    assert b.internal_flash.wait_states_at(b.max_clock_mhz) >= 0
    assert all(isinstance(s, str) and s for s in b.sources.values())
    # every field of every table carries a source
    for key in ("max_clock_mhz", "core", "cache.dcache_bytes", "flash.size_bytes",
                "flash.wait_states", "power.run_mw", "sram[0].size_bytes"):
        assert key in b.sources, key
    for i in range(len(b.external_memories)):
        assert f"external_memory[{i}].read_bandwidth_mb_s" in b.sources
    json.dumps(b.to_dict())


def test_list_boards_matches_ids() -> None:
    assert [b.id for b in list_boards()] == board_ids()


def test_f746_key_figures() -> None:
    b = load_board("stm32f746g-disco")
    assert b.core == "M7" and b.max_clock_mhz == 216
    assert b.sram_total_bytes == 320 * KB
    assert b.largest_contiguous_sram_bytes == 320 * KB
    assert b.internal_flash.size_bytes == 1 * MB
    assert b.internal_flash.accelerator == "ART"
    assert b.dcache_bytes == 4 * KB and b.icache_bytes == 4 * KB
    assert b.internal_flash.wait_states_at(216) == 7
    assert b.internal_flash.wait_states_at(30) == 0
    # physical board: 8 MB usable SDRAM on a 16-bit bus, 16 MB QSPI
    sdram, qspi = b.external("fmc-sdram"), b.external("qspi-flash")
    assert sdram is not None and sdram.size_bytes == 8 * MB and sdram.bus_width_bits == 16
    assert qspi is not None and qspi.size_bytes == 16 * MB
    assert sdram.volatile and not qspi.volatile
    # F7: DTCM reachable by DMA through AHBS
    assert "DTCM" in next(d for d in b.dma_engines if d.name == "DMA1").reaches
    assert b.power.run_mw == 730 and b.power.run_external_mw == 810 and b.power.scope == "board"


def test_h743_key_figures() -> None:
    b = load_board("stm32h743i-eval")
    # Revision V runs at 480 MHz; plans default to the 400 MHz TinyOpsV2 used.
    assert b.max_clock_mhz == 480 and b.clock_mhz == 400 and b.core == "M7" and b.fpu_double
    assert b.internal_flash.wait_states_at(480) == 4
    assert b.dcache_bytes == 16 * KB
    assert b.largest_contiguous_sram_bytes == 512 * KB  # AXI SRAM, TinyOpsV2 Table 3
    assert b.internal_flash.size_bytes == 2 * MB
    assert b.internal_flash.wait_states_at(400) == 2  # flash at AXI clock = 200 MHz
    dtcm = b.sram("DTCM")
    assert dtcm is not None and dtcm.kind == "DTCM"
    engines = {d.name: d for d in b.dma_engines}
    assert "DTCM" not in engines["DMA1"].reaches and "DTCM" not in engines["DMA2"].reaches
    assert "DTCM" in engines["MDMA"].reaches
    sdram = b.external("fmc-sdram")
    assert sdram is not None and sdram.size_bytes == 32 * MB
    assert b.external("fmc-sram") is not None


def test_f469_key_figures() -> None:
    b = load_board("stm32f469i-disco")
    assert b.core == "M4" and b.max_clock_mhz == 180
    assert b.dcache_bytes == 0 and b.icache_bytes == 0
    # silicon: 384 KB incl. 64 KB CCM (not DMA-reachable); the paper's 256 KB is in paper_config
    assert b.sram_total_bytes == 384 * KB
    assert b.largest_contiguous_sram_bytes == 320 * KB
    ccm = b.sram("CCM")
    assert ccm is not None and not ccm.dma_reachable
    assert b.paper_config is not None and b.paper_config.sram_bytes == 256 * KB
    sdram = b.external("fmc-sdram")
    assert sdram is not None and sdram.size_bytes == 16 * MB and sdram.bus_width_bits == 32
    assert b.power.run_mw == 255 and b.power.run_external_mw == 370


def test_nucleo_boards_have_no_external_memory_except_f767_sd_card() -> None:
    for b in list_boards():
        if b.id.startswith("nucleo-") and b.id != "nucleo-f767zi":
            assert b.external_memories == (), b.id


def test_f767_sd_card_setup() -> None:
    b = load_board("nucleo-f767zi")
    assert b.sram_total_bytes == 512 * KB and b.internal_flash.size_bytes == 2 * MB
    sd = b.external("sdcard-spi")
    assert sd is not None
    assert sd.clock_mhz == 1 and sd.max_clock_mhz == 25
    assert sd.block_size_bytes == 16 * KB
    assert not sd.memory_mapped and not sd.volatile
    assert sd.write_bandwidth_mb_s < sd.read_bandwidth_mb_s
    assert sd.effective_write_latency_ns > sd.first_access_latency_ns
    assert sd.power_points == ((0.1, 460.0), (25.0, 590.0))
    assert "Svoboda" in b.sources["external_memory[0].power_points"]


def test_micronets_power_figures() -> None:
    assert load_board("nucleo-f446re").power.run_mw == pytest.approx(162, abs=1)
    assert load_board("nucleo-f746zg").power.run_mw == pytest.approx(444, abs=1)


# --------------------------------------------------------------------------- paper configuration


@pytest.mark.parametrize("board_id", TINYOPSV2_BOARDS)
def test_tinyopsv2_boards_expose_8mb_sdram_plus_8mb_qspi(board_id: str) -> None:
    physical = load_board(board_id)
    assert physical.paper_config is not None
    for b in (physical.with_paper_config(), load_board(board_id + "@paper")):
        assert [(m.kind, m.size_bytes) for m in b.external_memories] == [
            ("fmc-sdram", 8 * MB), ("qspi-flash", 8 * MB)]
        assert b.configuration == "TinyOpsV2 Table 3"
        assert "TinyOpsV2" in b.sources["external_memory[0].size_bytes"]
        assert all(r in {x.name for x in b.sram_regions} | {"flash", "sdram", "qspi"}
                   for d in b.dma_engines for r in d.reaches)
    # the board physically carries at least what the paper configures
    for name, size in physical.paper_config.external_sizes:
        mem = physical.external(name)
        assert mem is not None and mem.size_bytes >= size == 8 * MB


def test_limit_external_rejects_growth_and_unknown_names() -> None:
    b = load_board("stm32f746g-disco")
    with pytest.raises(BoardError, match="more than"):
        b.limit_external({"sdram": 64 * MB})
    with pytest.raises(BoardError, match="no external memory"):
        b.limit_external({"hyperram": MB})
    assert b.limit_external({"fmc-sdram": 4 * MB}).external("sdram").size_bytes == 4 * MB  # type: ignore[union-attr]


def test_board_without_paper_config() -> None:
    with pytest.raises(BoardError, match="no paper_config"):
        load_board("nucleo-f446re@paper")


# --------------------------------------------------------------------------- user files


def test_user_toml_loads_by_path(tmp_path: Path) -> None:
    b = load_board(str(write(tmp_path, USER_TOML)))
    assert b.id == "my-board"
    assert [(m.kind, m.size_bytes) for m in b.external_memories] == [
        ("fmc-sdram", 8 * MB), ("qspi-flash", 8 * MB)]
    assert b.sram_total_bytes == (64 + 240) * KB
    assert b.sources["sram[1].size_bytes"] == "RM0385 §2.2.2"
    assert b.power.run_voltage_v is None


def test_field_source_overrides_table_source(tmp_path: Path) -> None:
    text = USER_TOML.replace('run_mw = 730\n', 'run_mw = 730\nrun_mw_source = "my bench, 2024"\n')
    b = load_board(str(write(tmp_path, text)))
    assert b.sources["power.run_mw"] == "my bench, 2024"
    assert b.sources["power.sleep_mw"] == "TinyOpsV2 Table 2"


def test_malformed_toml(tmp_path: Path) -> None:
    msg = error_for(tmp_path, USER_TOML.replace('core = "M7"', "core = M7 ="))
    assert "malformed TOML" in msg and "line 4" in msg


def test_missing_field(tmp_path: Path) -> None:
    msg = error_for(tmp_path, USER_TOML.replace("read_width_bits = 256\n", ""))
    assert "flash.read_width_bits" in msg and "missing" in msg


def test_negative_size(tmp_path: Path) -> None:
    msg = error_for(tmp_path, USER_TOML.replace("size_bytes = 245760", "size_bytes = -5"))
    assert "sram[1].size_bytes: expected a positive integer, got -5" in msg


def test_unknown_core(tmp_path: Path) -> None:
    msg = error_for(tmp_path, USER_TOML.replace('core = "M7"', 'core = "M99"'))
    assert "core" in msg and "M99" in msg and "M33" in msg


def test_unknown_kind(tmp_path: Path) -> None:
    msg = error_for(tmp_path, USER_TOML.replace('kind = "qspi-flash"', 'kind = "nand"'))
    assert "external_memory[1].kind" in msg


def test_missing_source(tmp_path: Path) -> None:
    text = USER_TOML.replace('source = "TinyOpsV2 Table 2"\n', "")
    msg = error_for(tmp_path, text)
    assert "power.run_mw" in msg and "source" in msg


def test_wrong_type(tmp_path: Path) -> None:
    msg = error_for(tmp_path, USER_TOML.replace("memory_mapped = true", 'memory_mapped = "yes"', 1))
    assert "external_memory[0].memory_mapped" in msg and "true or false" in msg


def test_overlapping_sram(tmp_path: Path) -> None:
    msg = error_for(tmp_path, USER_TOML.replace("base = 0x20010000", "base = 0x2000F000"))
    assert "sram[1]" in msg and "overlaps" in msg


def test_unknown_field_is_rejected(tmp_path: Path) -> None:
    msg = error_for(tmp_path, USER_TOML.replace("[cache]\n", "[cache]\nl2_bytes = 1\n"))
    assert "cache.l2_bytes" in msg and "unknown field" in msg


def test_dma_reaching_unknown_memory(tmp_path: Path) -> None:
    msg = error_for(tmp_path, USER_TOML.replace('"qspi"]', '"qspi", "SRAM9"]'))
    assert "dma[0].reaches" in msg and "SRAM9" in msg


def test_dma_flag_must_match_engines(tmp_path: Path) -> None:
    msg = error_for(tmp_path, USER_TOML.replace('reaches = ["DTCM", ', "reaches = ["))
    assert "sram[0].dma_reachable" in msg


def test_wait_state_table_must_cover_max_clock(tmp_path: Path) -> None:
    msg = error_for(tmp_path, USER_TOML.replace(", [216, 7]]", "]"))
    assert "flash.wait_states" in msg
    with pytest.raises(BoardError):
        load_board("stm32f746g-disco").internal_flash.wait_states_at(400)


def test_sd_card_needs_block_size(tmp_path: Path) -> None:
    text = USER_TOML.replace('kind = "qspi-flash"', 'kind = "sdcard-spi"').replace(
        "memory_mapped = true\nactive_power_mw = 30", "memory_mapped = false\nactive_power_mw = 30")
    msg = error_for(tmp_path, text)
    assert "external_memory[1].block_size_bytes" in msg


def test_missing_file_and_unknown_id(tmp_path: Path) -> None:
    with pytest.raises(BoardError, match="not found"):
        load_board(str(tmp_path / "nope.toml"))
    with pytest.raises(BoardError) as exc:
        load_board("foo")
    msg = str(exc.value)
    assert isinstance(exc.value, TinyOpsError)
    assert "unknown board 'foo'" in msg and "stm32f746g-disco" in msg and ".toml" in msg


# Boards of the published measurements (measurements/published.csv) and MLPerf Tiny systems.
MEASURED_BOARDS = {"nucleo-g0b1re": ("M0+", 64), "cy8cproto-062-4343w": ("M4", 150),
                   "b-u585i-iot02a": ("M33", 160), "nucleo-u385rg-q": ("M33", 96),
                   "numaker-m467hj": ("M4", 200), "ek-ra6m4": ("M33", 200), "nrf5340-dk": ("M33", 128),
                   "ek-ra8d1": ("M85", 480), "stm32h747i-disco": ("M7", 480)}


@pytest.mark.parametrize("board_id", sorted(MEASURED_BOARDS))
def test_measurement_boards_core_clock_and_sources(board_id: str) -> None:
    b = load_board(board_id)
    assert (b.core, b.max_clock_mhz) == MEASURED_BOARDS[board_id]
    for key in ("max_clock_mhz", "power.run_mw", "flash.wait_states", "flash.size_bytes"):
        assert b.sources.get(key), f"{board_id}: {key} has no source"
    assert b.internal_flash.wait_states_at(b.max_clock_mhz) >= 0


def test_default_clock_above_max_is_an_error(tmp_path: Path) -> None:
    msg = error_for(tmp_path, USER_TOML.replace('max_clock_mhz = ', 'default_clock_mhz = 999\nmax_clock_mhz = ', 1))
    assert "default_clock_mhz" in msg and "999" in msg
