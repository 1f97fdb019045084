"""ONNX frontend: a small CNN built with onnx.helper, checked against ONNX's reference evaluator,
then quantized (BatchNorm folded, ReLU/Clip fused) and run in LiteRT."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from onnx.reference import ReferenceEvaluator

from tinyops.backends.tflite_writer import to_tflite_bytes
from tinyops.errors import UnsupportedOpError
from tinyops.frontends.loader import load_model_bytes
from tinyops.oracles import litert_run
from tinyops.quant.evaluate import agreement
from tinyops.quant.ptq import quantize_graph


def _cnn() -> bytes:
    rng = np.random.default_rng(0)

    def init(name: str, shape: tuple[int, ...], scale: float = 0.3) -> onnx.TensorProto:
        return numpy_helper.from_array(rng.normal(0, scale, shape).astype(np.float32), name)

    inits = [init("w1", (8, 3, 3, 3)), init("b1", (8,), 0.1),
             numpy_helper.from_array(rng.uniform(0.5, 1.5, 8).astype(np.float32), "gamma"), init("beta", (8,), 0.1),
             init("mean", (8,), 0.1), numpy_helper.from_array(rng.uniform(0.5, 1.5, 8).astype(np.float32), "var"),
             init("w2", (8, 1, 3, 3)), init("w3", (16, 8, 1, 1)), init("fc", (10, 16 * 4 * 4), 0.1), init("fcb", (10,), 0.1),
             numpy_helper.from_array(np.array(0.0, np.float32), "lo"), numpy_helper.from_array(np.array(6.0, np.float32), "hi")]
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
        helper.make_node("BatchNormalization", ["c1", "gamma", "beta", "mean", "var"], ["bn"]),
        helper.make_node("Relu", ["bn"], ["r1"]),
        helper.make_node("Conv", ["r1", "w2"], ["c2"], group=8, strides=[2, 2], pads=[0, 0, 1, 1]),
        helper.make_node("Clip", ["c2", "lo", "hi"], ["r2"]),
        helper.make_node("Conv", ["r2", "w3"], ["c3"]),
        helper.make_node("MaxPool", ["c3"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Flatten", ["p"], ["f"]),
        helper.make_node("Gemm", ["f", "fc", "fcb"], ["logits"], transB=1),
        helper.make_node("Softmax", ["logits"], ["y"], axis=1),
    ]
    graph = helper.make_graph(nodes, "cnn", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 16, 16])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 10])], inits)
    # Opset 15: onnx's ReferenceEvaluator computes BatchNormalization wrongly for opsets < 14
    # (it does not use the running mean/variance), which would make the oracle wrong, not us.
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 15)])
    onnx.checker.check_model(model)
    return model.SerializeToString()


def test_onnx_import_matches_the_onnx_reference() -> None:
    data = _cnn()
    graph = load_model_bytes(data, "cnn.onnx")
    assert [op.kind for op in graph.main.ops][:4] == ["CONV_2D", "MUL", "ADD", "RELU"]
    samples = [np.random.default_rng(i).normal(size=(1, 3, 16, 16)).astype(np.float32) for i in range(4)]
    expected = np.stack([ReferenceEvaluator(data).run(None, {"x": s})[0] for s in samples])
    ours = litert_run(to_tflite_bytes(graph), [[s.transpose(0, 2, 3, 1)] for s in samples]).outputs[0]
    np.testing.assert_allclose(ours, expected, atol=1e-5)


def test_onnx_model_quantizes_with_folding_and_fusion() -> None:
    graph = load_model_bytes(_cnn(), "cnn.onnx")
    samples = [[np.random.default_rng(i).normal(size=(1, 16, 16, 3)).astype(np.float32)] for i in range(40)]
    quantized, report = quantize_graph(graph, samples[:32])
    kinds = [op.kind for op in quantized.main.ops]
    assert "MUL" not in kinds and "RELU" not in kinds and "RELU6" not in kinds and report.folded_ops == 4
    reference = litert_run(to_tflite_bytes(graph), samples[32:]).outputs[0]
    result = agreement(reference, litert_run(to_tflite_bytes(quantized), samples[32:]).outputs[0])
    assert result.sqnr_db > 20 and result.top1_agreement >= 0.75


def test_unsupported_onnx_op_is_refused() -> None:
    node = helper.make_node("Sin", ["x"], ["y"])
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])])
    with pytest.raises(UnsupportedOpError, match="Sin"):
        load_model_bytes(helper.make_model(graph).SerializeToString(), "sin.onnx")


@pytest.mark.parametrize("family,opset", [("mobilenetv3-small", 13), ("mobilenetv3-small", 17),
                                          ("mobilenetv3-large-no-se", 17)])
def test_the_zoos_own_mobilenetv3_onnx_export_imports_and_matches_torch_in_litert(tmp_path, family: str,
                                                                                   opset: int) -> None:
    """PyTorch's exporter writes HardSigmoid+Mul (opset < 14) or HardSwish, and F.pad as a Pad fed by
    ConstantOfShape/Concat/Slice/Transpose/Cast shape arithmetic: all must import."""
    torch = pytest.importorskip("torch")
    import warnings

    from tinyops.zoo import build_model
    from tinyops.zoo.torch_export import to_torch, torch_input_shape

    zoo = build_model(family, 0.5, 64)
    module = to_torch(zoo).eval()
    x = torch.from_numpy(np.random.default_rng(0).normal(size=torch_input_shape(zoo)).astype(np.float32))
    path = tmp_path / "m.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, (x,), str(path), opset_version=opset, dynamo=False)
    exported = {n.op_type for n in onnx.load(str(path)).graph.node}
    assert "Pad" in exported and ({"HardSwish", "HardSigmoid"} & exported)
    graph = load_model_bytes(path.read_bytes(), "m.onnx")
    assert "PAD" in {op.kind for op in graph.main.ops}
    with torch.no_grad():
        expected = module(x).numpy()
    ours = litert_run(to_tflite_bytes(graph), [[x.numpy().transpose(0, 2, 3, 1)]]).outputs[0][0]
    np.testing.assert_allclose(ours, expected, atol=1e-5)


def test_onnx_pad_other_than_zero_padding_is_refused() -> None:
    pads = numpy_helper.from_array(np.array([0, 0, 1, 1, 0, 0, 1, 1], np.int64), "pads")
    node = helper.make_node("Pad", ["x", "pads"], ["y"], mode="reflect")
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 4, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2, 6, 6])], [pads])
    with pytest.raises(UnsupportedOpError, match="reflect"):
        load_model_bytes(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]).SerializeToString(),
                         "pad.onnx")
