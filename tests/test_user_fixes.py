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


def _vww_formats() -> dict[str, object]:
    from tinyops.commands.common import default_model_path
    from tinyops.frontends import load_model
    from tinyops.frontends.loader import load_model_bytes
    from tinyops.quant.codebook import apply_codebook
    from tinyops.quant.container import container_bytes
    from tinyops.quant.int4 import to_int4_weights

    import numpy as np

    from tinyops.quant.codebook import weight_tensors

    int8 = load_model(default_model_path())
    decoded, encoded = apply_codebook(load_model(default_model_path()), 16)
    codebook = load_model_bytes(container_bytes(decoded, encoded, "codebook"), "vww.tinyops")
    narrow = load_model(default_model_path())  # int4 range: the numbers do not matter for the cost
    for _, tensor in weight_tensors(narrow):
        tensor.data = np.clip(np.asarray(tensor.data), -8, 7)
    return {"int8": int8, "int4": to_int4_weights(narrow), "codebook": codebook}


def test_int4_and_codebook_models_pay_their_decode_work_in_latency_and_sram() -> None:
    from tinyops.analysis import analyze
    from tinyops.ops.weight_formats import op_decode_work
    from tinyops.hw.board import load_board
    from tinyops.cost.cost_model import HUFFMAN_BIT_CYCLES, NIBBLE_UNPACK_CYCLES, TABLE_LOOKUP_CYCLES
    from tinyops.planning.internal import plan_internal
    from tinyops.sim.simulator import simulate

    board = load_board("stm32f746g-disco")
    graphs = _vww_formats()
    plans = {name: plan_internal(g, board) for name, g in graphs.items()}  # type: ignore[arg-type]
    latency = {name: simulate(plan).latency_ms for name, plan in plans.items()}
    compute = {name: sum(s.compute_cycles for s in plan.steps) for name, plan in plans.items()}
    totals = {name: analyze(g, board).totals for name, g in graphs.items()}  # type: ignore[arg-type]
    weights = [op.inputs[1] for op in graphs["int8"].main.ops  # type: ignore[attr-defined]
               if op.kind in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")]
    count = sum(w.num_elements for w in weights)
    clock_khz = board.max_clock_mhz * 1e3
    # int4: TFLM unpacks every weight once per inference (into the scratch the planner counts); half
    # the flash traffic pays some of it back.
    assert totals["int4"].weight_format == "int4"
    assert compute["int4"] - compute["int8"] == pytest.approx(count * NIBBLE_UNPACK_CYCLES)
    assert latency["int4"] > latency["int8"]
    # Code-book: every bitstream bit and two table reads per weight, plus a decode buffer in SRAM.
    work = [op_decode_work(op) for op in graphs["codebook"].main.ops]  # type: ignore[attr-defined]
    bits = sum(w.huffman_bits for w in work)
    assert totals["codebook"].weight_format == "codebook" and 0 < bits < 8 * count
    expected_cycles = bits * HUFFMAN_BIT_CYCLES + 2 * count * TABLE_LOOKUP_CYCLES
    assert compute["codebook"] - compute["int8"] == pytest.approx(expected_cycles)
    assert latency["codebook"] - latency["int8"] == pytest.approx(expected_cycles / clock_khz, rel=1e-6)
    largest = max(w.num_elements for w in weights)
    assert totals["codebook"].weight_decode_sram_bytes == largest
    assert totals["codebook"].sram_bytes == totals["int8"].sram_bytes + largest
    assert totals["int8"].weight_format == "int8" and totals["int8"].weight_decode_sram_bytes == 0


def test_quantize_reports_sqnr_against_float_and_accuracy_given_labels(tmp_path: Path) -> None:
    import numpy as np

    from conftest import model_path
    from tinyops.frontends import load_model
    from tinyops.quant import synthetic
    from tinyops.runtime.formats import run_formats

    model = model_path("kws_dscnn_float32")
    calibration = synthetic.kws_mfccs(24, seed=1)
    held_out = synthetic.kws_mfccs(12, seed=2)
    np.savez(tmp_path / "cal.npz", x=calibration)
    np.savez(tmp_path / "eval.npz", x=held_out)
    graph = load_model(model)
    # Labels: the float model's own answers, so its accuracy is 100% by construction.
    labels = np.array([int(np.argmax(run_formats(graph, [x.reshape(graph.main.inputs[0].shape)])[0]))
                       for x in held_out])
    (tmp_path / "labels.txt").write_text("\n".join(str(v) for v in labels))
    done = tinyops("quantize", str(model), "--calibration", str(tmp_path / "cal.npz"), "--output",
                   str(tmp_path / "q.tflite"), "--eval", str(tmp_path / "eval.npz"), "--labels",
                   str(tmp_path / "labels.txt"), "--json")
    assert done.returncode == 0, done.stderr
    error = json.loads(done.stdout)["error_vs_float"]
    assert error["samples"] == 12 and "eval.npz" in error["source"]
    assert 10 < error["sqnr_db"] < 80 and error["float_accuracy"] == 1.0
    assert error["quantized_accuracy"] == error["top1_agreement"]
    table = tinyops("quantize", str(model), "--calibration", str(tmp_path / "cal.npz"), "--output",
                    str(tmp_path / "q2.tflite"))
    assert table.returncode == 0 and "SQNR vs float" in table.stdout and "calibration samples" in table.stdout
    bad = tinyops("quantize", str(model), "--calibration", str(tmp_path / "cal.npz"), "--output",
                  str(tmp_path / "q3.tflite"), "--eval", str(tmp_path / "eval.npz"), "--labels",
                  str(tmp_path / "cal.npz"))
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1 and not (tmp_path / "q3.tflite").exists()
