"""A small graph-building DSL over the IR: int8 graphs with seeded random weights.

Families describe an architecture as calls on a `GraphBuilder` (conv, dwconv, fc, se, hswish, add,
pool...). Every call creates IR tensors and ops exactly as the TFLite converter lays them out for
a fully int8 model (NHWC activations, OHWI filters, int32 biases), with shapes computed by the op
registry, so everything downstream (analysis, planning, the writer, LiteRT and TFLM) treats a zoo
model like a converted one.

The weights are random (seeded) but the quantization is plausible: per-channel symmetric int8
weights, asymmetric int8 activations whose ranges follow a running RMS estimate (see
RANGE_SIGMAS), and int32 biases with scale = input scale x weight scale, zero point 0, as TFLite
requires.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from tinyops.ir import DType, Graph, Op, Quantization, Subgraph, Tensor
from tinyops.ops import spec_for

# Op versions mirrored from the MLPerf Tiny int8 reference models (what the TFLite converter
# writes for int8 per-channel models), so LiteRT and TFLM pick the int8 kernels.
OP_VERSIONS: dict[str, int] = {
    "CONV_2D": 3,
    "DEPTHWISE_CONV_2D": 3,
    "FULLY_CONNECTED": 4,
    "AVERAGE_POOL_2D": 2,
    "ADD": 2,
    "MUL": 2,
    "RESHAPE": 1,
    "SOFTMAX": 2,
    "LOGISTIC": 2,
    "HARD_SWISH": 1,
    "PAD": 2,
}

# Activation ranges follow a running estimate of each tensor's RMS value (He-scaled random weights
# keep it O(1)): a linear output is quantized to +-RANGE_SIGMAS x RMS, a ReLU output to
# [0, RANGE_SIGMAS x RMS], as a calibration pass over Gaussian-like activations would set them.
RANGE_SIGMAS = 4.0
RELU6_CEILING = 6.0
HARD_SWISH_FLOOR = -0.375  # the minimum of x * relu6(x + 3) / 6
HALF_POWER = np.sqrt(0.5)  # a ReLU keeps half of a zero-mean signal's power
LOGIT_RMS = 4.0  # logits spread like a trained classifier's, so softmax is not flat over 1000 classes
BIAS_RELATIVE_STD = 0.1  # BN-folded biases are small next to the pre-activation signal
INT8_MIN, INT8_MAX = -128, 127
WEIGHT_QMAX = 127  # symmetric weights use [-127, 127], as TFLite's per-channel scheme does
FUSABLE = ("NONE", "RELU", "RELU6")  # activations TFLite fuses into conv/fc


def activation_quantization(low: float, high: float) -> Quantization:
    """Asymmetric int8 quantization covering [low, high] (widened to include 0, as TFLite does)."""
    low, high = min(low, 0.0), max(high, 0.0)
    scale = (high - low) / (INT8_MAX - INT8_MIN)
    zero_point = int(np.clip(round(INT8_MIN - low / scale), INT8_MIN, INT8_MAX))
    return Quantization(scale=np.array([scale], np.float32), zero_point=np.array([zero_point], np.int64))


def fixed_quantization(scale: float, zero_point: int) -> Quantization:
    return Quantization(scale=np.array([scale], np.float32), zero_point=np.array([zero_point], np.int64))


@dataclass
class GraphBuilder:
    """Builds one int8 subgraph op by op; `finish()` returns the Graph.

    Alongside the IR it tracks an estimate of every activation's RMS value (``rms``), from which
    each new tensor's int8 range is set, so quantization stays plausible through deep networks.
    """

    name: str
    seed: int = 0
    tensors: list[Tensor] = field(default_factory=list)
    ops: list[Op] = field(default_factory=list)
    inputs: list[Tensor] = field(default_factory=list)
    rms: dict[int, float] = field(default_factory=dict)  # id(tensor) -> estimated RMS value
    _names: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.rng = np.random.default_rng(self.seed)

    # ----------------------------------------------------------------------------- plumbing
    def _unique(self, name: str) -> str:
        count = self._names.get(name, 0)
        self._names[name] = count + 1
        return name if count == 0 else f"{name}_{count}"

    def _tensor(self, name: str, shape: tuple[int, ...], dtype: DType = DType.INT8,
                quantization: Quantization | None = None, data: np.ndarray | None = None) -> Tensor:
        tensor = Tensor(name=self._unique(name), shape=tuple(int(d) for d in shape), dtype=dtype,
                        quantization=quantization, data=data)
        self.tensors.append(tensor)
        return tensor

    def _emit(self, kind: str, inputs: list[Tensor], attrs: dict, name: str, quantization: Quantization,
              rms: float) -> Tensor:
        """Add an op; its output shape comes from the op registry's shape rule."""
        op = Op(kind=kind, inputs=list(inputs), outputs=[], attrs=attrs, version=OP_VERSIONS.get(kind, 1))
        (shape,) = spec_for(op).infer_shapes(op)  # type: ignore[misc]
        output = self._tensor(name, shape, quantization=quantization)
        op.outputs = [output]
        self.ops.append(op)
        self.rms[id(output)] = rms
        return output

    def _rms(self, tensor: Tensor) -> float:
        return self.rms[id(tensor)]

    @staticmethod
    def _activated(activation: str, pre_rms: float) -> tuple[Quantization, float]:
        """Output quantization and RMS of ``activation`` applied to a zero-mean signal of ``pre_rms``."""
        span = RANGE_SIGMAS * pre_rms
        if activation == "NONE":
            return activation_quantization(-span, span), pre_rms
        if activation == "RELU":
            return activation_quantization(0.0, span), pre_rms * HALF_POWER
        if activation == "RELU6":
            return activation_quantization(0.0, min(RELU6_CEILING, span)), min(pre_rms * HALF_POWER, RELU6_CEILING)
        if activation == "HARD_SWISH":
            # x * relu6(x + 3) / 6 is about x / 2 for small x and a ReLU for large x.
            factor = 0.5 if pre_rms < 1.0 else HALF_POWER
            return activation_quantization(HARD_SWISH_FLOOR, span), pre_rms * factor
        raise ValueError(f"unknown activation {activation!r}")

    def _weights(self, name: str, shape: tuple[int, ...], std: float, channel_axis: int | None) -> Tensor:
        """Normal float weights quantized symmetric int8, per channel on ``channel_axis`` (else per tensor)."""
        floats = self.rng.normal(0.0, std, size=shape).astype(np.float32)
        if channel_axis is None:
            peak = np.array([np.abs(floats).max()], np.float32)
            axis, broadcast = 0, [1] * len(shape)
        else:
            peak = np.abs(floats).max(axis=tuple(a for a in range(len(shape)) if a != channel_axis))
            axis, broadcast = channel_axis, [1] * len(shape)
            broadcast[channel_axis] = -1
        scale = (np.maximum(peak, 1e-12) / WEIGHT_QMAX).astype(np.float32)
        data = np.clip(np.round(floats / scale.reshape(broadcast)), -WEIGHT_QMAX, WEIGHT_QMAX).astype(np.int8)
        quant = Quantization(scale=scale, zero_point=np.zeros(scale.size, np.int64), axis=axis)
        return self._tensor(name, shape, DType.INT8, quant, data)

    def _bias(self, name: str, channels: int, input_quant: Quantization, weight_quant: Quantization,
              float_std: float) -> Tensor:
        """int32 bias: scale = input scale x weight scale (per channel), zero point 0."""
        scale = (input_quant.scale[0] * weight_quant.scale).astype(np.float32)
        floats = self.rng.normal(0.0, float_std, size=channels)
        per_element = scale if scale.size > 1 else np.full(channels, scale[0])
        data = np.clip(np.round(floats / per_element), -(2**31), 2**31 - 1).astype(np.int32)
        quant = Quantization(scale=scale, zero_point=np.zeros(scale.size, np.int64), axis=0)
        return self._tensor(name, (channels,), DType.INT32, quant, data)

    def _weighted(self, kind: str, x: Tensor, weight_shape: tuple[int, ...], fan_in: int, channel_axis: int | None,
                  attrs: dict, activation: str, name: str, output_rms: float | None = None) -> Tensor:
        """Conv/depthwise/FC: He-normal weights (or scaled to reach ``output_rms``), bias, activation."""
        assert x.quantization is not None
        in_rms = self._rms(x)
        # He init keeps the pre-activation RMS at sqrt(2) x the input's; a requested output RMS
        # (the logits) rescales the weights instead.
        pre_rms = np.sqrt(2.0) * in_rms if output_rms is None else output_rms
        std = pre_rms / (max(in_rms, 1e-12) * np.sqrt(fan_in))
        weights = self._weights(f"{name}/weights", weight_shape, std, channel_axis)
        assert weights.quantization is not None
        channels = weight_shape[0] if kind != "DEPTHWISE_CONV_2D" else weight_shape[3]
        bias = self._bias(f"{name}/bias", channels, x.quantization, weights.quantization, BIAS_RELATIVE_STD * pre_rms)
        fused = activation if activation in FUSABLE else "NONE"
        quantization, rms = self._activated(fused, float(pre_rms))
        y = self._emit(kind, [x, weights, bias], dict(attrs, fused_activation_function=fused), name, quantization, rms)
        if activation in FUSABLE:
            return y
        if activation == "HARD_SWISH":
            return self.hswish(y, name=f"{name}/hswish")
        raise ValueError(f"unknown activation {activation!r}")

    def constant(self, name: str, value: float, shape: tuple[int, ...] = (1, 1, 1, 1)) -> Tensor:
        """A constant int8 operand (e.g. the 3 and 1/6 of a hard sigmoid), exactly representable."""
        quant = fixed_quantization(max(abs(value), 1e-12) / WEIGHT_QMAX, 0)
        data = np.full(shape, int(np.sign(value)) * WEIGHT_QMAX, np.int8)
        return self._tensor(name, shape, DType.INT8, quant, data)

    # ----------------------------------------------------------------------------- primitives
    def input(self, shape: tuple[int, ...], value_range: tuple[float, float], name: str = "input") -> Tensor:
        tensor = self._tensor(name, shape, quantization=activation_quantization(*value_range))
        self.inputs.append(tensor)
        # RMS of a value spread uniformly over the range.
        low, high = value_range
        self.rms[id(tensor)] = float(np.sqrt((low * low + low * high + high * high) / 3.0))
        return tensor

    def conv(self, x: Tensor, out_channels: int, kernel: int | tuple[int, int], stride: int | tuple[int, int] = 1,
             activation: str = "NONE", name: str = "conv", padding: str = "SAME") -> Tensor:
        """CONV_2D (BN folded into the bias); HARD_SWISH is emitted as its own op, as TFLite does."""
        k_h, k_w = _pair(kernel)
        s_h, s_w = _pair(stride)
        in_channels = x.shape[-1]
        attrs = {"padding": padding, "stride_h": s_h, "stride_w": s_w, "dilation_h_factor": 1, "dilation_w_factor": 1}
        return self._weighted("CONV_2D", x, (out_channels, k_h, k_w, in_channels), k_h * k_w * in_channels, 0,
                              attrs, activation, name)

    def dwconv(self, x: Tensor, kernel: int | tuple[int, int], stride: int | tuple[int, int] = 1,
               activation: str = "NONE", name: str = "dwconv", padding: str = "SAME") -> Tensor:
        """DEPTHWISE_CONV_2D with depth multiplier 1; filter [1, k_h, k_w, C], per-channel on axis 3."""
        k_h, k_w = _pair(kernel)
        s_h, s_w = _pair(stride)
        attrs = {"padding": padding, "stride_h": s_h, "stride_w": s_w, "depth_multiplier": 1,
                 "dilation_h_factor": 1, "dilation_w_factor": 1}
        return self._weighted("DEPTHWISE_CONV_2D", x, (1, k_h, k_w, x.shape[-1]), k_h * k_w, 3, attrs, activation,
                              name)

    def fc(self, x: Tensor, units: int, activation: str = "NONE", name: str = "fc",
           output_rms: float | None = None) -> Tensor:
        """FULLY_CONNECTED with per-tensor weights (what TFLM's int8 FC kernels expect)."""
        attrs = {"weights_format": 0, "keep_num_dims": False, "asymmetric_quantize_inputs": False}
        return self._weighted("FULLY_CONNECTED", x, (units, x.shape[-1]), x.shape[-1], None, attrs, activation, name,
                              output_rms)

    def hswish(self, x: Tensor, name: str = "hswish") -> Tensor:
        quantization, rms = self._activated("HARD_SWISH", self._rms(x))
        return self._emit("HARD_SWISH", [x], {}, name, quantization, rms)

    def sigmoid(self, x: Tensor, name: str = "sigmoid") -> Tensor:
        # LiteRT's int8 LOGISTIC requires output scale 1/256 and zero point -128.
        return self._emit("LOGISTIC", [x], {}, name, fixed_quantization(1.0 / 256.0, -128), 0.5)

    def hard_sigmoid(self, x: Tensor, name: str = "hsigmoid") -> Tensor:
        """relu6(x + 3) / 6 as the TFLite converter lowers it: ADD (fused RELU6) then MUL."""
        shifted = self._emit("ADD", [x, self.constant(f"{name}/three", 3.0)], {"fused_activation_function": "RELU6"},
                             f"{name}/add", activation_quantization(0.0, RELU6_CEILING), 3.0)
        return self._emit("MUL", [shifted, self.constant(f"{name}/one_sixth", 1.0 / 6.0)],
                          {"fused_activation_function": "NONE"}, name, activation_quantization(0.0, 1.0), 0.5)

    def add(self, a: Tensor, b: Tensor, activation: str = "NONE", name: str = "add") -> Tensor:
        quantization, rms = self._activated(activation, float(np.hypot(self._rms(a), self._rms(b))))
        return self._emit("ADD", [a, b], {"fused_activation_function": activation}, name, quantization, rms)

    def gate(self, a: Tensor, gate: Tensor, name: str = "mul") -> Tensor:
        """MUL of a tensor by a [0, 1] gate: the product keeps the gated tensor's range."""
        assert a.quantization is not None
        quantization = fixed_quantization(float(a.quantization.scale[0]), int(a.quantization.zero_point[0]))
        return self._emit("MUL", [a, gate], {"fused_activation_function": "NONE"}, name, quantization,
                          self._rms(a) * self._rms(gate))

    def pad(self, x: Tensor, top: int, bottom: int, left: int, right: int, name: str = "pad") -> Tensor:
        """Explicit zero padding of H and W (PAD with an int32 [4, 2] paddings constant), as the
        TFLite converter emits it before a VALID conv when PyTorch's symmetric padding differs from
        SAME. Padding with the zero point keeps the real value 0 and the input's quantization."""
        assert x.quantization is not None
        paddings = np.array([[0, 0], [top, bottom], [left, right], [0, 0]], np.int32)
        target = self._tensor(f"{name}/paddings", (4, 2), DType.INT32, None, paddings)
        return self._emit("PAD", [x, target], {}, name, x.quantization, self._rms(x))

    def global_pool(self, x: Tensor, name: str = "pool") -> Tensor:
        """Global average pooling as AVERAGE_POOL_2D over the whole map (as the MLPerf models do)."""
        _, height, width, _ = x.shape
        attrs = {"padding": "VALID", "stride_h": height, "stride_w": width, "filter_height": height,
                 "filter_width": width, "fused_activation_function": "NONE"}
        assert x.quantization is not None
        return self._emit("AVERAGE_POOL_2D", [x], attrs, name, x.quantization, self._rms(x))

    def flatten(self, x: Tensor, name: str = "flatten") -> Tensor:
        batch = x.shape[0]
        depth = int(np.prod(x.shape[1:]))
        target = self._tensor(f"{name}/shape", (2,), DType.INT32, None, np.array([batch, depth], np.int32))
        assert x.quantization is not None
        return self._emit("RESHAPE", [x, target], {"new_shape": [batch, depth]}, name, x.quantization, self._rms(x))

    def softmax(self, x: Tensor, name: str = "softmax") -> Tensor:
        # LiteRT's int8 SOFTMAX requires output scale 1/256 and zero point -128.
        return self._emit("SOFTMAX", [x], {"beta": 1.0}, name, fixed_quantization(1.0 / 256.0, -128), 0.1)

    # ----------------------------------------------------------------------------- blocks
    def se(self, x: Tensor, squeeze_channels: int, gate: str = "hard_sigmoid", name: str = "se") -> Tensor:
        """Squeeze-and-excitation: pool, 1x1 conv + ReLU, 1x1 conv + gate, channel-wise MUL."""
        channels = x.shape[-1]
        pooled = self.global_pool(x, name=f"{name}/squeeze")
        reduced = self.conv(pooled, squeeze_channels, 1, activation="RELU", name=f"{name}/reduce")
        expanded = self.conv(reduced, channels, 1, activation="NONE", name=f"{name}/expand")
        if gate == "hard_sigmoid":
            scale = self.hard_sigmoid(expanded, name=f"{name}/gate")
        elif gate == "sigmoid":
            scale = self.sigmoid(expanded, name=f"{name}/gate")
        else:
            raise ValueError(f"unknown SE gate {gate!r}")
        return self.gate(x, scale, name=f"{name}/excite")

    def classifier(self, x: Tensor, classes: int, hidden: int | None = None, hidden_activation: str = "NONE",
                   name: str = "classifier", softmax: bool = True) -> Tensor:
        """Global pool, flatten, optional hidden FC, FC to ``classes``, softmax (unless ``softmax``
        is False: the model then ends with the logits, as mcunet_vww.tflite does)."""
        y = self.flatten(self.global_pool(x, name=f"{name}/pool"), name=f"{name}/flatten")
        if hidden is not None:
            y = self.fc(y, hidden, activation=hidden_activation, name=f"{name}/hidden")
        y = self.fc(y, classes, name=f"{name}/logits", output_rms=LOGIT_RMS)
        return self.softmax(y, name=f"{name}/softmax") if softmax else y

    # ----------------------------------------------------------------------------- result
    def finish(self, outputs: list[Tensor], description: str) -> Graph:
        subgraph = Subgraph(name="main", tensors=self.tensors, ops=self.ops, inputs=self.inputs, outputs=outputs)
        subgraph.link()
        return Graph(subgraphs=[subgraph], description=description)


def _pair(value: int | tuple[int, int]) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else (int(value[0]), int(value[1]))
