"""The kernel interface: a factory per op kind that prepares an op once and returns a callable.

A factory looks at the op (shapes, quantization, constant weights) and precomputes what every
inference would otherwise redo (requantization multipliers, transposed weights, lookup tables).
The prepared kernel maps the op's input arrays (constants included, None for absent optional
inputs) to its output arrays. Arrays may carry a batch dimension larger than the model's: kernels
vectorize over it where that is cheap, and raise BatchNotSupported where it is not.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Literal, Sequence

import numpy as np

from tinyops.ir.dtypes import DType
from tinyops.ir.graph import Op, Tensor
from tinyops.ops.registry import spec_for

# A kernel's inputs in operand order. The interpreter fills every input the op reads; an absent
# optional operand (e.g. a bias) arrives as None, which the kernels that take one test for.
Arrays = Sequence[np.ndarray]
PreparedKernel = Callable[[Arrays], list[np.ndarray]]
Engine = Literal["tflm", "litert"]
ENGINES: tuple[str, ...] = ("tflm", "litert")


@dataclass(frozen=True)
class KernelOptions:
    """Which oracle's arithmetic to follow where TFLM and LiteRT disagree.

    They agree everywhere tinyops has measured except int8/int16 FULLY_CONNECTED, where LiteRT
    (ai-edge-litert 2.x, reference kernels included) rescales the accumulator with one rounding
    ((acc * multiplier + 2**(s-1)) >> s) while TFLM keeps TFLite's double rounding
    (SaturatingRoundingDoublingHighMul then RoundingDivideByPOT). "tflm" is the default because
    TFLM is what runs on the microcontroller.
    """

    engine: Engine = "tflm"


KernelFactory = Callable[[Op, KernelOptions], PreparedKernel]

KERNEL_HOOK = "kernel"


class KernelUnsupported(Exception):
    """The op cannot run here; the message says why (the interpreter adds the op kind and index)."""


class BatchNotSupported(Exception):
    """The kernel cannot treat a larger leading dimension as a batch (the caller loops instead)."""


def register_kernel(kind: str, factory: KernelFactory) -> None:
    """Attach a reference kernel factory to the op registry (the one place per-op knowledge lives)."""
    spec = spec_for(kind)
    if spec.opaque:
        raise ValueError(f"op {kind} has no registry entry to attach a kernel to")
    spec.hooks[KERNEL_HOOK] = factory


def kernel_factory(op: Op) -> KernelFactory | None:
    return spec_for(op).hooks.get(KERNEL_HOOK)


def tensor_in(op: Op, index: int) -> Tensor:
    tensor = op.input(index)
    if tensor is None:
        raise KernelUnsupported(f"has no input {index}")
    return tensor


def constant(op: Op, index: int) -> np.ndarray:
    """A constant input's data, or KernelUnsupported (the runtime precomputes from weights)."""
    tensor = tensor_in(op, index)
    if tensor.data is None:
        raise KernelUnsupported(f"input {index} ({tensor.name!r}) must be a constant tensor")
    return np.asarray(tensor.data)


def scale_zp(tensor: Tensor) -> tuple[float, int]:
    """Per-tensor (scale, zero point); float tensors and missing parameters are errors."""
    q = tensor.quantization
    if q is None or q.scale.size == 0:
        raise KernelUnsupported(f"tensor {tensor.name!r} ({tensor.dtype.value}) has no quantization parameters")
    return float(q.scale.reshape(-1)[0]), int(q.zero_point.reshape(-1)[0]) if q.zero_point.size else 0


def is_quantized(tensor: Tensor) -> bool:
    return tensor.dtype in (DType.INT8, DType.INT16, DType.UINT8)


def activation_range(activation: str, dtype: DType, scale: float = 1.0, zero_point: int = 0) -> tuple[float, float]:
    """The clamp a fused activation imposes, in the output's quantized domain (or float)."""
    if dtype is DType.FLOAT32:
        lo, hi = -np.inf, np.inf
        if activation == "RELU":
            lo = 0.0
        elif activation == "RELU6":
            lo, hi = 0.0, 6.0
        elif activation == "RELU_N1_TO_1":
            lo, hi = -1.0, 1.0
        elif activation not in ("NONE", None):
            raise KernelUnsupported(f"fused activation {activation} is not supported")
        return lo, hi
    info = np.iinfo(dtype.numpy)
    qmin, qmax = int(info.min), int(info.max)

    # TFLite's CalculateActivationRangeQuantized: quantize the real bounds with round-half-away.
    def quantize(value: float) -> int:
        ratio = float(np.float32(value) / np.float32(scale))  # float32 division, as in the C++
        return zero_point + int(np.sign(ratio) * np.floor(abs(ratio) + 0.5))

    if activation == "RELU":
        return max(qmin, quantize(0.0)), qmax
    if activation == "RELU6":
        return max(qmin, quantize(0.0)), min(qmax, quantize(6.0))
    if activation == "RELU_N1_TO_1":
        return max(qmin, quantize(-1.0)), min(qmax, quantize(1.0))
    if activation not in ("NONE", None):
        raise KernelUnsupported(f"fused activation {activation} is not supported")
    return qmin, qmax


def fused_activation(op: Op) -> str:
    return str(op.attrs.get("fused_activation_function", "NONE") or "NONE")


# --- Tabulation: an elementwise int8 op is a function of 256 (or 256*256) values ----------------

_INT8_BY_BYTE = np.arange(256, dtype=np.uint8).view(np.int8)  # byte pattern -> int8 value


def tabulate_unary_int8(kernel: PreparedKernel) -> PreparedKernel:
    """Evaluate an elementwise int8 kernel once on all 256 inputs; run it as a table look-up.

    The table holds exactly what the arithmetic kernel computes, so this is a speed-up only.
    """
    table = kernel([_INT8_BY_BYTE])[0]

    def run(inputs: Arrays) -> list[np.ndarray]:
        x = inputs[0]
        assert x is not None
        return [np.take(table, np.ascontiguousarray(x).view(np.uint8))]

    return run


def tabulate_binary_int8(kernel: PreparedKernel) -> PreparedKernel:
    """The same for a broadcasting int8 x int8 -> int8 kernel: a 65536-entry table."""
    a = np.repeat(_INT8_BY_BYTE, 256)
    b = np.tile(_INT8_BY_BYTE, 256)
    table = kernel([a, b])[0]

    def run(inputs: Arrays) -> list[np.ndarray]:
        x, y = inputs[0], inputs[1]
        assert x is not None and y is not None
        high = np.left_shift(np.ascontiguousarray(x).view(np.uint8), 8, dtype=np.uint16)
        index = high | np.ascontiguousarray(y).view(np.uint8)  # broadcasts like the op
        return [np.take(table, index)]

    return run
