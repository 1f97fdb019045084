"""The reference runtime against LiteRT (reference kernels) and the TFLM interpreter.

Every supported shared model runs on 100 seeded random inputs, batched into ONE oracle call per
engine; integer outputs must match bit for bit, float outputs within 1e-5 of the output's scale.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tinyops.frontends import load_model
from tinyops.oracles import litert_run, tflm_run
from tinyops.runtime import Interpreter

from conftest import model_path

INFERENCES = 100
# model stem -> oracles that can run it. person_detect: LiteRT rejects its per-channel
# quantized_dimension; kws_dscnn_float32: int8 weights under float activations (hybrid ops) that
# TFLM cannot allocate.
SUPPORTED: dict[str, tuple[str, ...]] = {
    "ad_fc_autoencoder_int8": ("litert", "tflm"),
    "hello_world_float": ("litert", "tflm"),
    "hello_world_int8": ("litert", "tflm"),
    "ic_resnet8_float32": ("litert", "tflm"),
    "ic_resnet8_int8": ("litert", "tflm"),
    "ic_resnet_large_int8": ("litert", "tflm"),
    "kws_dscnn_float32": ("litert",),
    "kws_dscnn_int8": ("litert", "tflm"),
    "mcunet_detection": ("litert", "tflm"),
    "mcunet_vww": ("litert", "tflm"),
    "micro_speech_quantized": ("litert", "tflm"),
    "mnist_lenet_300_100_ptq": ("litert", "tflm"),
    "person_detect": ("tflm",),
    "seanet_conv10": ("litert", "tflm"),
    "simple_add_model": ("litert", "tflm"),
    "sww_ref_model": ("litert", "tflm"),
    "vww_mobilenetv1_96_int8": ("litert", "tflm"),
}
ORACLES = {"litert": litert_run, "tflm": tflm_run}
FLOAT_TOLERANCE = 1e-5


def random_batches(graph, count: int, seed: int) -> list[list[np.ndarray]]:  # type: ignore[no-untyped-def]
    """Seeded inputs over the full integer range; floats over [-3, 3] (saturates int8 bodies too)."""
    rng = np.random.default_rng(seed)
    batches = []
    for _ in range(count):
        arrays = []
        for tensor in graph.main.inputs:
            if tensor.dtype.is_float:
                arrays.append(rng.uniform(-3, 3, tensor.shape).astype(np.float32))
            else:
                info = np.iinfo(tensor.dtype.numpy)
                arrays.append(rng.integers(info.min, info.max + 1, tensor.shape).astype(tensor.dtype.numpy))
        batches.append(arrays)
    return batches


def assert_matches(ours: list[np.ndarray], theirs: list[np.ndarray], label: str) -> None:
    assert len(ours) == len(theirs), label
    for index, (a, b) in enumerate(zip(ours, theirs)):
        b = b.reshape(a.shape)
        assert a.dtype == b.dtype, f"{label} out{index}: {a.dtype} vs {b.dtype}"
        if np.issubdtype(a.dtype, np.floating):
            scale = max(float(np.max(np.abs(b))), 1e-30)
            worst = float(np.max(np.abs(a.astype(np.float64) - b))) / scale
            assert worst <= FLOAT_TOLERANCE, f"{label} out{index}: relative error {worst:.3g}"
        else:
            wrong = np.count_nonzero(a != b)
            assert wrong == 0, f"{label} out{index}: {wrong} of {a.size} values differ"


@pytest.mark.slow
@pytest.mark.parametrize("stem", sorted(SUPPORTED))
def test_bit_exact_with_oracles(stem: str) -> None:
    path: Path = model_path(stem)
    graph = load_model(path)
    batches = random_batches(graph, INFERENCES, seed=1234)
    model_bytes = path.read_bytes()
    for engine in SUPPORTED[stem]:
        ours = Interpreter(graph, engine=engine).run_batch(batches)  # type: ignore[arg-type]
        theirs = ORACLES[engine](model_bytes, batches).outputs
        assert_matches(ours, theirs, f"{stem} vs {engine}")


def test_batched_run_equals_one_by_one() -> None:
    graph = load_model(model_path("mcunet_detection"))
    batches = random_batches(graph, 3, seed=7)
    interpreter = Interpreter(graph)
    stacked = interpreter.run_batch(batches)
    for b, batch in enumerate(batches):
        single = interpreter.run(batch)
        for s, whole in zip(single, stacked):
            assert np.array_equal(s, whole[b])


def test_trace_holds_every_intermediate_tensor() -> None:
    graph = load_model(model_path("kws_dscnn_int8"))
    interpreter = Interpreter(graph)
    (x,) = random_batches(graph, 1, seed=3)[0]
    out = interpreter.run([x], trace=True)
    for op in graph.main.ops:
        for tensor in op.outputs:
            index = graph.main.tensor_index(tensor)
            assert interpreter.trace[index] is interpreter.trace[tensor.name] or tensor.name == ""
    final = graph.main.tensor_index(graph.main.outputs[0])
    assert np.array_equal(interpreter.trace[final], out[0])
