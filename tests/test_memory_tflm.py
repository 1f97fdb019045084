"""The `tflm` planner against the real TFLM interpreter, and exported plans run by stock TFLM."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import SHARED_MODELS, model_path
from tinyops.backends.tflite_writer import to_tflite_bytes
from tinyops.frontends import load_model
from tinyops.memory import export_plan, plan_memory, verify_plan
from tinyops.oracles import tflm_arena, tflm_run

TFLM_CANNOT_LOAD = {"kws_dscnn_float32", "person_detect_vela"}
TFLM_MODELS = [p for p in SHARED_MODELS if p.stem not in TFLM_CANNOT_LOAD]


@pytest.mark.parametrize("path", TFLM_MODELS, ids=[p.stem for p in TFLM_MODELS])
def test_tflm_planner_equals_interpreter_head(path) -> None:
    graph = load_model(path)
    plan = plan_memory(graph, planner="tflm")
    verify_plan(plan, graph.main)
    assert plan.arena_bytes == tflm_arena(path.read_bytes())["head"]


def _random_inputs(graph, seed: int) -> list[list[np.ndarray]]:
    rng = np.random.default_rng(seed)
    batch = []
    for tensor in graph.main.inputs:
        dtype = tensor.dtype.numpy
        if np.issubdtype(dtype, np.integer):
            info = np.iinfo(dtype)
            batch.append(rng.integers(max(info.min, -128), min(info.max, 127), size=tensor.shape, endpoint=True).astype(dtype))
        else:
            batch.append(rng.standard_normal(tensor.shape).astype(dtype))
    return [batch]


def _check_export(graph, plan) -> None:
    exported = export_plan(graph, plan)
    verify_plan(exported.plan, graph.main)
    written = to_tflite_bytes(exported.graph)
    inputs = _random_inputs(graph, 7)
    original = tflm_run(to_tflite_bytes(graph), inputs)
    replanned = tflm_run(written, inputs)
    assert replanned.arena["head"] == exported.tflm_head_bytes == exported.plan.arena_bytes
    for ours, theirs in zip(replanned.outputs, original.outputs):
        np.testing.assert_array_equal(ours, theirs)


# vww: placement beats TFLM (73,728 -> 55,296) once depthwise/pointwise in-place are left out;
# simple_add / lenet: elementwise and reshape aliases TFLM follows; resnet8: residual ADDs.
@pytest.mark.parametrize("stem", ["vww_mobilenetv1_96_int8", "simple_add_model", "mnist_lenet_300_100_ptq",
                                  "ic_resnet8_int8", "audio_preprocessor_int8"])
def test_exported_plan_runs_in_stock_tflm(stem: str) -> None:
    graph = load_model(model_path(stem))
    plan = plan_memory(graph)
    _check_export(graph, plan)
    if stem == "vww_mobilenetv1_96_int8":
        assert export_plan(graph, plan).tflm_head_bytes == 55296


@pytest.mark.slow
def test_exported_reordered_plan_runs_in_stock_tflm() -> None:
    """A different topological order (heads of the detector's FPN run late) is written and followed."""
    graph = load_model(model_path("mcunet_detection"))
    subgraph = graph.main
    producer = {id(t): i for i, op in enumerate(subgraph.ops) for t in op.outputs}
    # Kahn's algorithm preferring the *latest* ready op: a valid order unlike the stored one.
    indegree = [len({producer[id(t)] for t in op.inputs if t is not None and id(t) in producer})
                for op in subgraph.ops]
    users: dict[int, set[int]] = {}
    for index, op in enumerate(subgraph.ops):
        for tensor in op.inputs:
            if tensor is not None and id(tensor) in producer:
                users.setdefault(producer[id(tensor)], set()).add(index)
    ready = [i for i, d in enumerate(indegree) if d == 0]
    order = []
    while ready:
        ready.sort()
        op = ready.pop()
        order.append(op)
        for user in users.get(op, ()):
            indegree[user] -= 1
            if indegree[user] == 0:
                ready.append(user)
    assert order != sorted(order)
    plan = plan_memory(graph, order=order, inplace_kinds=("view", "elementwise"))
    verify_plan(plan, subgraph)
    exported = export_plan(graph, plan)
    assert exported.plan.order == order
    _check_export(graph, plan)
