"""Single-op models built in the IR, written with the TFLite writer, run by both oracles.

These cover the ops and options no shared model exercises (MUL, SUB, LOGISTIC, HARD_SWISH, RELU*,
CONCATENATION, spatial MEAN, SAME pooling, resize variants...). Unary int8 ops are checked on
all 256 input values; every case is ONE oracle call per engine.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from tinyops.backends.tflite_writer import to_tflite_bytes
from tinyops.errors import UnsupportedOpError
from tinyops.ir import DType, Graph, Op, Quantization, Subgraph, Tensor
from tinyops.oracles import litert_run, tflm_run
from tinyops.runtime import Interpreter

from test_runtime_models import assert_matches


def q(scale: float, zero_point: int) -> Quantization:
    return Quantization(scale=np.array([scale], dtype=np.float32), zero_point=np.array([zero_point], dtype=np.int64))


def act(name: str, shape: tuple[int, ...], dtype: DType = DType.INT8, quant: Quantization | None = None) -> Tensor:
    return Tensor(name, shape, dtype, quant)


def const(name: str, values: Any, dtype: DType = DType.INT32) -> Tensor:
    data = np.asarray(values, dtype=dtype.numpy)
    return Tensor(name, tuple(data.shape), dtype, data=data)


def single_op(kind: str, inputs: list[Tensor], outputs: list[Tensor], **attrs: Any) -> Graph:
    op = Op(kind, list(inputs), list(outputs), attrs)
    tensors = list(dict.fromkeys(inputs + outputs))
    subgraph = Subgraph("main", tensors, [op], [t for t in inputs if not t.is_constant], list(outputs))
    subgraph.link()
    return Graph([subgraph])


def check(graph: Graph, batches: list[list[np.ndarray]]) -> None:
    model = to_tflite_bytes(graph)
    for engine, oracle in (("litert", litert_run), ("tflm", tflm_run)):
        ours = Interpreter(graph, engine=engine).run_batch(batches)  # type: ignore[arg-type]
        assert_matches(ours, oracle(model, batches).outputs, f"{graph.main.ops[0].kind} vs {engine}")


ALL_INT8 = np.arange(-128, 128, dtype=np.int8).reshape(1, 256)


@pytest.mark.parametrize("kind,in_q,out_q", [
    ("LOGISTIC", q(0.05, 3), q(1 / 256, -128)),
    ("HARD_SWISH", q(0.04, -10), q(0.03, -50)),
    ("HARD_SWISH", q(0.2, 20), q(0.1, -100)),
    ("RELU", q(0.05, 3), q(0.04, -128)),
    ("RELU6", q(0.05, 3), q(0.03, -128)),
    ("QUANTIZE", q(0.05, 3), q(0.11, -7)),
    ("DEQUANTIZE", q(0.05, 3), None),
])
def test_unary_int8_ops_on_every_input(kind: str, in_q: Quantization, out_q: Quantization | None) -> None:
    out_dtype = DType.FLOAT32 if kind == "DEQUANTIZE" else DType.INT8
    graph = single_op(kind, [act("x", (1, 256), quant=in_q)], [act("y", (1, 256), out_dtype, out_q)])
    check(graph, [[ALL_INT8]])


@pytest.mark.parametrize("kind,activation", [("ADD", "RELU6"), ("SUB", "NONE"), ("MUL", "NONE"), ("MUL", "RELU")])
def test_binary_int8_ops_with_broadcast(kind: str, activation: str) -> None:
    graph = single_op(kind, [act("a", (1, 4, 4, 8), quant=q(0.07, -5)), act("b", (1, 1, 1, 8), quant=q(0.03, 9))],
                      [act("y", (1, 4, 4, 8), quant=q(0.09, 2))], fused_activation_function=activation)
    rng = np.random.default_rng(5)
    batches = [[rng.integers(-128, 128, (1, 4, 4, 8)).astype(np.int8),
                rng.integers(-128, 128, (1, 1, 1, 8)).astype(np.int8)] for _ in range(50)]
    check(graph, batches)


def test_rescaling_int8_mean() -> None:
    rng = np.random.default_rng(5)
    x = [[rng.integers(-128, 128, (1, 7, 9, 5)).astype(np.int8)] for _ in range(40)]
    for axes, shape, out_q in (([1, 2], (1, 1, 1, 5), q(0.02, -4)), ([3], (1, 7, 9, 1), q(0.011, 7)),
                               ([1], (1, 1, 9, 5), q(0.3, 0))):
        mean = single_op("MEAN", [act("x", (1, 7, 9, 5), quant=q(0.05, 3)), const("axes", axes)],
                         [act("y", shape, quant=out_q)], keep_dims=True)
        check(mean, x)


def test_same_quantization_int8_mean_on_other_shapes() -> None:
    rng = np.random.default_rng(6)
    x = [[rng.integers(-128, 128, (1, 7, 9, 5)).astype(np.int8)] for _ in range(40)]
    mean = single_op("MEAN", [act("x", (1, 7, 9, 5), quant=q(0.05, 3)), const("axes", [3])],
                     [act("y", (1, 7, 9), quant=q(0.05, 3))], keep_dims=False)
    check(mean, x)


def test_same_pooling() -> None:
    rng = np.random.default_rng(6)
    x = [[rng.integers(-128, 128, (1, 7, 9, 5)).astype(np.int8)] for _ in range(40)]
    pool = single_op("AVERAGE_POOL_2D", [act("x", (1, 7, 9, 5), quant=q(0.05, 3))],
                     [act("y", (1, 4, 5, 5), quant=q(0.05, 3))], padding="SAME", stride_h=2, stride_w=2,
                     filter_height=3, filter_width=3, fused_activation_function="NONE")
    check(pool, x)
    maxpool = single_op("MAX_POOL_2D", [act("x", (1, 7, 9, 5), quant=q(0.05, 3))],
                        [act("y", (1, 4, 5, 5), quant=q(0.05, 3))], padding="SAME", stride_h=2, stride_w=2,
                        filter_height=3, filter_width=3, fused_activation_function="RELU")
    check(maxpool, x)


def test_concatenation_transpose_resize() -> None:
    rng = np.random.default_rng(8)
    same = q(0.1, 1)
    concat = single_op("CONCATENATION", [act("a", (1, 3, 3, 2), quant=same), act("b", (1, 3, 3, 5), quant=same)],
                       [act("y", (1, 3, 3, 7), quant=same)], axis=3, fused_activation_function="NONE")
    check(concat, [[rng.integers(-128, 128, (1, 3, 3, 2)).astype(np.int8),
                    rng.integers(-128, 128, (1, 3, 3, 5)).astype(np.int8)] for _ in range(10)])
    for align, half in ((True, False), (False, True)):
        resize = single_op("RESIZE_NEAREST_NEIGHBOR", [act("x", (1, 3, 5, 2), quant=same), const("size", [7, 8])],
                           [act("y", (1, 7, 8, 2), quant=same)], align_corners=align, half_pixel_centers=half)
        check(resize, [[rng.integers(-128, 128, (1, 3, 5, 2)).astype(np.int8)] for _ in range(5)])


def test_float_softmax_with_beta_and_logistic() -> None:
    rng = np.random.default_rng(9)
    x = [[rng.normal(0, 3, (2, 10)).astype(np.float32)] for _ in range(20)]
    check(single_op("SOFTMAX", [act("x", (2, 10), DType.FLOAT32)], [act("y", (2, 10), DType.FLOAT32)], beta=0.7), x)
    check(single_op("LOGISTIC", [act("x", (2, 10), DType.FLOAT32)], [act("y", (2, 10), DType.FLOAT32)]), x)


def test_int8_softmax_with_beta() -> None:
    rng = np.random.default_rng(10)
    x = [[rng.integers(-128, 128, (3, 17)).astype(np.int8)] for _ in range(30)]
    graph = single_op("SOFTMAX", [act("x", (3, 17), quant=q(0.3, 4))], [act("y", (3, 17), quant=q(1 / 256, -128))],
                      beta=0.5)
    check(graph, x)


def test_unsupported_op_names_kind_and_index() -> None:
    graph = single_op("CUMSUM", [act("x", (1, 4), DType.FLOAT32), const("axis", [1])],
                      [act("y", (1, 4), DType.FLOAT32)])
    with pytest.raises(UnsupportedOpError, match=r"^CUMSUM \(op 0\) has no reference kernel"):
        Interpreter(graph)
    int16_add = single_op("ADD", [act("a", (1, 4), DType.INT16, q(0.1, 0)), act("b", (1, 4), DType.INT16, q(0.1, 0))],
                          [act("y", (1, 4), DType.INT16, q(0.1, 0))], fused_activation_function="NONE")
    with pytest.raises(UnsupportedOpError, match=r"^ADD \(op 0\) is not supported by the runtime: int16"):
        Interpreter(int16_add)
