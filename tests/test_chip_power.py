"""Chip power from the board file's datasheet Run-mode current x one workload factor fitted on
MLPerf Tiny energies (issue 12 item 4), and the leave-one-board-out energy check of calibrate.py."""

from __future__ import annotations

import dataclasses
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from tinyops.hw.board import BoardError, load_board
from tinyops.kernels.profile import load_chip_power

REPO = Path(__file__).resolve().parents[1]
PUBLISHED = REPO.parent / "shared" / "measurements" / "published.csv"
BOARDS = REPO / "src" / "tinyops" / "hw" / "boards"


def calibrate() -> ModuleType:
    spec = importlib.util.spec_from_file_location("calibrate_under_test", REPO / "benchmarks" / "calibrate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


def board_file(tmp_path: Path, base: str, old: str, new: str) -> Path:
    text = (BOARDS / f"{base}.toml").read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / f"{base}-edited.toml"
    path.write_text(text.replace(old, new, 1).replace(f'id = "{base}"', f'id = "{base}-edited"', 1),
                    encoding="utf-8")
    return path


# --------------------------------------------------------------------------- the model on a board file


def test_u575_datasheet_current_moves_to_the_run_voltage_range_behind_its_smps() -> None:
    chip = load_board("nucleo-u575zi-q").power.chip_datasheet
    assert chip is not None and chip.regulator == "SMPS" and chip.ua_per_mhz == 19.5
    # An SMPS passes the core's power: the per-MHz current scales with V_core squared.
    assert chip.run_ua_per_mhz == pytest.approx(19.5 * (1.2 / 0.9) ** 2)
    assert chip.run_mw(160) == pytest.approx(3.3 * 19.5 * (1.2 / 0.9) ** 2 * 160 / 1000)
    assert chip.run_mw(160, 1.5) == pytest.approx(1.5 * chip.run_mw(160))
    assert "DS13737" in chip.conditions


def test_an_ldo_scales_the_current_linearly_and_static_current_does_not_scale(tmp_path: Path) -> None:
    path = board_file(tmp_path, "nucleo-l4r5zi", 'chip_datasheet_regulator = "LDO"\n',
                      'chip_datasheet_regulator = "LDO"\nchip_datasheet_vcore_v = 1.0\n'
                      'chip_datasheet_run_vcore_v = 1.2\nchip_datasheet_static_ua = 500\n')
    chip = load_board(str(path)).power.chip_datasheet
    assert chip is not None
    assert chip.run_ua_per_mhz == pytest.approx(110 * 1.2)
    # V x (I_static + k x uA/MHz x f): the workload factor multiplies the dynamic current only.
    assert chip.run_mw(120, 2.0) == pytest.approx(3.3 * (500 + 2.0 * 132 * 120) / 1000)


@pytest.mark.parametrize("old,new,message", [
    ('chip_datasheet_regulator = "LDO"', 'chip_datasheet_regulator = "buck"', "expected one of LDO, SMPS"),
    ('chip_datasheet_regulator = "LDO"\n', 'chip_datasheet_regulator = "LDO"\nchip_datasheet_vcore_v = 1.0\n',
     "give both chip_datasheet_vcore_v and chip_datasheet_run_vcore_v"),
    ("chip_datasheet_supply_v = 3.3\n", "", "chip_datasheet_supply_v: missing required field"),
    ("chip_datasheet_ua_per_mhz = 110\n", "chip_datasheet_ua_per_mhz = 110\nchip_datasheet_ua_per_mhz_x = 1\n",
     "unknown field"),
])
def test_bad_datasheet_fields_are_one_clear_error(tmp_path: Path, old: str, new: str, message: str) -> None:
    with pytest.raises(BoardError, match=message):
        load_board(str(board_file(tmp_path, "nucleo-l4r5zi", old, new)))


def test_plan_energy_uses_the_datasheet_model_times_the_fitted_factor() -> None:
    from conftest import model_path
    from tinyops.frontends import load_model
    from tinyops.planning.common import PlanOptions
    from tinyops.planning.internal import plan_internal
    from tinyops.sim.simulator import simulate

    board = load_board("nucleo-u575zi-q")
    chip = board.power.chip_datasheet
    assert chip is not None
    factor = load_chip_power().workload_factor
    assert 0.5 < factor < 2.0  # a network draws about what the datasheet's CoreMark does, not 10x
    plan = plan_internal(load_model(str(model_path("kws_dscnn_int8"))), board, PlanOptions("x-cube-ai"))
    energy = simulate(plan).energy
    assert energy.scope == "chip" and plan.clock_mhz == board.power.run_clock_mhz
    assert energy.run_power_mw == pytest.approx(chip.run_mw(160, factor))
    # The factor was fitted on whole-chip energies: on-chip flash traffic is not added a second time.
    assert energy.movement_mj == {} and energy.total_mj == pytest.approx(energy.core_mj)
    # At another clock the model's own clock dependence holds (no static current stated: linear).
    slow = plan_internal(load_model(str(model_path("kws_dscnn_int8"))), board, PlanOptions("x-cube-ai", 80))
    assert simulate(slow).energy.run_power_mw == pytest.approx(chip.run_mw(80, factor))
    assert chip.run_mw(80, factor) == pytest.approx(chip.run_mw(160, factor) / 2)


# --------------------------------------------------------------------------- leave-one-board-out


def test_lobo_energy_never_uses_the_held_out_boards_rows() -> None:
    cal = calibrate()
    boards = ("nucleo-l4r5zi", "nucleo-u575zi-q", "nucleo-h7a3zi-q")
    rows = [cal.ChipPowerRow(b, f"model{i}", load_board(b).power.run_clock_mhz, mw, 0.0)
            for b, base in zip(boards, (45.0, 25.0, 150.0)) for i, mw in enumerate((base, base * 1.05))]
    rows = [dataclasses.replace(r, datasheet_mw=load_board(r.board).power.chip_datasheet.run_mw(r.clock_mhz))
            for r in rows]
    held = "nucleo-u575zi-q"
    # Triple the held-out board's measured energies: its own prediction must not move...
    perturbed = [dataclasses.replace(r, implied_mw=r.implied_mw * 3) if r.board == held else r for r in rows]
    assert cal.fit_workload_factor(perturbed, without_board=held) == cal.fit_workload_factor(rows, without_board=held)
    # ...while every other board's prediction, which may use them, does.
    for other in boards:
        if other != held:
            assert cal.fit_workload_factor(perturbed, without_board=other) != pytest.approx(
                cal.fit_workload_factor(rows, without_board=other))

    # The same through one row's energy check: latency from given scales, power without its board.
    prow = cal.PubRow("x-cube-ai", "7.3", "mlperf:kws", held, 160.0, False, 44.0, 1100.0, "kws", "test")
    comp = cal.Components(prow, mac_cycles=5.0e6, overhead_cycles=2.0e6)
    a = cal.energy_check(comp, (1.0, 1.0), rows)
    b = cal.energy_check(comp, (1.0, 1.0), perturbed)
    assert a is not None and b is not None and a.predicted_mw == b.predicted_mw
    assert a.predicted_ms == pytest.approx(7.0e6 / 160e3)
    assert a.energy_ape == pytest.approx(abs(a.predicted_mw * a.predicted_ms - 1100.0) / 1100.0 * 100)


@pytest.mark.skipif(not PUBLISHED.is_file(), reason=f"needs {PUBLISHED}")
def test_chip_power_file_is_what_calibrate_fits_from_the_measurements() -> None:
    cal = calibrate()
    import csv

    with PUBLISHED.open(newline="", encoding="utf-8") as f:
        rows = cal.chip_power_rows(list(csv.DictReader(f)))
    assert {r.board for r in rows} == {"nucleo-l4r5zi", "nucleo-u575zi-q", "nucleo-h7a3zi-q"}
    fit = load_chip_power()
    assert fit.workload_factor == pytest.approx(cal.fit_workload_factor(rows), rel=1e-5)
    for board, factor in fit.leave_one_board_out.items():
        assert factor == pytest.approx(cal.fit_workload_factor(rows, without_board=board), rel=1e-5)
    assert "MLPerf Tiny" in fit.source
