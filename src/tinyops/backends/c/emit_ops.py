"""Per-op C emitters for the tinyops kernel library (``backends/c/kernels``).

For one op of the IR, :func:`emit_op` returns the C statement that calls its kernel, the
file-scope declaration of the kernel's parameter struct, and every constant array the call
needs (filters, folded biases, per-channel multipliers and shifts, look-up tables), all computed
here at generation time with ``tinyops.runtime``'s own arithmetic so the C is bit-exact with it.
The generator decides where tensors live: it passes ``ref``, which maps an activation tensor to a
C pointer expression, and the scratch pointer expression. Constant names are
``op<index>_<what>``; the generator decides each array's section from its ``role``.

Channel ranges (overlay partitions): conv, depthwise and fully connected kernels compute output
channels ``[oc_start, oc_stop)``; :meth:`EmittedOp.call_range` writes the call for one range with
the filter pointer the generator gives (the start of an overlay buffer holding rows
``oc_start..oc_stop-1`` of the filter array, or ``name + oc_start * row_elements``). Filters are
stored one output channel per row, so :meth:`CArray.channel_slice` is a contiguous slice.

In place: every kernel is safe for the overlaps ``memory/inplace.py`` plans (see the header),
with the full channel range; the generator just passes the aliased pointers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Literal

import numpy as np

from tinyops.errors import UnsupportedOpError
from tinyops.ir.dtypes import DType
from tinyops.ir.graph import Op, Subgraph, Tensor
from tinyops.kernels.tinyops_scratch import (LUT_KINDS, VIEW_KINDS, align_scratch, depthwise_scratch_bytes,
                                             matrix_scratch_bytes)
from tinyops.runtime.fixedpoint import (
    calculate_input_radius,
    exp_on_negative_values,
    preprocess_softmax_scaling,
    quantize_multiplier,
    rounding_divide_by_pot,
    saturating_rounding_doubling_high_mul,
    wrap_int32,
)
from tinyops.runtime.kernels import KernelUnsupported, kernel_factory
from tinyops.runtime.kernels.base import (
    KernelOptions,
    activation_range,
    constant,
    fused_activation,
    scale_zp,
    tensor_in,
)
from tinyops.runtime.kernels.binary import ADD_LEFT_SHIFT_INT8
from tinyops.runtime.kernels.conv import Geometry
from tinyops.runtime.kernels.data_movement import _nearest_indices
from tinyops.runtime.kernels.requant import conv_output_stage, weight_zero_points
from tinyops.runtime.kernels.softmax import ACCUMULATION_INTEGER_BITS, SCALED_DIFF_INTEGER_BITS

CRole = Literal["filter", "bias", "multiplier", "shift", "lut", "table", "constant"]
CType = Literal["int8_t", "int16_t", "int32_t", "float"]
TensorRef = Callable[[Tensor], str]

_CTYPE_DTYPES: dict[str, type] = {"int8_t": np.int8, "int16_t": np.int16, "int32_t": np.int32,
                                  "float": np.float32}
_DTYPE_CTYPES: dict[DType, CType] = {DType.INT8: "int8_t", DType.INT16: "int16_t", DType.INT32: "int32_t",
                                     DType.FLOAT32: "float"}
# Unary int8 ops the runtime evaluates as (or exactly like) a function of the input byte: the C
# kernel looks the runtime's own table up.
KERNEL_SOURCES = ("tinyops_conv.c", "tinyops_depthwise.c", "tinyops_fully_connected.c",
                  "tinyops_elementwise.c", "tinyops_pooling.c", "tinyops_softmax.c",
                  "tinyops_data_movement.c")
KERNEL_HEADERS = ("tinyops_kernels.h", "tinyops_internal.h")


def kernel_dir() -> Path:
    """The folder of the C kernel sources (package data, shipped with the wheel)."""
    return Path(__file__).resolve().parent / "kernels"


@dataclass(frozen=True, eq=False)
class CArray:
    """A constant array of one op: ``static const <ctype> <name>[] = {...}`` in some section.

    ``tensor_index`` names the IR tensor the array derives from (its filter or bias; None for
    derived tables). ``rows`` > 1 marks an array stored one output channel per row
    (``row_elements`` values each): the filter of a channel-partitioned op.
    """

    name: str
    ctype: CType
    values: np.ndarray
    role: CRole
    tensor_index: int | None = None
    rows: int = 1

    @property
    def size_bytes(self) -> int:
        return int(self.values.size * np.dtype(_CTYPE_DTYPES[self.ctype]).itemsize)

    @property
    def row_elements(self) -> int:
        return int(self.values.size // self.rows)

    def channel_slice(self, oc_start: int, oc_stop: int) -> np.ndarray:
        """The values of output channels [oc_start, oc_stop): one contiguous slice."""
        return self.values[oc_start * self.row_elements:oc_stop * self.row_elements]

    def c_definition(self, qualifiers: str = "static const", attributes: str = "") -> str:
        """The C definition; ``attributes`` e.g. '__attribute__((section(".ext_flash")))'."""
        return c_array(self.name, self.ctype, self.values, qualifiers, attributes)


@dataclass(frozen=True, eq=False)
class EmittedOp:
    """What one op contributes to model.c.

    ``declarations``: file-scope C (the kernel's ``static const`` params struct).
    ``call``: the statement computing the whole op. ``constants``: the arrays it references by
    name. ``scratch_bytes``: bytes the kernel needs at the scratch pointer (4-byte aligned, may
    be 0), whatever the core (the larger of the portable and DSP needs).
    ``out_channels`` > 0 when the kernel takes channel ranges (:meth:`call_range`).
    """

    op_index: int
    kind: str
    declarations: str
    call: str
    constants: list[CArray]
    scratch_bytes: int
    out_channels: int = 0
    _template: str = field(default="", repr=False)

    @property
    def partitionable(self) -> bool:
        return self.out_channels > 0

    @property
    def filter(self) -> CArray | None:
        return next((c for c in self.constants if c.role == "filter"), None)

    def call_range(self, oc_start: int, oc_stop: int, filter_expr: str) -> str:
        """The call for output channels [oc_start, oc_stop), the filter rows read at filter_expr."""
        if not self.partitionable:
            raise ValueError(f"op {self.op_index} ({self.kind}) does not take channel ranges")
        if not 0 <= oc_start < oc_stop <= self.out_channels:
            raise ValueError(f"channel range [{oc_start}, {oc_stop}) outside 0..{self.out_channels}")
        return self._template.format(filter=filter_expr, oc_start=oc_start, oc_stop=oc_stop)


# --- C text helpers --------------------------------------------------------------------------

def c_array(name: str, ctype: str, values: np.ndarray, qualifiers: str = "static const",
            attributes: str = "", per_line: int = 16) -> str:
    flat = np.asarray(values).reshape(-1)
    if ctype == "float":
        items = [_c_float(float(v)) for v in flat.astype(np.float32)]
    elif ctype == "int32_t":
        items = [str(int(v)) if int(v) != -(1 << 31) else "INT32_MIN" for v in flat]
    else:
        items = [str(int(v)) for v in flat]
    lines = [", ".join(items[i:i + per_line]) for i in range(0, len(items), per_line)] or ["0"]
    body = ",\n    ".join(lines)
    attr = f" {attributes}" if attributes else ""
    return f"{qualifiers} {ctype} {name}[{max(len(items), 1)}]{attr} = {{\n    {body}\n}};\n"


def _c_float(value: float) -> str:
    if np.isnan(value):
        return "(0.0f / 0.0f)"
    if np.isinf(value):
        return "(1.0f / 0.0f)" if value > 0 else "(-1.0f / 0.0f)"
    return f"{float(np.float32(value)).hex()}f"  # a hexadecimal literal is exact (C99)


def _struct(ctype: str, name: str, fields: dict[str, int | list[int] | float]) -> str:
    parts = []
    for key, value in fields.items():
        if isinstance(value, list):
            parts.append(f".{key} = {{{', '.join(str(int(v)) for v in value)}}}")
        else:
            parts.append(f".{key} = {value}")
    body = ",\n    ".join(parts)
    return f"static const {ctype} {name} = {{\n    {body}\n}};\n"


def _padded(shape: tuple[int, ...], rank: int) -> list[int]:
    return [1] * (rank - len(shape)) + [int(s) for s in shape]


# --- support check -------------------------------------------------------------------------------

def unsupported_reason(op: Op) -> str | None:
    """Why the tinyops kernels cannot run ``op`` (None when they can)."""
    emitter = _EMITTERS.get(op.kind)
    if emitter is None:
        return f"no tinyops C kernel for {op.label}"
    try:
        emitter(_Ctx(op, 0, lambda t: "0", "0", lambda t: None), dry_run=True)
    except (KernelUnsupported, _Unsupported) as exc:
        return str(exc)
    return None


def check_supported(subgraph: Subgraph) -> None:
    """Refuse the first op without a C kernel, naming its kind and index (a TinyOpsError)."""
    for index, op in enumerate(subgraph.ops):
        reason = unsupported_reason(op)
        if reason is not None:
            raise UnsupportedOpError(f"{op.label} (op {index}) cannot be generated as C: {reason}")


def emit_op(subgraph: Subgraph, op_index: int, ref: TensorRef, scratch: str = "tinyops_scratch",
            prefix: str = "") -> EmittedOp:
    """The kernel call, params struct and constants of ``subgraph.ops[op_index]``.

    ``ref(tensor)`` is a C expression of the tensor's address (any object pointer type);
    ``scratch`` a ``void *`` expression of at least ``scratch_bytes`` bytes, 4-byte aligned.
    ``prefix`` goes before every C name (``<prefix>op<index>_filter``...).
    Raises UnsupportedOpError (kind and index in the message) for ops without a kernel.
    """
    op = subgraph.ops[op_index]
    emitter = _EMITTERS.get(op.kind)
    if emitter is None:
        raise UnsupportedOpError(f"{op.label} (op {op_index}) has no tinyops C kernel "
                                 f"(supported: {', '.join(sorted(_EMITTERS))})")
    index_of = {id(t): i for i, t in enumerate(subgraph.tensors)}
    ctx = _Ctx(op, op_index, ref, scratch, lambda t: index_of.get(id(t)), prefix)
    try:
        result = emitter(ctx, dry_run=False)
    except (KernelUnsupported, _Unsupported) as exc:
        raise UnsupportedOpError(f"{op.label} (op {op_index}) cannot be generated as C: {exc}") from None
    assert result is not None
    return result


def supported_kinds() -> list[str]:
    return sorted(_EMITTERS)


def scratch_bytes(subgraph: Subgraph, op_index: int) -> int:
    """Scratch the op's kernel needs (the same figure emit_op reports)."""
    return emit_op(subgraph, op_index, lambda t: "0").scratch_bytes


# --- emitters ----------------------------------------------------------------------------------

class _Unsupported(Exception):
    pass


@dataclass
class _Ctx:
    op: Op
    index: int
    ref: TensorRef
    scratch: str
    tensor_index: Callable[[Tensor], int | None]
    prefix: str = ""
    # constant tensors read where activations usually are (ADD of a constant...): emitted arrays
    inline_constants: list[CArray] = field(default_factory=list)

    def name(self, what: str) -> str:
        return f"{self.prefix}op{self.index}_{what}"

    def ptr(self, tensor: Tensor, ctype: str = "int8_t", const: bool = True) -> str:
        qualifier = "const " if const else ""
        if tensor.is_constant and const:
            return f"({qualifier}{ctype} *)({self.constant_array(tensor).name})"
        return f"({qualifier}{ctype} *)({self.ref(tensor)})"

    def constant_array(self, tensor: Tensor) -> CArray:
        position = next(i for i, t in enumerate(self.op.inputs) if t is tensor)
        name = self.name(f"in{position}")
        for array in self.inline_constants:
            if array.name == name:
                return array
        ctype = _DTYPE_CTYPES.get(tensor.dtype)
        if ctype is None:
            raise _Unsupported(f"a constant {tensor.dtype.value} input")
        array = CArray(name, ctype, np.asarray(tensor.data).reshape(-1).astype(_CTYPE_DTYPES[ctype]), "constant",
                       self.tensor_index(tensor))
        self.inline_constants.append(array)
        return array

    def out(self, ctype: str = "int8_t") -> str:
        return self.ptr(self.op.outputs[0], ctype, const=False)


Emitter = Callable[[_Ctx, bool], "EmittedOp | None"]


def _require_int8(*tensors: Tensor | None) -> None:
    for tensor in tensors:
        if tensor is not None and tensor.dtype is not DType.INT8:
            raise _Unsupported(f"{tensor.dtype.value} tensor {tensor.name!r} (the C kernels are int8)")


def _requant_arrays(ctx: _Ctx, input_t: Tensor, weights: Tensor, output_t: Tensor, channels: int,
                    w_rows: np.ndarray) -> tuple[list[CArray], int, int, int, int]:
    """Folded bias, multipliers and shifts (TFLite's conv quantization, via the runtime)."""
    w_zp = weight_zero_points(weights, channels)
    if np.any(w_zp != 0):
        raise _Unsupported("a filter zero point other than 0")
    stage = conv_output_stage(ctx.op, input_t, weights, output_t, channels)
    if stage.wide or stage.single_rounding:
        raise _Unsupported("64-bit or single-rounding requantization")
    _, in_zp = scale_zp(input_t)
    bias_t = ctx.op.input(2)
    bias = np.zeros(channels, np.int64) if bias_t is None else np.asarray(constant(ctx.op, 2), np.int64).reshape(channels)
    folded = bias - in_zp * w_rows.astype(np.int64).sum(axis=1)
    if np.any(np.abs(folded) >= (1 << 31)):
        raise _Unsupported("a folded bias outside int32")
    mult = np.broadcast_to(np.asarray(stage.multiplier, np.int64), (channels,))
    shift = np.broadcast_to(np.asarray(stage.shift, np.int64), (channels,))
    # |acc| < 2^30 for every input lets DSP cores rescale with SMMULR (see tinyops_internal.h).
    acc_bound = 128 * np.abs(w_rows.astype(np.int64)).sum(axis=1) + np.abs(folded)
    small = int(bool(np.all(acc_bound < (1 << 30))))
    arrays = [
        CArray(ctx.name("bias"), "int32_t", folded.astype(np.int32), "bias",
               None if bias_t is None else ctx.tensor_index(bias_t)),
        CArray(ctx.name("mult"), "int32_t", mult.astype(np.int32), "multiplier"),
        CArray(ctx.name("shift"), "int32_t", shift.astype(np.int32), "shift"),
    ]
    return arrays, stage.zero_point, stage.qmin, stage.qmax, small


def _weighted(ctx: _Ctx, kernel: str, params_type: str, fields: dict[str, int | list[int] | float],
              input_t: Tensor, filter_values: np.ndarray, weights: Tensor, channels: int,
              requant: list[CArray], scratch: int) -> EmittedOp:
    params = ctx.name("params")
    filter_array = CArray(ctx.name("filter"), "int8_t", filter_values.reshape(-1).astype(np.int8), "filter",
                          ctx.tensor_index(weights), rows=channels)
    names = {c.role: c.name for c in requant}
    template = (f"{kernel}(&{params}, {ctx.ptr(input_t)}, {{filter}}, {names['bias']}, "
                f"{names['multiplier']}, {names['shift']}, {ctx.out()}, {ctx.scratch}, "
                "{oc_start}, {oc_stop});")
    call = template.format(filter=filter_array.name, oc_start=0, oc_stop=channels)
    return EmittedOp(ctx.index, ctx.op.kind, _struct(params_type, params, fields), call,
                     [filter_array] + requant + ctx.inline_constants, align_scratch(scratch), channels, template)


def _conv_fields(input_t: Tensor, geo: Geometry, k_h: int, k_w: int, out_c: int, depth_multiplier: int,
                 out_zp: int, qmin: int, qmax: int, small: int) -> dict[str, int | list[int] | float]:
    """The ``tinyops_conv_params`` fields that CONV_2D and DEPTHWISE_CONV_2D share."""
    batches, in_h, in_w, in_c = input_t.shape
    _, in_zp = scale_zp(input_t)
    return dict(
        batches=batches, in_h=in_h, in_w=in_w, in_c=in_c, out_h=geo.out_h, out_w=geo.out_w,
        out_c=out_c, k_h=k_h, k_w=k_w, stride_h=geo.stride_h, stride_w=geo.stride_w,
        dil_h=geo.dil_h, dil_w=geo.dil_w, pad_top=geo.pad_h[0], pad_left=geo.pad_w[0],
        depth_multiplier=depth_multiplier, in_zp=in_zp, out_zp=out_zp, act_min=qmin, act_max=qmax,
        acc_small=small)


def _emit_conv(ctx: _Ctx, dry_run: bool) -> EmittedOp | None:
    op = ctx.op
    input_t, weights, output_t = tensor_in(op, 0), tensor_in(op, 1), op.outputs[0]
    _require_int8(input_t, weights, output_t)
    w = constant(op, 1)
    out_c, k_h, k_w, w_in_c = w.shape
    in_c = input_t.shape[-1]
    if in_c != w_in_c:
        raise _Unsupported(f"grouped convolution ({in_c} input channels, filter depth {w_in_c})")
    geo = Geometry(op, k_h, k_w)
    w_rows = w.reshape(out_c, -1)
    requant, out_zp, qmin, qmax, small = _requant_arrays(ctx, input_t, weights, output_t, out_c, w_rows)
    if dry_run:
        return None
    fields = _conv_fields(input_t, geo, k_h, k_w, out_c, 1, out_zp, qmin, qmax, small)
    return _weighted(ctx, "tinyops_conv_s8", "tinyops_conv_params", fields, input_t, w_rows, weights,
                     out_c, requant, matrix_scratch_bytes(k_h * k_w * in_c, out_c))


def _emit_depthwise(ctx: _Ctx, dry_run: bool) -> EmittedOp | None:
    op = ctx.op
    input_t, weights, output_t = tensor_in(op, 0), tensor_in(op, 1), op.outputs[0]
    _require_int8(input_t, weights, output_t)
    w = constant(op, 1)
    _, k_h, k_w, out_c = w.shape
    in_c = input_t.shape[-1]
    if out_c % in_c:
        raise _Unsupported(f"{out_c} output channels is not a multiple of {in_c} input channels")
    geo = Geometry(op, k_h, k_w)
    w_rows = np.ascontiguousarray(w.reshape(k_h * k_w, out_c).T)  # [oc][kh*kw]
    requant, out_zp, qmin, qmax, small = _requant_arrays(ctx, input_t, weights, output_t, out_c, w_rows)
    if dry_run:
        return None
    fields = _conv_fields(input_t, geo, k_h, k_w, out_c, out_c // in_c, out_zp, qmin, qmax, small)
    scratch = depthwise_scratch_bytes(geo.out_h, geo.out_w, k_h, k_w, geo.stride_h, geo.stride_w,
                                      geo.dil_h, geo.dil_w)
    return _weighted(ctx, "tinyops_depthwise_s8", "tinyops_conv_params", fields, input_t, w_rows,
                     weights, out_c, requant, scratch)


def _emit_fc(ctx: _Ctx, dry_run: bool) -> EmittedOp | None:
    op = ctx.op
    input_t, weights, output_t = tensor_in(op, 0), tensor_in(op, 1), op.outputs[0]
    _require_int8(input_t, weights, output_t)
    w = constant(op, 1)
    if w.ndim != 2:
        raise _Unsupported(f"weights of rank {w.ndim}")
    if op.attrs.get("weights_format", "DEFAULT") not in ("DEFAULT", 0):
        raise _Unsupported(f"weights format {op.attrs['weights_format']}")
    units, depth = w.shape
    rows = input_t.num_elements // depth
    requant, out_zp, qmin, qmax, small = _requant_arrays(ctx, input_t, weights, output_t, units, w)
    if dry_run:
        return None
    fields: dict[str, int | list[int] | float] = dict(rows=rows, depth=depth, units=units, out_zp=out_zp,
                                                      act_min=qmin, act_max=qmax, acc_small=small)
    return _weighted(ctx, "tinyops_fc_s8", "tinyops_fc_params", fields, input_t, w, weights, units,
                     requant, matrix_scratch_bytes(depth, units))


def _simple(ctx: _Ctx, call: str, declarations: str = "", constants: list[CArray] | None = None,
            scratch: int = 0) -> EmittedOp:
    return EmittedOp(ctx.index, ctx.op.kind, declarations, call, (constants or []) + ctx.inline_constants, scratch)


def _emit_lut(ctx: _Ctx, dry_run: bool) -> EmittedOp | None:
    op = ctx.op
    input_t, output_t = tensor_in(op, 0), op.outputs[0]
    count = output_t.num_elements
    if op.kind == "QUANTIZE" and input_t.dtype is DType.FLOAT32:
        _require_int8(output_t)
        if output_t.quantization is not None and output_t.quantization.per_channel:
            raise _Unsupported("per-channel output quantization")
        if dry_run:
            return None
        scale, zp = scale_zp(output_t)
        return _simple(ctx, f"tinyops_quantize_f32_s8({ctx.ptr(input_t, 'float')}, {ctx.out()}, {count}, "
                            f"{_c_float(float(np.float32(scale)))}, {zp});")
    _require_int8(input_t, output_t)
    factory = kernel_factory(op)
    if factory is None:
        raise _Unsupported(f"no runtime kernel for {op.label}")
    kernel = factory(op, KernelOptions())  # KernelUnsupported propagates with the runtime's reason
    if dry_run:
        return None
    table = np.asarray(kernel([np.arange(256, dtype=np.uint8).view(np.int8)])[0]).astype(np.int8)
    lut = CArray(ctx.name("lut"), "int8_t", table, "lut")
    return _simple(ctx, f"tinyops_lut_s8({ctx.ptr(input_t)}, {ctx.out()}, {count}, {lut.name});",
                   constants=[lut])


def _emit_dequantize(ctx: _Ctx, dry_run: bool) -> EmittedOp | None:
    op = ctx.op
    input_t, output_t = tensor_in(op, 0), op.outputs[0]
    _require_int8(input_t)
    if output_t.dtype is not DType.FLOAT32:
        raise _Unsupported(f"dequantizing to {output_t.dtype.value}")
    factory = kernel_factory(op)
    assert factory is not None
    kernel = factory(op, KernelOptions())
    if dry_run:
        return None
    table = np.asarray(kernel([np.arange(256, dtype=np.uint8).view(np.int8)])[0]).astype(np.float32)
    lut = CArray(ctx.name("lut"), "float", table, "lut")
    return _simple(ctx, f"tinyops_lut_s8_f32({ctx.ptr(input_t)}, {ctx.out('float')}, "
                        f"{output_t.num_elements}, {lut.name});", constants=[lut])


def _broadcast_fields(a: Tensor, b: Tensor, out: Tensor) -> dict[str, int | list[int] | float]:
    rank = 6
    if len(out.shape) > rank:
        raise _Unsupported(f"rank {len(out.shape)} broadcasting (at most {rank})")
    out_shape = _padded(tuple(out.shape), rank)

    def strides(t: Tensor) -> list[int]:
        shape = _padded(tuple(t.shape), rank)
        result, step = [0] * rank, 1
        for d in reversed(range(rank)):
            result[d] = 0 if shape[d] == 1 and out_shape[d] != 1 else step
            step *= shape[d]
        return result

    return {"shape": out_shape, "a_stride": strides(a), "b_stride": strides(b)}


def _emit_binary(ctx: _Ctx, dry_run: bool) -> EmittedOp | None:
    op = ctx.op
    a, b, out = tensor_in(op, 0), tensor_in(op, 1), op.outputs[0]
    _require_int8(a, b, out)
    if kernel_factory(op) is None:
        raise _Unsupported(f"no runtime kernel for {op.label}")
    a_scale, a_zp = scale_zp(a)
    b_scale, b_zp = scale_zp(b)
    out_scale, out_zp = scale_zp(out)
    qmin, qmax = activation_range(fused_activation(op), out.dtype, out_scale, out_zp)
    fields = _broadcast_fields(a, b, out)
    if dry_run:
        return None
    fields.update(a_zp=a_zp, b_zp=b_zp, out_zp=out_zp, act_min=int(qmin), act_max=int(qmax))
    if op.kind == "MUL":
        mult, shift = quantize_multiplier(float(np.float32(a_scale)) * float(np.float32(b_scale))
                                          / float(np.float32(out_scale)))
        fields.update(out_mult=mult, out_shift=shift)
        kernel = "tinyops_mul_s8"
    else:
        # The runtime's (TFLite's) ADD/SUB preparation, step for step.
        twice_max = float(np.float32(2) * np.float32(max(a_scale, b_scale)))
        a_mult, a_shift = quantize_multiplier(float(np.float32(a_scale)) / twice_max)
        b_mult, b_shift = quantize_multiplier(float(np.float32(b_scale)) / twice_max)
        out_mult, out_shift = quantize_multiplier(
            twice_max / float(np.float32(1 << ADD_LEFT_SHIFT_INT8) * np.float32(out_scale)))
        fields.update(a_mult=a_mult, a_shift=a_shift, b_mult=b_mult, b_shift=b_shift, out_mult=out_mult,
                      out_shift=out_shift, left_shift=ADD_LEFT_SHIFT_INT8)
        kernel = "tinyops_add_s8" if op.kind == "ADD" else "tinyops_sub_s8"
    params = ctx.name("params")
    return _simple(ctx, f"{kernel}(&{params}, {ctx.ptr(a)}, {ctx.ptr(b)}, {ctx.out()});",
                   _struct("tinyops_binary_params", params, fields))


def _emit_pool(ctx: _Ctx, dry_run: bool) -> EmittedOp | None:
    op = ctx.op
    input_t, output_t = tensor_in(op, 0), op.outputs[0]
    _require_int8(input_t, output_t)
    geo = Geometry(op, int(op.attrs["filter_height"]), int(op.attrs["filter_width"]))
    out_scale, out_zp = scale_zp(output_t)
    qmin, qmax = activation_range(fused_activation(op), output_t.dtype, out_scale, out_zp)
    if geo.dil_h != 1 or geo.dil_w != 1:
        raise _Unsupported("dilated pooling")
    if dry_run:
        return None
    batches, in_h, in_w, channels = input_t.shape
    params = ctx.name("params")
    fields: dict[str, int | list[int] | float] = dict(
        batches=batches, in_h=in_h, in_w=in_w, channels=channels, out_h=geo.out_h, out_w=geo.out_w,
        k_h=geo.k_h, k_w=geo.k_w, stride_h=geo.stride_h, stride_w=geo.stride_w,
        pad_top=geo.pad_h[0], pad_left=geo.pad_w[0], act_min=int(qmin), act_max=int(qmax))
    kernel = "tinyops_avgpool_s8" if op.kind == "AVERAGE_POOL_2D" else "tinyops_maxpool_s8"
    return _simple(ctx, f"{kernel}(&{params}, {ctx.ptr(input_t)}, {ctx.out()});",
                   _struct("tinyops_pool_params", params, fields))


def _emit_mean(ctx: _Ctx, dry_run: bool) -> EmittedOp | None:
    op = ctx.op
    input_t, output_t = tensor_in(op, 0), op.outputs[0]
    _require_int8(input_t, output_t)
    shape = tuple(input_t.shape)
    rank = len(shape)
    axes = sorted({int(a) % rank for a in np.asarray(constant(op, 1)).reshape(-1)}) if rank else []
    if axes and axes != list(range(axes[0], axes[-1] + 1)):
        raise _Unsupported(f"MEAN over non-adjacent axes {axes}")
    if dry_run:
        return None
    first, last = (axes[0], axes[-1] + 1) if axes else (rank, rank)
    outer = int(np.prod(shape[:first], dtype=np.int64))
    reduce = int(np.prod(shape[first:last], dtype=np.int64))
    inner = int(np.prod(shape[last:], dtype=np.int64))
    in_scale, in_zp = scale_zp(input_t)
    out_scale, out_zp = scale_zp(output_t)
    # The runtime's (TFLM's) QuantizedMeanOrSum constants.
    multiplier, shift = quantize_multiplier(float(np.float32(in_scale)) / float(np.float32(out_scale)))
    s = min(reduce.bit_length() - 1, 32, 31 + shift)
    params = ctx.name("params")
    fields: dict[str, int | list[int] | float] = dict(
        outer=outer, reduce=reduce, inner=inner, offset=in_zp * reduce, mult=(multiplier << s) // reduce,
        shift=shift - s, out_zp=out_zp, act_min=-128, act_max=127)
    return _simple(ctx, f"tinyops_mean_s8(&{params}, {ctx.ptr(input_t)}, {ctx.out()});",
                   _struct("tinyops_mean_params", params, fields))


def softmax_tables(beta: float, input_scale: float) -> tuple[np.ndarray, np.ndarray, int]:
    """exp of every int8 difference to the row maximum (-255..0) and its accumulation form, and
    diff_min: the runtime's softmax preparation."""
    multiplier, left_shift = preprocess_softmax_scaling(beta, float(np.float32(input_scale)), SCALED_DIFF_INTEGER_BITS)
    diff_min = -calculate_input_radius(SCALED_DIFF_INTEGER_BITS, left_shift)
    diffs = np.arange(-255, 1, dtype=np.int64)
    rescaled = saturating_rounding_doubling_high_mul(wrap_int32(diffs << left_shift), multiplier)
    exp_table = np.where(diffs >= diff_min, exp_on_negative_values(rescaled, SCALED_DIFF_INTEGER_BITS), 0)
    sum_table = rounding_divide_by_pot(exp_table, ACCUMULATION_INTEGER_BITS)
    return exp_table.astype(np.int32), sum_table.astype(np.int32), diff_min


def _emit_softmax(ctx: _Ctx, dry_run: bool) -> EmittedOp | None:
    op = ctx.op
    input_t, output_t = tensor_in(op, 0), op.outputs[0]
    _require_int8(input_t)
    if output_t.dtype not in (DType.INT8, DType.INT16):
        raise _Unsupported(f"int8 -> {output_t.dtype.value} softmax")
    if dry_run:
        return None
    beta = float(np.float32(op.attrs.get("beta", 1.0)))
    exp_table, sum_table, diff_min = softmax_tables(beta, scale_zp(input_t)[0])
    depth = int(input_t.shape[-1]) if input_t.shape else 1
    params = ctx.name("params")
    exp_array = CArray(ctx.name("exp"), "int32_t", exp_table, "lut")
    sum_array = CArray(ctx.name("sum"), "int32_t", sum_table, "lut")
    fields: dict[str, int | list[int] | float] = dict(rows=input_t.num_elements // depth, depth=depth,
                                                      diff_min=diff_min)
    if output_t.dtype is DType.INT8:
        call = (f"tinyops_softmax_s8(&{params}, {exp_array.name}, {sum_array.name}, {ctx.ptr(input_t)}, "
                f"{ctx.out()});")
    else:
        call = (f"tinyops_softmax_s8_s16(&{params}, {exp_array.name}, {sum_array.name}, "
                f"{ctx.ptr(input_t)}, {ctx.out('int16_t')});")
    return _simple(ctx, call, _struct("tinyops_softmax_params", params, fields), [exp_array, sum_array])


def _emit_view(ctx: _Ctx, dry_run: bool) -> EmittedOp | None:
    input_t, output_t = tensor_in(ctx.op, 0), ctx.op.outputs[0]
    if input_t.size_bytes != output_t.size_bytes:
        raise _Unsupported("input and output sizes differ")
    if dry_run:
        return None
    return _simple(ctx, f"tinyops_copy({ctx.ptr(input_t, 'void')}, {ctx.out('void')}, {output_t.size_bytes});")


def _elem_bytes(tensor: Tensor) -> int:
    if tensor.dtype.bits % 8:
        raise _Unsupported(f"{tensor.dtype.value} elements")
    return tensor.dtype.bits // 8


def _emit_pad(ctx: _Ctx, dry_run: bool) -> EmittedOp | None:
    op = ctx.op
    input_t, output_t = tensor_in(op, 0), op.outputs[0]
    paddings = np.asarray(constant(op, 1)).reshape(-1, 2).astype(np.int64)
    if np.any(paddings < 0):
        raise _Unsupported("negative paddings")
    if len(input_t.shape) > 4:
        raise _Unsupported(f"rank-{len(input_t.shape)} PAD (at most 4)")
    _require_int8(input_t, output_t)
    if op.kind == "PADV2" and op.input(2) is not None:
        value = int(np.asarray(constant(op, 2)).reshape(-1)[0])
    else:
        value = scale_zp(output_t)[1]
    if dry_run:
        return None
    extra = 4 - len(input_t.shape)
    params = ctx.name("params")
    fields: dict[str, int | list[int] | float] = dict(
        in_shape=_padded(tuple(input_t.shape), 4), before=[0] * extra + [int(v) for v in paddings[:, 0]],
        after=[0] * extra + [int(v) for v in paddings[:, 1]], elem_bytes=1, value=value)
    return _simple(ctx, f"tinyops_pad(&{params}, {ctx.ptr(input_t, 'void')}, {ctx.out('void')});",
                   _struct("tinyops_pad_params", params, fields))


def _emit_concat(ctx: _Ctx, dry_run: bool) -> EmittedOp | None:
    op = ctx.op
    output_t = op.outputs[0]
    factory = kernel_factory(op)
    assert factory is not None
    factory(op, KernelOptions())  # the runtime's checks (matching quantization, no activation)
    inputs = [t for t in op.inputs if t is not None]
    rank = len(output_t.shape)
    axis = int(op.attrs.get("axis", 0)) % max(rank, 1)
    eb = _elem_bytes(output_t)
    if dry_run:
        return None
    outer = int(np.prod(output_t.shape[:axis], dtype=np.int64))
    inner = [int(np.prod(t.shape[axis:], dtype=np.int64)) * eb for t in inputs]
    pointers = ", ".join(ctx.ptr(t, "void") for t in inputs)
    sizes = ", ".join(str(v) for v in inner)
    return _simple(ctx, f"tinyops_concat((const void *const[]){{{pointers}}}, (const int32_t[]){{{sizes}}}, "
                        f"{len(inputs)}, {outer}, {ctx.out('void')});")


def _emit_transpose(ctx: _Ctx, dry_run: bool) -> EmittedOp | None:
    op = ctx.op
    input_t, output_t = tensor_in(op, 0), op.outputs[0]
    perm = [int(p) for p in np.asarray(constant(op, 1)).reshape(-1)]
    rank = len(input_t.shape)
    if rank > 6:
        raise _Unsupported(f"rank-{rank} TRANSPOSE (at most 6)")
    eb = _elem_bytes(input_t)
    if dry_run:
        return None
    in_strides = [int(np.prod(input_t.shape[d + 1:], dtype=np.int64)) for d in range(rank)]
    extra = 6 - rank
    params = ctx.name("params")
    fields: dict[str, int | list[int] | float] = dict(
        out_shape=[1] * extra + [int(input_t.shape[p]) for p in perm],
        in_stride=[0] * extra + [in_strides[p] for p in perm], elem_bytes=eb)
    return _simple(ctx, f"tinyops_transpose(&{params}, {ctx.ptr(input_t, 'void')}, {ctx.out('void')});",
                   _struct("tinyops_transpose_params", params, fields))


def _emit_resize(ctx: _Ctx, dry_run: bool) -> EmittedOp | None:
    op = ctx.op
    input_t, output_t = tensor_in(op, 0), op.outputs[0]
    _require_int8(input_t, output_t)
    if len(input_t.shape) != 4:
        raise _Unsupported(f"rank-{len(input_t.shape)} input (NHWC expected)")
    if dry_run:
        return None
    out_h, out_w = (int(v) for v in np.asarray(constant(op, 1)).reshape(-1)[:2])
    align = bool(op.attrs.get("align_corners", False))
    half = bool(op.attrs.get("half_pixel_centers", False))
    batches, in_h, in_w, channels = input_t.shape
    rows = CArray(ctx.name("rows"), "int32_t", _nearest_indices(in_h, out_h, align, half).astype(np.int32), "table")
    cols = CArray(ctx.name("cols"), "int32_t", _nearest_indices(in_w, out_w, align, half).astype(np.int32), "table")
    params = ctx.name("params")
    fields: dict[str, int | list[int] | float] = dict(batches=batches, in_h=in_h, in_w=in_w, channels=channels,
                                                      out_h=out_h, out_w=out_w)
    return _simple(ctx, f"tinyops_resize_nearest_s8(&{params}, {rows.name}, {cols.name}, {ctx.ptr(input_t)}, "
                        f"{ctx.out()});", _struct("tinyops_resize_params", params, fields), [rows, cols])


_EMITTERS: dict[str, Callable[..., EmittedOp | None]] = {
    "CONV_2D": _emit_conv,
    "DEPTHWISE_CONV_2D": _emit_depthwise,
    "FULLY_CONNECTED": _emit_fc,
    "ADD": _emit_binary,
    "SUB": _emit_binary,
    "MUL": _emit_binary,
    "AVERAGE_POOL_2D": _emit_pool,
    "MAX_POOL_2D": _emit_pool,
    "MEAN": _emit_mean,
    "SOFTMAX": _emit_softmax,
    "DEQUANTIZE": _emit_dequantize,
    "PAD": _emit_pad,
    "PADV2": _emit_pad,
    "CONCATENATION": _emit_concat,
    "TRANSPOSE": _emit_transpose,
    "RESIZE_NEAREST_NEIGHBOR": _emit_resize,
    **{kind: _emit_lut for kind in LUT_KINDS},
    **{kind: _emit_view for kind in VIEW_KINDS},
}
