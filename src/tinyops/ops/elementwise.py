"""Elementwise ops: binary arithmetic with broadcasting, and unary activations / conversions."""

from __future__ import annotations

from tinyops.ir.graph import Op
from tinyops.ops.common import broadcast, input_shape
from tinyops.ops.registry import OpSpec, Shape, register

BINARY_KINDS = ("ADD", "SUB", "MUL", "DIV", "MAXIMUM", "MINIMUM", "SQUARED_DIFFERENCE", "POW",
                "FLOOR_DIV", "FLOOR_MOD", "LESS", "GREATER", "EQUAL", "NOT_EQUAL", "LESS_EQUAL",
                "GREATER_EQUAL", "LOGICAL_AND", "LOGICAL_OR")
UNARY_KINDS = ("RELU", "RELU6", "RELU_N1_TO_1", "RELU_0_TO_1", "LEAKY_RELU", "PRELU", "LOGISTIC", "TANH",
               "HARD_SWISH", "SOFTMAX", "LOG_SOFTMAX", "QUANTIZE", "DEQUANTIZE", "CAST", "ABS", "NEG",
               "EXP", "LOG", "SQRT", "RSQRT", "SQUARE", "ELU", "GELU", "FLOOR", "CEIL", "ROUND", "SIN",
               "COS", "LOGICAL_NOT", "ZEROS_LIKE", "ONES_LIKE")
ACTIVATION_KINDS = {"RELU", "RELU6", "RELU_N1_TO_1", "RELU_0_TO_1", "LEAKY_RELU", "PRELU", "LOGISTIC", "TANH",
                    "HARD_SWISH", "ELU", "GELU"}


def binary_shapes(op: Op) -> list[Shape]:
    return [broadcast(input_shape(op, 0), input_shape(op, 1))]


def unary_shapes(op: Op) -> list[Shape]:
    return [input_shape(op, 0)]


for _kind in BINARY_KINDS:
    register(OpSpec(_kind, "elementwise", binary_shapes))
for _kind in UNARY_KINDS:
    register(OpSpec(_kind, "activation" if _kind in ACTIVATION_KINDS else "elementwise", unary_shapes))
