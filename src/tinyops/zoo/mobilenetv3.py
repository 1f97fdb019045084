"""MobileNetV3-Large and -Small (Howard et al. 2019, "Searching for MobileNetV3").

Widths follow the paper's reference code: every layer, the stem and the 1280/1024 head are scaled
by the width multiplier and rounded (``make_divisible``); SE squeezes to a quarter of the expanded
width (rounded the same way) and gates with a hard sigmoid.
"""

from __future__ import annotations

from dataclasses import dataclass

from tinyops.ir import Graph
from tinyops.zoo.blocks import MBConv, inverted_residual
from tinyops.zoo.builder import GraphBuilder
from tinyops.zoo.mobilenet import IMAGE_RANGE
from tinyops.zoo.spec import BuildRequest

RE, HS = "RELU", "HARD_SWISH"
SE_REDUCTION = 4


@dataclass(frozen=True)
class Bneck:
    """One row of the paper's Table 1/2: kernel, expanded size, output channels, SE, non-linearity, stride."""

    kernel: int
    expanded: int
    out: int
    se: bool
    activation: str
    stride: int


LARGE: tuple[Bneck, ...] = (
    Bneck(3, 16, 16, False, RE, 1), Bneck(3, 64, 24, False, RE, 2), Bneck(3, 72, 24, False, RE, 1),
    Bneck(5, 72, 40, True, RE, 2), Bneck(5, 120, 40, True, RE, 1), Bneck(5, 120, 40, True, RE, 1),
    Bneck(3, 240, 80, False, HS, 2), Bneck(3, 200, 80, False, HS, 1), Bneck(3, 184, 80, False, HS, 1),
    Bneck(3, 184, 80, False, HS, 1), Bneck(3, 480, 112, True, HS, 1), Bneck(3, 672, 112, True, HS, 1),
    Bneck(5, 672, 160, True, HS, 2), Bneck(5, 960, 160, True, HS, 1), Bneck(5, 960, 160, True, HS, 1),
)
SMALL: tuple[Bneck, ...] = (
    Bneck(3, 16, 16, True, RE, 2), Bneck(3, 72, 24, False, RE, 2), Bneck(3, 88, 24, False, RE, 1),
    Bneck(5, 96, 40, True, HS, 2), Bneck(5, 240, 40, True, HS, 1), Bneck(5, 240, 40, True, HS, 1),
    Bneck(5, 120, 48, True, HS, 1), Bneck(5, 144, 48, True, HS, 1), Bneck(5, 288, 96, True, HS, 2),
    Bneck(5, 576, 96, True, HS, 1), Bneck(5, 576, 96, True, HS, 1),
)
STEM = 16
LAST_CONV_EXPANSION = 6  # the last 1x1 conv is 6x the last block's output (960 / 576)
HEAD = {"large": 1280, "small": 1024}


def _build(request: BuildRequest, size: str, squeeze_excite: bool = True) -> Graph:
    scale = request.scaling
    rows = LARGE if size == "large" else SMALL
    builder = GraphBuilder(request.label, request.seed)
    x = builder.input(request.input_shape, IMAGE_RANGE)
    x = builder.conv(x, scale.channels(STEM), 3, 2, activation=HS, name="stem")
    for index, row in enumerate(rows, start=1):
        in_channels = x.shape[-1]
        expanded = scale.channels(row.expanded)
        # The first block's expansion equals its input (no expand conv); SE squeezes the
        # already-scaled expanded width, so it is rounded but not scaled again.
        block = MBConv(kernel=row.kernel, expanded=None if index == 1 and expanded == in_channels else expanded,
                       out=scale.channels(row.out), stride=row.stride, activation=row.activation,
                       se_channels=scale.rounded(expanded // SE_REDUCTION) if row.se and squeeze_excite else None)
        x = inverted_residual(builder, x, block, name=f"block{index}")
    x = builder.conv(x, LAST_CONV_EXPANSION * x.shape[-1], 1, activation=HS, name="head/conv")
    y = builder.classifier(x, request.classes, hidden=scale.channels(HEAD[size]), hidden_activation=HS)
    variant = size.capitalize() + ("" if squeeze_excite else " without SE")
    return builder.finish([y], f"tinyops zoo {request.label}: MobileNetV3-{variant} (random weights)")


def build_mobilenetv3_large(request: BuildRequest) -> Graph:
    return _build(request, "large")


def build_mobilenetv3_large_no_se(request: BuildRequest) -> Graph:
    """MobileNetV3-Large with the SE blocks removed (kernels and hard-swish kept).

    This is the reading of TinyOpsV2's "MbV3" that reproduces all four of its published parameter
    counts (3.96M at w1.00, 2.49/1.33/1.55M at w0.75/0.50/0.55, to within 0.01M); the full
    MobileNetV3-Large has 5.47M at w1.00 (see docs/zoo.md)."""
    return _build(request, "large", squeeze_excite=False)


def build_mobilenetv3_small(request: BuildRequest) -> Graph:
    return _build(request, "small")
