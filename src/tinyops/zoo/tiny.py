"""The MLPerf Tiny / Hello Edge families: DS-CNN (S/M/L), ResNet-8 and the FC autoencoder.

These were published without channel rounding (DS-CNN-M is 172 wide), so width 1.0 gives the
published layers verbatim and other widths round like the mobile families.
"""

from __future__ import annotations

from dataclasses import dataclass

from tinyops.ir import Graph, Tensor
from tinyops.zoo.blocks import separable
from tinyops.zoo.builder import GraphBuilder
from tinyops.zoo.mobilenet import IMAGE_RANGE
from tinyops.zoo.spec import BuildRequest

# Ranges of the reference models' inputs: 10 MFCCs per 40 ms frame (KWS, scale 0.58 zp 83 in the
# MLPerf file), 640 log-mel energies (AD, scale 0.39 zp 89).
MFCC_RANGE = (-123.0, 26.0)
LOG_MEL_RANGE = (-85.0, 15.0)


@dataclass(frozen=True)
class DsCnnConfig:
    """Hello Edge DS-CNN as in ML-KWS-for-MCU's ``--model_size_info``: a 10x4 conv then DS layers."""

    channels: int
    first_stride: tuple[int, int]  # (time, frequency)
    separable_strides: tuple[tuple[int, int], ...]


DSCNN: dict[str, DsCnnConfig] = {
    "s": DsCnnConfig(64, (2, 2), ((1, 1),) * 4),
    "m": DsCnnConfig(172, (2, 1), ((2, 2),) + ((1, 1),) * 3),
    "l": DsCnnConfig(276, (2, 1), ((2, 2),) + ((1, 1),) * 4),
}
DSCNN_FIRST_KERNEL = (10, 4)


def build_dscnn(request: BuildRequest, size: str) -> Graph:
    config = DSCNN[size]
    channels = request.scaling.channels_keep_base(config.channels)
    builder = GraphBuilder(request.label, request.seed)
    x = builder.input(request.input_shape, MFCC_RANGE)
    x = builder.conv(x, channels, DSCNN_FIRST_KERNEL, config.first_stride, activation="RELU", name="conv1")
    for index, stride in enumerate(config.separable_strides, start=1):
        x = separable(builder, x, channels, stride, "RELU", name=f"ds{index}")
    y = builder.classifier(x, request.classes)
    return builder.finish([y], f"tinyops zoo {request.label}: DS-CNN-{size.upper()} (random weights)")


def build_dscnn_s(request: BuildRequest) -> Graph:
    return build_dscnn(request, "s")


def build_dscnn_m(request: BuildRequest) -> Graph:
    return build_dscnn(request, "m")


def build_dscnn_l(request: BuildRequest) -> Graph:
    return build_dscnn(request, "l")


RESNET8_STAGES = (16, 32, 64)


def _residual_stage(builder: GraphBuilder, x: Tensor, channels: int, stride: int, name: str) -> Tensor:
    """Two 3x3 convs; a strided 1x1 projection shortcut when the shape changes (MLPerf IC order)."""
    y = builder.conv(x, channels, 3, stride, activation="RELU", name=f"{name}/conv_a")
    y = builder.conv(y, channels, 3, 1, activation="NONE", name=f"{name}/conv_b")
    shortcut = x
    if stride != 1 or x.shape[-1] != channels:
        shortcut = builder.conv(x, channels, 1, stride, activation="NONE", name=f"{name}/shortcut")
    return builder.add(shortcut, y, activation="RELU", name=f"{name}/add")


def build_resnet8(request: BuildRequest) -> Graph:
    """MLPerf Tiny image classification ResNet-8 (CIFAR-10, 32x32): 3 stages of one basic block."""
    channels = [request.scaling.channels_keep_base(c) for c in RESNET8_STAGES]
    builder = GraphBuilder(request.label, request.seed)
    x = builder.input(request.input_shape, IMAGE_RANGE)
    x = builder.conv(x, channels[0], 3, 1, activation="RELU", name="stem")
    for index, width in enumerate(channels):
        x = _residual_stage(builder, x, width, 1 if index == 0 else 2, name=f"stage{index + 1}")
    y = builder.classifier(x, request.classes)
    return builder.finish([y], f"tinyops zoo {request.label}: ResNet-8 (random weights)")


AUTOENCODER_HIDDEN, AUTOENCODER_BOTTLENECK, AUTOENCODER_DEPTH = 128, 8, 4


def build_fc_autoencoder(request: BuildRequest) -> Graph:
    """MLPerf Tiny anomaly detection autoencoder: 4x128 -> 8 -> 4x128 -> input, ReLU, linear output.

    The input is frames x mel bins flattened (5 x 128 = 640 in the reference model)."""
    scale = request.scaling
    hidden = scale.channels_keep_base(AUTOENCODER_HIDDEN)
    bottleneck = scale.channels_keep_base(AUTOENCODER_BOTTLENECK)
    features = request.resolution[0] * request.resolution[1]
    builder = GraphBuilder(request.label, request.seed)
    x = builder.input((1, features), LOG_MEL_RANGE)
    widths = [hidden] * AUTOENCODER_DEPTH + [bottleneck] + [hidden] * AUTOENCODER_DEPTH
    for index, units in enumerate(widths, start=1):
        x = builder.fc(x, units, activation="RELU", name=f"dense{index}")
    y = builder.fc(x, features, activation="NONE", name="reconstruction")
    return builder.finish([y], f"tinyops zoo {request.label}: FC autoencoder (random weights)")
