"""Alternative formats: Q-format, code-book (k-means + Huffman), int4; container; cost figures."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from conftest import model_path
from tinyops.backends.tflite_writer import to_tflite_bytes
from tinyops.cli import main
from tinyops.errors import ModelFormatError
from tinyops.frontends.loader import load_model, load_model_bytes
from tinyops.ir import DType
from tinyops.oracles import litert_run, tflm_run
from tinyops.quant import huffman, synthetic
from tinyops.quant.codebook import kmeans_int8
from tinyops.quant.container import read_container
from tinyops.quant.evaluate import agreement
from tinyops.quant.int4 import pack_int4, unpack_int4
from tinyops.quant.qformat import fraction_bits, qformat_table
from tinyops.quant.schemes import quantize_scheme
from tinyops.runtime.formats import run_formats


def test_huffman_round_trip_and_optimal_lengths() -> None:
    symbols = np.random.default_rng(0).choice(4, size=1000, p=[0.5, 0.25, 0.125, 0.125])
    code = huffman.canonical_code(huffman.code_lengths(np.bincount(symbols, minlength=4)))
    assert list(code.lengths) == [1, 2, 3, 3]
    payload, bits = huffman.encode(symbols, code)
    assert bits == int(np.sum(code.lengths[symbols])) and len(payload) == (bits + 7) // 8
    np.testing.assert_array_equal(huffman.decode(payload, symbols.size, code), symbols)


def test_int4_packing_and_kmeans() -> None:
    values = np.array([-8, 7, 0, -1, 3], np.int8)
    assert pack_int4(values) == bytes([0x78, 0xF0, 0x03])
    np.testing.assert_array_equal(unpack_int4(pack_int4(values), 5), values)
    centroids, indices = kmeans_int8(np.array([-100, -98, 0, 1, 2, 90, 91], np.int8), 3)
    assert list(centroids) == [-99, 1, 90] or list(centroids) == [-99, 1, 91]
    assert list(indices) == [0, 0, 1, 1, 1, 2, 2]


def test_corrupt_container_is_one_line_error() -> None:
    with pytest.raises(ModelFormatError, match="corrupt tinyops container"):
        read_container(b"TINYOPS\0" + (1).to_bytes(4, "little") + (5).to_bytes(4, "little") + b"{bad}")


@pytest.fixture(scope="module")
def kws_schemes() -> dict[str, object]:
    graph = load_model(model_path("kws_dscnn_float32"))
    calibration = [[x] for x in synthetic.kws_mfccs(48, seed=1)]
    return {s: quantize_scheme(graph, calibration, s) for s in ("int8", "qformat", "codebook", "int4")}


@pytest.mark.slow
def test_format_sizes_accuracy_and_oracles(kws_schemes: dict) -> None:  # type: ignore[type-arg]
    graph = load_model(model_path("kws_dscnn_float32"))
    evaluation = [[x] for x in synthetic.kws_mfccs(100, seed=2)]
    reference = litert_run(to_tflite_bytes(graph), evaluation).outputs[0]
    figures = {}
    for scheme, result in kws_schemes.items():
        runnable = load_model_bytes(result.payload, f"kws.{'tinyops' if result.container else 'tflite'}")
        payload = to_tflite_bytes(runnable)
        out = litert_run(payload, evaluation).outputs[0]
        figures[scheme] = (agreement(reference, out), result.costs)
        few = evaluation[:4]
        tflm_out = tflm_run(payload, few).outputs[0]
        for engine, expected in (("litert", out[:4]), ("tflm", tflm_out)):
            produced = np.stack([run_formats(runnable, s, engine)[0] for s in few]).reshape(expected.shape)
            np.testing.assert_array_equal(produced, expected)
        print(scheme, figures[scheme][0].as_dict(), {k: result.costs[k] for k in
              ("weight_bytes_stored", "weight_bytes_decompressed", "huffman_bits_decoded", "table_lookups")})
    int8_bytes = figures["int8"][1]["weight_bytes_stored"]
    assert figures["int4"][1]["weight_bytes_stored"] == int8_bytes // 2
    assert figures["codebook"][1]["weight_bytes_stored"] < 0.75 * int8_bytes
    assert figures["codebook"][1]["huffman_bits_decoded"] > 0 and figures["codebook"][1]["table_lookups"] == 2 * int8_bytes
    assert figures["qformat"][1]["requant_multiplies"] == 0
    # Accuracy impact: int8 best; each cheaper format costs SQNR but stays usable on this model.
    assert figures["int8"][0].sqnr_db > max(figures[s][0].sqnr_db for s in ("qformat", "codebook", "int4"))
    assert min(figures[s][0].top1_agreement for s in figures) >= 0.8


def test_qformat_scales_are_powers_of_two(kws_schemes: dict) -> None:  # type: ignore[type-arg]
    graph = kws_schemes["qformat"].graph
    table = qformat_table(graph)
    assert table and all(name.startswith("Q") for name in table.values())
    for tensor in graph.main.tensors:
        if tensor.quantization is not None and tensor.dtype in (DType.INT8, DType.INT32):
            for scale in tensor.quantization.scale:
                fraction_bits(float(scale))  # raises if not a power of two


def test_int4_is_tflite_with_packed_weights(kws_schemes: dict) -> None:  # type: ignore[type-arg]
    result = kws_schemes["int4"]
    assert not result.container and result.payload[4:8] == b"TFL3"
    weights = [op.inputs[1] for op in load_model_bytes(result.payload).main.ops if op.kind == "CONV_2D"]
    assert weights and all(w.dtype is DType.INT4 for w in weights)
    assert len(result.payload) < len(kws_schemes["int8"].payload) - 10_000


def test_cli_codebook_writes_a_container(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import io

    buffer = io.BytesIO()
    np.savez(buffer, x=synthetic.sine_inputs(16))
    calibration = tmp_path / "cal.npz"
    calibration.write_bytes(buffer.getvalue())
    model = str(model_path("hello_world_float"))
    assert main(["quantize", model, "--calibration", str(calibration), "-o", str(tmp_path / "a.tflite"),
                 "--scheme", "codebook"]) == 2
    assert ".tinyops" in capsys.readouterr().err
    output = tmp_path / "a.tinyops"
    assert main(["quantize", model, "--calibration", str(calibration), "-o", str(output), "--scheme", "codebook",
                 "--clusters", "8", "--json"]) == 0
    container = read_container(output.read_bytes())
    assert container.scheme == "codebook" and all(e.centroids.size <= 8 for e in container.encoded.values())
    assert load_model(output).main.ops[0].kind == "QUANTIZE"
