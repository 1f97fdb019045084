"""CONV_2D and DEPTHWISE_CONV_2D: int8 / int16x8 (per-tensor or per-channel), float32, hybrid.

Integer convolutions run as im2col + one matrix product in floating point: every int8*int8
(or int16*int8) product sum of a realistic kernel stays below 2**53, so float64 BLAS is exact
and far faster than NumPy's int64 matmul; where a per-layer bound proves the sums stay below
2**24, float32 (twice as fast again) is exact too. Padding contributes nothing (TFLite skips out-of-bounds
taps), which is what padding the zero-point-shifted input with zeros gives.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from tinyops.ir.dtypes import DType
from tinyops.ir.graph import Op
from tinyops.ops.common import output_size, same_padding
from tinyops.runtime.fixedpoint import round_half_away
from tinyops.runtime.kernels.base import (
    KernelOptions,
    Arrays,
    KernelUnsupported,
    PreparedKernel,
    activation_range,
    constant,
    fused_activation,
    register_kernel,
    scale_zp,
    tensor_in,
)
from tinyops.runtime.kernels.requant import conv_output_stage, matmul_dtype, weight_zero_points

EXACT_FLOAT64_LIMIT = 1 << 53


def _attr(op: Op, *names: str, default: int = 1) -> int:
    # The reader has used both TFLite spellings (dilation_h_factor / dilation_hfactor).
    for name in names:
        if name in op.attrs:
            return int(op.attrs[name])
    return default


class Geometry:
    """Strides, dilations and padding of one 2-D window op, computed once."""

    def __init__(self, op: Op, k_h: int, k_w: int) -> None:
        _, in_h, in_w, _ = tensor_in(op, 0).shape
        self.k_h, self.k_w = k_h, k_w
        self.stride_h, self.stride_w = _attr(op, "stride_h"), _attr(op, "stride_w")
        self.dil_h = _attr(op, "dilation_h_factor", "dilation_hfactor")
        self.dil_w = _attr(op, "dilation_w_factor", "dilation_wfactor")
        padding = str(op.attrs.get("padding", "VALID"))
        self.out_h = output_size(in_h, k_h, self.stride_h, self.dil_h, padding)
        self.out_w = output_size(in_w, k_w, self.stride_w, self.dil_w, padding)
        if padding == "SAME":
            self.pad_h = same_padding(in_h, k_h, self.stride_h, self.dil_h, self.out_h)
            self.pad_w = same_padding(in_w, k_w, self.stride_w, self.dil_w, self.out_w)
        else:
            self.pad_h = self.pad_w = (0, 0)
        # Padding needed after the input so every strided tap slice is in bounds.
        need_h = (self.out_h - 1) * self.stride_h + (k_h - 1) * self.dil_h + 1
        need_w = (self.out_w - 1) * self.stride_w + (k_w - 1) * self.dil_w + 1
        self.extra_h = max(need_h - in_h - self.pad_h[0], 0)
        self.extra_w = max(need_w - in_w - self.pad_w[0], 0)

    def pad(self, x: np.ndarray, value: float = 0) -> np.ndarray:
        if not (self.pad_h[0] or self.pad_w[0] or self.extra_h or self.extra_w):
            return x
        return np.pad(x, ((0, 0), (self.pad_h[0], self.extra_h), (self.pad_w[0], self.extra_w), (0, 0)),
                      constant_values=value)

    def taps(self, padded: np.ndarray) -> list[np.ndarray]:
        """One strided view [N, out_h, out_w, C] per kernel tap, in (kh, kw) order."""
        views = []
        for i in range(self.k_h):
            for j in range(self.k_w):
                top, left = i * self.dil_h, j * self.dil_w
                views.append(padded[:, top:top + (self.out_h - 1) * self.stride_h + 1:self.stride_h,
                                    left:left + (self.out_w - 1) * self.stride_w + 1:self.stride_w, :])
        return views

    def im2col(self, padded: np.ndarray) -> np.ndarray:
        """[N*out_h*out_w, k_h*k_w*C] patches in TFLite's filter order (kh, kw, c)."""
        n, c = padded.shape[0], padded.shape[3]
        if self.k_h == 1 and self.k_w == 1:
            view = self.taps(padded)[0]
            return view.reshape(n * self.out_h * self.out_w, c)
        cols = np.concatenate(self.taps(padded), axis=3)
        return cols.reshape(n * self.out_h * self.out_w, self.k_h * self.k_w * c)


def _float_clamp(op: Op) -> Callable[[np.ndarray], np.ndarray]:
    lo, hi = activation_range(fused_activation(op), DType.FLOAT32)
    if lo == -np.inf and hi == np.inf:
        return lambda y: y
    return lambda y: np.clip(y, np.float32(lo), np.float32(hi))


def _bias(op: Op, channels: int, dtype: type) -> np.ndarray:
    bias = op.input(2)
    if bias is None:
        return np.zeros(channels, dtype=dtype)
    return np.asarray(constant(op, 2), dtype=dtype).reshape(channels)


def _check_exact(k: int, in_bits: int) -> None:
    if k * (1 << (in_bits)) * 128 >= EXACT_FLOAT64_LIMIT:
        raise KernelUnsupported(f"accumulation depth {k} too large for exact float64 accumulation")


def _symmetric_quantize_rows(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """TFLite's SymmetricQuantizeFloats per batch row: int8 values and float32 scaling factors."""
    rows = x.reshape(x.shape[0], -1)
    ranges = np.max(np.abs(rows), axis=1).astype(np.float32)
    safe = np.where(ranges == 0, np.float32(1), ranges)
    factors = np.where(ranges == 0, np.float32(1), safe / np.float32(127)).astype(np.float32)
    inverse = (np.float32(127) / safe).astype(np.float32)
    q = round_half_away((rows * inverse[:, None]).astype(np.float32))
    q = np.where(ranges[:, None] == 0, 0, np.clip(q, -127, 127))
    return q.reshape(x.shape), factors


def conv2d_kernel(op: Op, options: KernelOptions) -> PreparedKernel:
    input_t, weights, output_t = tensor_in(op, 0), tensor_in(op, 1), op.outputs[0]
    w = constant(op, 1)
    out_c, k_h, k_w, w_in_c = w.shape
    in_c = input_t.shape[3]
    if in_c != w_in_c:
        raise KernelUnsupported(f"grouped convolution ({in_c} input channels, filter depth {w_in_c})")
    geo = Geometry(op, k_h, k_w)
    k = k_h * k_w * in_c
    out_shape_tail = (geo.out_h, geo.out_w, out_c)

    if input_t.dtype is DType.FLOAT32 and weights.dtype is DType.FLOAT32:
        # Float64 products and sums, rounded once to float32: within float32 rounding of TFLite's
        # float32 accumulation (the tests allow 1e-5 relative).
        w_mat = w.reshape(out_c, k).T.astype(np.float64)
        bias = _bias(op, out_c, np.float64)
        clamp = _float_clamp(op)

        def run_float(inputs: Arrays) -> list[np.ndarray]:
            x = inputs[0]
            cols = geo.im2col(geo.pad(x.astype(np.float64)))
            y = (cols @ w_mat + bias).astype(np.float32)
            return [clamp(y).reshape((x.shape[0],) + out_shape_tail)]

        return run_float

    if input_t.dtype is DType.FLOAT32 and weights.dtype is DType.INT8:
        return _hybrid_conv(op, w, geo, out_shape_tail)

    if input_t.dtype not in (DType.INT8, DType.INT16) or weights.dtype is not DType.INT8:
        raise KernelUnsupported(f"{input_t.dtype.value} input with {weights.dtype.value} weights")
    _, in_zp = scale_zp(input_t)
    _check_exact(k, 16 if input_t.dtype is DType.INT16 else 8)
    w_zp = weight_zero_points(weights, out_c)
    w_centered = w.reshape(out_c, k).astype(np.int64) - w_zp[:, None]
    acc_type = matmul_dtype(w_centered, input_t.dtype.numpy, in_zp)
    w_mat = np.ascontiguousarray(w_centered.T.astype(acc_type))
    stage = conv_output_stage(op, input_t, weights, output_t, out_c)
    bias = _bias(op, out_c, np.int64)

    def run_int(inputs: Arrays) -> list[np.ndarray]:
        x = inputs[0]
        shifted = x.astype(acc_type)
        shifted -= acc_type(in_zp)
        acc = geo.im2col(geo.pad(shifted)) @ w_mat
        out = stage(acc.astype(np.int64) + bias)
        return [out.reshape((x.shape[0],) + out_shape_tail)]

    return run_int


def _hybrid_conv(op: Op, w: np.ndarray, geo: Geometry, out_shape_tail: tuple[int, int, int]) -> PreparedKernel:
    """Float input, int8 per-tensor filter: LiteRT quantizes each batch row symmetrically."""
    weights = tensor_in(op, 1)
    scale, zp = scale_zp(weights)
    if weights.quantization is not None and weights.quantization.scale.size > 1 and \
            np.any(weights.quantization.scale != weights.quantization.scale[0]):
        raise KernelUnsupported("hybrid (float input, int8 weights) convolution with per-channel scales")
    if zp != 0:
        raise KernelUnsupported("hybrid convolution with a non-zero filter zero point")
    out_c = w.shape[0]
    w_mat = w.reshape(out_c, -1).T.astype(np.float64)
    bias = _bias(op, out_c, np.float32)
    clamp = _float_clamp(op)

    def run_hybrid(inputs: Arrays) -> list[np.ndarray]:
        x = inputs[0]
        q, factors = _symmetric_quantize_rows(x)
        factors = (factors * np.float32(scale)).astype(np.float32)
        acc = (geo.im2col(geo.pad(q)) @ w_mat).reshape((x.shape[0], -1, out_c)).astype(np.float32)
        y = acc * factors[:, None, None] + bias
        return [clamp(y.astype(np.float32)).reshape((x.shape[0],) + out_shape_tail)]

    return run_hybrid


def depthwise_conv2d_kernel(op: Op, options: KernelOptions) -> PreparedKernel:
    input_t, weights, output_t = tensor_in(op, 0), tensor_in(op, 1), op.outputs[0]
    w = constant(op, 1)
    _, k_h, k_w, out_c = w.shape
    in_c = input_t.shape[3]
    if out_c % in_c:
        raise KernelUnsupported(f"{out_c} output channels is not a multiple of {in_c} input channels")
    multiplier = out_c // in_c
    geo = Geometry(op, k_h, k_w)
    out_shape_tail = (geo.out_h, geo.out_w, out_c)

    def expand(x: np.ndarray) -> np.ndarray:
        # Output channel c*multiplier + m reads input channel c.
        return x if multiplier == 1 else np.repeat(x, multiplier, axis=3)

    if input_t.dtype is DType.FLOAT32 and weights.dtype is DType.FLOAT32:
        # float32 sums in TFLite's tap order, bias last: the reference kernel's exact rounding, which
        # matters when a hybrid op downstream re-quantizes this output.
        w_taps = w.reshape(k_h * k_w, out_c).astype(np.float32)
        bias = _bias(op, out_c, np.float32)
        clamp = _float_clamp(op)

        def run_float(inputs: Arrays) -> list[np.ndarray]:
            padded = geo.pad(expand(inputs[0].astype(np.float32)))
            acc = np.zeros((padded.shape[0],) + out_shape_tail, dtype=np.float32)
            for tap, view in enumerate(geo.taps(padded)):
                acc += view * w_taps[tap]
            return [clamp(acc + bias)]

        return run_float

    if input_t.dtype not in (DType.INT8, DType.INT16) or weights.dtype is not DType.INT8:
        raise KernelUnsupported(f"{input_t.dtype.value} input with {weights.dtype.value} weights")
    _, in_zp = scale_zp(input_t)
    w_zp = weight_zero_points(weights, out_c)
    # int8 taps: |x - zp| <= 255, |w| <= 128, so int32 sums of up to 65k taps are exact; int16 needs int64.
    acc_type = np.int32 if input_t.dtype is DType.INT8 and k_h * k_w < (1 << 15) else np.int64
    w_taps = (w.reshape(k_h * k_w, out_c).astype(np.int64) - w_zp).astype(acc_type)
    stage = conv_output_stage(op, input_t, weights, output_t, out_c)
    bias = _bias(op, out_c, np.int64)

    def run_int(inputs: Arrays) -> list[np.ndarray]:
        padded = geo.pad(expand(inputs[0].astype(acc_type) - acc_type(in_zp)))
        acc = np.zeros((padded.shape[0],) + out_shape_tail, dtype=acc_type)
        for tap, view in enumerate(geo.taps(padded)):
            acc += view * w_taps[tap]
        return [stage(acc.astype(np.int64) + bias)]

    return run_int


register_kernel("CONV_2D", conv2d_kernel)
register_kernel("DEPTHWISE_CONV_2D", depthwise_conv2d_kernel)
