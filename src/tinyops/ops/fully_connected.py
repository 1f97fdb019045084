"""FULLY_CONNECTED: weights [out, in]; the input is flattened to [batch, in] unless keep_num_dims."""

from __future__ import annotations

from tinyops.ir.graph import Op
from tinyops.ops.common import input_shape
from tinyops.ops.registry import OpSpec, Shape, register


def fully_connected_shapes(op: Op) -> list[Shape]:
    in_shape = input_shape(op)
    units, depth = input_shape(op, 1)
    if op.attrs.get("keep_num_dims", False):
        return [tuple(in_shape[:-1]) + (units,)]
    total = 1
    for d in in_shape:
        total *= d
    return [(total // depth, units)]


def fully_connected_macs(op: Op) -> int:
    units, depth = input_shape(op, 1)
    rows = op.outputs[0].num_elements // units
    return rows * units * depth


register(OpSpec("FULLY_CONNECTED", "fc", fully_connected_shapes, fully_connected_macs))
