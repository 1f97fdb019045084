"""Analysis: MAC counts against independent counts, shapes against the files, peak activations."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import model_path
from tinyops.analysis import analyze, peak_activation_bytes
from tinyops.frontends import load_model
from tinyops.ops import infer_output_shapes

# Independent counts: the MLPerf Tiny and MCUNet figures quoted in the issue.
PUBLISHED_MACS = {
    "ic_resnet8_int8": 12_501_632,
    "ic_resnet8_float32": 12_501_632,
    "kws_dscnn_int8": 2_656_768,
    "vww_mobilenetv1_96_int8": 7_489_664,
    "mcunet_vww": 11_578_816,
}


@pytest.mark.parametrize("stem,macs", sorted(PUBLISHED_MACS.items()))
def test_mac_totals_match_independent_counts(stem: str, macs: int) -> None:
    assert analyze(load_model(model_path(stem))).totals.macs == macs


def test_every_shared_model_analyzes_and_shape_rules_agree_with_the_file(shared_model: Path) -> None:
    graph = load_model(shared_model)
    analysis = analyze(graph, flash_bytes=shared_model.stat().st_size)
    assert analysis.totals.ops == sum(len(s.ops) for s in graph.subgraphs)
    assert analysis.totals.flash_bytes == shared_model.stat().st_size
    assert analysis.totals.weight_bytes + analysis.totals.other_constant_bytes <= analysis.totals.flash_bytes
    for _, _, op in graph.all_ops():
        shapes = infer_output_shapes(op)
        if shapes is not None:
            assert shapes == [t.shape for t in op.outputs], op.label
    for op in analysis.ops:
        assert op.working_set_bytes == op.input_bytes + op.output_bytes + op.weight_bytes


def test_peak_activation_is_the_live_bytes_lower_bound_of_the_model_order() -> None:
    # VWW: the third op holds its 48x48x8 input and 48x48x16 output: 18,432 + 36,864 bytes.
    graph = load_model(model_path("vww_mobilenetv1_96_int8"))
    assert peak_activation_bytes(graph.main) == 55_296
    assert analyze(graph).totals.peak_activation_bytes == 55_296


def test_opaque_ops_stay_in_the_graph_and_count_for_memory() -> None:
    graph = load_model(model_path("mnist_lstm_int8"))
    analysis = analyze(graph)
    lstm = next(op for op in analysis.ops if op.type == "UNIDIRECTIONAL_SEQUENCE_LSTM")
    assert lstm.opaque and lstm.macs == 0
    assert lstm.weight_bytes > 0 and lstm.input_bytes > 0 and lstm.output_bytes > 0
    assert "UNIDIRECTIONAL_SEQUENCE_LSTM" in analysis.totals.opaque_ops


def test_depthwise_and_conv_scratch_follow_cmsis_nn_rules() -> None:
    graph = load_model(model_path("vww_mobilenetv1_96_int8"))
    analysis = analyze(graph, kernels="cmsis-nn")
    first = analysis.ops[0]  # 3x3 conv over 3 channels: two int16 im2col columns
    assert first.scratch_bytes == 2 * 3 * 3 * 3 * 2
    for op, node in zip(analysis.ops, graph.main.ops):
        if node.kind == "DEPTHWISE_CONV_2D":
            assert op.scratch_bytes == 0  # 3x3 with padding <= 1 uses arm_depthwise_conv_3x3_s8
        if node.kind == "CONV_2D" and node.inputs[1].shape[1:3] == (1, 1):
            assert op.scratch_bytes == 0
    assert all(op.scratch_bytes == 0 for op in analyze(graph, kernels="tflm-reference").ops)
