"""MCUNet in the zoo: published counts, mcunet_vww.tflite op for op, native sizes, oracles agree."""

from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import model_path
from tinyops.backends.tflite_writer import to_tflite_bytes
from tinyops.cli import main
from tinyops.cost.cost_model import op_counts
from tinyops.frontends import load_model
from tinyops.ir import Graph
from tinyops.oracles import litert_run
from tinyops.zoo import build_model
from tinyops.zoo.summary import model_counts

# shared/architectures/mcunet_imagenet.md: MACs (SAME padding, 1000 classes) and weights without
# BN (conv and FC weights + the FC bias) as transcribed from the released configs.
PUBLISHED = {
    "mcunet-in0": (48, 6.36e6, 0.736e6),
    "mcunet-in1": (96, 12.79e6, 0.624e6),
    "mcunet-in2": (160, 67.29e6, 0.714e6),
    "mcunet-in3": (176, 81.79e6, 0.722e6),
    "mcunet-in4": (160, 125.87e6, 1.711e6),
}
# What the file's converter wrapped around the int8 body, and what the zoo writes instead (the zoo
# models are int8 end to end and pool with AVERAGE_POOL_2D like every other family).
FILE_ONLY = ("QUANTIZE", "DEQUANTIZE", "TRANSPOSE", "MEAN")
ZOO_ONLY = ("AVERAGE_POOL_2D", "RESHAPE")


def _weights_without_bn(graph: Graph) -> int:
    """Conv/FC weights plus the classifier's bias (the folded conv biases stand for BN)."""
    total = 0
    for op in graph.main.ops:
        if op.kind in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"):
            total += op.inputs[1].num_elements
        if op.kind == "FULLY_CONNECTED":
            total += op.inputs[2].num_elements
    return total


@pytest.mark.parametrize("family", list(PUBLISHED))
def test_mcunet_imagenet_counts_match_the_published_architectures(family):
    resolution, macs, weights = PUBLISHED[family]
    graph = build_model(family)  # the family's own resolution when none is given
    assert graph.main.inputs[0].shape == (1, resolution, resolution, 3)
    assert graph.main.outputs[0].shape == (1, 1000)
    assert round(model_counts(graph).macs / 1e4) == round(macs / 1e4)  # the file's 2 decimals in millions
    assert round(_weights_without_bn(graph) / 1e3) == round(weights / 1e3)


def _signature(graph: Graph, skip: tuple[str, ...]) -> list[tuple]:
    rows = []
    for op in graph.main.ops:
        if op.kind in skip:
            continue
        rows.append((op.kind, tuple(t.shape for t in op.inputs if t is not None), op.outputs[0].shape,
                     op.attrs.get("padding"), op.attrs.get("stride_h"), op.attrs.get("fused_activation_function"),
                     op_counts(op).macs))
    return rows


def test_mcunet_vww1_matches_tinyengines_file_op_for_op():
    reference = load_model(model_path("mcunet_vww"))
    graph = build_model("mcunet-vww1")
    ours, theirs = _signature(graph, ZOO_ONLY), _signature(reference, FILE_ONLY)
    assert len(ours) == len(theirs) == 58  # PAD, CONV_2D, DEPTHWISE_CONV_2D, ADD, FULLY_CONNECTED
    assert ours == theirs
    assert model_counts(graph).macs == model_counts(reference).macs == 11_578_816
    assert model_counts(graph).parameters == model_counts(reference).parameters


def test_mcunet_builds_at_its_own_resolution_from_the_cli(tmp_path, capsys):
    output = tmp_path / "in2.tflite"
    assert main(["zoo", "build", "mcunet-in2", "--output", str(output), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    graph = load_model(output)
    assert graph.main.inputs[0].shape == (1, 160, 160, 3)
    assert model_counts(graph).macs == summary["macs"] == 67_287_200
    assert main(["zoo", "build", "mcunet-in0", "--resolution", "64", "--output", str(tmp_path / "in0.tflite")]) == 0
    assert load_model(tmp_path / "in0.tflite").main.inputs[0].shape == (1, 64, 64, 3)


@pytest.mark.parametrize("family, resolution", [("mcunet-vww1", None), ("mcunet-in1", 64)])
def test_mcunet_torch_module_agrees_with_litert(family, resolution):
    import torch  # the torch extra is part of the test install
    from tinyops.zoo.torch_export import parameter_count, to_torch

    graph = build_model(family, resolution=resolution, classes=None if family == "mcunet-vww1" else 10)
    module = to_torch(graph).eval()
    assert parameter_count(module) == model_counts(graph).parameters
    x = np.random.default_rng(1).integers(-128, 128, size=graph.main.inputs[0].shape).astype(np.int8)
    quant = graph.main.inputs[0].quantization
    real = ((x.astype(np.float32) - quant.zero_point[0]) * quant.scale[0]).astype(np.float32).transpose(0, 3, 1, 2)
    with torch.no_grad():
        ours = module(torch.from_numpy(np.ascontiguousarray(real))).numpy()
    out_quant = graph.main.outputs[0].quantization
    litert = (litert_run(to_tflite_bytes(graph), [[x]]).outputs[0][0].astype(np.float32) - out_quant.zero_point[0]) \
        * out_quant.scale[0]
    assert np.corrcoef(ours.ravel(), litert.ravel())[0, 1] > 0.95
    assert ours.argmax() == litert.argmax()
