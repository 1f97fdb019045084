"""Helpers shared by op families: padding arithmetic and attribute access."""

from __future__ import annotations

import numpy as np

from tinyops.ir.graph import Op, Tensor


def output_size(in_size: int, kernel: int, stride: int, dilation: int, padding: str) -> int:
    """Spatial output size under TFLite SAME/VALID padding."""
    effective_kernel = (kernel - 1) * dilation + 1
    if padding == "SAME":
        return (in_size + stride - 1) // stride
    return (in_size - effective_kernel + stride) // stride


def same_padding(in_size: int, kernel: int, stride: int, dilation: int, out_size: int) -> tuple[int, int]:
    """(before, after) padding TFLite applies for SAME; the odd extra goes after."""
    effective_kernel = (kernel - 1) * dilation + 1
    total = max((out_size - 1) * stride + effective_kernel - in_size, 0)
    return total // 2, total - total // 2


def constant_values(tensor: Tensor | None) -> list[int] | None:
    if tensor is None or tensor.data is None:
        return None
    return [int(v) for v in np.asarray(tensor.data).reshape(-1)]


def input_shape(op: Op, index: int = 0) -> tuple[int, ...]:
    tensor = op.input(index)
    if tensor is None:
        raise ValueError(f"{op.label} has no input {index}")
    return tensor.shape


def broadcast(*shapes: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(int(d) for d in np.broadcast_shapes(*shapes))
