"""`tinyops plan` and the internal strategy: JSON contract, feasibility, CLI behaviour."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import model_path
from tinyops.cli import main
from tinyops.backends.reports.plan import report
from tinyops.hw.board import load_board
from tinyops.planning.internal import plan_internal
from tinyops.sim.simulator import simulate
from tinyops.sim.synthetic import single_conv

PERSON = str(model_path("person_detect"))


def test_json_contract(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", PERSON, "--board", "nucleo-f746zg", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    types = {"board": str, "strategy": str, "kernels": str, "clock_mhz": (int, float), "feasible": bool,
             "latency_ms": float, "energy_mj": float, "compute_bound_ms": float, "sram_bytes": int,
             "flash_bytes": int, "layers": list}
    for key, kind in types.items():
        assert isinstance(data[key], kind), key
    assert data["reason"] is None and data["feasible"]
    assert data["kernels"] == "cmsis-nn" and data["clock_mhz"] == 216
    layer = data["layers"][0]
    assert {"index", "type", "macs", "cycles", "latency_ms", "bytes_read", "bytes_written"} <= set(layer)
    assert layer["bytes_read"]["flash"] > 0  # weights in internal flash
    assert data["compute_bound_ms"] <= data["latency_ms"]
    assert sum(x["latency_ms"] for x in data["layers"]) == pytest.approx(data["latency_ms"])
    # Calibration row (MicroNets Table 4: 107.987 ms on the F746ZG): within 15 %.
    assert data["latency_ms"] == pytest.approx(107.987, rel=0.15)
    assert "nucleo-f746zg" in data["assumptions"]["summary"] and "cmsis-nn" in data["assumptions"]["summary"]


def test_a_model_that_does_not_fit_is_infeasible_with_a_reason_and_a_latency() -> None:
    graph = single_conv(64, 64, 160)  # 1.6 MB input + output activations
    plan = plan_internal(graph, load_board("nucleo-f446re"))
    data = report(plan, simulate(plan))
    assert data["feasible"] is False
    assert "SRAM" in data["reason"]
    assert data["latency_ms"] > 0


def test_reference_kernels_and_lower_clock(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", PERSON, "--board", "nucleo-f446re", "--json"]) == 0
    cmsis = json.loads(capsys.readouterr().out)
    assert main(["plan", PERSON, "--board", "nucleo-f446re", "--kernels", "tflm-reference",
                 "--clock-mhz", "90", "--json"]) == 0
    ref = json.loads(capsys.readouterr().out)
    assert ref["latency_ms"] > 4 * cmsis["latency_ms"]
    assert ref["clock_mhz"] == 90


def test_csv_timeline_and_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    csv_path, png_path = tmp_path / "layers.csv", tmp_path / "timeline.png"
    assert main(["plan", PERSON, "--board", "stm32f746g-disco", "--csv", str(csv_path),
                 "--timeline", str(png_path)]) == 0
    out = capsys.readouterr().out
    assert "stm32f746g-disco" in out and "cmsis-nn" in out and "216 MHz" in out
    rows = csv_path.read_text().splitlines()
    assert rows[0].startswith("index,type,macs,cycles,share_percent,latency_ms")
    assert len(rows) == 1 + 31
    assert png_path.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("argv,message", [
    (["--clock-mhz", "999"], "outside"),
    (["--board", "no-such-board"], "unknown board"),
])
def test_bad_input_is_one_line_exit_2(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", PERSON, *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_refuses_to_overwrite_the_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = tmp_path / "m.tflite"
    model.write_bytes(Path(PERSON).read_bytes())
    assert main(["plan", str(model), "--csv", str(model)]) == 2
    assert model.read_bytes() == Path(PERSON).read_bytes()
