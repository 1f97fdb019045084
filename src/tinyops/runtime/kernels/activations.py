"""Standalone activations: RELU, RELU6, RELU_N1_TO_1, LOGISTIC, TANH (float), HARD_SWISH."""

from __future__ import annotations

from typing import Callable

import numpy as np

from tinyops.ir.dtypes import DType
from tinyops.ir.graph import Op
from tinyops.runtime.fixedpoint import (
    multiply_by_quantized_multiplier,
    quantize_multiplier,
    round_half_away,
    rounding_divide_by_pot,
)
from tinyops.runtime.kernels.base import (
    Arrays,
    KernelOptions,
    KernelUnsupported,
    PreparedKernel,
    register_kernel,
    scale_zp,
    tabulate_unary_int8,
    tensor_in,
)

RELU_BOUNDS: dict[str, tuple[float, float]] = {"RELU": (0.0, np.inf), "RELU6": (0.0, 6.0), "RELU_N1_TO_1": (-1.0, 1.0)}


def _same_types(op: Op) -> DType:
    input_t, output_t = tensor_in(op, 0), op.outputs[0]
    if input_t.dtype != output_t.dtype or input_t.dtype not in (DType.FLOAT32, DType.INT8):
        raise KernelUnsupported(f"{input_t.dtype.value} -> {output_t.dtype.value} (int8 or float32 only)")
    return input_t.dtype


def relu_kernel(op: Op, options: KernelOptions) -> PreparedKernel:
    """TFLite's ReluX: requantize input to output scale, then clamp at the quantized bounds."""
    low, high = RELU_BOUNDS[op.kind]
    if _same_types(op) is DType.FLOAT32:
        return lambda inputs: [np.clip(inputs[0], np.float32(low), np.float32(high)).astype(np.float32)]
    in_scale, in_zp = scale_zp(tensor_in(op, 0))
    out_scale, out_zp = scale_zp(op.outputs[0])
    if op.kind == "RELU6" and options.engine == "tflm":
        # TFLM's int8 RELU6 clamps in the input's quantized domain and ignores the output's
        # parameters (it assumes they are equal, as converters emit them); LiteRT requantizes.
        six = int(np.clip(in_zp + round_half_away(np.float32(6.0) / np.float32(in_scale)), -128, 127))
        return tabulate_unary_int8(lambda inputs: [np.clip(inputs[0], max(in_zp, -128), six).astype(np.int8)])
    mult, shift = quantize_multiplier(float(np.float32(in_scale)) / float(np.float32(out_scale)))

    def bound(value: float) -> int:
        return out_zp + int(round_half_away(np.float32(value) / np.float32(out_scale)))  # roundf of a float

    qmin = max(-128, bound(low))
    qmax = 127 if high == np.inf else min(127, bound(high))

    def run(inputs: Arrays) -> list[np.ndarray]:
        q = out_zp + multiply_by_quantized_multiplier(inputs[0].astype(np.int64) - in_zp, mult, shift)
        return [np.clip(q, qmin, qmax).astype(np.int8)]

    return tabulate_unary_int8(run)


def _int8_lookup_table(op: Op, transform: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """LiteRT's PopulateLookupTable: dequantize all 256 inputs, transform in float32, requantize."""
    in_scale, in_zp = scale_zp(tensor_in(op, 0))
    out_scale, out_zp = scale_zp(op.outputs[0])
    values = np.arange(-128, 128, dtype=np.int32)
    dequantized = (np.float32(in_scale) * (values - in_zp).astype(np.float32)).astype(np.float32)
    transformed = transform(dequantized).astype(np.float32)
    inverse = np.float32(1) / np.float32(out_scale)
    rescaled = round_half_away((transformed * inverse).astype(np.float32))
    return np.clip(rescaled + out_zp, -128, 127).astype(np.int8)


def _table_kernel(table: np.ndarray) -> PreparedKernel:
    return tabulate_unary_int8(lambda inputs: [table[inputs[0].astype(np.int64) + 128]])


def logistic_kernel(op: Op, options: KernelOptions) -> PreparedKernel:
    def sigmoid(x: np.ndarray) -> np.ndarray:
        return (np.float32(1) / (np.float32(1) + np.exp(-x.astype(np.float32)))).astype(np.float32)

    if _same_types(op) is DType.FLOAT32:
        return lambda inputs: [sigmoid(inputs[0])]
    return _table_kernel(_int8_lookup_table(op, sigmoid))


def tanh_kernel(op: Op, options: KernelOptions) -> PreparedKernel:
    if _same_types(op) is not DType.FLOAT32:
        raise KernelUnsupported("int8 TANH (LiteRT and TFLM round it differently)")
    return lambda inputs: [np.tanh(inputs[0]).astype(np.float32)]


# --- HARD_SWISH: TFLite's int16 fixed-point pipeline ---------------------------------------------

def _srdhm16(a: np.ndarray, b: int) -> np.ndarray:
    """int16 SaturatingRoundingDoublingHighMul."""
    product = a.astype(np.int64) * b
    nudge = np.where(product >= 0, 1 << 14, 1 - (1 << 14))
    total = product + nudge
    high = np.where(total >= 0, total >> 15, -((-total) >> 15))
    return np.where((a == -32768) & (b == -32768), 32767, high)


def _saturating_left_shift16(a: np.ndarray, amount: int) -> np.ndarray:
    return np.clip(a.astype(np.int64) << amount, -32768, 32767)


def _downscale_to_int16(multiplier: int) -> int:
    if multiplier >= (1 << 31) - 1 - (1 << 15):
        return 32767
    return (multiplier + (1 << 15)) >> 16


def hard_swish_kernel(op: Op, options: KernelOptions) -> PreparedKernel:
    if _same_types(op) is DType.FLOAT32:
        def run_float(inputs: Arrays) -> list[np.ndarray]:
            x = inputs[0].astype(np.float32)
            return [(x * np.clip(x + np.float32(3), 0, 6) / np.float32(6)).astype(np.float32)]
        return run_float
    in_scale, in_zp = scale_zp(tensor_in(op, 0))
    out_scale, out_zp = scale_zp(op.outputs[0])
    # All in float32, as the C++ prepares them.
    hires_input_scale = np.float32(1.0 / 128.0) * np.float32(in_scale)
    output_multiplier, output_exponent = quantize_multiplier(float(hires_input_scale / np.float32(out_scale)))
    reluish_multiplier, reluish_exponent = quantize_multiplier(float(hires_input_scale / np.float32(3.0 / 32768.0)))
    output_multiplier16 = _downscale_to_int16(output_multiplier)
    reluish_multiplier16 = _downscale_to_int16(reluish_multiplier)
    if output_exponent > 0:
        raise KernelUnsupported("an output scale smaller than input scale / 128")

    def run(inputs: Arrays) -> list[np.ndarray]:
        value = inputs[0].astype(np.int64) - in_zp
        hires = value * (1 << 7)
        preshift_output = _srdhm16(hires, output_multiplier16)
        reluish = hires
        if reluish_exponent > 0:
            reluish = _saturating_left_shift16(reluish, reluish_exponent - 1)
        reluish = _srdhm16(reluish, reluish_multiplier16)
        if reluish_exponent > 0:
            reluish = _saturating_left_shift16(reluish, 1)
        if reluish_exponent < 0:
            reluish = rounding_divide_by_pot(reluish, -reluish_exponent)
        reluish = (reluish + (1 << 15)) >> 1
        product = reluish * preshift_output  # SaturatingDoublingHighMul (no rounding): truncating / 2**15
        preshift = np.where(product >= 0, product >> 15, -((-product) >> 15))
        preshift = np.where((reluish == -32768) & (preshift_output == -32768), 32767, preshift)
        out = rounding_divide_by_pot(preshift, -output_exponent) + out_zp
        return [np.clip(out, -128, 127).astype(np.int8)]

    return tabulate_unary_int8(run)


for _kind in RELU_BOUNDS:
    register_kernel(_kind, relu_kernel)
register_kernel("LOGISTIC", logistic_kernel)
register_kernel("TANH", tanh_kernel)
register_kernel("HARD_SWISH", hard_swish_kernel)
