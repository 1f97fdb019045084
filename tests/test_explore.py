"""tinyops explore: sweep rows, resume, accuracy model, Pareto fronts, CLI contract."""

from __future__ import annotations

import csv
import json
from dataclasses import replace
import importlib.util
from pathlib import Path

import pytest

from tinyops.cli import main
from tinyops.errors import TinyOpsError
from tinyops.search.accuracy_model import fit_accuracy_model
from tinyops.search.explore import REQUIRED_COLUMNS, Sweep, explore, read_rows, strategy_names
from tinyops.search.pareto import CurvePoint, board_finding, diminishing_returns, pareto_front

F746 = "stm32f746g-disco@paper"
SMALL = Sweep(families=("mobilenetv3-large-no-se",), widths=(0.35,), resolutions=((96, 96),),
              boards=(F746, "nucleo-f446re"), strategies=strategy_names())


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def test_pareto_front_keeps_non_dominated_points() -> None:
    points = [(1.0, 50.0), (2.0, 49.0), (2.0, 60.0), (3.0, 60.0), (4.0, 70.0)]
    assert pareto_front(points, lambda p: p[0], lambda p: p[1]) == [(1.0, 50.0), (2.0, 60.0), (4.0, 70.0)]


def test_diminishing_returns_is_the_last_point_of_a_width_on_the_front() -> None:
    # Width 0.3 keeps gaining with resolution but w0.5 at fewer MACs beats its r176 (TinyOpsV2 §2).
    curves = {0.3: [CurvePoint(0.3, "112", 10, 45.0, "estimated"), CurvePoint(0.3, "144", 17, 50.0, "estimated"),
                    CurvePoint(0.3, "176", 30, 53.7, "published")],
              0.5: [CurvePoint(0.5, "112", 25, 55.0, "estimated"), CurvePoint(0.5, "160", 50, 60.0, "estimated")]}
    knees = diminishing_returns(curves)
    assert knees[0.3] is not None and knees[0.3].resolution == "144"
    assert knees[0.5] is not None and knees[0.5].resolution == "160"


def test_accuracy_model_fits_published_rows_and_marks_estimates() -> None:
    model = fit_accuracy_model()
    assert model.rms_pp < 1.0 and model.loo_rms_pp < 2.0
    published = model.estimate("mnasnet-b1", 1.0, (144, 144))
    assert published is not None and published.source == "published" and published.value == 69.55
    estimate = model.estimate("mnasnet-b1", 1.0, (160, 160))
    assert estimate is not None and estimate.source == "estimated"
    assert 69.55 < estimate.value < 72.02  # between the published r144 and r192 rows
    far = model.estimate("mobilenetv2", 2.0, (320, 320))
    assert far is not None and "EXTRAPOLATED" in far.note
    assert model.estimate("dscnn-s", 1.0, (49, 10)) is None  # not an ImageNet family


def test_sweep_rows_resume_and_no_overwrite(tmp_path: Path) -> None:
    out = tmp_path / "r.csv"
    result = explore(SMALL, out, workers=1)
    rows = _rows(out)
    assert list(rows[0])[: len(REQUIRED_COLUMNS)] == list(REQUIRED_COLUMNS)
    assert len(rows) == result.new_rows == 2 * len(strategy_names())
    for row in rows:
        assert row["accuracy_source"] in ("published", "estimated")
        assert (row["latency_ms"] != "") == (row["feasible"] == "true")  # no latency for what does not fit
        assert "board " in row["assumptions"]
    f446 = [r for r in rows if r["board"] == "nucleo-f446re" and r["strategy"] != "internal"]
    assert f446 and all(r["reason"].startswith("not applicable") for r in f446)
    external = [r for r in rows if r["board"] == F746 and r["strategy"] != "internal"]
    assert all(r["feasible"] == "true" and float(r["latency_ms"]) > 0 for r in external)

    with pytest.raises(TinyOpsError, match="--resume"):
        explore(SMALL, out, workers=1)
    again = explore(SMALL, out, resume=True, workers=1)
    assert again.new_rows == 0 and again.reused_rows == len(rows)
    wider = replace(SMALL, widths=(0.35, 0.5), boards=(F746,))
    grown = explore(wider, out, resume=True, workers=2)
    assert grown.new_rows == len(strategy_names())  # only w0.5 on the F746 was missing
    assert len(read_rows(out)) == len(rows) + grown.new_rows


def test_cli_json_plots_and_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out, plots = tmp_path / "e.csv", tmp_path / "plots"
    code = main(["explore", "--family", "mobilenetv3-large-no-se", "--widths", "0.35,0.5", "--resolutions", "96",
                 "--boards", F746, "--strategies", "internal,overlay-v2,auto", "--workers", "1",
                 "--output", str(out), "--plot", str(plots), "--json"])
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["new_rows"] == 6 and summary["accuracy_model"]["rows"] >= 20
    board = summary["boards"][F746]
    assert set(board["strategies"]) == {"internal", "overlay-v2", "auto"}
    assert board["latency"]["front"]
    assert {Path(p).name for p in summary["plots"]} == {
        "accuracy_vs_macs.png", "mac_share.png", "pareto_stm32f746g-disco_paper.png"}
    rows = read_rows(out)
    auto = next(r for r in rows if r["strategy"] == "auto")
    assert "auto (latency" in auto["assumptions"] and "chose" in auto["assumptions"]
    finding = board_finding(rows, F746)
    assert finding.best_accuracy is not None

    for argv, message in ((["--family", "nope"], "unknown"), (["--family", "mnasnet-b1", "--widths", "9"], "width"),
                          (["--family", "mnasnet-b1", "--strategies", "warp"], "unknown strategy"),
                          (["--family", "mnasnet-b1", "--boards", "no-such-board"], "unknown board")):
        assert main(["explore", *argv, "--output", str(tmp_path / "x.csv")]) == 2
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "x.csv").exists()


# CI does not install the ray extra, so this always runs there; it checks the message users get.
@pytest.mark.skipif(importlib.util.find_spec("ray") is not None, reason="ray is installed: no missing-extra error")
def test_ray_is_an_optional_extra(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["explore", "--family", "mnasnet-b1", "--widths", "0.35", "--resolutions", "96", "--boards",
                 "nucleo-f446re", "--cluster", "ray", "--output", str(tmp_path / "r.csv")])
    assert code == 2 and "pip install 'tinyops[ray]'" in capsys.readouterr().err
