"""Dead channels: output channels of a conv, depthwise or fully connected op whose filter is all zero.

Such a channel ignores its input: its output is one constant everywhere (the bias, requantized
and clamped by the fused activation). Some deployment tools drop them; `analyze` counts them
here from the weights alone, and ``quant.dead_channels`` removes the ones whose removal is exact.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tinyops.ir.graph import Op
from tinyops.ops import spec_for

# Weight layout per op kind: the axis that indexes output channels (TFLite OHWI, 1HWC, OI).
OUTPUT_AXIS = {"CONV_2D": 0, "DEPTHWISE_CONV_2D": 3, "FULLY_CONNECTED": 0}


@dataclass(frozen=True)
class DeadChannels:
    zero_filter: np.ndarray  # bool per output channel: the filter is all zero
    zero_bias: np.ndarray  # bool per output channel: the bias is zero too (or absent)

    @property
    def count(self) -> int:
        return int(self.zero_filter.sum())

    @property
    def fully_zero(self) -> int:
        """Channels whose filter and bias are both zero (output is the zero point unless clamped)."""
        return int((self.zero_filter & self.zero_bias).sum())


def dead_output_channels(op: Op) -> DeadChannels | None:
    """Per output channel, whether its filter (and bias) is all zero; None for ops without filters."""
    axis = OUTPUT_AXIS.get(op.kind)
    weights = op.input(1)
    if axis is None or weights is None or not weights.is_constant or weights.data is None:
        return None
    data = np.asarray(weights.data)
    if data.ndim <= axis or data.size == 0 or data.dtype.kind not in "iuf":
        return None  # not a filter this layout describes (the op's kernel refuses it)
    data = np.moveaxis(data, axis, 0)
    zero_point = 0
    if weights.quantization is not None and weights.quantization.zero_point.size == 1:
        zero_point = int(weights.quantization.zero_point[0])
    zero_filter = np.all(data.reshape(data.shape[0], -1) == zero_point, axis=1)
    bias = op.input(2)
    if bias is not None and bias.is_constant and bias.data is not None and bias.data.size == zero_filter.size:
        zero_bias = np.asarray(bias.data).reshape(-1) == 0
    else:
        zero_bias = np.ones_like(zero_filter)
    return DeadChannels(zero_filter, zero_bias)


def live_macs(op: Op, dead: DeadChannels | None) -> int:
    """The op's MACs less those of its dead output channels (each output channel costs the same)."""
    macs = int(spec_for(op).count_macs(op))
    if dead is None or not dead.zero_filter.size:
        return macs
    return macs - macs * dead.count // int(dead.zero_filter.size)
