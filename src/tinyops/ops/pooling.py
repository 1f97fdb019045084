"""Pooling and reductions: AVERAGE_POOL_2D, MAX_POOL_2D, MEAN, and the reducers that share MEAN's rule."""

from __future__ import annotations

from tinyops.ir.graph import Op
from tinyops.ops.common import constant_values, input_shape, output_size
from tinyops.ops.registry import OpSpec, Shape, register

def pool_shapes(op: Op) -> list[Shape]:
    batch, in_h, in_w, channels = input_shape(op)
    padding = op.attrs.get("padding", "VALID")
    out_h = output_size(in_h, op.attrs["filter_height"], op.attrs.get("stride_h", 1), 1, padding)
    out_w = output_size(in_w, op.attrs["filter_width"], op.attrs.get("stride_w", 1), 1, padding)
    return [(batch, out_h, out_w, channels)]


def pool_elementary_ops(op: Op) -> int:
    return op.outputs[0].num_elements * op.attrs["filter_height"] * op.attrs["filter_width"]


def reduce_shapes(op: Op) -> list[Shape]:
    in_shape = input_shape(op)
    axes = constant_values(op.input(1))
    if axes is None:
        return [op.outputs[0].shape]
    rank = len(in_shape)
    axes = sorted({a % rank for a in axes})
    if op.attrs.get("keep_dims", False):
        return [tuple(1 if i in axes else d for i, d in enumerate(in_shape))]
    return [tuple(d for i, d in enumerate(in_shape) if i not in axes)]


def reduce_elementary_ops(op: Op) -> int:
    tensor = op.input(0)
    return tensor.num_elements if tensor is not None else 0


register(OpSpec("AVERAGE_POOL_2D", "pool", pool_shapes, count_elementary_ops=pool_elementary_ops))
register(OpSpec("MAX_POOL_2D", "pool", pool_shapes, count_elementary_ops=pool_elementary_ops))
for _kind in ("MEAN", "SUM", "REDUCE_MAX", "REDUCE_MIN", "REDUCE_PROD"):
    register(OpSpec(_kind, "pool", reduce_shapes, count_elementary_ops=reduce_elementary_ops))
