"""Dead channels (issue 12 item 6): detected by `analyze`, removed bit-exactly on request."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from conftest import model_path
from helpers import random_inputs
from tinyops.analysis import analyze
from tinyops.backends.tflite_writer import to_tflite_bytes
from tinyops.frontends import load_model, load_model_bytes
from tinyops.oracles.probe import tflm_run
from tinyops.quant.dead_channels import drop_dead_channels
from tinyops.runtime.interpreter import Interpreter

VWW = model_path("vww_mobilenetv1_96_int8")


def test_analyze_counts_the_vww_models_dead_pointwise_channels() -> None:
    totals = analyze(load_model(VWW)).totals
    assert totals.macs == 7_489_664
    assert totals.dead_channels == 971  # 4 to 234 in each of the last nine pointwise convs
    assert totals.live_macs == 4_358_528


def test_removal_keeps_the_outputs_bit_identical_on_the_runtime_and_on_tflm() -> None:
    graph = load_model(VWW)
    smaller, report = drop_dead_channels(graph)
    assert report.dead_channels == 971
    # 584 of them output real 0 (negative bias, ReLU): those and the depthwise channels they feed go.
    assert report.removed_channels == 2 * 584
    assert (report.macs_before, report.macs_after) == (7_489_664, 4_290_776)
    # The last pointwise conv's 234 feed AVERAGE_POOL_2D, which this removal does not follow.
    assert report.ops[-1].dead_channels == 234 and report.ops[-1].removed_channels == 0
    written = load_model_bytes(to_tflite_bytes(smaller))
    batches = random_inputs(graph, 4, seed=12)
    original, reduced = Interpreter(graph), Interpreter(written)
    for batch in batches:
        for a, b in zip(original.run(batch), reduced.run(batch)):
            np.testing.assert_array_equal(a, b)
    reference = tflm_run(to_tflite_bytes(graph), batches[:2]).outputs
    candidate = tflm_run(to_tflite_bytes(smaller), batches[:2]).outputs
    for a, b in zip(reference, candidate):
        for x, y in zip(a, b):
            np.testing.assert_array_equal(x, y)


def test_a_model_without_dead_channels_is_left_as_it_is() -> None:
    graph = load_model(model_path("kws_dscnn_int8"))
    smaller, report = drop_dead_channels(graph)
    assert report.dead_channels == 0 and report.removed_channels == 0
    assert report.macs_after == report.macs_before == analyze(graph).totals.live_macs


def test_mcunets_dead_channels_go_bit_exactly_too() -> None:
    graph = load_model(model_path("mcunet_vww"))  # TinyEngine's MCUNet-VWW: 171 all-zero filters
    smaller, report = drop_dead_channels(graph)
    assert report.dead_channels == 171 and report.removed_channels > 0
    assert report.macs_after < report.macs_before
    reduced = Interpreter(load_model_bytes(to_tflite_bytes(smaller)))
    original = Interpreter(graph)
    for batch in random_inputs(graph, 3, seed=5):
        for a, b in zip(original.run(batch), reduced.run(batch)):
            np.testing.assert_array_equal(a, b)


def test_cli_writes_the_smaller_model_and_reports_it(tmp_path: Path) -> None:
    out = tmp_path / "vww_live.tflite"
    done = subprocess.run([sys.executable, "-m", "tinyops.cli", "analyze", str(VWW), "--drop-dead-channels",
                           str(out), "--json"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    payload = json.loads(done.stdout)
    assert payload["totals"]["dead_channels"] == 971
    removal = payload["dead_channel_removal"]
    assert removal["macs_after"] == 4_290_776 and removal["output"] == str(out)
    assert out.stat().st_size < VWW.stat().st_size
    assert analyze(load_model(out)).totals.macs == 4_290_776
