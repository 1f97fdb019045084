"""TFLM's persistent ("tail") allocations: the RAM the interpreter needs beyond the tensor arena head.

TFLM's `MicroAllocator` splits its arena in two: the head holds the planned activations (what
`memory.plan(planner="tflm")` reproduces) and the tail holds everything that lives as long as the
interpreter: one `TfLiteEvalTensor` per tensor, one `NodeAndRegistration` per op, each op's parsed
builtin options and its kernel's `OpData` (plus per-channel requantization arrays for conv,
depthwise and per-channel fully-connected), variable tensors (LSTM/SVDF state), full
`TfLiteTensor`s with their quantization for the model's inputs and outputs, and the allocator,
planner and builtin-data-allocator objects themselves.

The formula counts those from the graph and sizes each with the C layout of TFLM's structures
for a target ABI. The structure member lists are facts read from tflite-micro (commit 90b983c,
Aug 2026; files named at each table below); sizes follow from natural alignment with
``pointer_size_bytes`` pointers and ``size_t``. With 8-byte pointers, TFLM's compression support
on and the recording allocator (what the `tflite_micro` Python wheel builds) it reproduces the
wheel's `print_allocations()` tail within a few percent on every shared model it loads
(tests/test_runtime_overhead.py); with 4-byte pointers it is the figure for a Cortex-M build.

Kernel-specific persistent state is taken from TFLM's reference kernels, which is what both the
Python interpreter and a default Cortex-M build run; CMSIS-NN's kernels keep the same OpData
layouts for conv/depthwise/fully-connected. An op whose kernel this table does not know is
counted with a stated default and listed in `TflmOverheadBreakdown.unknown_ops`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union

from flatbuffers import flexbuffers  # type: ignore[import-untyped]

from tinyops.ir.dtypes import DType
from tinyops.ir.graph import Graph, Op, Tensor

# TFLM aligns every kernel persistent buffer and variable tensor to MicroArenaBufferAlignment()
# (tensorflow/lite/micro/memory_helpers.h: 16 bytes).
ARENA_BUFFER_ALIGNMENT_BYTES = 16

# A C field: a primitive kind, or a nested struct (a tuple of fields); a count repeats it (arrays).
Primitive = str  # "i8" | "i16" | "i32" | "i64" | "f32" | "f64" | "bool" | "ptr" | "size" | "enum"
Field = Union[Primitive, tuple["Field", ...], tuple["Field", int]]


@dataclass(frozen=True)
class TflmAbi:
    """What fixes TFLM's structure sizes on a target."""

    pointer_size_bytes: int = 4
    short_enums: bool = True  # arm-none-eabi-gcc's default: an enum takes the smallest type that holds it
    compression: bool = False  # USE_TFLM_COMPRESSION: adds scratch indices to several OpData
    recording_allocator: bool = False  # RecordingMicroAllocator (the Python wheel) vs MicroAllocator
    # Builtin-options sizes measured on this build where they differ from the source's struct.
    measured_options_bytes: tuple[tuple[str, int], ...] = ()

    def primitive(self, kind: Primitive) -> tuple[int, int]:
        """(size, alignment) of a primitive; AAPCS and x86-64 both align 8-byte scalars to 8.
        Every TFLite enum TFLM keeps in these structs has fewer than 256 values."""
        fixed = {"i8": 1, "bool": 1, "i16": 2, "i32": 4, "f32": 4, "i64": 8, "f64": 8}
        if kind in fixed:
            return fixed[kind], fixed[kind]
        if kind == "enum":
            return (1, 1) if self.short_enums else (4, 4)
        if kind in ("ptr", "size"):
            return self.pointer_size_bytes, self.pointer_size_bytes
        raise ValueError(f"unknown C field kind {kind!r}")


# TFLM's Cortex-M build (tools/make cortex_m_generic: arm-none-eabi-gcc, short enums, no compression).
# Checked: arm-none-eabi-g++ 12.2 -mcpu=cortex-m4 gives sizeof TfLiteTensor 32, TfLiteEvalTensor 12,
# TfLiteNode 28, OpDataConv 56, OpDataFullyConnected 48, SoftmaxParams 56, OpDataLSTM 688,
# SingleArenaBufferAllocator 36, GreedyMemoryPlanner 44, TfLiteAddParams 2, TfLiteFullyConnectedParams 5,
# all equal to what this module computes (tests/test_runtime_overhead.py pins them).
CORTEX_M_ABI = TflmAbi(pointer_size_bytes=4)
# The `tflite_micro` Python wheel on x86-64: 8-byte pointers, int-sized enums, compression compiled in,
# recording allocator. Its FULLY_CONNECTED options take 32 bytes (16 in the Aug 2026 source).
PYTHON_WHEEL_ABI = TflmAbi(pointer_size_bytes=8, short_enums=False, compression=True, recording_allocator=True,
                           measured_options_bytes=(("FULLY_CONNECTED", 32),))


def _layout(fields: tuple[Field, ...], abi: TflmAbi) -> tuple[int, int]:
    """(size, alignment) of a C struct with these fields, laid out with natural alignment."""
    offset = 0
    align = 1
    for item in fields:
        if isinstance(item, str):
            size, item_align = abi.primitive(item)
        elif len(item) == 2 and isinstance(item[1], int):  # (element, count): an array
            element_size, item_align = _field_layout(item[0], abi)
            size = element_size * item[1]
        else:
            size, item_align = _layout(item, abi)  # type: ignore[arg-type]
        offset = _round_up(offset, item_align) + size
        align = max(align, item_align)
    return _round_up(offset, align), align


def _field_layout(item: Field, abi: TflmAbi) -> tuple[int, int]:
    if isinstance(item, str):
        return abi.primitive(item)
    return _layout((item,), abi)


def _round_up(value: int, align: int) -> int:
    return (value + align - 1) // align * align


def struct_bytes(fields: tuple[Field, ...], abi: TflmAbi) -> int:
    return _layout(fields, abi)[0]


# --- TFLM core structures (tensorflow/lite/core/c/common.h with TF_LITE_STATIC_MEMORY;
#     tensorflow/lite/micro/micro_allocator.h) -----------------------------------------------
TFLITE_EVAL_TENSOR: tuple[Field, ...] = ("ptr", "ptr", "enum")  # data, dims, type
TFLITE_TENSOR: tuple[Field, ...] = (
    ("enum", "ptr"),  # TfLiteQuantization {type, params}
    ("f32", "i32"),  # TfLiteQuantizationParams {scale, zero_point}
    "ptr", "ptr", "size",  # data, dims, bytes
    "enum", "enum", "bool",  # type, allocation_type, is_variable
)
TFLITE_AFFINE_QUANTIZATION: tuple[Field, ...] = ("ptr", "ptr", "i32")  # scale, zero_point, quantized_dimension
TFLITE_NODE: tuple[Field, ...] = ("ptr", "ptr", "ptr", "ptr", "ptr", "ptr", "i32")
NODE_AND_REGISTRATION: tuple[Field, ...] = (TFLITE_NODE, "ptr")
SCRATCH_BUFFER_HANDLE: tuple[Field, ...] = ("ptr",)
PADDING_VALUES: tuple[Field, ...] = ("i32", "i32", "i32", "i32")  # TfLitePaddingValues


def _subgraph_allocations(abi: TflmAbi) -> tuple[Field, ...]:
    # {node_and_registrations, tensors} + CompressedTensorList {tensors} when compression is on
    return ("ptr", "ptr", "ptr") if abi.compression else ("ptr", "ptr")


def _allocator_objects_bytes(abi: TflmAbi) -> int:
    """The objects MicroAllocator::Create places at the very end of the arena.

    Member lists from tensorflow/lite/micro/arena_allocator/single_arena_buffer_allocator.h,
    memory_planner/greedy_memory_planner.h, micro_allocator.h/.cc (MicroBuiltinDataAllocator) and,
    for the Python wheel, recording_single_arena_buffer_allocator.h and recording_micro_allocator.h.
    """
    # Two interface vtables, buffer_head_, buffer_tail_, head_, tail_, temp_, temp check sum, count.
    arena_allocator: tuple[Field, ...] = ("ptr", "ptr", "ptr", "ptr", "ptr", "ptr", "ptr", "size", "i32")
    if abi.recording_allocator:
        arena_allocator = arena_allocator + ("size", "size", "size", "size")
    # vtable, max_buffer_count_, buffer_count_, requirements_, sizes/ids sorted, by-offset list,
    # next_free_entry_, first_entry_index_, buffer_offsets_, need_to_calculate_offsets_.
    planner: tuple[Field, ...] = ("ptr", "i32", "i32", "ptr", "ptr", "ptr", "ptr", "i32", "i32", "ptr", "bool")
    # vtable, builtin data allocator, non-persistent/persistent allocators, planner,
    # model_is_allocating_, scratch request count, max head usage, scratch_buffer_head_.
    allocator: tuple[Field, ...] = ("ptr", "ptr", "ptr", "ptr", "ptr", "bool", "size", "size", "ptr")
    if abi.recording_allocator:
        recorded_allocation: tuple[Field, ...] = ("size", "size", "size")  # requested, used, count
        allocator = allocator + ("ptr", (recorded_allocation, 8))
    builtin_data_allocator: tuple[Field, ...] = ("ptr", "ptr")  # vtable, persistent allocator
    return sum(_aligned_bytes(fields, abi) for fields in (arena_allocator, planner, allocator, builtin_data_allocator))


def _aligned_bytes(fields: tuple[Field, ...], abi: TflmAbi, count: int = 1) -> int:
    size, _ = _layout(fields, abi)
    return size * count


# --- Builtin options TFLM parses into the tail (tensorflow/compiler/mlir/lite/core/c/builtin_op_data.h)
_BUILTIN_OPTIONS: dict[str, tuple[Field, ...]] = {
    # padding, stride w/h, activation, dilation w/h, quantized_bias_type
    "CONV_2D": ("enum", "i32", "i32", "enum", "i32", "i32", "enum"),
    "DEPTHWISE_CONV_2D": ("enum", "i32", "i32", "i32", "enum", "i32", "i32"),
    "FULLY_CONNECTED": ("enum", "enum", "bool", "bool", "enum"),
    "ADD": ("enum", "bool"),
    "SUB": ("enum", "bool"),
    "MUL": ("enum",),
    "DIV": ("enum",),
    "AVERAGE_POOL_2D": ("enum", "i32", "i32", "i32", "i32", "enum", PADDING_VALUES),
    "MAX_POOL_2D": ("enum", "i32", "i32", "i32", "i32", "enum", PADDING_VALUES),
    "SOFTMAX": ("f32",),
    "RESHAPE": (("i32", 8), "i32"),  # shape[TFLITE_RESHAPE_PARAMS_MAX_DIMENSION_COUNT], num_dimensions
    "SVDF": ("i32", "enum", "bool"),
    "UNIDIRECTIONAL_SEQUENCE_LSTM": ("enum", "f32", "f32", "bool", "bool", "bool"),
    "MEAN": ("bool",),
    "SUM": ("bool",),
    "REDUCE_MAX": ("bool",),
    "RESIZE_NEAREST_NEIGHBOR": ("bool", "bool"),
    "RESIZE_BILINEAR": ("bool", "bool"),
    "CONCATENATION": ("i32", "enum"),
    "STRIDED_SLICE": ("i32",) * 5 + ("bool",),
    "CAST": ("enum", "enum"),
    "PAD": ("bool",),  # EmptyStructPlaceholder
    "PADV2": ("bool",),
    "TRANSPOSE": ("bool",),
    "SQUEEZE": (("i32", 8), "i32"),
    "LEAKY_RELU": ("f32",),
    "GATHER": ("i32", "i32"),
    "SHAPE": ("i32",),
    "PACK": ("i32", "i32"),
    "UNPACK": ("i32", "i32"),
    "SPLIT": ("i32",),
    "TRANSPOSE_CONV": ("enum", "i32", "i32", "enum", "enum"),
}
# Ops whose parser allocates nothing (TFLM's ParseXxx returns without builtin data).
_NO_BUILTIN_OPTIONS = frozenset({
    "QUANTIZE", "DEQUANTIZE", "LOGISTIC", "TANH", "RELU", "RELU6", "MINIMUM", "MAXIMUM", "LOG_SOFTMAX",
    "HARD_SWISH", "EXP", "ABS", "NEG", "SQRT", "RSQRT", "FLOOR", "ROUND", "PRELU", "CUSTOM",
})


# --- Kernel OpData allocated in Init (tensorflow/lite/micro/kernels/*.h, *.cc) --------------
def _op_data_fields(kind: str, abi: TflmAbi) -> tuple[Field, ...] | None:
    compression: tuple[Field, ...] = ("i32", "i32") if abi.compression else ()
    if kind in ("CONV_2D", "DEPTHWISE_CONV_2D"):  # OpDataConv, kernels/conv.h
        return (PADDING_VALUES, "i32", "i32", "i32", "i32", "i32", "ptr", "ptr", "i32", "i32", "i32") + compression
    if kind == "FULLY_CONNECTED":  # OpDataFullyConnected, kernels/fully_connected.h
        return ("i32",) * 9 + ("ptr", "ptr", "bool") + compression
    if kind == "SOFTMAX":  # SoftmaxParams, tensorflow/lite/kernels/internal/types.h
        return ("f64",) + ("i32",) * 7 + ("ptr",) * 5
    if kind in ("AVERAGE_POOL_2D", "MAX_POOL_2D"):  # OpDataPooling, kernels/pooling.h
        return (PADDING_VALUES, "i32", "i32", "f32", "f32")
    if kind in ("ADD", "SUB"):  # OpDataAdd, kernels/add.h
        return ("bool",) + ("i32",) * 14
    if kind == "MUL":  # OpDataMul, kernels/mul.h
        return ("i32",) * 9
    if kind == "DIV":  # OpDataDiv, kernels/div.cc
        return ("i32",) * 7
    if kind == "QUANTIZE":  # OpDataQuantizeReference {QuantizationParams {i32, f64}, ...}, kernels/quantize.h
        return (("i32", "f64"), "i32", "i32", "i32")
    if kind == "DEQUANTIZE":  # DequantizeOpData {DequantizationParams {f64, i32}, ...}, kernels/dequantize.h
        return (("f64", "i32"), "i32", "i32", "i32")
    if kind == "LOGISTIC":  # OpDataLogistic, kernels/logistic.h
        return ("i32",) * 4
    if kind in ("PAD", "PADV2"):  # OpData {PadParams, output_zero_point}, kernels/pad.cc
        return (("i8", ("i32", 5), "i8", ("i32", 5), "i32"), "i32")
    if kind in ("MEAN", "SUM", "REDUCE_MAX"):  # OpDataReduce, kernels/reduce.h
        return ("i32",) * 11
    if kind == "SVDF":  # OpDataSvdf, kernels/svdf.h
        return ("i32",) * 9
    if kind == "STRIDED_SLICE":  # StridedSliceParams, tensorflow/lite/kernels/internal/types.h
        return ("i8", ("i32", 5), "i8", ("i32", 5), "i8", ("i32", 5), ("i16", 5), "bool")
    if kind == "CONCATENATION":  # OpData {ConcatenationParams}, kernels/concatenation.cc
        params: tuple[Field, ...] = ("i32", "ptr", "ptr", "i32", "i32", "f32")
        return params + ((("i32", 10),) if abi.compression else ())
    return None


# OpDataLSTM (kernels/lstm_shared.h) nests FullyConnectedParams and ArithmeticParams: no pointers,
# so one size for every ABI; 688 bytes as the wheel records it for one UNIDIRECTIONAL_SEQUENCE_LSTM.
_LSTM_OP_DATA_BYTES = 688
# Kernels that keep no persistent state (their Init returns nullptr).
_STATELESS_KERNELS = frozenset({
    "RESHAPE", "SQUEEZE", "CAST", "MINIMUM", "MAXIMUM", "TRANSPOSE", "RESIZE_NEAREST_NEIGHBOR", "RELU",
    "RELU6", "TANH", "SHAPE", "PACK", "UNPACK", "SPLIT", "GATHER", "EXP", "ABS", "NEG", "FLOOR",
})
# Default for a kernel this table does not know (a custom op, say): one OpData of this size.
UNKNOWN_KERNEL_OP_DATA_BYTES = 64


@dataclass(frozen=True)
class TflmOverheadBreakdown:
    """TFLM's tail for one model on one ABI, by what it holds (bytes, alignment included)."""

    pointer_size_bytes: int
    eval_tensors_bytes: int
    node_and_registrations_bytes: int
    builtin_options_bytes: int
    kernel_op_data_bytes: int
    per_channel_quantization_bytes: int
    variable_tensors_bytes: int
    io_tensors_bytes: int  # persistent TfLiteTensor + quantization for model inputs/outputs + pointer arrays
    subgraph_and_scratch_handles_bytes: int
    allocator_objects_bytes: int
    counts: dict[str, int] = field(default_factory=dict)
    unknown_ops: tuple[str, ...] = ()  # op kinds counted with UNKNOWN_KERNEL_OP_DATA_BYTES

    @property
    def total_bytes(self) -> int:
        return (self.eval_tensors_bytes + self.node_and_registrations_bytes + self.builtin_options_bytes
                + self.kernel_op_data_bytes + self.per_channel_quantization_bytes + self.variable_tensors_bytes
                + self.io_tensors_bytes + self.subgraph_and_scratch_handles_bytes + self.allocator_objects_bytes)


def _arena_aligned(size_bytes: int) -> int:
    return _round_up(size_bytes, ARENA_BUFFER_ALIGNMENT_BYTES)


def _output_channels(op: Op) -> int:
    weights = op.input(1)
    if weights is None or not weights.shape:
        return 0
    # CONV_2D filters are OHWI (channel axis 0); DEPTHWISE_CONV_2D filters are 1HWO (axis 3).
    return int(weights.shape[3] if op.kind == "DEPTHWISE_CONV_2D" else weights.shape[0])


def _requant_channels(op: Op) -> int:
    """Channels whose output multiplier and shift (int32 each) the kernel keeps, set up in Prepare."""
    if op.kind in ("CONV_2D", "DEPTHWISE_CONV_2D"):
        return _output_channels(op)  # conv_common.cc allocates them for every input type
    if op.kind == "FULLY_CONNECTED":  # only per-channel quantized filters (fully_connected_common.cc)
        weights = op.input(1)
        quant = weights.quantization if weights is not None else None
        return quant.num_channels if quant is not None and quant.per_channel else 0
    return 0


def _per_channel_bytes(op: Op) -> int:
    channels = _requant_channels(op)
    return 2 * _arena_aligned(4 * channels) if channels else 0


def _softmax_lut_bytes(op: Op) -> int:
    """int16 SOFTMAX keeps two 513-entry int16 lookup tables (kernels/softmax_common.cc)."""
    if op.kind != "SOFTMAX" or not op.inputs or op.inputs[0] is None or op.inputs[0].dtype is not DType.INT16:
        return 0
    return 2 * _arena_aligned(513 * 2)


def _custom_options(op: Op) -> dict[str, object]:
    if not op.custom_options:
        return {}
    try:
        loaded = flexbuffers.Loads(op.custom_options)
    except Exception:  # a malformed flexbuffer: the kernel table falls back to its default
        return {}
    return loaded if isinstance(loaded, dict) else {}


def _kiss_fftr_state_bytes(fft_length: int, complex_bytes: int, abi: TflmAbi) -> int:
    """kiss_fftr_alloc's memneeded (kissfft, as TFLM's signal/src/rfft_*.cc sizes its state):
    a kiss_fftr_state (3 pointers), a complex FFT state of half the length
    ({nfft, inverse, factors[2 * MAXFACTORS = 64]} + nfft twiddles) and 3/2 * nfft/2 complex values."""
    half = fft_length // 2
    complex_state = 4 + 4 + 4 * 64 + complex_bytes * half
    fftr_state = struct_bytes(("ptr", "ptr", "ptr"), abi)
    return fftr_state + complex_state + complex_bytes * (half * 3 // 2)


def _signal_kernel_bytes(op: Op, abi: TflmAbi) -> int | None:
    """Persistent state of TFLM's signal-library custom ops (signal/micro/kernels/*.cc)."""
    options = _custom_options(op)
    code = op.custom_code or ""

    def channels() -> int:
        value = options.get("num_channels", 0)
        return int(value) if isinstance(value, int) else 0

    if code in ("SignalWindow", "SignalEnergy", "SignalFilterBankLog", "SignalPCAN"):
        return _arena_aligned(8)  # two (or one) int32 parameters
    if code in ("SignalFftAutoScale", "SignalFilterBankSquareRoot"):
        return 0
    if code.startswith("SignalRfft"):
        fft_length = options.get("fft_length", 0)
        fft_length = int(fft_length) if isinstance(fft_length, int) else 0
        # TfLiteAudioFrontendRfftParams: 4 int32, fft_type (a TfLiteType), work_area, scratch index, state.
        params = struct_bytes(("i32",) * 4 + ("enum", "ptr", "i32", "ptr"), abi)
        input_type = op.inputs[0].dtype if op.inputs and op.inputs[0] is not None else DType.INT16
        complex_bytes = 4 if input_type is DType.INT16 else 8  # int16 pairs; float / int32 pairs
        return _arena_aligned(params) + _arena_aligned(_kiss_fftr_state_bytes(fft_length, complex_bytes, abi))
    if code == "SignalFilterBank":
        # {FilterbankConfig {num_channels, 5 pointers, 2 int32}, uint64* work_area} + (channels + 1) uint64
        params = struct_bytes((("i32", "ptr", "ptr", "ptr", "ptr", "ptr", "i32", "i32"), "ptr"), abi)
        return _arena_aligned(params) + _arena_aligned(8 * (channels() + 1))
    if code == "SignalFilterBankSpectralSubtraction":
        # {SpectralSubtractionConfig {8 x 32-bit, bool}, uint32* noise_estimate, size_t size} + channels uint32
        params = struct_bytes((("i32",) * 8 + ("bool",), "ptr", "size"), abi)
        return _arena_aligned(params) + _arena_aligned(4 * channels())
    return None


# CMSIS-NN's kernels (tflite-micro kernels/cmsis_nn/*.cc) wrap the reference OpData and add
# scratch-buffer indices (and, for fully-connected, its shape); other kernels are the reference ones.
_CMSIS_NN_EXTRA_FIELDS: dict[str, tuple[Field, ...]] = {
    "CONV_2D": ("i32",), "DEPTHWISE_CONV_2D": ("i32",), "AVERAGE_POOL_2D": ("i32",), "MAX_POOL_2D": ("i32",),
    "FULLY_CONNECTED": ("i32", "i32", "ptr", "i32", "i32", "i32"),
}


def _kernel_op_data_bytes(op: Op, abi: TflmAbi, kernels: str = "tflm-reference") -> int | None:
    """Bytes a kernel's Init allocates; None when the kernel is not in the table."""
    if op.kind == "CUSTOM":
        return _signal_kernel_bytes(op, abi)
    if kernels.partition("@")[0] == "cmsis-nn" and op.kind in _CMSIS_NN_EXTRA_FIELDS:
        reference = _op_data_fields(op.kind, abi)
        assert reference is not None
        return _arena_aligned(struct_bytes((reference,) + _CMSIS_NN_EXTRA_FIELDS[op.kind], abi))
    if op.kind == "UNIDIRECTIONAL_SEQUENCE_LSTM":
        return _arena_aligned(_LSTM_OP_DATA_BYTES)
    if op.kind in _STATELESS_KERNELS:
        return 0
    if op.kind == "LOG_SOFTMAX":  # only the int8 path allocates LogSoftmaxOpData
        quantized = bool(op.inputs) and op.inputs[0] is not None and op.inputs[0].dtype is DType.INT8
        return _arena_aligned(struct_bytes(("i32",) * 5 + ("size", "size"), abi)) if quantized else 0
    fields = _op_data_fields(op.kind, abi)
    if fields is None:
        return None
    return _arena_aligned(struct_bytes(fields, abi))


def _builtin_options_bytes(op: Op, abi: TflmAbi) -> int:
    measured = dict(abi.measured_options_bytes)
    if op.kind in measured:
        return measured[op.kind]
    fields = _BUILTIN_OPTIONS.get(op.kind)
    if fields is None:
        return 0
    size, align = _layout(fields, abi)
    return _round_up(size, align)


def _io_tensor_bytes(tensor: Tensor, abi: TflmAbi) -> int:
    """A persistent TfLiteTensor for a model input/output, with quantization when it has one."""
    size = struct_bytes(TFLITE_TENSOR, abi)
    if tensor.quantization is not None and tensor.dtype not in (DType.FLOAT32, DType.FLOAT16):
        # TfLiteAffineQuantization plus a zero-point TfLiteIntArray {size, data[channels]}; the
        # scale array points into the flatbuffer.
        pointer_align = abi.pointer_size_bytes
        size += _round_up(struct_bytes(TFLITE_AFFINE_QUANTIZATION, abi), pointer_align)
        size += _round_up(4 + 4 * tensor.quantization.num_channels, pointer_align)
    return size


def tflm_runtime_overhead(graph: Graph, abi: TflmAbi = CORTEX_M_ABI, kernels: str = "tflm-reference",
                          scratch_buffers: int = 0) -> TflmOverheadBreakdown:
    """TFLM's persistent (tail) allocations for ``graph`` on ``abi``, broken down.

    ``kernels``: "tflm-reference" or "cmsis-nn" (whose OpData are larger for a few ops);
    ``scratch_buffers``: how many scratch buffers the kernels request (one handle each)."""
    pointer = abi.pointer_size_bytes
    eval_tensors = nodes = options = op_data = per_channel = variables = 0
    unknown: list[str] = []
    tensor_count = op_count = channel_count = 0
    for subgraph in graph.subgraphs:
        tensor_count += len(subgraph.tensors)
        op_count += len(subgraph.ops)
        eval_tensors += _round_up(struct_bytes(TFLITE_EVAL_TENSOR, abi) * len(subgraph.tensors), pointer)
        nodes += struct_bytes(NODE_AND_REGISTRATION, abi) * len(subgraph.ops)
        for op in subgraph.ops:
            options += _builtin_options_bytes(op, abi)
            kernel = _kernel_op_data_bytes(op, abi, kernels)
            if kernel is None:
                unknown.append(op.label)
                kernel = UNKNOWN_KERNEL_OP_DATA_BYTES
            op_data += kernel
            per_channel += _per_channel_bytes(op) + _softmax_lut_bytes(op)
            channel_count += _requant_channels(op)
        # Variable tensors (recurrent state) live in the tail for the interpreter's lifetime.
        variables += sum(_arena_aligned(t.size_bytes) for t in subgraph.tensors if t.is_variable)
    main = graph.subgraphs[0]
    io_tensors = sum(_io_tensor_bytes(t, abi) for t in (*main.inputs, *main.outputs))
    # MicroInterpreter keeps TfLiteTensor* arrays for inputs and outputs (kernel-style allocations).
    io_tensors += _arena_aligned(pointer * len(main.inputs)) + _arena_aligned(pointer * len(main.outputs))
    subgraphs = struct_bytes(_subgraph_allocations(abi), abi) * len(graph.subgraphs)
    # ScratchBufferHandle array (one pointer per request), allocated when the plan is committed.
    subgraphs += _round_up(struct_bytes(SCRATCH_BUFFER_HANDLE, abi) * scratch_buffers, pointer)
    return TflmOverheadBreakdown(
        pointer_size_bytes=pointer,
        eval_tensors_bytes=eval_tensors,
        node_and_registrations_bytes=nodes,
        builtin_options_bytes=_round_up(options, ARENA_BUFFER_ALIGNMENT_BYTES),
        kernel_op_data_bytes=op_data,
        per_channel_quantization_bytes=per_channel,
        variable_tensors_bytes=variables,
        io_tensors_bytes=io_tensors,
        subgraph_and_scratch_handles_bytes=subgraphs,
        allocator_objects_bytes=_allocator_objects_bytes(abi),
        counts={"tensors": tensor_count, "ops": op_count, "per_channel_channels": channel_count,
                "subgraphs": len(graph.subgraphs)},
        unknown_ops=tuple(sorted(set(unknown))),
    )


def tflm_runtime_overhead_bytes(graph: Graph, pointer_size_bytes: int = 4) -> int:
    """TFLM's persistent allocations for ``graph``: a Cortex-M build (4-byte pointers) by default;
    ``pointer_size_bytes=8`` gives the x86-64 Python interpreter's figure."""
    abi = CORTEX_M_ABI if pointer_size_bytes == 4 else PYTHON_WHEEL_ABI
    if pointer_size_bytes not in (4, 8):
        raise ValueError(f"pointer_size_bytes must be 4 or 8, not {pointer_size_bytes}")
    return tflm_runtime_overhead(graph, abi).total_bytes


__all__ = ["CORTEX_M_ABI", "PYTHON_WHEEL_ABI", "TflmAbi", "TflmOverheadBreakdown", "tflm_runtime_overhead",
           "tflm_runtime_overhead_bytes"]
