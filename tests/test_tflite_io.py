"""TFLite reader and writer: every shared model loads, and writing it back changes nothing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from helpers import random_inputs
from tinyops.backends.tflite_writer import to_tflite_bytes, write_tflite
from tinyops.frontends import load_model, load_model_bytes
from tinyops.ir import DType, Graph
from tinyops.oracles import OracleError, litert_run, tflm_run

# Models whose originals LiteRT cannot run: custom ops it has no kernels for (Signal*), the
# per-tensor scale with quantized_dimension 3 in person_detect (LiteRT's checker rejects it), and
# keyword_scrambled_8bit, on which LiteRT's SVDF kernel corrupts its own heap. The TFLM
# interpreter runs them, so it is the round-trip oracle for these.
TFLM_ORACLE = {"audio_preprocessor_int8", "person_detect", "keyword_scrambled_8bit"}
# An Ethos-U command stream: neither interpreter can run it on a CPU.
NO_CPU_ORACLE = {"person_detect_vela"}


def _assert_same_graph(a: Graph, b: Graph) -> None:
    assert len(a.subgraphs) == len(b.subgraphs)
    assert a.metadata.keys() == b.metadata.keys()
    for sa, sb in zip(a.subgraphs, b.subgraphs):
        assert len(sa.tensors) == len(sb.tensors)
        for ta, tb in zip(sa.tensors, sb.tensors):
            assert (ta.name, ta.shape, ta.dtype, ta.is_variable) == (tb.name, tb.shape, tb.dtype, tb.is_variable)
            assert (ta.data is None) == (tb.data is None)
            if ta.data is not None:
                assert np.array_equal(ta.data, tb.data)
            assert (ta.quantization is None) == (tb.quantization is None)
            if ta.quantization is not None:
                assert np.array_equal(ta.quantization.scale, tb.quantization.scale)
                assert np.array_equal(ta.quantization.zero_point, tb.quantization.zero_point)
                assert ta.quantization.axis == tb.quantization.axis
        assert [op.label for op in sa.ops] == [op.label for op in sb.ops]
        for oa, ob in zip(sa.ops, sb.ops):
            assert oa.attrs == ob.attrs
            assert oa.custom_options == ob.custom_options
            assert oa.version == ob.version
            assert [sa.tensor_index(t) if t else -1 for t in oa.inputs] == \
                   [sb.tensor_index(t) if t else -1 for t in ob.inputs]


def test_every_shared_model_loads_and_round_trips_structurally(shared_model: Path) -> None:
    graph = load_model(shared_model)
    assert graph.main.ops, "a model without ops"
    again = load_model_bytes(to_tflite_bytes(graph), "round-trip")
    _assert_same_graph(graph, again)


def test_round_trip_outputs_are_bit_identical(shared_model: Path) -> None:
    graph = load_model(shared_model)
    rewritten_bytes = to_tflite_bytes(graph)
    if shared_model.stem in NO_CPU_ORACLE:
        for run in (litert_run, tflm_run):
            with pytest.raises(OracleError):
                run(rewritten_bytes, [[]])
        return
    batches = random_inputs(graph, count=4, seed=7)
    # The file is under test here, not the kernels: LiteRT's default kernels are enough.
    if shared_model.stem in TFLM_ORACLE:
        original = tflm_run(shared_model.read_bytes(), batches)
        rewritten = tflm_run(rewritten_bytes, batches)
    else:
        original = litert_run(shared_model.read_bytes(), batches, reference_kernels=False)
        rewritten = litert_run(rewritten_bytes, batches, reference_kernels=False)
    assert len(original.outputs) == len(rewritten.outputs) > 0
    for expected, actual in zip(original.outputs, rewritten.outputs):
        assert expected.dtype == actual.dtype
        assert np.array_equal(expected, actual, equal_nan=True)


def test_constant_buffers_are_16_byte_aligned() -> None:
    graph = load_model(Path(__file__).parent.parent / "src/tinyops/data/vww_mobilenetv1_96_int8.tflite")
    payload = to_tflite_bytes(graph)
    from tinyops.frontends.tflite_schema import schema

    model = schema.Model.GetRootAsModel(payload, 0)
    for index in range(1, model.BuffersLength()):
        buffer = model.Buffers(index)
        if buffer.DataLength():
            start = buffer._tab.Vector(buffer._tab.Offset(4))
            assert start % 16 == 0


def test_ir_exposes_quantization_attributes_and_links() -> None:
    graph = load_model(Path(__file__).parent.parent / "src/tinyops/data/vww_mobilenetv1_96_int8.tflite")
    conv = graph.main.ops[0]
    assert conv.kind == "CONV_2D"
    assert conv.attrs["padding"] in ("SAME", "VALID")
    assert conv.attrs["fused_activation_function"] in ("NONE", "RELU", "RELU6")
    weights = conv.inputs[1]
    assert weights is not None and weights.is_constant and weights.dtype is DType.INT8
    assert weights.quantization is not None and weights.quantization.per_channel
    assert weights.quantization.num_channels == weights.shape[0]
    output = conv.outputs[0]
    assert output.producer is conv and output.consumers == [graph.main.ops[1]]


def test_int4_constants_pack_two_per_byte(tmp_path: Path) -> None:
    graph = load_model(Path(__file__).parent.parent / "src/tinyops/data/vww_mobilenetv1_96_int8.tflite")
    weights = graph.main.ops[0].inputs[1]
    assert weights is not None and weights.data is not None
    weights.dtype = DType.INT4
    weights.data = np.clip(weights.data, -8, 7).astype(np.int8)
    path = tmp_path / "int4.tflite"
    write_tflite(graph, path)
    again = load_model(path).main.ops[0].inputs[1]
    assert again is not None and again.dtype is DType.INT4
    assert np.array_equal(again.data, weights.data)
    assert again.size_bytes == (weights.num_elements + 1) // 2
