"""Small synthetic int8 graphs for cost-model checks, benchmarks and calibration probes.

Only shapes matter to the cost model, so weights are zeros and quantization is per tensor.
(The model zoo builds real, trained-looking architectures; this is for single-layer probes
such as MicroNets' 138 vs 140 channel convolution.)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from tinyops.ir.dtypes import DType
from tinyops.ir.graph import Graph, Op, Quantization, Subgraph, Tensor
from tinyops.ops import spec_for


def _q() -> Quantization:
    return Quantization(scale=np.array([0.05], np.float32), zero_point=np.array([0], np.int64))


@dataclass
class SyntheticBuilder:
    """Chains ops on one activation; each method returns the new activation tensor."""

    name: str = "synthetic"
    tensors: list[Tensor] = field(default_factory=list)
    ops: list[Op] = field(default_factory=list)
    inputs: list[Tensor] = field(default_factory=list)

    def _tensor(self, shape: tuple[int, ...], data: np.ndarray | None = None,
                dtype: DType = DType.INT8) -> Tensor:
        t = Tensor(f"t{len(self.tensors)}", tuple(int(d) for d in shape), dtype, _q(), data)
        self.tensors.append(t)
        return t

    def input(self, shape: tuple[int, ...]) -> Tensor:
        t = self._tensor(shape)
        self.inputs.append(t)
        return t

    def _emit(self, kind: str, inputs: list[Tensor | None], attrs: dict[str, object]) -> Tensor:
        op = Op(kind, inputs, [], attrs)
        rule = spec_for(op).infer_shapes
        assert rule is not None
        op.outputs = [self._tensor(rule(op)[0])]
        self.ops.append(op)
        return op.outputs[0]

    def _bias(self, channels: int) -> Tensor:
        return self._tensor((channels,), np.zeros(channels, np.int32), DType.INT32)

    def conv(self, x: Tensor, out_c: int, kernel: int = 1, stride: int = 1, padding: str = "SAME") -> Tensor:
        w = self._tensor((out_c, kernel, kernel, x.shape[-1]), np.zeros((out_c, kernel, kernel, x.shape[-1]), np.int8))
        return self._emit("CONV_2D", [x, w, self._bias(out_c)],
                          {"padding": padding, "stride_h": stride, "stride_w": stride,
                           "fused_activation_function": "RELU"})

    def dwconv(self, x: Tensor, kernel: int = 3, stride: int = 1, multiplier: int = 1) -> Tensor:
        c = x.shape[-1] * multiplier
        w = self._tensor((1, kernel, kernel, c), np.zeros((1, kernel, kernel, c), np.int8))
        return self._emit("DEPTHWISE_CONV_2D", [x, w, self._bias(c)],
                          {"padding": "SAME", "stride_h": stride, "stride_w": stride,
                           "depth_multiplier": multiplier, "fused_activation_function": "RELU"})

    def fc(self, x: Tensor, units: int) -> Tensor:
        depth = x.shape[-1]
        w = self._tensor((units, depth), np.zeros((units, depth), np.int8))
        return self._emit("FULLY_CONNECTED", [x, w, self._bias(units)], {"fused_activation_function": "NONE"})

    def add(self, a: Tensor, b: Tensor) -> Tensor:
        return self._emit("ADD", [a, b], {"fused_activation_function": "NONE"})

    def avgpool(self, x: Tensor) -> Tensor:
        _, h, w, _ = x.shape
        return self._emit("AVERAGE_POOL_2D", [x], {"padding": "VALID", "stride_h": 1, "stride_w": 1,
                                                   "filter_height": h, "filter_width": w})

    def finish(self, outputs: list[Tensor] | None = None) -> Graph:
        outs = outputs or [self.ops[-1].outputs[0]]
        sg = Subgraph("main", self.tensors, self.ops, self.inputs, outs)
        sg.link()
        return Graph([sg], description=self.name)


def single_conv(channels_in: int, channels_out: int, size: int, kernel: int = 1) -> Graph:
    b = SyntheticBuilder(f"conv{kernel}x{kernel}-{channels_in}-{channels_out}-{size}")
    b.conv(b.input((1, size, size, channels_in)), channels_out, kernel)
    return b.finish()


def single_depthwise(channels: int, size: int, kernel: int) -> Graph:
    b = SyntheticBuilder(f"dw{kernel}x{kernel}-{channels}-{size}")
    b.dwconv(b.input((1, size, size, channels)), kernel)
    return b.finish()


def mobilenet_like(blocks: int, width: int = 32, size: int = 48) -> Graph:
    """A MobileNetV1-style chain: stem conv then (dw3x3 + 1x1) blocks, pool, classifier."""
    b = SyntheticBuilder(f"mobilenet-like-{blocks}x{width}-{size}")
    x = b.conv(b.input((1, size, size, 3)), width, 3, stride=2)
    for i in range(blocks):
        stride = 2 if i in (2, 6, 12) and x.shape[1] > 4 else 1
        x = b.dwconv(x, 3, stride)
        x = b.conv(x, width, 1)
    x = b.avgpool(x)
    b.fc(b._emit("RESHAPE", [x, None], {"new_shape": [1, width]}), 10)
    return b.finish()
