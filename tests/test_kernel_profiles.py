"""Kernel-library profiles (data, versions, provenance, error bands) and the CLI's --kernels ID[@VERSION]."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from importlib import resources
from pathlib import Path

import pytest

from tinyops.errors import TinyOpsError
from tinyops.kernels.library import KERNEL_LIBRARIES, kernel_library, split_kernels_spec
from tinyops.kernels.profile import (COEFFICIENTS, MAC_COEFFICIENTS, load_core, load_params, load_profile,
                                     parse_profile, resolve)

REPO = Path(__file__).resolve().parents[1]
MODELS = REPO.parent / "shared" / "models"
VWW = MODELS / "mlcommons_tiny" / "vww_mobilenetv1_96_int8.tflite"


@pytest.mark.parametrize("library", KERNEL_LIBRARIES)
def test_every_library_has_one_profile_file_with_provenance_and_bands(library: str) -> None:
    profile = load_profile(library)
    assert profile.library == library and profile.versions
    for v in profile.versions:
        assert v.describes and v.source and v.status in ("fitted", "derived", "prior")
        assert v.latency_error_pct > 0 and v.band_note
        assert v.fit.rows >= 1 and v.fit.fit_mape_pct is not None
        assert v.cores or v.base  # own tables or a fitted scaling of another version


def test_bare_id_is_the_newest_version_and_versions_resolve() -> None:
    profile, newest = resolve("x-cube-ai")
    assert newest is profile.versions[0] and newest.version == "9.0"
    assert resolve("x-cube-ai@7.1")[1].version == "7.1"
    assert split_kernels_spec("cmsis-nn@2020") == ("cmsis-nn", "2020")
    assert kernel_library("cmsis-nn@2020").name == "cmsis-nn"
    with pytest.raises(TinyOpsError, match="no profile version"):
        resolve("x-cube-ai@1.0")
    with pytest.raises(TinyOpsError, match="unknown kernel library"):
        resolve("armnn")
    with pytest.raises(TinyOpsError, match="empty version"):
        split_kernels_spec("cmsis-nn@")


def test_scaled_version_is_its_base_times_the_fitted_scales() -> None:
    v = resolve("x-cube-ai@7.3")[1]
    base = load_params("M7", "cmsis-nn@2020")
    mine = load_params("M7", "x-cube-ai@7.3")
    for k in COEFFICIENTS:
        scale = v.mac_scale if k in MAC_COEFFICIENTS else v.overhead_scale
        assert mine.c(k) == pytest.approx(base.c(k) * scale)
    assert mine.latency_error_pct == v.latency_error_pct and mine.spec == "x-cube-ai@7.3"


def test_cmsis_nn_2022_leaves_cores_without_rows_at_2020() -> None:
    # The 2022 rows are M33 (EK-RA6M4) and M85 (EK-RA8D1): M4/M7 keep the seeds' fit and its band.
    assert load_params("M7", "cmsis-nn").coefficients == load_params("M7", "cmsis-nn@2020").coefficients
    assert load_params("M7", "cmsis-nn").latency_error_pct == resolve("cmsis-nn@2020")[1].latency_error_pct
    assert load_params("M33", "cmsis-nn").coefficients != load_params("M33", "cmsis-nn@2020").coefficients


def test_core_files_and_missing_core_is_a_clear_error() -> None:
    for core in ("M0+", "M4", "M7", "M33", "M85"):
        c = load_core(core)
        assert c.cycles_vs_m4 > 0 and c.cycles_vs_m4_source
    assert load_core("M0+").cycles_vs_m4 > 2  # no SIMD MACs on ARMv6-M
    assert load_core("M85").cycles_vs_m4 < load_core("M7").cycles_vs_m4 < 1
    with pytest.raises(TinyOpsError, match="no core parameters for Cortex-M55"):
        load_params("M55", "cmsis-nn")


def test_malformed_profile_is_a_one_line_error() -> None:
    text = resources.files("tinyops.kernels").joinpath("profiles", "x-cube-ai.toml").read_text(encoding="utf-8")
    data = tomllib.loads(text)
    del data["version"][0]["latency_error_pct"]
    with pytest.raises(TinyOpsError, match="kernel profile bad.toml: missing or bad field"):
        parse_profile(data, "bad.toml")


def _tinyops(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tinyops.cli", *args], capture_output=True, text=True, timeout=300,
                          cwd=REPO)


@pytest.mark.skipif(not VWW.is_file(), reason=f"needs {MODELS}")
def test_plan_prints_and_emits_the_error_band() -> None:
    out = _tinyops("plan", str(VWW), "--board", "nucleo-l4r5zi", "--kernels", "x-cube-ai@7.3", "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    band = resolve("x-cube-ai@7.3")[1]
    assert data["latency_error_pct"] == band.latency_error_pct and data["energy_error_pct"] == band.energy_error_pct
    assert data["error_band"]["profile"] == "x-cube-ai@7.3" and data["error_band"]["rows"]
    # MLPerf Tiny v1.0, X-CUBE-AI 7.3 on NUCLEO-L4R5ZI: 230.468 ms (measurements/published.csv).
    assert abs(data["latency_ms"] - 230.468) / 230.468 * 100 < 2 * band.latency_error_pct
    text = _tinyops("plan", str(VWW), "--board", "nucleo-l4r5zi", "--kernels", "x-cube-ai@7.3")
    assert f"±{band.latency_error_pct:.0f}%" in text.stdout and "error band: x-cube-ai@7.3" in text.stdout


def test_unknown_version_on_the_cli_is_one_line_exit_2() -> None:
    out = _tinyops("plan", str(VWW), "--board", "nucleo-l4r5zi", "--kernels", "cmsis-nn@1999")
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "no profile version '1999'" in out.stderr


@pytest.mark.slow
@pytest.mark.skipif(not VWW.is_file(), reason=f"needs {MODELS}")
def test_calibrate_prints_cross_validated_errors_that_match_the_profiles() -> None:
    out = subprocess.run([sys.executable, str(REPO / "benchmarks" / "calibrate.py"), "--dry-run"],
                         capture_output=True, text=True, timeout=600, cwd=REPO)
    assert out.returncode == 0, out.stderr
    lines: dict[str, list[str]] = {}  # the first table: one row per profile (the per-board rows follow)
    for line in out.stdout.splitlines():
        if line[:1].strip() and "@" in line.split()[0] and len(line.split()) >= 9:
            lines.setdefault(line.split()[0], line.split())
    for spec in ("x-cube-ai@7.1", "x-cube-ai@7.3", "x-cube-ai@9.0", "cmsis-nn@2022"):
        row = lines[spec]
        lobo = float(row[6])
        assert lobo == pytest.approx(resolve(spec)[1].latency_error_pct, abs=0.05), spec
    for spec in ("x-cube-ai@7.1", "x-cube-ai@7.3", "x-cube-ai@9.0"):
        assert float(lines[spec][8]) == pytest.approx(resolve(spec)[1].energy_error_pct, abs=0.05), spec
    # The target for profiles with >= 10 rows: leave-one-board-out latency MAPE <= 15 %.
    assert float(lines["x-cube-ai@7.3"][6]) <= 15 and float(lines["x-cube-ai@7.1"][6]) <= 15
    assert "What limits the energy band" in out.stdout and "Chip power during inference" in out.stdout
    assert "Worst leave-one-board-out rows" in out.stdout


@pytest.mark.skipif(not VWW.is_file(), reason=f"needs {MODELS}")
def test_measurement_boards_plan_in_core_order() -> None:
    """The same model on the M0+, M33 and M85 boards: slowest on the M0+, fastest on the M85 at 480 MHz."""
    from tinyops.deploy import evaluate
    from tinyops.frontends import load_model
    from tinyops.hw.board import load_board
    from tinyops.planning.common import PlanOptions

    graph = load_model(str(VWW))
    ms = {b: evaluate(graph, load_board(b), "internal", PlanOptions("cmsis-nn")).sim.latency_ms
          for b in ("nucleo-g0b1re", "ek-ra6m4", "ek-ra8d1")}
    assert ms["nucleo-g0b1re"] > ms["ek-ra6m4"] > ms["ek-ra8d1"] > 0
    # The H743 boards plan at the 400 MHz the papers used unless told otherwise; 480 MHz is allowed.
    h743 = load_board("nucleo-h743zi")
    assert evaluate(graph, h743, "internal", PlanOptions("cmsis-nn")).plan.clock_mhz == 400
    assert evaluate(graph, h743, "internal", PlanOptions("cmsis-nn", 480)).plan.clock_mhz == 480


def test_explore_resume_reads_a_csv_from_before_the_bands(tmp_path: Path) -> None:
    from tinyops.search.explore import COLUMNS, csv_text, read_rows

    row = {c: "" for c in COLUMNS}
    row.update({"family": "mobilenetv2", "width": "0.35", "resolution": "96", "board": "nucleo-u575zi-q",
                "strategy": "internal", "latency_ms": "249.5", "latency_error_pct": "6.6"})
    old_columns = [c for c in COLUMNS if c not in ("latency_error_pct", "energy_error_pct")]
    old = tmp_path / "old.csv"
    lines = csv_text([row]).splitlines()
    header = lines[0].split(",")
    keep = [header.index(c) for c in old_columns]
    old.write_text("\n".join(",".join(line.split(",")[i] for i in keep) for line in lines) + "\n", encoding="utf-8")
    rows = read_rows(old)
    assert rows[0]["latency_ms"] == "249.5" and rows[0]["latency_error_pct"] == ""
