"""The model validator: run once at load, after parsing and before any stage, so stages can trust the IR.

It refuses, with one line naming the subgraph, the op or tensor by index and name, and what is
wrong: tensors produced twice or written into constants and graph inputs, ops that read a tensor
nothing produced before them (cycles, broken order), shapes that are not positive or too large,
constant data whose size is not shape x dtype, option values outside their domain (strides,
dilations, filter sizes, padding and activation enums, axes), output shapes the op registry's
shape rule disagrees with, and quantization parameters that are not finite, not positive, out of
the type's range or of the wrong length for ``quantized_dimension``.
"""

from __future__ import annotations

import math
from typing import Iterable, NoReturn

import numpy as np

from tinyops.errors import ModelFormatError
from tinyops.ir.dtypes import DType
from tinyops.ir.graph import Graph, Op, Subgraph, Tensor

# A tensor past 2 GiB is beyond any MCU and beyond TFLite's 32-bit offsets.
MAX_TENSOR_BYTES = 1 << 31
MAX_RANK = 8
KNOWN_PADDINGS = ("SAME", "VALID")
KNOWN_ACTIVATIONS = ("NONE", "RELU", "RELU_N1_TO_1", "RELU6", "TANH", "SIGN_BIT")
# Option fields that count something and must be at least 1 wherever they appear.
POSITIVE_FIELDS = ("stride_h", "stride_w", "dilation_h_factor", "dilation_w_factor", "filter_height",
                   "filter_width", "depth_multiplier")
# Ops whose ``axis`` option indexes their first input (PACK: its output, one rank higher).
AXIS_OPS = {"CONCATENATION": 0, "GATHER": 0, "UNPACK": 0, "ARG_MAX": 0, "ARG_MIN": 0, "PACK": 1,
            "SOFTMAX": 0, "CUMSUM": 0}
# Op categories (op registry) whose output has the type of their first input.
SAME_TYPE_CATEGORIES = ("conv", "depthwise", "fc", "pool")
INTEGER_RANGES: dict[DType, tuple[int, int]] = {
    DType.INT4: (-8, 7), DType.UINT4: (0, 15), DType.INT8: (-128, 127), DType.UINT8: (0, 255),
    DType.INT16: (-32768, 32767), DType.UINT16: (0, 65535), DType.INT32: (-(1 << 31), (1 << 31) - 1),
    DType.INT64: (-(1 << 63), (1 << 63) - 1),
}


class _Problems:
    """Raises on the first problem: the user gets one line, the first thing to fix."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, where: str, message: str) -> NoReturn:
        raise ModelFormatError(f"{self.source}: {where}: {message}")


def _tensor_label(subgraph_index: int, index: int, tensor: Tensor) -> str:
    prefix = f"subgraph {subgraph_index} " if subgraph_index else ""
    return f"{prefix}tensor {index} '{tensor.name}'"


def _op_label(subgraph_index: int, index: int, op: Op) -> str:
    prefix = f"subgraph {subgraph_index} " if subgraph_index else ""
    return f"{prefix}op {index} ({op.label})"


def validate_graph(graph: Graph, source: str = "<model>") -> None:
    """Raise ModelFormatError (one line) on the first thing a stage could not trust."""
    problems = _Problems(source)
    if not graph.subgraphs:
        problems.fail("model", "has no subgraphs")
    main = graph.main
    if not main.ops:
        problems.fail("subgraph 0", "has no operators; nothing to run")
    if not main.outputs:
        problems.fail("subgraph 0", "declares no outputs")
    for subgraph_index, subgraph in enumerate(graph.subgraphs):
        _validate_subgraph(subgraph_index, subgraph, problems)
    offline = graph.metadata.get("OfflineMemoryAllocation")
    if offline is not None and (len(offline) % 4 or len(offline) < 12):
        problems.fail("metadata OfflineMemoryAllocation", f"is {len(offline)} bytes; TFLM expects int32 words "
                                                          "(version, subgraph, count, offsets...)")


def _validate_subgraph(subgraph_index: int, subgraph: Subgraph, problems: _Problems) -> None:
    index_of = {id(t): i for i, t in enumerate(subgraph.tensors)}
    # LSTM "intermediates" are listed with shape [0]; a tensor no op reads or writes may be empty.
    used = {id(t) for op in subgraph.ops for t in [*op.inputs, *op.outputs] if t is not None}
    used.update(id(t) for t in [*subgraph.inputs, *subgraph.outputs])
    for index, tensor in enumerate(subgraph.tensors):
        _validate_tensor(_tensor_label(subgraph_index, index, tensor), tensor, problems, id(tensor) in used)
    graph_inputs = {id(t) for t in subgraph.inputs}
    available = set(graph_inputs)
    available.update(id(t) for t in subgraph.tensors if t.is_constant or t.is_variable)
    produced: dict[int, int] = {}
    for op_index, op in enumerate(subgraph.ops):
        where = _op_label(subgraph_index, op_index, op)
        for read in op.inputs:
            if read is None or id(read) in available:
                continue
            tensor = read
            t_index = index_of[id(tensor)]
            name = _tensor_label(subgraph_index, t_index, tensor)
            if id(tensor) in {id(t) for t in op.outputs} or any(id(tensor) in {id(t) for t in later.outputs}
                                                                 for later in subgraph.ops[op_index + 1:]):
                problems.fail(where, f"reads {name} before it is produced (a cycle or a broken operator order)")
            if op.kind != "CUSTOM":  # custom ops (an Ethos-U command stream) may own scratch tensors
                problems.fail(where, f"reads {name}, which is neither a model input, a constant nor produced by an op")
        for tensor in op.outputs:
            t_index = index_of[id(tensor)]
            name = _tensor_label(subgraph_index, t_index, tensor)
            if id(tensor) in produced:
                problems.fail(where, f"writes {name}, already produced by op {produced[id(tensor)]}")
            if tensor.is_constant:
                problems.fail(where, f"writes {name}, which holds constant data")
            if id(tensor) in graph_inputs:
                problems.fail(where, f"writes {name}, which is a model input")
            produced[id(tensor)] = op_index
            available.add(id(tensor))
        _validate_op(where, op, problems)
    for tensor in subgraph.outputs:
        if id(tensor) not in available:
            name = _tensor_label(subgraph_index, index_of[id(tensor)], tensor)
            problems.fail(f"subgraph {subgraph_index}", f"output {name} is produced by no op")


def _validate_tensor(where: str, tensor: Tensor, problems: _Problems, used: bool) -> None:
    shape = tensor.shape
    if len(shape) > MAX_RANK:
        problems.fail(where, f"has rank {len(shape)}; at most {MAX_RANK} is supported")
    if any(d < (1 if used else 0) for d in shape):
        problems.fail(where, f"has shape {list(shape)}; every dimension must be at least 1")
    elements = math.prod(shape)
    size_bytes = (elements * tensor.dtype.bits + 7) // 8
    if size_bytes > MAX_TENSOR_BYTES:
        problems.fail(where, f"has shape {list(shape)} ({size_bytes:,} bytes); tensors are limited to 2 GiB")
    if tensor.data is not None and tensor.dtype is not DType.STRING and "sparsity" not in tensor.extras:
        if tensor.extras.get("raw_data") or tensor.data.size != elements:
            stored = tensor.data.nbytes
            problems.fail(where, f"has {stored:,} bytes of data, but shape {list(shape)} of "
                                 f"{tensor.dtype.value} needs {size_bytes:,}")
        if tensor.dtype.is_float and tensor.data.dtype.kind == "f":
            bad = int(np.count_nonzero(~np.isfinite(tensor.data)))
            if bad:
                problems.fail(where, f"holds {bad:,} non-finite constant values (NaN or infinity)")
    if tensor.quantization is not None:
        _validate_quantization(where, tensor, problems)


def _validate_quantization(where: str, tensor: Tensor, problems: _Problems) -> None:
    q = tensor.quantization
    assert q is not None
    scale = np.asarray(q.scale, dtype=np.float64).reshape(-1)
    zero_point = np.asarray(q.zero_point).reshape(-1)
    if not np.all(np.isfinite(scale)) or np.any(scale <= 0):
        bad = scale[~(np.isfinite(scale) & (scale > 0))][0]
        problems.fail(where, f"has quantization scale {bad}; scales must be finite and positive")
    if np.any(scale < np.finfo(np.float32).tiny) or np.any(scale > 1e30):
        problems.fail(where, f"has quantization scale {scale[(scale < 1e-38) | (scale > 1e30)][0]:g}, "
                             "outside the range a fixed-point multiplier can represent")
    if zero_point.size not in (scale.size, 1):
        problems.fail(where, f"has {scale.size} quantization scales but {zero_point.size} zero points")
    low, high = INTEGER_RANGES.get(tensor.dtype, (-(1 << 63), (1 << 63) - 1))
    if zero_point.size and (zero_point.min() < low or zero_point.max() > high):
        bad_zero = int(zero_point[(zero_point < low) | (zero_point > high)][0])
        problems.fail(where, f"has zero point {bad_zero}, outside the {tensor.dtype.value} range [{low}, {high}]")
    if scale.size > 1:
        rank = len(tensor.shape)
        if rank == 1 and tensor.shape[0] == scale.size:
            return  # a per-channel bias: converters leave the filter's quantized_dimension on it
        if not 0 <= q.axis < rank:
            problems.fail(where, f"has quantized_dimension {q.axis}, but the tensor has rank {rank}")
        if tensor.shape[q.axis] != scale.size:
            problems.fail(where, f"has {scale.size} per-channel scales, but dimension {q.axis} "
                                 f"(quantized_dimension) has {tensor.shape[q.axis]} channels")


def _validate_op(where: str, op: Op, problems: _Problems) -> None:
    from tinyops.ops.registry import infer_output_shapes, spec_for

    attrs = op.attrs
    for name in POSITIVE_FIELDS:
        value = attrs.get(name)
        if isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value < 1:
            problems.fail(where, f"has {name} = {value}; it must be at least 1")
    padding = attrs.get("padding")
    if padding is not None and padding not in KNOWN_PADDINGS:
        problems.fail(where, f"has unknown padding {padding!r}")
    activation = attrs.get("fused_activation_function")
    if activation is not None and activation not in KNOWN_ACTIVATIONS:
        problems.fail(where, f"has unknown fused activation {activation!r}")
    if op.kind in AXIS_OPS and "axis" in attrs and op.inputs and op.inputs[0] is not None:
        rank = len(op.inputs[0].shape) + AXIS_OPS[op.kind]
        axis = int(attrs["axis"])
        if not -max(rank, 1) <= axis < max(rank, 1):
            problems.fail(where, f"has axis {axis}, out of range for rank {rank}")
    first = op.inputs[0] if op.inputs else None
    if spec_for(op).category in SAME_TYPE_CATEGORIES and first is not None and op.outputs:
        if first.dtype is not op.outputs[0].dtype:
            problems.fail(where, f"reads {first.dtype.value} but writes {op.outputs[0].dtype.value}; "
                                 "the op keeps its input's type")
    if spec_for(op).category == "reshape" and first is not None and op.outputs:
        if first.num_elements != op.outputs[0].num_elements:
            problems.fail(where, f"reshapes {first.num_elements:,} elements ({list(first.shape)}) into "
                                 f"{op.outputs[0].num_elements:,} ({list(op.outputs[0].shape)})")
    _validate_weights(where, op, problems)
    try:
        expected = infer_output_shapes(op)
    except (ValueError, TypeError, IndexError, KeyError, ZeroDivisionError, OverflowError) as exc:
        problems.fail(where, f"its inputs do not fit the op ({_input_summary(op.inputs)}): {exc or type(exc).__name__}")
        return
    if expected is None:
        return
    if len(expected) != len(op.outputs):
        problems.fail(where, f"has {len(op.outputs)} outputs; the op produces {len(expected)}")
    for number, (tensor, shape) in enumerate(zip(op.outputs, expected)):
        if tuple(tensor.shape) != tuple(shape):
            problems.fail(where, f"output {number} '{tensor.name}' has shape {list(tensor.shape)}, "
                                 f"but its inputs give {list(shape)}")


# Filter layouts TFLite defines: CONV_2D [out_c, k_h, k_w, in_c], DEPTHWISE_CONV_2D [1, k_h, k_w, out_c],
# FULLY_CONNECTED [out, in]; the bias holds one value per output channel.
FILTER_RANKS = {"CONV_2D": 4, "DEPTHWISE_CONV_2D": 4, "FULLY_CONNECTED": 2}


def _validate_weights(where: str, op: Op, problems: _Problems) -> None:
    """The filter and bias of a MAC op have the layout its kind defines (the kernels rely on it)."""
    rank = FILTER_RANKS.get(op.kind)
    if rank is None or len(op.inputs) < 2 or op.inputs[1] is None:
        return
    shape = tuple(op.inputs[1].shape)
    if len(shape) != rank:
        problems.fail(where, f"has a filter of shape {list(shape)}; {op.kind} takes a rank-{rank} filter")
    if op.kind == "DEPTHWISE_CONV_2D" and shape[0] != 1:
        problems.fail(where, f"has a depthwise filter of shape {list(shape)}; its first dimension must be 1")
    out_channels = shape[-1] if op.kind == "DEPTHWISE_CONV_2D" else shape[0]
    bias = op.inputs[2] if len(op.inputs) > 2 else None
    if bias is not None and tuple(bias.shape) != (out_channels,):
        problems.fail(where, f"has a bias of shape {list(bias.shape)} for {out_channels} output channels")


def _input_summary(inputs: Iterable[Tensor | None]) -> str:
    return ", ".join("none" if t is None else f"{list(t.shape)}" for t in inputs) or "no inputs"
