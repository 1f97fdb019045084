"""`tinyops plan --strategy/--compare/--objective`: JSON additions, auto, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tinyops.cli import main
from tinyops.hw.board import load_board
from tinyops.deploy import evaluate, evaluate_all, select
from tinyops.planning.verify import verify


def test_json_additions(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "--board", "stm32f746g-disco@paper", "--strategy", "overlay-v2", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["strategy"] == "overlay-v2" and data["feasible"]
    assert set(data["external_bytes"]) == {"qspi", "sdram"} or "qspi" in data["external_bytes"]
    assert data["dma_bytes"] > 0 and data["overlay_buffer_bytes"] > 0
    layer = data["layers"][0]
    assert layer["partitions"] >= 1 and layer["placement"]
    assert any(t["engine"] != "cpu" for t in data["transfers"])
    assert "stm32f746g-disco" in data["assumptions"]["summary"] and "cmsis-nn" in data["assumptions"]["summary"]


def test_auto_reports_the_strategy_it_chose(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "--board", "stm32f746g-disco@paper", "--strategy", "auto", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["strategy"] in ("internal", "external-xip", "overlay-v1", "overlay-v2")
    assert "auto (latency" in data["assumptions"]["auto"]
    assert main(["plan", "--board", "stm32f746g-disco@paper", "--strategy", "auto", "--objective", "energy",
                 "--json"]) == 0
    energy = json.loads(capsys.readouterr().out)
    assert "auto (energy" in energy["assumptions"]["auto"]


def test_compare_side_by_side(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    png = tmp_path / "timeline.png"
    assert main(["plan", "--board", "stm32f469i-disco@paper", "--compare", "--json", "--timeline", str(png)]) == 0
    data = json.loads(capsys.readouterr().out)
    names = [s["strategy"] for s in data["strategies"]]
    assert names == ["internal", "external-xip", "overlay-v1", "overlay-v2"]
    for s in data["strategies"]:
        assert {"feasible", "latency_ms", "energy_mj", "sram_bytes", "flash_bytes", "external_bytes",
                "dma_bytes"} <= set(s)
    assert data["auto"] in names
    assert png.stat().st_size > 1000
    assert main(["plan", "--board", "stm32f469i-disco@paper", "--compare"]) == 0
    assert "overlay-v2" in capsys.readouterr().out


def test_external_strategy_without_external_memory(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "--board", "nucleo-f446re", "--strategy", "external-xip"]) == 2
    err = capsys.readouterr().err.strip()
    assert "needs external memory" in err and len(err.splitlines()) == 1


def test_too_big_even_for_external_memory() -> None:
    from tinyops.zoo import build_model

    graph = build_model("mnasnet-b1", width=1.0, resolution=64)  # 4.4 MB of weights
    board = load_board("stm32f746g-disco").limit_external({"qspi": 1 << 20, "sdram": 1 << 20})
    for strategy in ("external-xip", "overlay-v1", "overlay-v2"):
        plan = evaluate(graph, board, strategy).plan
        assert not plan.feasible and "too big even for external memory" in (plan.reason or "")
        if strategy == "external-xip":  # the verifier agrees: the image runs past the 1 MB flash
            assert any("outside" in issue for issue in verify(plan))
    best, _ = select(evaluate_all(graph, board))
    assert not best.plan.feasible and "no strategy is feasible" in (best.plan.reason or "")


def test_timeline_never_overwrites_the_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tinyops.commands.common import default_model_path

    model = default_model_path()
    before = model.read_bytes()
    assert main(["plan", str(model), "--board", "stm32f746g-disco@paper", "--compare", "--timeline", str(model)]) == 2
    assert model.read_bytes() == before
    assert "refusing to overwrite" in capsys.readouterr().err
