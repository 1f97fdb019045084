"""Ops that move data without arithmetic: RESHAPE, SQUEEZE, EXPAND_DIMS, PAD, PADV2,
CONCATENATION, TRANSPOSE, RESIZE_NEAREST_NEIGHBOR.

Shapes come from the model (every tensor shape is static in TFLite); a batch larger than the
model's is carried along dimension 0 where the op leaves that dimension alone.
"""

from __future__ import annotations

import numpy as np

from tinyops.ir.graph import Op
from tinyops.runtime.kernels.base import (
    KernelOptions,
    Arrays,
    BatchNotSupported,
    KernelUnsupported,
    PreparedKernel,
    constant,
    is_quantized,
    register_kernel,
    scale_zp,
    tensor_in,
)


def reshape_kernel(op: Op, options: KernelOptions) -> PreparedKernel:
    """RESHAPE / SQUEEZE / EXPAND_DIMS: the output tensor's static shape, batch on dimension 0."""
    in_shape = tuple(tensor_in(op, 0).shape)
    out_shape = tuple(op.outputs[0].shape)
    batchable = bool(in_shape) and bool(out_shape) and in_shape[0] == out_shape[0]

    def run(inputs: Arrays) -> list[np.ndarray]:
        x = inputs[0]
        if x.shape == in_shape:
            return [x.reshape(out_shape)]
        if not batchable or x.shape[1:] != in_shape[1:] or x.shape[0] % max(in_shape[0], 1):
            raise BatchNotSupported()
        return [x.reshape((x.shape[0],) + out_shape[1:])]

    return run


def pad_kernel(op: Op, options: KernelOptions) -> PreparedKernel:
    paddings = np.asarray(constant(op, 1)).reshape(-1, 2).astype(np.int64)
    if np.any(paddings < 0):
        raise KernelUnsupported("negative paddings")
    input_t, output_t = tensor_in(op, 0), op.outputs[0]
    if op.kind == "PADV2" and op.input(2) is not None:
        value = np.asarray(constant(op, 2)).reshape(-1)[0]
    elif is_quantized(output_t) and output_t.quantization is not None:
        value = scale_zp(output_t)[1]  # quantized zero is the zero point
    else:
        value = 0
    widths = [tuple(int(v) for v in row) for row in paddings]
    dtype = output_t.dtype.numpy

    def run(inputs: Arrays) -> list[np.ndarray]:
        x = inputs[0]
        if x.shape[0] != input_t.shape[0] and widths[0] != (0, 0):
            raise BatchNotSupported()
        return [np.pad(x, widths, constant_values=np.asarray(value).astype(dtype)).astype(dtype)]

    return run


def concatenation_kernel(op: Op, options: KernelOptions) -> PreparedKernel:
    output_t = op.outputs[0]
    rank = len(output_t.shape)
    axis = int(op.attrs.get("axis", 0)) % max(rank, 1)
    if op.attrs.get("fused_activation_function", "NONE") not in ("NONE", None):
        raise KernelUnsupported("a fused activation on CONCATENATION")
    if is_quantized(output_t):
        out_q = scale_zp(output_t)
        for tensor in op.inputs:
            if tensor is not None and scale_zp(tensor) != out_q:
                raise KernelUnsupported("inputs whose scale or zero point differ from the output's "
                                        "(requantize them first)")
    dtype = output_t.dtype.numpy

    def run(inputs: Arrays) -> list[np.ndarray]:
        arrays = [x for x in inputs if x is not None]
        if axis == 0 and arrays[0].shape[0] != (op.inputs[0].shape[0] if op.inputs[0] is not None else 0):
            raise BatchNotSupported()
        if axis == 0:
            return [np.concatenate(arrays, axis=0).astype(dtype)]
        batch = max(a.shape[0] for a in arrays)
        arrays = [np.broadcast_to(a, (batch,) + a.shape[1:]) if a.shape[0] != batch else a for a in arrays]
        return [np.concatenate(arrays, axis=axis).astype(dtype)]

    return run


def transpose_kernel(op: Op, options: KernelOptions) -> PreparedKernel:
    perm = tuple(int(p) for p in np.asarray(constant(op, 1)).reshape(-1))
    in_batch = tensor_in(op, 0).shape[0] if tensor_in(op, 0).shape else 1

    def run(inputs: Arrays) -> list[np.ndarray]:
        x = inputs[0]
        if perm and perm[0] != 0 and x.shape[0] != in_batch:
            raise BatchNotSupported()
        return [np.ascontiguousarray(np.transpose(x, perm))]

    return run


def _nearest_indices(in_size: int, out_size: int, align_corners: bool, half_pixel: bool) -> np.ndarray:
    """TFLite's GetNearestNeighbor, in float32 like the C++."""
    if align_corners and out_size > 1:
        scale = np.float32(in_size - 1) / np.float32(out_size - 1)
    else:
        scale = np.float32(in_size) / np.float32(out_size)
    offset = np.float32(0.5 if half_pixel else 0.0)
    positions = ((np.arange(out_size, dtype=np.float32) + offset) * scale).astype(np.float32)
    if align_corners:
        index = np.sign(positions) * np.floor(np.abs(positions) + np.float32(0.5))
    else:
        index = np.floor(positions)
    index = np.minimum(index.astype(np.int64), in_size - 1)
    return np.maximum(index, 0) if half_pixel else index


def resize_nearest_kernel(op: Op, options: KernelOptions) -> PreparedKernel:
    input_t, output_t = tensor_in(op, 0), op.outputs[0]
    if len(input_t.shape) != 4:
        raise KernelUnsupported(f"rank-{len(input_t.shape)} input (NHWC expected)")
    out_h, out_w = (int(v) for v in np.asarray(constant(op, 1)).reshape(-1)[:2])
    align = bool(op.attrs.get("align_corners", False))
    half = bool(op.attrs.get("half_pixel_centers", False))
    rows = _nearest_indices(input_t.shape[1], out_h, align, half)
    cols = _nearest_indices(input_t.shape[2], out_w, align, half)
    if input_t.dtype != output_t.dtype:
        raise KernelUnsupported(f"{input_t.dtype.value} -> {output_t.dtype.value}")

    def run(inputs: Arrays) -> list[np.ndarray]:
        return [inputs[0][:, rows][:, :, cols]]

    return run


register_kernel("RESHAPE", reshape_kernel)
register_kernel("SQUEEZE", reshape_kernel)
register_kernel("EXPAND_DIMS", reshape_kernel)
register_kernel("PAD", pad_kernel)
register_kernel("PADV2", pad_kernel)
register_kernel("CONCATENATION", concatenation_kernel)
register_kernel("TRANSPOSE", transpose_kernel)
register_kernel("RESIZE_NEAREST_NEIGHBOR", resize_nearest_kernel)
