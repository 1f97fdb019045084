"""MCUNet (V1): the ImageNet models mcunet-in0 ... in4 and the visual-wake-words model mcunet-vww1.

Each MCUNet is one searched chain of inverted-residual blocks, one block per row of its table
(expansion t, output channels c, stride s, depthwise kernel k), after a 3x3 stride-2 stem and
before global pooling and one fully connected layer (no final 1x1 conv). ReLU6 after the stem,
every expand and every depthwise; the projection is linear; a residual add where the block keeps
its shape. Sources: `shared/architectures/mcunet_imagenet.md` (the authors' released net configs)
for in0..in4; `shared/models/tinyengine/mcunet_vww.tflite` (TinyEngine's mcunet-vww1) for vww1.

Padding. The released models are PyTorch models with symmetric padding k // 2. Where TFLite's
SAME padding differs from that (stride 2 on an even input: SAME pads only bottom/right), the
converter writes an explicit PAD and a VALID conv, as mcunet_vww.tflite shows; ``torch_padding``
reproduces that op for op. The ImageNet models use SAME, as TinyOpsV2 deployed them ("explicit padding
layers of MCUNetV1 were fused", Appendix A) and as the published MAC counts assume; the MACs are
the same either way.
"""

from __future__ import annotations

from dataclasses import dataclass

from tinyops.ir import Graph, Tensor
from tinyops.ops.common import same_padding
from tinyops.zoo.builder import GraphBuilder
from tinyops.zoo.mobilenet import IMAGE_RANGE
from tinyops.zoo.spec import BuildRequest

ACTIVATION = "RELU6"
POINTWISE_PADDING = "VALID"  # what the converter writes for 1x1 convs (the same as SAME there)


@dataclass(frozen=True)
class Block:
    """One row of an MCUNet table: expansion t, output channels c, stride s, depthwise kernel k."""

    expansion: int
    out: int
    stride: int
    kernel: int


@dataclass(frozen=True)
class Architecture:
    stem: int
    blocks: tuple[Block, ...]
    resolution: int
    classes: int


def _rows(*rows: tuple[int, int, int, int, int]) -> tuple[Block, ...]:
    """Rows as the architecture file writes them, (t, c, n, s, k); every MCUNet row has n = 1."""
    blocks: list[Block] = []
    for t, c, n, s, k in rows:
        blocks.extend(Block(t, c, s if i == 0 else 1, k) for i in range(n))
    return tuple(blocks)


MCUNET: dict[str, Architecture] = {
    "mcunet-in0": Architecture(24, _rows(
        (1, 16, 1, 1, 3), (4, 16, 1, 2, 5), (3, 16, 1, 1, 3), (4, 16, 1, 1, 3), (5, 24, 1, 2, 7), (4, 24, 1, 1, 5),
        (5, 24, 1, 1, 5), (5, 48, 1, 2, 7), (4, 48, 1, 1, 5), (5, 56, 1, 1, 3), (4, 56, 1, 1, 5), (5, 56, 1, 1, 3),
        (6, 112, 1, 2, 3), (4, 112, 1, 1, 5), (6, 192, 1, 1, 3)), 48, 1000),
    "mcunet-in1": Architecture(16, _rows(
        (1, 8, 1, 1, 3), (4, 16, 1, 2, 3), (3, 16, 1, 1, 3), (3, 24, 1, 2, 7), (5, 24, 1, 1, 3), (5, 40, 1, 2, 3),
        (4, 40, 1, 1, 7), (4, 48, 1, 1, 5), (3, 48, 1, 1, 3), (4, 48, 1, 1, 3), (5, 96, 1, 2, 7), (4, 96, 1, 1, 5),
        (4, 96, 1, 1, 5), (6, 160, 1, 1, 3)), 96, 1000),
    "mcunet-in2": Architecture(16, _rows(
        (1, 8, 1, 1, 3), (3, 16, 1, 2, 5), (6, 16, 1, 1, 7), (5, 16, 1, 1, 3), (5, 16, 1, 1, 5), (5, 24, 1, 2, 3),
        (6, 24, 1, 1, 7), (6, 24, 1, 1, 5), (4, 40, 1, 2, 7), (5, 40, 1, 1, 5), (5, 48, 1, 1, 3), (5, 48, 1, 1, 5),
        (4, 48, 1, 1, 3), (6, 96, 1, 2, 5), (4, 96, 1, 1, 5), (3, 96, 1, 1, 5), (4, 96, 1, 1, 3),
        (5, 160, 1, 1, 5)), 160, 1000),
    "mcunet-in3": Architecture(16, _rows(
        (1, 8, 1, 1, 3), (3, 16, 1, 2, 7), (5, 16, 1, 1, 3), (5, 16, 1, 1, 7), (4, 16, 1, 1, 5), (5, 24, 1, 2, 5),
        (5, 24, 1, 1, 5), (5, 24, 1, 1, 5), (5, 40, 1, 2, 3), (6, 40, 1, 1, 7), (4, 40, 1, 1, 5), (5, 48, 1, 1, 5),
        (5, 48, 1, 1, 7), (5, 48, 1, 1, 3), (6, 96, 1, 2, 3), (5, 96, 1, 1, 7), (4, 96, 1, 1, 3),
        (5, 160, 1, 1, 7)), 176, 1000),
    "mcunet-in4": Architecture(32, _rows(
        (1, 16, 1, 1, 3), (3, 24, 1, 2, 7), (5, 24, 1, 1, 3), (4, 24, 1, 1, 5), (5, 40, 1, 2, 7), (4, 40, 1, 1, 3),
        (4, 40, 1, 1, 7), (3, 80, 1, 2, 7), (3, 80, 1, 1, 3), (3, 80, 1, 1, 7), (4, 96, 1, 1, 3), (3, 96, 1, 1, 5),
        (3, 96, 1, 1, 5), (4, 192, 1, 2, 7), (3, 192, 1, 1, 7), (3, 192, 1, 1, 5), (4, 320, 1, 1, 5)), 160, 1000),
    # Read off mcunet_vww.tflite layer by layer (expand widths / input widths give t).
    "mcunet-vww1": Architecture(16, _rows(
        (1, 8, 1, 1, 3), (6, 16, 1, 2, 3), (3, 16, 1, 1, 3), (3, 16, 1, 1, 3), (3, 24, 1, 2, 7), (6, 24, 1, 1, 3),
        (5, 24, 1, 1, 5), (6, 40, 1, 2, 7), (6, 40, 1, 1, 7), (6, 48, 1, 1, 3), (4, 48, 1, 1, 3), (5, 96, 1, 2, 5),
        (5, 96, 1, 1, 3), (4, 96, 1, 1, 3), (3, 160, 1, 1, 7)), 80, 2),
}


def _torch_pad(builder: GraphBuilder, x: Tensor, kernel: int, stride: int, name: str) -> tuple[Tensor, str]:
    """PAD + VALID where SAME would not pad k // 2 on every side (see the module docstring)."""
    half = kernel // 2
    _, height, width, _ = x.shape
    out_h, out_w = -(-height // stride), -(-width // stride)
    rows = same_padding(height, kernel, stride, 1, out_h)
    cols = same_padding(width, kernel, stride, 1, out_w)
    if rows == (half, half) and cols == (half, half):
        return x, "SAME"
    return builder.pad(x, half, half, half, half, name=f"{name}/pad"), "VALID"


def _mcunet(request: BuildRequest, torch_padding: bool, softmax: bool) -> Graph:
    arch = MCUNET[request.family]
    scale = request.scaling
    builder = GraphBuilder(request.label, request.seed)

    def spatial(x: Tensor, kernel: int, stride: int, name: str) -> tuple[Tensor, str]:
        return _torch_pad(builder, x, kernel, stride, name) if torch_padding else (x, "SAME")

    x = builder.input(request.input_shape, IMAGE_RANGE)
    x, padding = spatial(x, 3, 2, "stem")
    x = builder.conv(x, scale.channels(arch.stem), 3, 2, activation=ACTIVATION, name="stem", padding=padding)
    for index, block in enumerate(arch.blocks):
        name = f"block{index}"
        in_channels = x.shape[-1]
        y = x
        if block.expansion != 1:
            y = builder.conv(y, round(in_channels * block.expansion), 1, activation=ACTIVATION, name=f"{name}/expand",
                             padding=POINTWISE_PADDING)
        y, padding = spatial(y, block.kernel, block.stride, name)
        y = builder.dwconv(y, block.kernel, block.stride, activation=ACTIVATION, name=f"{name}/depthwise",
                           padding=padding)
        y = builder.conv(y, scale.channels(block.out), 1, activation="NONE", name=f"{name}/project",
                         padding=POINTWISE_PADDING)
        if block.stride == 1 and in_channels == y.shape[-1]:
            y = builder.add(x, y, name=f"{name}/add")
        x = y
    y = builder.classifier(x, request.classes, softmax=softmax)
    return builder.finish([y], f"tinyops zoo {request.label}: MCUNet {request.family[7:]} (random weights)")


def build_mcunet_imagenet(request: BuildRequest) -> Graph:
    """mcunet-in0..in4: SAME padding, softmax head like the zoo's other ImageNet families."""
    return _mcunet(request, torch_padding=False, softmax=True)


def build_mcunet_vww(request: BuildRequest) -> Graph:
    """mcunet-vww1 op for op as mcunet_vww.tflite: explicit PADs, the model ends with the logits."""
    return _mcunet(request, torch_padding=True, softmax=False)


def native_resolution(family: str) -> tuple[int, int]:
    size = MCUNET[family].resolution
    return (size, size)


def native_classes(family: str) -> int:
    return MCUNET[family].classes
