"""Zoo models run in the oracles (LiteRT, TFLM) and their PyTorch twins match them."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from tinyops.backends.tflite_writer import to_tflite_bytes
from tinyops.ir import Graph, Tensor
from tinyops.oracles import litert_run, tflm_run
from tinyops.zoo import build_model
from tinyops.zoo.summary import model_counts

# Small configurations that still exercise every op the zoo emits: SE with hard sigmoid and
# hard-swish (MobileNetV3), SE with sigmoid (MNASNet-A1), residual adds, asymmetric SAME padding
# (non-square input), the 10x4 audio conv and the FC-only autoencoder.
CASES = [
    ("mobilenetv3-small", 0.5, 64, 5),
    ("mnasnet-a1", 0.5, (48, 64), 5),
    ("dscnn-m", 1.0, None, None),
    ("resnet8", 1.0, None, None),
    ("fc-autoencoder", 1.0, None, None),
]


def _int8_input(graph: Graph, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).integers(-128, 128, size=graph.main.inputs[0].shape).astype(np.int8)


def _real(values: np.ndarray, tensor: Tensor) -> np.ndarray:
    quant = tensor.quantization
    return ((values.astype(np.float32) - quant.zero_point[0]) * quant.scale[0]).astype(np.float32)


@pytest.mark.parametrize("family, width, resolution, classes", CASES, ids=[c[0] for c in CASES])
def test_litert_runs_zoo_models(family, width, resolution, classes):
    graph = build_model(family, width, resolution, classes)
    result = litert_run(to_tflite_bytes(graph), [[_int8_input(graph)]])
    assert result.outputs[0].shape == (1,) + graph.main.outputs[0].shape
    assert len(np.unique(result.outputs[0])) > 1  # not saturated to a constant


def test_tflm_runs_a_zoo_model():
    graph = build_model("mobilenetv3-small", 0.5, 64, 5)
    result = tflm_run(to_tflite_bytes(graph), [[_int8_input(graph)]])
    assert result.outputs[0].shape == (1, 1, 5)  # stacked over the one input batch


def test_torch_export_imports_without_torch():
    code = ("import sys; sys.modules['torch'] = None\n"
            "from tinyops.errors import TinyOpsError\n"
            "from tinyops.zoo import build_model\n"
            "from tinyops.zoo.torch_export import to_torch\n"
            "try:\n    to_torch(build_model('dscnn-s'))\nexcept TinyOpsError as e:\n    print('ERR', e)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "pip install" in done.stdout


@pytest.mark.parametrize("family, width, resolution, classes", CASES, ids=[c[0] for c in CASES])
def test_torch_module_has_the_graph_parameters_and_computes_the_same_function(family, width, resolution, classes):
    import torch  # the torch extra is part of the test install (README, .ci/run): no skipping
    from tinyops.zoo.torch_export import parameter_count, to_torch

    graph = build_model(family, width, resolution, classes)
    module = to_torch(graph).eval()
    assert parameter_count(module) == model_counts(graph).parameters
    x = _int8_input(graph)
    real_input = _real(x, graph.main.inputs[0])
    if real_input.ndim == 4:
        real_input = np.ascontiguousarray(np.transpose(real_input, (0, 3, 1, 2)))
    with torch.no_grad():
        ours = module(torch.from_numpy(real_input)).numpy()
    litert = _real(litert_run(to_tflite_bytes(graph), [[x]]).outputs[0][0], graph.main.outputs[0])
    # Float and int8 agree up to quantization noise: same winner, strongly correlated outputs. A
    # layout or padding mistake would decorrelate them completely.
    assert np.corrcoef(ours.ravel(), litert.ravel())[0, 1] > 0.95
    if family != "fc-autoencoder":
        assert ours.argmax() == litert.argmax()


def test_torch_program_file_round_trips(tmp_path):
    import torch  # the torch extra is part of the test install (README, .ci/run): no skipping
    from tinyops.cli import main

    path = tmp_path / "kws.pt"
    assert main(["zoo", "build", "dscnn-s", "--output", str(tmp_path / "kws.tflite"), "--torch", str(path)]) == 0
    loaded = torch.export.load(str(path)).module()
    assert tuple(loaded(torch.zeros(1, 1, 49, 10)).shape) == (1, 12)
