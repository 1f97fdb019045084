"""A PyTorch module with the architecture (and the dequantized weights) of a zoo graph.

The module is generated from the IR the zoo builds, so the two cannot drift apart: every CONV_2D
becomes an ``nn.Conv2d`` (depthwise ones grouped), every FULLY_CONNECTED an ``nn.Linear``, and the
remaining ops (activations, residual adds, SE gating, pooling, softmax) run functionally in the
same order. Batch norm is folded into the convolution biases, as in the deployed int8 model, so
the parameter count equals the IR's. Layout is PyTorch's NCHW; SAME padding is reproduced exactly
(TFLite puts the odd pixel after, which ``F.pad`` does before each convolution).

torch is an optional extra (``pip install tinyops[torch]``); this module imports it lazily.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from tinyops.errors import TinyOpsError
from tinyops.ir import Graph, Op, Tensor
from tinyops.ops.common import same_padding

if TYPE_CHECKING:  # pragma: no cover - typing only
    import torch

PARAMETRIC = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")
SUPPORTED = PARAMETRIC + ("ADD", "MUL", "HARD_SWISH", "LOGISTIC", "AVERAGE_POOL_2D", "RESHAPE", "SOFTMAX", "PAD")


def _require_torch() -> Any:
    try:
        import torch
    except ModuleNotFoundError:
        raise TinyOpsError("PyTorch export needs torch; install the extra: pip install 'tinyops[torch]' "
                           "(CPU wheel: pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu)"
                           ) from None
    return torch


def dequantize(tensor: Tensor) -> np.ndarray:
    """Real values of a constant tensor (per-channel scales broadcast along the quantized axis)."""
    assert tensor.data is not None
    data = np.asarray(tensor.data, dtype=np.float64)
    quant = tensor.quantization
    if quant is None:
        return data.astype(np.float32)
    shape = [1] * data.ndim
    if quant.per_channel:
        shape[quant.axis] = -1
    scale = quant.scale.astype(np.float64).reshape(shape)
    zero_point = quant.zero_point.astype(np.float64).reshape(shape)
    return ((data - zero_point) * scale).astype(np.float32)


@dataclass
class Step:
    """One op of the forward pass: which module or function, reading and writing named values."""

    kind: str
    module: str | None
    inputs: list[str]
    output: str
    attrs: dict[str, Any] = field(default_factory=dict)


def _nchw_constant(tensor: Tensor) -> np.ndarray:
    """A constant operand of ADD/MUL moved from NHWC to NCHW."""
    values = dequantize(tensor)
    return np.transpose(values, (0, 3, 1, 2)) if values.ndim == 4 else values


def _conv_padding(op: Op, k_h: int, k_w: int) -> tuple[int, int, int, int]:
    """(left, right, top, bottom) zero padding that makes a VALID conv match TFLite's SAME."""
    if op.attrs.get("padding", "VALID") != "SAME":
        return (0, 0, 0, 0)
    _, in_h, in_w, _ = op.inputs[0].shape  # type: ignore[union-attr]
    _, out_h, out_w, _ = op.outputs[0].shape
    top, bottom = same_padding(in_h, k_h, op.attrs.get("stride_h", 1), 1, out_h)
    left, right = same_padding(in_w, k_w, op.attrs.get("stride_w", 1), 1, out_w)
    return (left, right, top, bottom)


def _module_name(op: Op) -> str:
    # ModuleDict keys cannot contain dots; the zoo names ops by path ("block3/expand").
    return op.outputs[0].name.replace("/", "__").replace(".", "_")


def to_torch(graph: Graph, load_weights: bool = True) -> "torch.nn.Module":
    """A ``torch.nn.Module`` computing ``graph`` in float (NCHW input, same output shapes)."""
    torch = _require_torch()
    nn = torch.nn
    subgraph = graph.main
    layers = nn.ModuleDict()
    constants: dict[str, np.ndarray] = {}
    steps: list[Step] = []
    names: dict[int, str] = {id(t): f"v{i}" for i, t in enumerate(subgraph.tensors)}

    def value(tensor: Tensor) -> str:
        if tensor.is_constant:
            key = f"c{len(constants)}"
            constants[key] = _nchw_constant(tensor)
            return key
        return names[id(tensor)]

    for op in subgraph.ops:
        if op.kind not in SUPPORTED:
            raise TinyOpsError(f"PyTorch export does not handle {op.label} (zoo graphs only)")
        output = names[id(op.outputs[0])]
        activation = op.attrs.get("fused_activation_function", "NONE")
        source = op.inputs[0]
        assert source is not None
        if op.kind in ("CONV_2D", "DEPTHWISE_CONV_2D"):
            weights, bias = op.inputs[1], op.inputs[2]
            assert weights is not None and bias is not None
            depthwise = op.kind == "DEPTHWISE_CONV_2D"
            if depthwise:
                _, k_h, k_w, out_c = weights.shape
                in_c, groups = source.shape[-1], source.shape[-1]
            else:
                out_c, k_h, k_w, in_c = weights.shape
                groups = 1
            stride = (op.attrs.get("stride_h", 1), op.attrs.get("stride_w", 1))
            layer = nn.Conv2d(in_c, out_c, (k_h, k_w), stride=stride, groups=groups, bias=True)
            if load_weights:
                kernel = dequantize(weights)
                # OHWI -> OIHW; depthwise [1, H, W, C] -> [C, 1, H, W].
                kernel = np.transpose(kernel, (3, 0, 1, 2)) if depthwise else np.transpose(kernel, (0, 3, 1, 2))
                layer.weight.data = torch.from_numpy(np.ascontiguousarray(kernel))
                layer.bias.data = torch.from_numpy(dequantize(bias))
            name = _module_name(op)
            layers[name] = layer
            steps.append(Step("conv", name, [value(source)], output,
                              {"pad": _conv_padding(op, k_h, k_w), "activation": activation}))
        elif op.kind == "FULLY_CONNECTED":
            weights, bias = op.inputs[1], op.inputs[2]
            assert weights is not None and bias is not None
            units, depth = weights.shape
            layer = nn.Linear(depth, units, bias=True)
            if load_weights:
                layer.weight.data = torch.from_numpy(dequantize(weights))
                layer.bias.data = torch.from_numpy(dequantize(bias))
            name = _module_name(op)
            layers[name] = layer
            steps.append(Step("linear", name, [value(source)], output, {"activation": activation}))
        elif op.kind in ("ADD", "MUL"):
            other = op.inputs[1]
            assert other is not None
            steps.append(Step(op.kind.lower(), None, [value(source), value(other)], output, {"activation": activation}))
        elif op.kind == "AVERAGE_POOL_2D":
            steps.append(Step("avgpool", None, [value(source)], output,
                              {"kernel": (op.attrs["filter_height"], op.attrs["filter_width"]),
                               "stride": (op.attrs.get("stride_h", 1), op.attrs.get("stride_w", 1))}))
        elif op.kind == "PAD":
            paddings = op.inputs[1]
            assert paddings is not None and paddings.data is not None
            (top, bottom), (left, right) = paddings.data[1].tolist(), paddings.data[2].tolist()
            steps.append(Step("pad", None, [value(source)], output, {"pad": (left, right, top, bottom)}))
        elif op.kind == "RESHAPE":
            if len(source.shape) == 4 and source.shape[1] * source.shape[2] != 1:
                raise TinyOpsError("PyTorch export: RESHAPE of a spatial map would reorder NCHW data")
            steps.append(Step("flatten", None, [value(source)], output))
        else:
            steps.append(Step(op.kind.lower(), None, [value(source)], output))

    module_class = _module_class(torch)
    outputs = [names[id(t)] for t in subgraph.outputs]
    return module_class(layers, steps, constants, names[id(subgraph.inputs[0])], outputs)


def _module_class(torch: Any) -> type:
    """Define the module class on first use (its base class comes from the lazily imported torch)."""
    global _ZOO_MODULE
    if _ZOO_MODULE is not None:
        return _ZOO_MODULE
    nn, functional = torch.nn, torch.nn.functional

    def activate(x: Any, activation: str) -> Any:
        if activation == "RELU":
            return functional.relu(x)
        if activation == "RELU6":
            return functional.relu6(x)
        return x

    class ZooModule(nn.Module):  # type: ignore[name-defined]  # torch.nn is imported in this function
        """Runs the steps in graph order; constants (SE's 3 and 1/6) are buffers, not parameters."""

        def __init__(self, layers: Any, steps: list[Step], constants: dict[str, np.ndarray], input_name: str,
                     output_names: list[str]) -> None:
            super().__init__()
            self.layers = layers
            self.steps = steps
            self.input_name = input_name
            self.output_names = output_names
            for key, array in constants.items():
                self.register_buffer(key, torch.from_numpy(np.ascontiguousarray(array)))

        def forward(self, x: Any) -> Any:
            values: dict[str, Any] = {self.input_name: x}

            def read(name: str) -> Any:
                return getattr(self, name) if name.startswith("c") else values[name]

            for step in self.steps:
                args = [read(name) for name in step.inputs]
                if step.kind == "conv":
                    left, right, top, bottom = step.attrs["pad"]
                    padded = functional.pad(args[0], (left, right, top, bottom)) if any(step.attrs["pad"]) \
                        else args[0]
                    result = activate(self.layers[step.module](padded), step.attrs["activation"])
                elif step.kind == "linear":
                    result = activate(self.layers[step.module](args[0]), step.attrs["activation"])
                elif step.kind == "add":
                    result = activate(args[0] + args[1], step.attrs["activation"])
                elif step.kind == "mul":
                    result = activate(args[0] * args[1], step.attrs["activation"])
                elif step.kind == "avgpool":
                    result = functional.avg_pool2d(args[0], step.attrs["kernel"], step.attrs["stride"])
                elif step.kind == "pad":
                    result = functional.pad(args[0], step.attrs["pad"])
                elif step.kind == "flatten":
                    result = torch.flatten(args[0], 1)
                elif step.kind == "hard_swish":
                    result = functional.hardswish(args[0])
                elif step.kind == "logistic":
                    result = torch.sigmoid(args[0])
                elif step.kind == "softmax":
                    result = torch.softmax(args[0], dim=-1)
                else:  # pragma: no cover - to_torch only emits the kinds above
                    raise RuntimeError(step.kind)
                values[step.output] = result
            outputs = [values[name] for name in self.output_names]
            return outputs[0] if len(outputs) == 1 else tuple(outputs)

    _ZOO_MODULE = ZooModule
    return ZooModule


_ZOO_MODULE: type | None = None


def torch_input_shape(graph: Graph) -> tuple[int, ...]:
    """The module's input shape: NHWC images become NCHW, flat vectors stay as they are."""
    shape = tuple(graph.main.inputs[0].shape)
    return (shape[0], shape[3], shape[1], shape[2]) if len(shape) == 4 else shape


def parameter_count(module: "torch.nn.Module") -> int:
    return int(sum(p.numel() for p in module.parameters()))


def save_torch(graph: Graph, path: str | os.PathLike[str]) -> None:
    """Write the module as a ``torch.export`` program (load it with ``torch.export.load(path).module()``,
    no tinyops needed), atomically."""
    from tinyops.backends.tflite_writer import write_atomically

    torch = _require_torch()
    module = to_torch(graph).eval()
    program = torch.export.export(module, (torch.zeros(torch_input_shape(graph)),))
    buffer = io.BytesIO()
    torch.export.save(program, buffer)
    write_atomically(path, buffer.getvalue())
