"""Energy scopes (issue 12 item 4): every energy names its supply (chip or board), a board file may
give both run powers, and each scope is predicted from its own power."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import model_path
from tinyops.cli import main
from tinyops.hw.board import BoardError, load_board
from tinyops.planning.internal import plan_internal
from tinyops.sim.simulator import simulate
from tinyops.frontends import load_model

PERSON = str(model_path("person_detect"))


def board_with(tmp_path: Path, base: str, extra: str) -> Path:
    """A copy of a bundled board file with ``extra`` lines added to its [power] table."""
    text = (Path(__file__).resolve().parents[1] / "src/tinyops/hw/boards" / f"{base}.toml").read_text()
    text = text.replace("[power]\n", "[power]\n" + extra, 1)
    path = tmp_path / f"{base}-both.toml"
    path.write_text(text.replace(f'id = "{base}"', f'id = "{base}-both"', 1))
    return path


def test_bundled_boards_name_their_scope_and_mcu_reads_as_chip() -> None:
    assert load_board("stm32f746g-disco").power.scope == "board"  # TinyOpsV2 Table 2
    u575 = load_board("nucleo-u575zi-q").power  # the file says scope = "mcu"
    assert u575.scope == "chip" and u575.scopes == ("chip",) and u575.run_mw_in("board") is None


def test_plan_json_names_the_scope_and_predicts_each_from_its_own_power(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = board_with(tmp_path, "nucleo-f746zg", 'chip_run_mw = 330\nchip_run_mw_source = "test figure"\n')
    board = load_board(str(path))
    assert board.power.scopes == ("chip", "board")
    plan = plan_internal(load_model(PERSON), board)
    energy = simulate(plan).energy
    assert energy.scope == "board"
    by = energy.by_scope_mj
    assert by["board"] == pytest.approx(energy.total_mj)
    # Same latency, same static share: the ratio of the energies is (about) the ratio of the powers.
    assert by["chip"] / by["board"] == pytest.approx(330 / board.power.run_mw, rel=0.02)
    assert main(["plan", PERSON, "--board", str(path), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["energy_scope"] == "board" and set(data["energy"]["by_scope_mj"]) == {"chip", "board"}
    assert main(["plan", PERSON, "--board", str(path)]) == 0
    assert "(board supply)" in " ".join(capsys.readouterr().out.split())  # the table may wrap the line


def test_a_second_power_in_the_same_scope_is_refused(tmp_path: Path) -> None:
    path = board_with(tmp_path, "nucleo-f746zg", "board_run_mw = 500\n")
    with pytest.raises(BoardError, match="repeats run_mw's scope"):
        load_board(str(path))
