"""MobileNetV1 (Howard et al. 2017) and MobileNetV2 (Sandler et al. 2018)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from tinyops.ir import Graph
from tinyops.zoo.blocks import MBConv, inverted_residual, separable
from tinyops.zoo.builder import GraphBuilder
from tinyops.zoo.spec import BuildRequest

IMAGE_RANGE = (0.0, 1.0)  # pixels scaled to [0, 1], as the MLPerf Tiny VWW reference model takes them

# MobileNetV1 body after the 3x3/2 stem: (pointwise output channels, depthwise stride).
MOBILENETV1_LAYERS: tuple[tuple[int, int], ...] = (
    (64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2),
    (512, 1), (512, 1), (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1),
)
MOBILENETV1_STEM = 32

# MobileNetV2 bottleneck stages: (expansion t, output channels c, repeats n, first stride s).
MOBILENETV2_STAGES: tuple[tuple[int, int, int, int], ...] = (
    (1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2),
    (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1),
)
MOBILENETV2_STEM = 32
MOBILENETV2_HEAD = 1280  # widened with the width multiplier above 1.0 only, as in the paper's code


def build_mobilenetv1(request: BuildRequest) -> Graph:
    """MobileNetV1 with ReLU (BN folded); the MLPerf Tiny VWW model is width 0.25, 96 px, 2 classes."""
    scale = request.scaling
    builder = GraphBuilder(request.label, request.seed)
    x = builder.input(request.input_shape, IMAGE_RANGE)
    x = builder.conv(x, scale.channels(MOBILENETV1_STEM), 3, 2, activation="RELU", name="stem")
    for index, (channels, stride) in enumerate(MOBILENETV1_LAYERS, start=1):
        x = separable(builder, x, scale.channels(channels), stride, "RELU", name=f"block{index}")
    y = builder.classifier(x, request.classes)
    return builder.finish([y], f"tinyops zoo {request.label}: MobileNetV1 (random weights)")


def build_mobilenetv2(request: BuildRequest) -> Graph:
    """MobileNetV2 with ReLU6 and linear bottlenecks; expanded widths are t x input, unrounded."""
    scale = request.scaling
    builder = GraphBuilder(request.label, request.seed)
    x = builder.input(request.input_shape, IMAGE_RANGE)
    x = builder.conv(x, scale.channels(MOBILENETV2_STEM), 3, 2, activation="RELU6", name="stem")
    index = 0
    for expansion, channels, repeats, first_stride in MOBILENETV2_STAGES:
        out = scale.channels(channels)
        for repeat in range(repeats):
            index += 1
            in_channels = x.shape[-1]
            block = MBConv(kernel=3, expanded=None if expansion == 1 else in_channels * expansion, out=out,
                           stride=first_stride if repeat == 0 else 1, activation="RELU6")
            x = inverted_residual(builder, x, block, name=f"block{index}")
    head = scale.channels(MOBILENETV2_HEAD) if request.width > 1.0 else MOBILENETV2_HEAD
    x = builder.conv(x, head, 1, activation="RELU6", name="head")
    y = builder.classifier(x, request.classes)
    return builder.finish([y], f"tinyops zoo {request.label}: MobileNetV2 (random weights)")


@dataclass(frozen=True)
class IbnNetwork:
    """A MobileNetV2-shaped network with free widths (the DNAS VWW space): stem, blocks, 1x1 head."""

    stem_channels: int
    stem_kernel: tuple[int, int]
    stem_stride: tuple[int, int]
    blocks: tuple[MBConv, ...]
    head_channels: int


def build_ibn_network(name: str, network: IbnNetwork, input_shape: Sequence[int], classes: int, seed: int,
                      description: str) -> Graph:
    """The int8 graph of ``network`` (ReLU6, linear bottlenecks, as MobileNetV2); ``input_shape`` is NHWC."""
    builder = GraphBuilder(name, seed)
    x = builder.input(tuple(input_shape), IMAGE_RANGE)
    x = builder.conv(x, network.stem_channels, network.stem_kernel, network.stem_stride, activation="RELU6",
                     name="stem")
    for index, block in enumerate(network.blocks, start=1):
        x = inverted_residual(builder, x, block, name=f"block{index}")
    x = builder.conv(x, network.head_channels, 1, activation="RELU6", name="head")
    y = builder.classifier(x, classes)
    return builder.finish([y], description)
