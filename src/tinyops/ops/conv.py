"""Convolutions: CONV_2D, DEPTHWISE_CONV_2D, TRANSPOSE_CONV.

Layouts (TFLite): input NHWC; CONV_2D filter [out_c, k_h, k_w, in_c/groups];
DEPTHWISE_CONV_2D filter [1, k_h, k_w, in_c*multiplier]; TRANSPOSE_CONV filter [out_c, k_h, k_w, in_c].
"""

from __future__ import annotations

from tinyops.ir.graph import Op
from tinyops.ops.common import input_shape, output_size, same_padding
from tinyops.ops.registry import OpSpec, Shape, register

def _spatial_output(op: Op, k_h: int, k_w: int) -> tuple[int, int]:
    _, in_h, in_w, _ = input_shape(op)
    padding = op.attrs.get("padding", "VALID")
    out_h = output_size(in_h, k_h, op.attrs.get("stride_h", 1), op.attrs.get("dilation_h_factor", 1), padding)
    out_w = output_size(in_w, k_w, op.attrs.get("stride_w", 1), op.attrs.get("dilation_w_factor", 1), padding)
    return out_h, out_w


def conv2d_shapes(op: Op) -> list[Shape]:
    batch = input_shape(op)[0]
    out_c, k_h, k_w, _ = input_shape(op, 1)
    out_h, out_w = _spatial_output(op, k_h, k_w)
    return [(batch, out_h, out_w, out_c)]


def conv2d_macs(op: Op) -> int:
    out_c, k_h, k_w, filter_in_c = input_shape(op, 1)
    batch, out_h, out_w, _ = op.outputs[0].shape
    # filter_in_c is in_c / groups, so grouped convolutions are counted right.
    return batch * out_h * out_w * out_c * k_h * k_w * filter_in_c


def padding_amounts(op: Op, k_h: int, k_w: int) -> tuple[int, int]:
    if op.attrs.get("padding", "VALID") != "SAME":
        return 0, 0
    _, in_h, in_w, _ = input_shape(op)
    _, out_h, out_w, _ = op.outputs[0].shape
    pad_h = same_padding(in_h, k_h, op.attrs.get("stride_h", 1), op.attrs.get("dilation_h_factor", 1), out_h)[0]
    pad_w = same_padding(in_w, k_w, op.attrs.get("stride_w", 1), op.attrs.get("dilation_w_factor", 1), out_w)[0]
    return pad_h, pad_w


def depthwise_shapes(op: Op) -> list[Shape]:
    batch = input_shape(op)[0]
    _, k_h, k_w, out_c = input_shape(op, 1)
    out_h, out_w = _spatial_output(op, k_h, k_w)
    return [(batch, out_h, out_w, out_c)]


def depthwise_macs(op: Op) -> int:
    _, k_h, k_w, out_c = input_shape(op, 1)
    batch, out_h, out_w, _ = op.outputs[0].shape
    return batch * out_h * out_w * out_c * k_h * k_w


def transpose_conv_shapes(op: Op) -> list[Shape]:
    output_shape_tensor = op.input(0)
    if output_shape_tensor is not None and output_shape_tensor.data is not None:
        return [tuple(int(d) for d in output_shape_tensor.data.reshape(-1))]
    return [op.outputs[0].shape]


def transpose_conv_macs(op: Op) -> int:
    out_c, k_h, k_w, in_c = input_shape(op, 1)
    batch, in_h, in_w, _ = input_shape(op, 2)
    return batch * in_h * in_w * in_c * k_h * k_w * out_c


def _requantized_outputs(op: Op) -> int:
    """Besides MACs, each output element is requantized (bias add, multiply, shift, clamp) once."""
    return sum(t.num_elements for t in op.outputs)


register(OpSpec("CONV_2D", "conv", conv2d_shapes, conv2d_macs, _requantized_outputs))
register(OpSpec("DEPTHWISE_CONV_2D", "depthwise", depthwise_shapes, depthwise_macs, _requantized_outputs))
register(OpSpec("TRANSPOSE_CONV", "conv", transpose_conv_shapes, transpose_conv_macs, _requantized_outputs))
