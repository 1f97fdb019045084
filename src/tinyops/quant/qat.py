"""Quantization-aware training that exports to int8 TFLite through the zoo's IR.

A ``QatModel`` is built from a zoo graph (the architecture, not its random weights): every
CONV_2D / DEPTHWISE_CONV_2D gets a BatchNorm, every hidden FULLY_CONNECTED (one with a fused
activation) a BatchNorm1d, and every activation tensor an observer. It runs in three modes:

- ``float``: conv -> BN (batch statistics) -> fused activation; plain float training.
- ``calibrate``: float with BN frozen, observers record activation ranges (EMA of batch min/max).
- ``qat``: BN frozen and folded into the weights (w * gamma / sigma, beta - mean * gamma / sigma)
  exactly as the export folds it; weights fake-quantized symmetric per output channel (per tensor
  for FULLY_CONNECTED, as TFLM's int8 FC expects), biases fake-quantized to int32 with scale =
  input scale x weight scale, activations fake-quantized asymmetric per tensor with the zero point
  nudged to an integer in [-128, 127] and ranges widened to include 0. The gradient passes
  straight through the rounding (inside the clamp).

Ops whose int8 kernels keep their input's quantization (AVERAGE_POOL_2D, RESHAPE) reuse it here,
and SOFTMAX / LOGISTIC outputs use TFLite's fixed 1/256, -128. ``export_int8`` writes the folded
weights and observed ranges into a copy of the graph; the exported model computes what the
fake-quant forward computes up to the requantization rounding (within one output LSB).

4-bit weights (``weight_bits=4``: symmetric [-7, 7] stored in int8 tensors, which TFLM runs as it
is) are exported; 4-bit activations exist only in the fake-quant forward (TFLite and TFLM have no
4-bit activation kernels), so a model trained with them is exported with int8 activations over
the same ranges and the one-LSB agreement does not hold for it.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from tinyops.errors import TinyOpsError
from tinyops.ir import DType, Graph, Quantization
from tinyops.zoo.torch_export import _require_torch, to_torch

Mode = Literal["float", "calibrate", "qat"]
INT8_MIN, INT8_MAX = -128, 127
EMA_DECAY = 0.9
BN_EPSILON = 1e-3  # Keras' BatchNormalization default, as the reference models were trained
FIXED_OUTPUT = {"softmax": (1.0 / 256.0, -128), "logistic": (1.0 / 256.0, -128)}
SHARES_INPUT = ("avgpool", "flatten")


@dataclass(frozen=True)
class QatConfig:
    weight_bits: int = 8
    activation_bits: int = 8
    # Activation ranges in QAT: "ema" keeps tracking batch min/max; "learned" starts from the
    # calibrated ranges and trains them by gradient (straight-through rounding, LSQ-style).
    ranges: Literal["ema", "learned"] = "ema"

    def __post_init__(self) -> None:
        if self.weight_bits not in (4, 8) or self.activation_bits not in (4, 8):
            raise TinyOpsError("QAT supports 8- or 4-bit weights and activations")
        if self.ranges not in ("ema", "learned"):
            raise TinyOpsError(f"activation ranges are 'ema' or 'learned', not {self.ranges!r}")

    @property
    def weight_qmax(self) -> int:
        return 2 ** (self.weight_bits - 1) - 1

    @property
    def activation_range(self) -> tuple[int, int]:
        return -(2 ** (self.activation_bits - 1)), 2 ** (self.activation_bits - 1) - 1


def activation_params(low: float, high: float, qmin: int = INT8_MIN, qmax: int = INT8_MAX) -> tuple[float, int]:
    """(scale, zero point) of an asymmetric range, widened to include 0, zero point nudged (TFLite)."""
    low, high = min(float(low), 0.0), max(float(high), 0.0)
    if high - low < 1e-8:
        high = low + 1e-8
    scale = (high - low) / (qmax - qmin)
    zero_point = int(np.clip(np.round(qmin - low / scale), qmin, qmax))
    return scale, zero_point


def build_qat_model(graph: Graph, config: QatConfig = QatConfig()) -> Any:
    """A trainable module with the architecture of ``graph`` (a zoo graph), in float mode."""
    torch = _require_torch()
    nn = torch.nn
    functional = nn.functional
    zoo: Any = to_torch(graph, load_weights=False)
    if len(zoo.output_names) != 1:
        raise TinyOpsError("QAT handles single-output models")
    for step in zoo.steps:
        if step.kind in ("add", "mul") and any(name.startswith("c") for name in step.inputs):
            raise TinyOpsError("QAT does not handle ops with constant operands (squeeze-and-excitation); "
                               "choose a family without SE")
    tensors = graph.main.tensors
    names = {f"v{i}": i for i in range(len(tensors))}

    class QatModel(nn.Module):  # type: ignore[name-defined]
        layers: Any
        steps: Any
        norms: Any
        ranges: Any
        seen: Any

        def __init__(self) -> None:
            super().__init__()
            self.layers = zoo.layers
            self.steps = zoo.steps
            self.input_name: str = zoo.input_name
            self.output_name: str = zoo.output_names[0]
            self.config = config
            self.mode: Mode = "float"
            self.norms = nn.ModuleDict()
            for step in self.steps:
                layer: Any = self.layers[step.module] if step.module else None
                if step.kind == "conv":
                    self.norms[step.module] = nn.BatchNorm2d(layer.out_channels, eps=BN_EPSILON)
                elif step.kind == "linear" and step.attrs["activation"] != "NONE":
                    self.norms[step.module] = nn.BatchNorm1d(layer.out_features, eps=BN_EPSILON)
            # Activation value -> the value whose quantization it shares (pool, reshape).
            self.alias: dict[str, str] = {}
            for step in self.steps:
                if step.kind in SHARES_INPUT:
                    self.alias[step.output] = self.alias.get(step.inputs[0], step.inputs[0])
            observed = [self.input_name] + [s.output for s in self.steps
                                            if s.kind not in SHARES_INPUT and s.kind not in FIXED_OUTPUT]
            self.observed = observed
            self.register_buffer("ranges", torch.zeros(len(observed), 2))
            self.register_buffer("seen", torch.zeros(len(observed), dtype=torch.bool))
            # Learned ranges (config.ranges == "learned"), copied from the observed ones on entering QAT.
            self.learned = nn.Parameter(torch.zeros(len(observed), 2))
            self.register_buffer("learned_ready", torch.zeros((), dtype=torch.bool))
            self._slot = {name: i for i, name in enumerate(observed)}
            self.graph_tensor_index = names
            self.logits_name = self.steps[-1].inputs[0] if self.steps[-1].kind == "softmax" else self.output_name

        # -------------------------------------------------------------- quantization parameters
        def params(self, name: str) -> tuple[float, int]:
            """(scale, zero point) of activation ``name`` from its observer (or fixed / shared)."""
            name = self.alias.get(name, name)
            for step in self.steps:
                if step.output == name and step.kind in FIXED_OUTPUT:
                    return FIXED_OUTPUT[step.kind]
            slot = self._slot[name]
            if not bool(self.seen[slot]):
                raise TinyOpsError("activation ranges were never observed; calibrate or train with QAT first")
            low, high = (self.learned if self._learning() else self.ranges)[slot].tolist()
            qmin, qmax = self.config.activation_range
            return activation_params(low, high, qmin, qmax)

        def _learning(self) -> bool:
            return self.config.ranges == "learned" and bool(self.learned_ready)

        def _observe(self, name: str, x: Any) -> None:
            slot = self._slot.get(name)
            if slot is None or not self.training and self.mode == "qat":
                return
            batch = torch.stack([x.detach().min(), x.detach().max()]).to(self.ranges.dtype)
            if not bool(self.seen[slot]):
                self.ranges[slot] = batch
                self.seen[slot] = True
            else:
                self.ranges[slot] = EMA_DECAY * self.ranges[slot] + (1.0 - EMA_DECAY) * batch

        def _fake(self, name: str, x: Any) -> Any:
            if self.mode == "float":
                return x
            if self.mode == "calibrate" or (self.training and name in self._slot and not self._learning()):
                self._observe(name, x)
            if self.mode != "qat":
                return x
            qmin, qmax = self.config.activation_range
            slot = self._slot.get(self.alias.get(name, name))
            if slot is not None and self._learning() and self.training:
                return _learned_fake_quant(torch, x, self.learned[slot], qmin, qmax)
            scale, zero_point = self.params(name)
            return torch.fake_quantize_per_tensor_affine(x, scale, zero_point, qmin, qmax)

        # -------------------------------------------------------------- folded weights
        def folded(self, module: str) -> tuple[Any, Any]:
            """(weight, bias) of a layer with its frozen BatchNorm folded in."""
            layer = self.layers[module]
            weight, bias = layer.weight, layer.bias
            norm = self.norms[module] if module in self.norms else None
            if norm is None:
                return weight, bias
            factor = norm.weight / torch.sqrt(norm.running_var + norm.eps)
            shape = (-1,) + (1,) * (weight.dim() - 1)
            return weight * factor.reshape(shape), norm.bias + (bias - norm.running_mean) * factor

        def weight_scales(self, weight: Any, per_channel: bool) -> Any:
            qmax = self.config.weight_qmax
            if per_channel:
                peak = weight.detach().abs().reshape(weight.shape[0], -1).max(dim=1).values
            else:
                peak = weight.detach().abs().max().reshape(1)
            return torch.clamp(peak, min=1e-8) / qmax

        def _quantized_layer(self, step: Any, input_name: str) -> tuple[Any, Any]:
            weight, bias = self.folded(step.module)
            per_channel = step.kind == "conv"
            scales = self.weight_scales(weight, per_channel)
            qmax = self.config.weight_qmax
            if per_channel:
                zeros = torch.zeros(scales.shape[0], dtype=torch.int32)
                weight = torch.fake_quantize_per_channel_affine(weight, scales, zeros, 0, -qmax, qmax)
            else:
                weight = torch.fake_quantize_per_tensor_affine(weight, float(scales[0]), 0, -qmax, qmax)
            input_scale, _ = self.params(input_name)
            bias_scale = (input_scale * scales).detach()
            bias = bias + (torch.round(bias / bias_scale) * bias_scale - bias).detach()
            return weight, bias

        # -------------------------------------------------------------- forward
        def forward(self, x: Any, logits: bool = True) -> Any:
            """Logits for classifiers (``logits=False``: through the final softmax), else the output."""
            values = {self.input_name: self._fake(self.input_name, x)}
            for step in self.steps:
                if logits and step.kind == "softmax" and step is self.steps[-1]:
                    return values[step.inputs[0]]
                args = [values[name] for name in step.inputs]
                values[step.output] = self._fake(step.output, self._run(step, args))
            return values[self.output_name]

        def _run(self, step: Any, args: list[Any]) -> Any:
            kind = step.kind
            if kind in ("conv", "linear"):
                x = args[0]
                if kind == "conv" and any(step.attrs["pad"]):
                    x = functional.pad(x, step.attrs["pad"])
                layer = self.layers[step.module]
                norm = self.norms[step.module] if step.module in self.norms else None
                if self.mode == "qat":
                    weight, bias = self._quantized_layer(step, step.inputs[0])
                elif self.mode == "calibrate" or norm is None:
                    weight, bias = self.folded(step.module)
                else:
                    weight, bias = layer.weight, layer.bias
                if kind == "conv":
                    y = functional.conv2d(x, weight, bias, layer.stride, 0, 1, layer.groups)
                else:
                    y = functional.linear(x, weight, bias)
                if self.mode == "float" and norm is not None:
                    y = norm(y)
                return _activate(functional, y, step.attrs["activation"])
            if kind == "add":
                return _activate(functional, args[0] + args[1], step.attrs["activation"])
            if kind == "avgpool":
                return functional.avg_pool2d(args[0], step.attrs["kernel"], step.attrs["stride"])
            if kind == "flatten":
                return torch.flatten(args[0], 1)
            if kind == "hard_swish":
                return functional.hardswish(args[0])
            if kind == "logistic":
                return torch.sigmoid(args[0])
            if kind == "softmax":
                return torch.softmax(args[0], dim=-1)
            raise TinyOpsError(f"QAT does not handle {kind} steps")

        def set_mode(self, mode: Mode) -> None:
            """Switch mode; calibrate and qat freeze the BatchNorm statistics."""
            self.mode = mode
            for norm in self.norms.values():
                norm.train(self.training and mode == "float")
            if mode == "qat" and self.config.ranges == "learned" and not bool(self.learned_ready):
                with torch.no_grad():
                    self.learned.copy_(self.ranges)
                    self.learned_ready.fill_(True)

        def train(self, flag: bool = True) -> "QatModel":
            super().train(flag)
            for norm in self.norms.values():
                norm.train(flag and self.mode == "float")
            return self

    return QatModel()


def _learned_fake_quant(torch: Any, x: Any, bounds: Any, qmin: int, qmax: int) -> Any:
    """Fake quantization over a trainable [low, high] (widened to 0), zero point nudged to an
    integer; rounding passes the gradient straight through, so the bounds learn (LSQ-style)."""
    low = torch.clamp(bounds[0], max=0.0)
    high = torch.clamp(bounds[1], min=0.0)
    scale = torch.clamp(high - low, min=1e-8) / (qmax - qmin)
    zero = qmin - low / scale
    zero = torch.clamp(zero + (torch.round(zero) - zero).detach(), qmin, qmax)
    q = x / scale + zero
    q = torch.clamp(q + (torch.round(q) - q).detach(), qmin, qmax)
    return (q - zero) * scale


def _activate(functional: Any, x: Any, activation: str) -> Any:
    if activation == "RELU":
        return functional.relu(x)
    if activation == "RELU6":
        return functional.relu6(x)
    return x


def output_params(model: Any) -> tuple[float, int]:
    """(scale, zero point) of the model's logits (classifiers) or output."""
    return model.params(model.logits_name)  # type: ignore[no-any-return]


def export_float(model: Any, graph: Graph) -> Graph:
    """A copy of ``graph`` with the model's BN-folded float weights and biases (no quantization):
    the float model ``zoo.torch_export.save_torch`` writes, scored beside the int8 one."""
    torch = _require_torch()
    exported = copy.deepcopy(graph)
    with torch.no_grad():
        for step, op in zip(model.steps, exported.main.ops):
            if step.kind not in ("conv", "linear"):
                continue
            weight, bias = (t.numpy().astype(np.float32) for t in model.folded(step.module))
            if step.kind == "conv":
                depthwise = op.kind == "DEPTHWISE_CONV_2D"
                weight = np.transpose(weight, (1, 2, 3, 0)) if depthwise else np.transpose(weight, (0, 2, 3, 1))
            for tensor, values in ((op.inputs[1], weight), (op.inputs[2], bias)):
                assert tensor is not None
                tensor.data, tensor.quantization, tensor.dtype = np.ascontiguousarray(values), None, DType.FLOAT32
    return exported


def export_int8(model: Any, graph: Graph) -> Graph:
    """A copy of ``graph`` with the model's folded weights and observed ranges, fully int8."""
    torch = _require_torch()
    exported = copy.deepcopy(graph)
    tensors = exported.main.tensors
    index = model.graph_tensor_index
    with torch.no_grad():
        for name, position in index.items():
            tensor = tensors[position]
            if tensor.is_constant or tensor.quantization is None:
                continue
            scale, zero_point = model.params(name)
            tensor.quantization = Quantization(scale=np.array([scale], np.float32),
                                               zero_point=np.array([zero_point], np.int64))
        for step, op in zip(model.steps, exported.main.ops):
            if step.kind not in ("conv", "linear"):
                continue
            weight, bias = model.folded(step.module)
            per_channel = step.kind == "conv"
            scales = model.weight_scales(weight, per_channel).numpy().astype(np.float64)
            qmax = model.config.weight_qmax
            shape = (-1,) + (1,) * (weight.dim() - 1)
            codes = np.clip(np.round(weight.numpy() / scales.reshape(shape)), -qmax, qmax).astype(np.int8)
            depthwise = op.kind == "DEPTHWISE_CONV_2D"
            if step.kind == "conv":
                # OIHW -> OHWI; depthwise [C, 1, H, W] -> [1, H, W, C] with channels on axis 3.
                codes = np.transpose(codes, (1, 2, 3, 0)) if depthwise else np.transpose(codes, (0, 2, 3, 1))
            weights_tensor, bias_tensor = op.inputs[1], op.inputs[2]
            assert weights_tensor is not None and bias_tensor is not None
            if tuple(codes.shape) != tuple(weights_tensor.shape):
                raise TinyOpsError(f"export: {op.label} weights {codes.shape} do not match the graph's "
                                   f"{weights_tensor.shape}")
            weights_tensor.data = codes
            weights_tensor.quantization = Quantization(
                scale=scales.astype(np.float32), zero_point=np.zeros(scales.size, np.int64),
                axis=3 if depthwise else 0)
            input_scale, _ = model.params(step.inputs[0])
            bias_scale = (np.float64(np.float32(input_scale)) * scales.astype(np.float32).astype(np.float64))
            bias_codes = np.round(bias.numpy().astype(np.float64) / bias_scale)
            bias_tensor.data = np.clip(bias_codes, -(2**31), 2**31 - 1).astype(np.int32)
            bias_tensor.quantization = Quantization(scale=bias_scale.astype(np.float32),
                                                    zero_point=np.zeros(bias_scale.size, np.int64), axis=0)
    return exported


@dataclass(frozen=True)
class QatAgreement:
    """The exported int8 model (tinyops runtime) against the fake-quant forward, in output LSBs.

    ``end_to_end_*``: the logits (classifiers) or output, each model fed its own activations.
    ``layer_*``: every quantized op fed the runtime's own input codes, so one layer's rounding
    difference does not propagate: this isolates export errors (scales, folding, padding) from
    TFLM's double rounding in MultiplyByQuantizedMultiplier, which rounds the accumulator's
    product to 2**shift times the output resolution first and so flips outputs lying within about
    2**(shift - 1) / 2**31 of a half (a few per mille per layer), flips that then compound.
    """

    end_to_end_within_one_lsb: float
    end_to_end_exact: float
    top1_equal: float
    layer_within_one_lsb: float
    layer_exact: float
    logits: int


def agreement(model: Any, int8_graph: Graph, inputs: np.ndarray) -> QatAgreement:
    """Compare on ``inputs`` (float, torch layout, batch first); the model must be in qat mode."""
    torch = _require_torch()
    from tinyops.runtime.interpreter import Interpreter

    model.eval()
    index = model.graph_tensor_index
    interpreter = Interpreter(int8_graph)
    scale_in, zero_in = model.params(model.input_name)
    traces = []
    for sample in inputs:
        nhwc = np.transpose(sample, (1, 2, 0))[None] if sample.ndim == 3 else sample[None]
        codes = np.clip(np.round(nhwc / scale_in) + zero_in, INT8_MIN, INT8_MAX).astype(np.int8)
        interpreter.run([codes], trace=True)
        traces.append({name: np.array(interpreter.trace[position]) for name, position in index.items()
                       if position in interpreter.trace})

    def stacked(name: str) -> np.ndarray:
        values = np.stack([t[name].reshape(t[name].shape[1:]) for t in traces]).astype(np.int64)
        return np.transpose(values, (0, 3, 1, 2)) if values.ndim == 4 else values

    def codes_of(name: str, real: Any) -> np.ndarray:
        scale, zero_point = model.params(name)
        return np.round(real.numpy() / scale).astype(np.int64) + zero_point

    def dequantized(name: str) -> Any:
        scale, zero_point = model.params(name)
        return torch.from_numpy(((stacked(name) - zero_point) * scale).astype(np.float32))

    with torch.no_grad():
        fake = codes_of(model.logits_name, model(torch.from_numpy(inputs.astype(np.float32))))
        end = np.abs(stacked(model.logits_name) - fake)
        top1 = float(np.mean(stacked(model.logits_name).argmax(axis=1) == fake.argmax(axis=1))) if fake.ndim == 2 \
            and fake.shape[1] > 1 else 1.0
        layer_diffs = []
        for step in model.steps:
            if step.kind not in ("conv", "linear") or step.output not in traces[0]:
                continue
            real = model._fake(step.output, model._run(step, [dequantized(step.inputs[0])]))
            layer_diffs.append(np.abs(stacked(step.output) - codes_of(step.output, real)).reshape(-1))
    layers = np.concatenate(layer_diffs) if layer_diffs else np.zeros(1, np.int64)
    return QatAgreement(float(np.mean(end <= 1)), float(np.mean(end == 0)), top1, float(np.mean(layers <= 1)),
                     float(np.mean(layers == 0)), int(end.size))
