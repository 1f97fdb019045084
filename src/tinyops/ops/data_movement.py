"""Ops that move or re-view data without arithmetic: RESHAPE, SQUEEZE, PAD, CONCATENATION, TRANSPOSE,
RESIZE_NEAREST_NEIGHBOR, EXPAND_DIMS."""

from __future__ import annotations

import numpy as np

from tinyops.ir.graph import Op
from tinyops.ops.common import constant_values, input_shape
from tinyops.ops.registry import OpSpec, Shape, register


def _no_ops(op: Op) -> int:
    return 0


def reshape_shapes(op: Op) -> list[Shape]:
    total = int(np.prod(input_shape(op), dtype=np.int64))
    target = constant_values(op.input(1)) if len(op.inputs) > 1 else None
    if target is None:
        target = op.attrs.get("new_shape")
    if target is None:
        return [op.outputs[0].shape]
    known = int(np.prod([d for d in target if d != -1], dtype=np.int64)) if target else 1
    return [tuple(total // known if d == -1 else d for d in target)]


def squeeze_shapes(op: Op) -> list[Shape]:
    in_shape = input_shape(op)
    dims = op.attrs.get("squeeze_dims") or [i for i, d in enumerate(in_shape) if d == 1]
    dims = {d % len(in_shape) for d in dims}
    return [tuple(d for i, d in enumerate(in_shape) if i not in dims)]


def expand_dims_shapes(op: Op) -> list[Shape]:
    in_shape = list(input_shape(op))
    axis = constant_values(op.input(1))
    if axis is None:
        return [op.outputs[0].shape]
    position = axis[0] if axis[0] >= 0 else len(in_shape) + 1 + axis[0]
    in_shape.insert(position, 1)
    return [tuple(in_shape)]


def pad_shapes(op: Op) -> list[Shape]:
    paddings = constant_values(op.input(1))
    if paddings is None:
        return [op.outputs[0].shape]
    in_shape = input_shape(op)
    return [tuple(d + paddings[2 * i] + paddings[2 * i + 1] for i, d in enumerate(in_shape))]


def concatenation_shapes(op: Op) -> list[Shape]:
    shapes = [t.shape for t in op.inputs if t is not None]
    axis = op.attrs.get("axis", 0) % len(shapes[0])
    out = list(shapes[0])
    out[axis] = sum(s[axis] for s in shapes)
    return [tuple(out)]


def transpose_shapes(op: Op) -> list[Shape]:
    perm = constant_values(op.input(1))
    if perm is None:
        return [op.outputs[0].shape]
    in_shape = input_shape(op)
    return [tuple(in_shape[p] for p in perm)]


def resize_shapes(op: Op) -> list[Shape]:
    size = constant_values(op.input(1))
    if size is None:
        return [op.outputs[0].shape]
    batch, _, _, channels = input_shape(op)
    return [(batch, size[0], size[1], channels)]


register(OpSpec("RESHAPE", "reshape", reshape_shapes, count_elementary_ops=_no_ops))
register(OpSpec("SQUEEZE", "reshape", squeeze_shapes, count_elementary_ops=_no_ops))
register(OpSpec("EXPAND_DIMS", "reshape", expand_dims_shapes, count_elementary_ops=_no_ops))
register(OpSpec("PAD", "data", pad_shapes))
register(OpSpec("PADV2", "data", pad_shapes))
register(OpSpec("CONCATENATION", "data", concatenation_shapes))
register(OpSpec("TRANSPOSE", "data", transpose_shapes))
register(OpSpec("RESIZE_NEAREST_NEIGHBOR", "data", resize_shapes))
register(OpSpec("RESIZE_BILINEAR", "data", resize_shapes))
