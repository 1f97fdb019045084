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
from tinyops.runtime.kernels.requant import (
    FLOAT32_EXACT_LIMIT,
    FusedRequantizer,
    accumulator_bounds,
    conv_output_stage,
    matmul_dtype,
    weight_zero_points,
)

EXACT_FLOAT64_LIMIT = 1 << 53


def _attr(op: Op, name: str, default: int = 1) -> int:
    return int(op.attrs.get(name, default))


MAX_PADDED_PIXELS = 1 << 26


class Geometry:
    """Strides, dilations and padding of one 2-D window op, computed once."""

    def __init__(self, op: Op, k_h: int, k_w: int) -> None:
        _, in_h, in_w, _ = tensor_in(op, 0).shape
        self.k_h, self.k_w = k_h, k_w
        self.stride_h, self.stride_w = _attr(op, "stride_h"), _attr(op, "stride_w")
        self.dil_h = _attr(op, "dilation_h_factor")
        self.dil_w = _attr(op, "dilation_w_factor")
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
        # A huge stride or dilation passes the shape rule but would pad the input to gigabytes.
        padded = (in_h + self.pad_h[0] + self.extra_h) * (in_w + self.pad_w[0] + self.extra_w)
        if padded > MAX_PADDED_PIXELS:
            raise KernelUnsupported(f"stride {self.stride_h}x{self.stride_w} and dilation {self.dil_h}x{self.dil_w} "
                                    f"pad the {in_h}x{in_w} input to {padded:,} pixels")

        self.needs_pad = bool(self.pad_h[0] or self.pad_w[0] or self.extra_h or self.extra_w)
        self._buffers: dict[tuple[int, int, str], np.ndarray] = {}

    def shifted(self, x: np.ndarray, offset: int, dtype: type) -> np.ndarray:
        """x - offset in ``dtype``, zero-padded, written into a buffer reused across calls.

        The border of the cached buffer stays zero; only the interior is rewritten. The result is
        only valid until the next call (kernels copy or reduce it before returning).
        """
        if not self.needs_pad:
            out: np.ndarray = x.astype(dtype)
            out -= dtype(offset)
            return out
        n, h, w, c = x.shape
        key = (n, c, np.dtype(dtype).str)
        buf = self._buffers.get(key)
        if buf is None:
            buf = np.zeros((n, h + self.pad_h[0] + self.extra_h, w + self.pad_w[0] + self.extra_w, c), dtype)
            self._buffers[key] = buf
        top, left = self.pad_h[0], self.pad_w[0]
        np.subtract(x, dtype(offset), out=buf[:, top:top + h, left:left + w, :], dtype=dtype)
        return buf

    def patches(self, padded: np.ndarray) -> np.ndarray:
        """im2col as one strided view [N*out_h*out_w, k_h*k_w*C] copy, filter order (kh, kw, c)."""
        n, _, _, c = padded.shape
        sn, sh, sw, sc = padded.strides
        if self.k_h == 1 and self.k_w == 1:
            view = padded[:, :(self.out_h - 1) * self.stride_h + 1:self.stride_h,
                          :(self.out_w - 1) * self.stride_w + 1:self.stride_w, :]
            return view.reshape(n * self.out_h * self.out_w, c)
        view = np.lib.stride_tricks.as_strided(
            padded, (n, self.out_h, self.out_w, self.k_h, self.k_w, c),
            (sn, sh * self.stride_h, sw * self.stride_w, sh * self.dil_h, sw * self.dil_w, sc), writeable=False)
        return view.reshape(n * self.out_h * self.out_w, self.k_h * self.k_w * c)

    def phase_taps(self, padded: np.ndarray) -> list[np.ndarray]:
        """The taps of ``taps`` as unit-stride views (of stride-phase copies when strided), so
        NumPy runs each elementwise operation with one long inner loop over (out_w, C)."""
        if self.stride_h == 1 and self.stride_w == 1:
            return self.taps(padded)
        phases: dict[tuple[int, int], np.ndarray] = {}
        views = []
        for i in range(self.k_h):
            for j in range(self.k_w):
                top, left = i * self.dil_h, j * self.dil_w
                key = (top % self.stride_h, left % self.stride_w)
                if key not in phases:
                    phases[key] = np.ascontiguousarray(padded[:, key[0]::self.stride_h, key[1]::self.stride_w, :])
                r, q = top // self.stride_h, left // self.stride_w
                views.append(phases[key][:, r:r + self.out_h, q:q + self.out_w, :])
        return views

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
    fused = FusedRequantizer(stage, bias, accumulator_bounds(w_centered, input_t.dtype.numpy, in_zp),
                             geo.out_h * geo.out_w)
    if fused.ok:
        spatial = geo.out_h * geo.out_w * out_c

        def run_fused(inputs: Arrays) -> list[np.ndarray]:
            x = inputs[0]
            acc = geo.patches(geo.shifted(x, in_zp, acc_type)) @ w_mat
            return [fused(acc.reshape(x.shape[0], spatial)).reshape((x.shape[0],) + out_shape_tail)]

        return run_fused

    def run_int(inputs: Arrays) -> list[np.ndarray]:
        x = inputs[0]
        acc = geo.patches(geo.shifted(x, in_zp, acc_type)) @ w_mat
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
    w_centered = w.reshape(k_h * k_w, out_c).astype(np.int64) - w_zp
    w_taps = w_centered.astype(acc_type)
    stage = conv_output_stage(op, input_t, weights, output_t, out_c)
    bias = _bias(op, out_c, np.int64)
    bounds = accumulator_bounds(w_centered.T, input_t.dtype.numpy, in_zp)
    fused = FusedRequantizer(stage, bias, bounds, geo.out_h * geo.out_w)
    if fused.ok:
        # Every partial sum is an integer below the bound: float32 adds exactly below 2**24.
        tap_type = np.float32 if float(bounds.max(initial=0)) < FLOAT32_EXACT_LIMIT else acc_type
        # Weights tiled along out_w so each tap's multiply-add is one contiguous (out_w*C) loop.
        w_rows = np.ascontiguousarray(np.broadcast_to(
            w_centered.astype(tap_type)[:, None, :], (k_h * k_w, geo.out_w, out_c)))
        spatial = geo.out_h * geo.out_w * out_c
        scratch: dict[int, tuple[np.ndarray, np.ndarray]] = {}

        def run_fused(inputs: Arrays) -> list[np.ndarray]:
            x = inputs[0]
            n = x.shape[0]
            if n not in scratch:
                scratch[n] = (np.empty((n,) + out_shape_tail, tap_type), np.empty((n,) + out_shape_tail, tap_type))
            acc, tmp = scratch[n]
            shifted = geo.shifted(x, in_zp, tap_type)
            views = geo.phase_taps(expand(shifted) if multiplier > 1 else shifted)
            np.multiply(views[0], w_rows[0], out=acc)
            for tap in range(1, len(views)):
                np.multiply(views[tap], w_rows[tap], out=tmp)
                acc += tmp
            return [fused(acc.reshape(n, spatial)).reshape((n,) + out_shape_tail)]

        return run_fused

    def run_int(inputs: Arrays) -> list[np.ndarray]:
        padded = geo.pad(expand(inputs[0].astype(acc_type) - np.asarray(in_zp, dtype=acc_type)))
        acc = np.zeros((padded.shape[0],) + out_shape_tail, dtype=acc_type)
        for tap, view in enumerate(geo.taps(padded)):
            acc += view * w_taps[tap]
        return [stage(acc.astype(np.int64) + bias)]

    return run_int


register_kernel("CONV_2D", conv2d_kernel)
register_kernel("DEPTHWISE_CONV_2D", depthwise_conv2d_kernel)
