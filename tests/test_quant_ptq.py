"""PTQ: observers, parameter rules, BN folding, and the end-to-end comparison with the published
int8 models (LiteRT, TFLM and the tinyops runtime on the same seeded synthetic inputs)."""

from __future__ import annotations

import io
import wave
from pathlib import Path

import numpy as np
import pytest

from conftest import model_path
from tinyops.backends.tflite_writer import to_tflite_bytes
from tinyops.cli import main
from tinyops.frontends.loader import load_model, load_model_bytes
from tinyops.ir import DType, Graph, Op, Subgraph, Tensor
from tinyops.oracles import litert_run, tflm_run
from tinyops.quant import synthetic
from tinyops.tasks.features import mfcc
from tinyops.quant.calibration_data import load_calibration, write_wav
from tinyops.quant.evaluate import agreement, dequantize_output, quantize_inputs
from tinyops.quant.observers import RangeObserver
from tinyops.quant.prepare import prepare_float_graph
from tinyops.quant.ptq import PtqConfig, activation_params, quantize_graph, quantize_weights
from tinyops.runtime import Interpreter


def test_observers_contain_zero_and_percentile_clips_outliers() -> None:
    observer = RangeObserver()
    values = np.random.default_rng(0).uniform(0.5, 3.0, 100_000).astype(np.float32)
    values[0] = 100.0
    observer.observe(values)
    assert observer.value_range("minmax") == (0.0, 100.0)
    assert observer.value_range("percentile")[1] < 10.0
    assert observer.value_range("mse")[1] < 100.0


def test_activation_and_weight_parameters() -> None:
    scale, zero_point = activation_params(-1.0, 3.0, power_of_two=False)
    assert np.isclose(scale, 4.0 / 255) and zero_point == -128 + round(1.0 / scale)
    assert activation_params(-1.0, 3.0, power_of_two=True) == (2.0**-5, 0)
    weights = np.array([[1.0, -0.5], [0.01, 0.02]], np.float32)
    q, scales = quantize_weights(weights, 0, 8, False)
    assert q.dtype == np.int8 and np.abs(q).max() == 127 and np.allclose(scales, [1 / 127, 0.02 / 127])


def _conv_bn_relu_graph() -> Graph:
    rng = np.random.default_rng(1)
    x = Tensor("x", (1, 6, 6, 3), DType.FLOAT32)
    w = Tensor("w", (4, 3, 3, 3), DType.FLOAT32, data=rng.normal(0, 0.3, (4, 3, 3, 3)).astype(np.float32))
    b = Tensor("b", (4,), DType.FLOAT32, data=rng.normal(0, 0.1, 4).astype(np.float32))
    c = Tensor("c", (1, 6, 6, 4), DType.FLOAT32)
    s = Tensor("s", (4,), DType.FLOAT32, data=np.array([0.5, 2.0, -1.0, 1.5], np.float32))
    m = Tensor("m", (1, 6, 6, 4), DType.FLOAT32)
    t = Tensor("t", (4,), DType.FLOAT32, data=np.array([0.1, -0.2, 0.3, 0.0], np.float32))
    a = Tensor("a", (1, 6, 6, 4), DType.FLOAT32)
    y = Tensor("y", (1, 6, 6, 4), DType.FLOAT32)
    conv_attrs = {"padding": "SAME", "stride_h": 1, "stride_w": 1, "fused_activation_function": "NONE",
                  "dilation_h_factor": 1, "dilation_w_factor": 1}
    ops = [Op("CONV_2D", [x, w, b], [c], conv_attrs), Op("MUL", [c, s], [m], {"fused_activation_function": "NONE"}),
           Op("ADD", [m, t], [a], {"fused_activation_function": "NONE"}), Op("RELU", [a], [y])]
    subgraph = Subgraph("main", [x, w, b, c, s, m, t, a, y], ops, [x], [y])
    subgraph.link()
    return Graph([subgraph])


def test_batchnorm_folding_and_activation_fusion_keep_the_function() -> None:
    graph = _conv_bn_relu_graph()
    prepared = prepare_float_graph(graph)
    assert [op.kind for op in prepared.main.ops] == ["CONV_2D"]
    assert prepared.main.ops[0].attrs["fused_activation_function"] == "RELU"
    assert len(graph.main.ops) == 4  # the caller's graph is untouched
    batches = [[np.random.default_rng(i).normal(size=(1, 6, 6, 3)).astype(np.float32)] for i in range(3)]
    before = litert_run(to_tflite_bytes(graph), batches).outputs[0]
    after = litert_run(to_tflite_bytes(prepared), batches).outputs[0]
    np.testing.assert_allclose(before, after, atol=1e-5)


# (float model, published int8 model, synthetic input generator)
CASES = [("ic_resnet8_float32", "ic_resnet8_int8", synthetic.smooth_images),
         ("kws_dscnn_float32", "kws_dscnn_int8", synthetic.kws_mfccs),
         ("hello_world_float", "hello_world_int8", synthetic.sine_inputs)]


@pytest.mark.slow
@pytest.mark.parametrize("float_stem,int8_stem,generate", CASES, ids=[c[0] for c in CASES])
def test_ptq_matches_or_beats_the_published_int8_model(float_stem: str, int8_stem: str, generate) -> None:  # type: ignore[no-untyped-def]
    float_graph = load_model(model_path(float_stem))
    published_bytes = model_path(int8_stem).read_bytes()
    published = load_model_bytes(published_bytes, int8_stem)
    calibration = [[x] for x in generate(64, seed=1)]
    evaluation = [[x] for x in generate(100, seed=2)]
    ours, _ = quantize_graph(float_graph, calibration, PtqConfig(method="minmax"))
    ours_bytes = to_tflite_bytes(ours)
    reference = litert_run(to_tflite_bytes(float_graph), evaluation).outputs[0]
    ours_out = litert_run(ours_bytes, evaluation).outputs[0]
    published_out = dequantize_output(published, litert_run(published_bytes, quantize_inputs(published, evaluation)).outputs[0])
    mine, theirs = agreement(reference, ours_out), agreement(reference, published_out)
    print(f"{float_stem}: ours {mine.as_dict()} published {theirs.as_dict()}")
    assert mine.sqnr_db >= theirs.sqnr_db and mine.top1_agreement >= theirs.top1_agreement
    # Every weight/bias/activation is int8/int32 with the TFLite conventions.
    body = [op for op in ours.main.ops if op.kind not in ("QUANTIZE", "DEQUANTIZE")]
    assert all(t.dtype in (DType.INT8, DType.INT32) for op in body for t in op.inputs + op.outputs if t is not None)
    # TFLM runs it, and the tinyops runtime reproduces both interpreters bit for bit.
    few = evaluation[:6]
    tflm_out = tflm_run(ours_bytes, few).outputs[0]
    reloaded = load_model_bytes(ours_bytes, "ours.tflite")
    for engine, expected in (("litert", ours_out[:6]), ("tflm", tflm_out)):
        produced = np.stack([Interpreter(reloaded, engine=engine).run(sample)[0] for sample in few])
        np.testing.assert_array_equal(produced.reshape(expected.shape), expected)


@pytest.mark.slow
def test_int8_io_model_runs_in_both_interpreters() -> None:
    graph = load_model(model_path("kws_dscnn_float32"))
    quantized, _ = quantize_graph(graph, [[x] for x in synthetic.kws_mfccs(16, seed=1)], PtqConfig(int8_io=True))
    assert quantized.main.inputs[0].dtype is DType.INT8 and quantized.main.outputs[0].dtype is DType.INT8
    samples = quantize_inputs(quantized, [[x] for x in synthetic.kws_mfccs(4, seed=5)])
    payload = to_tflite_bytes(quantized)
    np.testing.assert_array_equal(litert_run(payload, samples).outputs[0], tflm_run(payload, samples).outputs[0])


def test_mfcc_front_end_matches_the_published_input_range() -> None:
    features = mfcc(synthetic.speech_like_audio(3))
    assert features.shape == (49, 10)
    published = load_model(model_path("kws_dscnn_int8")).main.inputs[0].quantization
    assert published is not None
    low = (-128 - int(published.zero_point[0])) * float(published.scale[0])
    high = (127 - int(published.zero_point[0])) * float(published.scale[0])
    assert low - 5 <= features.min() and features.max() <= high + 5


def test_calibration_from_image_and_wav_folders(tmp_path: Path) -> None:
    from PIL import Image

    images, wavs = tmp_path / "images", tmp_path / "wavs"
    images.mkdir()
    wavs.mkdir()
    for i in range(3):
        Image.fromarray(np.full((40, 50, 3), 60 * i, np.uint8)).save(images / f"{i}.png")
        write_wav(wavs / f"{i}.wav", synthetic.speech_like_audio(i))
    resnet = load_model(model_path("ic_resnet8_float32"))
    samples = load_calibration(images, resnet)
    assert len(samples) == 3 and samples[1][0].shape == (1, 32, 32, 3) and np.allclose(samples[1][0], 60.0)
    kws = load_model(model_path("kws_dscnn_float32"))
    audio = load_calibration(wavs, kws)
    np.testing.assert_allclose(audio[0][0].reshape(49, 10), mfcc(synthetic.speech_like_audio(0)), atol=0.05)


def _npz(path: Path, array: np.ndarray) -> Path:
    buffer = io.BytesIO()
    np.savez(buffer, input=array)
    path.write_bytes(buffer.getvalue())
    return path


def test_cli_quantize_writes_a_model_and_refuses_to_overwrite(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    calibration = _npz(tmp_path / "cal.npz", synthetic.sine_inputs(32))
    output = tmp_path / "q.tflite"
    model = str(model_path("hello_world_float"))
    assert main(["quantize", model, "--calibration", str(calibration), "-o", str(output), "--json"]) == 0
    assert '"scheme": "int8"' in capsys.readouterr().out
    assert load_model(output).main.ops[1].inputs[1].dtype is DType.INT8
    before = output.read_bytes()
    assert main(["quantize", model, "--calibration", str(calibration), "-o", str(output)]) == 2
    assert "already exists" in capsys.readouterr().err and output.read_bytes() == before
    wrong = _npz(tmp_path / "wrong.npz", np.zeros((4, 3, 3), np.float32))
    assert main(["quantize", model, "--calibration", str(wrong), "-o", str(tmp_path / "x.tflite")]) == 2
    error = capsys.readouterr().err
    assert "does not fit the model input" in error and len(error.strip().splitlines()) == 1
    assert main(["quantize", str(model_path("ic_resnet8_int8")), "--calibration", str(calibration),
                 "-o", str(tmp_path / "y.tflite")]) == 2
    assert "error" in capsys.readouterr().err


def test_wav_reader_rejects_wrong_sample_rate(tmp_path: Path) -> None:
    from tinyops.errors import TinyOpsError
    from tinyops.quant.calibration_data import read_wav

    path = tmp_path / "a.wav"
    with wave.open(str(path), "wb") as stream:
        stream.setnchannels(1)
        stream.setsampwidth(2)
        stream.setframerate(8000)
        stream.writeframes(b"\0\0" * 100)
    with pytest.raises(TinyOpsError, match="8000 Hz"):
        read_wav(path)
