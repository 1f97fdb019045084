"""Blocks shared by the mobile families: the inverted residual (MBConv) in all its variants."""

from __future__ import annotations

from dataclasses import dataclass

from tinyops.ir import Tensor
from tinyops.zoo.builder import GraphBuilder


@dataclass(frozen=True)
class MBConv:
    """One inverted-residual block, channels already scaled.

    expand 1x1 conv (skipped when ``expanded`` is None, i.e. expansion ratio 1) -> k x k depthwise
    -> optional squeeze-and-excitation -> linear 1x1 projection -> residual add when the block
    keeps shape (stride 1, same channels) unless ``skip`` is False.
    """

    kernel: int
    expanded: int | None
    out: int
    stride: int
    activation: str = "RELU6"
    se_channels: int | None = None
    se_gate: str = "hard_sigmoid"
    skip: bool = True


def inverted_residual(builder: GraphBuilder, x: Tensor, block: MBConv, name: str) -> Tensor:
    in_channels = x.shape[-1]
    y = x
    if block.expanded is not None:
        y = builder.conv(y, block.expanded, 1, activation=block.activation, name=f"{name}/expand")
    y = builder.dwconv(y, block.kernel, block.stride, activation=block.activation, name=f"{name}/depthwise")
    if block.se_channels is not None:
        y = builder.se(y, block.se_channels, gate=block.se_gate, name=f"{name}/se")
    y = builder.conv(y, block.out, 1, activation="NONE", name=f"{name}/project")
    if block.skip and block.stride == 1 and in_channels == block.out:
        y = builder.add(x, y, name=f"{name}/add")
    return y


def separable(builder: GraphBuilder, x: Tensor, out_channels: int, stride: int | tuple[int, int], activation: str,
              name: str, kernel: int = 3) -> Tensor:
    """Depthwise-separable conv (MobileNetV1, DS-CNN): k x k depthwise + act, 1x1 pointwise + act."""
    y = builder.dwconv(x, kernel, stride, activation=activation, name=f"{name}/depthwise")
    return builder.conv(y, out_channels, 1, activation=activation, name=f"{name}/pointwise")
