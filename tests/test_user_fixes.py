"""Issue 10, fix 7: defects a new user hit (zoo CLI, explore CSV, sub-int8 formats, ONNX, quantize)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest


def tinyops(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tinyops.cli", *args], capture_output=True, text=True)


@pytest.mark.parametrize("resolution,shape", [(None, "5x128"), ("640", "1x640"), ("5x128", "5x128")])
def test_zoo_build_fc_autoencoder_for_every_documented_resolution(tmp_path: Path, resolution: str | None,
                                                                   shape: str) -> None:
    out = tmp_path / "ae.tflite"
    done = tinyops("zoo", "build", "fc-autoencoder", *(["--resolution", resolution] if resolution else []),
                   "--output", str(out), "--json")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["resolution"] == shape and summary["macs"] == 264_192  # the MLPerf Tiny AD model's MACs
    assert out.stat().st_size > 0
    table = tinyops("zoo", "build", "fc-autoencoder", "--resolution", "640", "--output", str(tmp_path / "b.tflite"))
    assert table.returncode == 0, table.stderr


def test_zoo_build_fc_autoencoder_rejects_too_few_features_in_one_line(tmp_path: Path) -> None:
    done = tinyops("zoo", "build", "fc-autoencoder", "--resolution", "2x2", "--output", str(tmp_path / "x.tflite"))
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1
    assert "at least 8 input features" in done.stderr and not (tmp_path / "x.tflite").exists()


def test_explore_reports_the_internal_flash_external_strategies_still_need() -> None:
    from tinyops.backends.tflite_writer import to_tflite_bytes
    from tinyops.search.explore import ModelJob, evaluate_model
    from tinyops.zoo import build_model

    job = ModelJob("mobilenetv2", 0.35, (96, 96), ("stm32f746g-disco",),
                   (("internal", "external-xip", "overlay-v2"),), "cmsis-nn")
    rows = {row["strategy"]: row for row in evaluate_model(job)}
    serialized = len(to_tflite_bytes(build_model("mobilenetv2", 0.35, 96)))
    assert int(rows["internal"]["flash_bytes"]) == serialized
    for strategy in ("external-xip", "overlay-v2"):
        flash = int(rows[strategy]["flash_bytes"])
        external = dict(item.split(":") for item in rows[strategy]["external_bytes"].split(";"))
        # The graph, quantization parameters and non-MAC constants stay in internal flash (was: 8 B).
        assert flash == serialized - int(external["qspi"]) and flash > 100_000
