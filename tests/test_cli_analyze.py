"""`tinyops analyze` and `tinyops boards` from the command line, good input and bad."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import model_path

VWW = model_path("vww_mobilenetv1_96_int8")


def tinyops(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tinyops.cli", *args], capture_output=True, text=True, cwd=cwd)


def assert_clean_error(done: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "Traceback" not in done.stderr
    for needle in needles:
        assert needle.lower() in lines[0].lower(), lines[0]


def test_analyze_json_contract() -> None:
    done = tinyops("analyze", str(VWW), "--board", "stm32f746g-disco", "--json")
    assert done.returncode == 0, done.stderr
    payload = json.loads(done.stdout)
    assert payload["model"].endswith("vww_mobilenetv1_96_int8.tflite")
    op = payload["ops"][0]
    for key, kind in [("index", int), ("type", str), ("macs", int), ("weight_bytes", int), ("input_bytes", int),
                      ("output_bytes", int), ("working_set_bytes", int)]:
        assert isinstance(op[key], kind)
    totals = payload["totals"]
    assert totals["macs"] == 7_489_664
    assert totals["peak_activation_bytes"] == 55_296
    assert totals["flash_bytes"] == VWW.stat().st_size
    assert set(totals) >= {"macs", "params", "weight_bytes", "peak_activation_bytes", "flash_bytes"}
    assert payload["board"] == {**payload["board"], "id": "stm32f746g-disco", "fits_sram": True, "fits_flash": True}


def test_analyze_without_board_gives_null_board_and_tables_render() -> None:
    done = tinyops("analyze", str(VWW), "--json")
    assert json.loads(done.stdout)["board"] is None
    table = tinyops("analyze", str(VWW), "--board", "nucleo-f446re")
    assert table.returncode == 0 and "DEPTHWISE_CONV_2D" in table.stdout and "nucleo-f446re" in table.stdout


def test_default_quick_start_runs_on_the_bundled_model_and_board() -> None:
    done = tinyops("analyze")
    assert done.returncode == 0, done.stderr
    assert "stm32f746g-disco" in done.stdout and "7,489,664" in done.stdout


def test_a_model_too_big_for_the_board_says_so() -> None:
    payload = json.loads(tinyops("analyze", str(model_path("mcunet_detection")), "--board", "nucleo-f446re",
                                 "--json").stdout)
    assert payload["board"]["fits_sram"] is False and payload["board"]["sram_margin_bytes"] < 0


def test_plot_is_written(tmp_path: Path) -> None:
    target = tmp_path / "ws.png"
    done = tinyops("analyze", str(VWW), "--board", "stm32f746g-disco", "--plot", str(target), "--json")
    assert done.returncode == 0, done.stderr
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_git_lfs_pointer_is_named(tmp_path: Path) -> None:
    pointer = tmp_path / "model.tflite"
    pointer.write_text("version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 123\n")
    assert_clean_error(tinyops("analyze", str(pointer)), "git lfs", "fetch")


@pytest.mark.parametrize("content,needle", [
    (b"", "empty"),
    (b"hello, this is not a model at all", "not a tflite"),
    (VWW.read_bytes()[:2000], "truncated"),
    (VWW.read_bytes()[:100], "truncated"),
])
def test_broken_models_are_rejected_in_one_line(tmp_path: Path, content: bytes, needle: str) -> None:
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(content)
    assert_clean_error(tinyops("analyze", str(bad)), needle)
    assert bad.read_bytes() == content, "the user's file must not be touched"


def test_missing_path_and_directory(tmp_path: Path) -> None:
    assert_clean_error(tinyops("analyze", str(tmp_path / "nope.tflite")), "no such file")
    assert_clean_error(tinyops("analyze", str(tmp_path)), "directory")


def test_unknown_board_lists_the_known_ones() -> None:
    assert_clean_error(tinyops("analyze", str(VWW), "--board", "arduino-uno"), "unknown board", "stm32f746g-disco")


def test_malformed_board_file_names_the_field(tmp_path: Path) -> None:
    source = Path(__file__).resolve().parents[1] / "src/tinyops/hw/boards/nucleo-f446re.toml"
    broken = tmp_path / "mine.toml"
    assert "size_bytes = 114688" in source.read_text()
    broken.write_text(source.read_text().replace("size_bytes = 114688", "size_bytes = -5", 1))
    assert_clean_error(tinyops("analyze", str(VWW), "--board", str(broken)), "size_bytes")
    garbage = tmp_path / "garbage.toml"
    garbage.write_text("id = [unclosed\n")
    assert_clean_error(tinyops("analyze", str(VWW), "--board", str(garbage)), "garbage.toml")


def test_bad_option_is_one_line() -> None:
    assert_clean_error(tinyops("analyze", str(VWW), "--kernels", "fast"), "unknown kernel library")


def test_boards_list_and_show() -> None:
    listed = json.loads(tinyops("boards", "--json").stdout)
    ids = {b["id"] for b in listed}
    assert {"stm32f746g-disco", "nucleo-f767zi", "stm32h743i-eval", "nucleo-u575zi-q"} <= ids
    shown = json.loads(tinyops("boards", "show", "stm32f746g-disco@paper", "--json").stdout)
    sizes = {m["kind"]: m["size_bytes"] for m in shown["external_memories"]}
    assert sizes == {"fmc-sdram": 8 << 20, "qspi-flash": 8 << 20}
    assert shown["sources"], "every figure has a source"
    assert tinyops("boards", "show", "nucleo-f767zi").returncode == 0
