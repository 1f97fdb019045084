"""NAS-found mobile families: MNASNet-A1, MNASNet-B1, ProxylessNAS-Mobile, EfficientNet-Lite0.

All four are chains of inverted-residual blocks (`blocks.MBConv`); they differ in kernels,
expansions, activations, squeeze-and-excitation and in how the width multiplier reaches the stem
and head, which is what each table below records.
"""

from __future__ import annotations

from dataclasses import dataclass

from tinyops.ir import Graph
from tinyops.zoo.blocks import MBConv, inverted_residual, separable
from tinyops.zoo.builder import GraphBuilder
from tinyops.zoo.mobilenet import IMAGE_RANGE
from tinyops.zoo.spec import BuildRequest

HEAD = 1280


@dataclass(frozen=True)
class Stage:
    """A run of ``repeats`` blocks; only the first strides (and changes width)."""

    kernel: int
    stride: int
    expansion: int
    out: int
    repeats: int
    se_ratio: float | None = None


def _stages(builder: GraphBuilder, x, stages: tuple[Stage, ...], request: BuildRequest, activation: str,
            first_index: int, se_of_input: bool = False, se_gate: str = "sigmoid"):
    """Emit the stages. ``se_of_input``: SE squeezes the block's input width (MNASNet's reference
    code) rather than the expanded width."""
    index = first_index
    for stage in stages:
        out = request.scaling.channels(stage.out)
        for repeat in range(stage.repeats):
            in_channels = x.shape[-1]
            se_channels = None
            if stage.se_ratio is not None:
                base = in_channels if se_of_input else in_channels * stage.expansion
                se_channels = max(1, int(base * stage.se_ratio))
            block = MBConv(kernel=stage.kernel, expanded=in_channels * stage.expansion, out=out,
                           stride=stage.stride if repeat == 0 else 1, activation=activation,
                           se_channels=se_channels, se_gate=se_gate)
            x = inverted_residual(builder, x, block, name=f"block{index}")
            index += 1
    return x


# MNASNet-A1 (Tan et al. 2019, Figure 7), after the stem and the 3x3 separable block to 16.
MNASNET_A1: tuple[Stage, ...] = (
    Stage(3, 2, 6, 24, 2), Stage(5, 2, 3, 40, 3, 0.25), Stage(3, 2, 6, 80, 4),
    Stage(3, 1, 6, 112, 2, 0.25), Stage(5, 2, 6, 160, 3, 0.25), Stage(3, 1, 6, 320, 1),
)
# MNASNet-B1 as torchvision's mnasnet1_0 (no SE, expansion 3 early), 4.38M parameters.
MNASNET_B1: tuple[Stage, ...] = (
    Stage(3, 2, 3, 24, 3), Stage(5, 2, 3, 40, 3), Stage(5, 2, 6, 80, 3),
    Stage(3, 1, 6, 96, 2), Stage(5, 2, 6, 192, 4), Stage(3, 1, 6, 320, 1),
)
MNASNET_STEM, MNASNET_SEPARABLE_OUT = 32, 16


def _mnasnet(request: BuildRequest, stages: tuple[Stage, ...], variant: str, se_of_input: bool,
             scale_head: bool) -> Graph:
    scale = request.scaling
    builder = GraphBuilder(request.label, request.seed)
    x = builder.input(request.input_shape, IMAGE_RANGE)
    x = builder.conv(x, scale.channels(MNASNET_STEM), 3, 2, activation="RELU", name="stem")
    # The separable block's projection is linear (no ReLU) in both reference implementations.
    x = builder.dwconv(x, 3, 1, activation="RELU", name="block0/depthwise")
    x = builder.conv(x, scale.channels(MNASNET_SEPARABLE_OUT), 1, activation="NONE", name="block0/project")
    x = _stages(builder, x, stages, request, "RELU", first_index=1, se_of_input=se_of_input)
    head = scale.channels(HEAD) if scale_head else HEAD
    x = builder.conv(x, head, 1, activation="RELU", name="head")
    y = builder.classifier(x, request.classes)
    return builder.finish([y], f"tinyops zoo {request.label}: MNASNet-{variant} (random weights)")


def build_mnasnet_a1(request: BuildRequest) -> Graph:
    """MNASNet-A1: SE (ReLU, sigmoid gate) squeezing the block input x 0.25; head scaled with width."""
    return _mnasnet(request, MNASNET_A1, "A1", se_of_input=True, scale_head=True)


def build_mnasnet_b1(request: BuildRequest) -> Graph:
    """MNASNet-B1 (torchvision mnasnet1_0): the 1280 head is not scaled, as in torchvision."""
    return _mnasnet(request, MNASNET_B1, "B1", se_of_input=False, scale_head=False)


@dataclass(frozen=True)
class ProxylessBlock:
    kernel: int
    expansion: int
    out: int
    stride: int
    shortcut: bool


# ProxylessNAS-Mobile (Cai et al. 2019, Figure 4): the searched blocks; the two "zero" (identity)
# choices in the 32-channel stage are simply absent.
PROXYLESS_MOBILE: tuple[ProxylessBlock, ...] = (
    ProxylessBlock(5, 3, 32, 2, False), ProxylessBlock(3, 3, 32, 1, True),
    ProxylessBlock(7, 3, 40, 2, False), ProxylessBlock(3, 3, 40, 1, True), ProxylessBlock(5, 3, 40, 1, True),
    ProxylessBlock(5, 3, 40, 1, True),
    ProxylessBlock(7, 6, 80, 2, False), ProxylessBlock(5, 3, 80, 1, True), ProxylessBlock(5, 3, 80, 1, True),
    ProxylessBlock(5, 3, 80, 1, True),
    ProxylessBlock(5, 6, 96, 1, False), ProxylessBlock(5, 3, 96, 1, True), ProxylessBlock(5, 3, 96, 1, True),
    ProxylessBlock(5, 3, 96, 1, True),
    ProxylessBlock(7, 6, 192, 2, False), ProxylessBlock(7, 6, 192, 1, True), ProxylessBlock(7, 3, 192, 1, True),
    ProxylessBlock(7, 3, 192, 1, True),
    ProxylessBlock(7, 6, 320, 1, False),
)
PROXYLESS_STEM, PROXYLESS_FIRST = 32, 16


def build_proxylessnas_mobile(request: BuildRequest) -> Graph:
    """ProxylessNAS-Mobile, ReLU6. The 1280 head scales with the width (the reference code keeps it
    at 1280 below width 1.0, but TinyOpsV2's 0.72M-parameter w0.30 models need it scaled)."""
    scale = request.scaling
    builder = GraphBuilder(request.label, request.seed)
    x = builder.input(request.input_shape, IMAGE_RANGE)
    x = builder.conv(x, scale.channels(PROXYLESS_STEM), 3, 2, activation="RELU6", name="stem")
    x = inverted_residual(builder, x, MBConv(3, None, scale.channels(PROXYLESS_FIRST), 1, "RELU6", skip=False),
                          name="block0")
    for index, spec in enumerate(PROXYLESS_MOBILE, start=1):
        in_channels = x.shape[-1]
        block = MBConv(spec.kernel, in_channels * spec.expansion, scale.channels(spec.out), spec.stride, "RELU6",
                       skip=spec.shortcut)
        x = inverted_residual(builder, x, block, name=f"block{index}")
    x = builder.conv(x, scale.channels(HEAD), 1, activation="RELU6", name="head")
    y = builder.classifier(x, request.classes)
    return builder.finish([y], f"tinyops zoo {request.label}: ProxylessNAS-Mobile (random weights)")


# EfficientNet-B0 stages (Tan & Le 2019, Table 1) as used by EfficientNet-Lite0 (no SE, ReLU6).
EFFICIENTNET_B0: tuple[Stage, ...] = (
    Stage(3, 2, 6, 24, 2), Stage(5, 2, 6, 40, 2), Stage(3, 2, 6, 80, 3),
    Stage(5, 1, 6, 112, 3), Stage(5, 2, 6, 192, 4), Stage(3, 1, 6, 320, 1),
)
EFFICIENTNET_STEM, EFFICIENTNET_FIRST = 32, 16


def build_efficientnet_lite0(request: BuildRequest) -> Graph:
    """EfficientNet-Lite0: B0 without SE, ReLU6, stem and head fixed at 32/1280 (the Lite recipe)."""
    scale = request.scaling
    builder = GraphBuilder(request.label, request.seed)
    x = builder.input(request.input_shape, IMAGE_RANGE)
    x = builder.conv(x, EFFICIENTNET_STEM, 3, 2, activation="RELU6", name="stem")
    x = separable(builder, x, scale.channels(EFFICIENTNET_FIRST), 1, "RELU6", name="block0")
    x = _stages(builder, x, EFFICIENTNET_B0, request, "RELU6", first_index=1)
    x = builder.conv(x, HEAD, 1, activation="RELU6", name="head")
    y = builder.classifier(x, request.classes)
    return builder.finish([y], f"tinyops zoo {request.label}: EfficientNet-Lite0 (random weights)")
