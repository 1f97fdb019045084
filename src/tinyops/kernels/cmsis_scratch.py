"""Scratch buffers CMSIS-NN's kernels ask TFLM's arena for (DSP build, no MVE).

Each rule follows the CMSIS-NN ``*_get_buffer_size`` function its TFLM wrapper calls in Prepare()
(tensorflow/lite/micro/kernels/cmsis_nn/*.cc): one request per op. Only int8/int16 data reaches
CMSIS-NN; float ops fall back to TFLM's reference kernels (see :mod:`tinyops.kernels.library`).
"""

from __future__ import annotations

from tinyops.ir.dtypes import DType
from tinyops.ir.graph import Op
from tinyops.kernels.tflm_scratch import ScratchRule
from tinyops.ops.common import input_shape
from tinyops.ops.conv import padding_amounts

INT16_BYTES = 2
INT32_BYTES = 4
CMSIS_DTYPES = (DType.INT8, DType.INT16)


def _quantized(op: Op) -> bool:
    data = op.input(0)
    return data is not None and data.dtype in CMSIS_DTYPES


def conv2d(op: Op) -> list[int]:
    """arm_convolve_wrapper_s8_get_buffer_size: two int16 im2col columns, none for 1x1 without padding."""
    if not _quantized(op):
        return []
    _, k_h, k_w, filter_in_c = input_shape(op, 1)
    pad_h, pad_w = padding_amounts(op, k_h, k_w)
    if k_h == 1 and k_w == 1 and pad_h == 0 and pad_w == 0:
        return []  # arm_convolve_1x1_s8(_fast) works on the input directly
    return [2 * k_h * k_w * filter_in_c * INT16_BYTES]


def depthwise(op: Op) -> list[int]:
    """arm_depthwise_conv_wrapper_s8_get_buffer_size: 3x3 with pad <= 1 and multipliers need none."""
    if not _quantized(op):
        return []
    _, _, _, in_c = input_shape(op)
    _, k_h, k_w, out_c = input_shape(op, 1)
    dilated = op.attrs.get("dilation_h_factor", 1) != 1 or op.attrs.get("dilation_w_factor", 1) != 1
    if in_c != out_c or dilated:
        return []  # the generic kernel with a multiplier works without scratch
    pad_h, pad_w = padding_amounts(op, k_h, k_w)
    if k_h == 3 and k_w == 3 and pad_h <= 1 and pad_w <= 1:
        return []
    return [in_c * k_h * k_w * INT16_BYTES]


def average_pool(op: Op) -> list[int]:
    """arm_avgpool_s8_get_buffer_size: one int32 accumulator per channel."""
    if not _quantized(op):
        return []
    return [input_shape(op)[3] * INT32_BYTES]


def no_scratch(op: Op) -> list[int]:
    return []


# Op kinds CMSIS-NN implements itself in TFLM (kernels/cmsis_nn/*.cc); any other op runs TFLM's
# reference kernel and asks for that kernel's scratch.
CMSIS_NN_RULES: dict[str, ScratchRule] = {
    "CONV_2D": conv2d,
    "DEPTHWISE_CONV_2D": depthwise,
    "AVERAGE_POOL_2D": average_pool,
    "MAX_POOL_2D": no_scratch,
    "FULLY_CONNECTED": no_scratch,
    "ADD": no_scratch,
    "MUL": no_scratch,
    "SOFTMAX": no_scratch,
    "PAD": no_scratch,
    "MAXIMUM": no_scratch,
    "MINIMUM": no_scratch,
    "SVDF": no_scratch,
    "UNIDIRECTIONAL_SEQUENCE_LSTM": no_scratch,
    "TRANSPOSE_CONV": no_scratch,
    "BATCH_MATMUL": no_scratch,
}
