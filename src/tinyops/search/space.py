"""The MicroNets block space shared by DNAS and the published MicroNet architectures.

A backbone is a stem conv then depthwise-separable blocks (k x k depthwise + 1x1 pointwise, BN +
ReLU), global average pooling, one fully connected layer and softmax (MicroNets Table 5); or, for
VWW (and the external-memory ImageNet variant), MobileNetV2: stem, inverted-residual (IBN) blocks
whose first (expansion) and last (projection) convs are searched at 10%-100% of MobileNetV2's
width in 10% steps, and the 1x1 head conv. A projection that feeds a residual add is tied to the
block's input width (the add needs equal shapes), so a residual block has one decision, its
expansion width, and can be skipped (its identity is the residual path). Kernel
sizes, strides and the input resolution are fixed by the backbone; the search picks, per layer,
an output width in multiples of 4 (CMSIS-NN's fast paths need channels divisible by 4) and, per
skippable block, whether it is kept (MicroNets puts an identity beside each stride-1 block).

An :class:`Architecture` is one point of a space: widths, with 0 for a skipped block. Its record
is the architecture-file format of ``tinyops train --arch`` (docs/tasks.md), so a searched model
trains with the tasks pipeline unchanged.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

from tinyops.errors import TinyOpsError
from tinyops.ir import Graph
from tinyops.zoo.blocks import MBConv
from tinyops.zoo.micronets import DsBlock, DsNetwork, build_ds_network
from tinyops.zoo.mobilenet import MOBILENETV2_HEAD, MOBILENETV2_STAGES, MOBILENETV2_STEM, IbnNetwork, build_ibn_network

WIDTH_STEP = 4
TaskName = Literal["kws", "vww", "ad", "toy"]
# conv: the stem; ds: depthwise + pointwise; ibn: expansion conv (this layer's width) + depthwise +
# projection (the next layer's width, kind "project", or the input width when ``residual``); head: 1x1 conv.
LayerKind = Literal["conv", "ds", "ibn", "project", "head"]
WIDTH_FRACTIONS = tuple(range(1, 11))  # tenths of the largest width (MicroNets VWW)


def round_width(channels: float) -> int:
    """Nearest multiple of 4, at least 4."""
    return max(WIDTH_STEP, int(channels / WIDTH_STEP + 0.5) * WIDTH_STEP)


@dataclass(frozen=True)
class LayerSpec:
    """One searchable layer: the stem conv or a depthwise-separable block."""

    name: str
    kernel: tuple[int, int]
    stride: tuple[int, int]
    max_channels: int
    skippable: bool = False
    kind: LayerKind = "ds"
    residual: bool = False  # ibn: the projection is added to the block's input (stride 1, same width)
    fractions: bool = False  # widths at 10%..100% of max_channels (rounded to 4), not every multiple of 4

    def width_options(self, step: int = WIDTH_STEP) -> tuple[int, ...]:
        if self.fractions:
            return tuple(sorted({round_width(self.max_channels * tenth / 10) for tenth in WIDTH_FRACTIONS}))
        return tuple(range(step, self.max_channels + 1, step))


@dataclass(frozen=True)
class SearchSpace:
    task: TaskName
    name: str
    input_shape: tuple[int, int, int]  # (channels, height, width)
    classes: int
    stem: LayerSpec
    blocks: tuple[LayerSpec, ...]
    description: str = ""

    @property
    def layers(self) -> tuple[LayerSpec, ...]:
        return (self.stem,) + self.blocks

    def largest(self) -> "Architecture":
        return Architecture(self, tuple(layer.max_channels for layer in self.layers))

    def smallest(self) -> "Architecture":
        return Architecture(self, tuple(0 if layer.skippable else layer.width_options()[0] for layer in self.layers))

    @property
    def family(self) -> Literal["ds", "ibn"]:
        return "ibn" if any(layer.kind in ("ibn", "head") for layer in self.blocks) else "ds"

    def spatial_shapes(self) -> list[tuple[int, int]]:
        """Output (height, width) of every layer, TF-SAME padding (ceil division by the stride)."""
        height, width = self.input_shape[1], self.input_shape[2]
        shapes = []
        for layer in self.layers:
            height = -(-height // layer.stride[0])
            width = -(-width // layer.stride[1])
            shapes.append((height, width))
        return shapes

    def to_json(self) -> dict[str, Any]:
        return {"task": self.task, "name": self.name, "input": list(self.input_shape), "classes": self.classes,
                "family": self.family,
                "layers": [{"name": l.name, "kind": l.kind, "kernel": list(l.kernel), "stride": list(l.stride),
                            "max_channels": l.max_channels, "skippable": l.skippable, "residual": l.residual,
                            "width_options": list(l.width_options())} for l in self.layers],
                "width_step": WIDTH_STEP, "description": self.description}


@dataclass(frozen=True)
class Architecture:
    """Widths of every layer of ``space`` (stem first); 0 marks a skipped block."""

    space: SearchSpace
    widths: tuple[int, ...]
    name: str = field(default="searched", compare=False)

    def __post_init__(self) -> None:
        if len(self.widths) != len(self.space.layers):
            raise TinyOpsError(f"{len(self.widths)} widths for a space of {len(self.space.layers)} layers")
        for layer, width in zip(self.space.layers, self.widths):
            if width == 0 and layer.skippable:
                continue
            if layer.fractions and width not in layer.width_options():
                raise TinyOpsError(f"{layer.name}: width {width} is not one of {list(layer.width_options())}")
            if width < WIDTH_STEP or width % WIDTH_STEP or width > layer.max_channels:
                raise TinyOpsError(f"{layer.name}: width {width} is not a multiple of {WIDTH_STEP} in "
                                   f"{WIDTH_STEP}..{layer.max_channels}")

    def kept_blocks(self) -> list[tuple[LayerSpec, int]]:
        return [(layer, width) for layer, width in zip(self.space.blocks, self.widths[1:]) if width]

    def record(self) -> dict[str, Any]:
        """The ``tinyops train --arch`` file: stem, kept blocks, input, classes."""
        if self.space.family == "ibn":
            return self._ibn_record()
        stem = self.space.stem
        return {
            "name": self.name,
            "source": f"tinyops search dnas over the {self.space.name} space",
            "input": list(self.space.input_shape),
            "stem": {"kernel": list(stem.kernel), "channels": self.widths[0], "stride": list(stem.stride)},
            "blocks": [{"channels": width, "stride": list(layer.stride), "kernel": layer.kernel[0]}
                       for layer, width in self.kept_blocks()],
            "classes": self.space.classes,
        }

    def _ibn_record(self) -> dict[str, Any]:
        """MobileNetV2-space record: every block with its expansion and output widths; ``widths`` maps back."""
        net = self.ibn_network()
        return {"name": self.name, "source": f"tinyops search dnas over the {self.space.name} space",
                "family": "mobilenetv2-ibn", "input": list(self.space.input_shape),
                "stem": {"kernel": list(self.space.stem.kernel), "channels": net.stem_channels,
                         "stride": list(self.space.stem.stride)},
                "blocks": [{"type": "ibn", "expanded": b.expanded, "channels": b.out, "stride": [b.stride, b.stride],
                            "kernel": b.kernel, "residual": b.skip} for b in net.blocks],
                "head": net.head_channels, "classes": self.space.classes, "widths": list(self.widths)}

    def ibn_network(self) -> IbnNetwork:
        """The MobileNetV2-space network: skipped residual blocks dropped, tied projections resolved."""
        layers, widths = self.space.layers, self.widths
        blocks: list[MBConv] = []
        incoming = widths[0]
        head = 0
        index = 1
        while index < len(layers):
            layer, width = layers[index], widths[index]
            if layer.kind == "ds":  # MobileNetV2's expansion-1 block: depthwise + linear projection
                blocks.append(MBConv(layer.kernel[0], None, width, layer.stride[0], skip=False))
                incoming = width
            elif layer.kind == "ibn" and layer.residual:
                if width:
                    blocks.append(MBConv(layer.kernel[0], width, incoming, layer.stride[0], skip=True))
            elif layer.kind == "ibn":
                out = widths[index + 1]
                blocks.append(MBConv(layer.kernel[0], width, out, layer.stride[0], skip=False))
                incoming = out
                index += 1
            elif layer.kind == "head":
                head = width
            index += 1
        return IbnNetwork(widths[0], self.space.stem.kernel, self.space.stem.stride, tuple(blocks), head)

    def describe(self) -> str:
        if self.space.family == "ibn":
            return " ".join([f"stem {self.widths[0]}"] + [
                "skip" if w == 0 else f"{l.kind[0]}{w}" + ("s2" if l.stride != (1, 1) else "")
                for l, w in zip(self.space.blocks, self.widths[1:])])
        parts = [f"stem {self.widths[0]}"] + [
            ("skip" if w == 0 else f"{w}" + ("s2" if l.stride != (1, 1) else ""))
            for l, w in zip(self.space.blocks, self.widths[1:])]
        return " ".join(parts)

    def network(self) -> DsNetwork:
        stem = self.space.stem
        return DsNetwork(self.widths[0], stem.kernel, stem.stride,
                         tuple(DsBlock(out, layer.stride, layer.kernel[0]) for layer, out in self.kept_blocks()))

    def build_graph(self, seed: int = 0) -> Graph:
        """The int8 IR graph (random weights) with exactly this architecture (the zoo's MicroNets builder)."""
        channels, height, width = self.space.input_shape
        if self.space.family == "ibn":
            return build_ibn_network(self.name, self.ibn_network(), (1, height, width, channels), self.space.classes,
                                     seed, f"{self.name}: {self.describe()} ({self.space.name} space)")
        return build_ds_network(self.name, self.network(), (1, height, width, channels), self.space.classes, seed,
                                f"{self.name}: {self.describe()} ({self.space.name} space)")


def _ds_blocks(strides: list[int], channels: int, skippable_stride1: bool) -> tuple[LayerSpec, ...]:
    return tuple(LayerSpec(f"ds{i}", (3, 3), (s, s), channels, skippable=skippable_stride1 and s == 1)
                 for i, s in enumerate(strides, start=1))


def kws_space(max_channels: int = 276) -> SearchSpace:
    """MicroNets KWS: DS-CNN-L plus 4 more DS blocks; stem 10x4 stride 1, first DS block stride 2."""
    return SearchSpace("kws", "micronets-kws", (1, 49, 10), 12,
                       LayerSpec("stem", (10, 4), (1, 1), max_channels),
                       _ds_blocks([2] + [1] * 8, max_channels, True),
                       "DS-CNN-L (5 DS blocks) + 4 DS blocks of 276, stem 10x4 s1, first DS s2, 49x10 MFCC")


def ad_space(max_channels: int = 276, machine_ids: int = 4) -> SearchSpace:
    """MicroNets AD: DS-CNN-L with skips, the last two DS blocks stride 2, 32x32x1 input, 4 IDs."""
    return SearchSpace("ad", "micronets-ad", (1, 32, 32), machine_ids,
                       LayerSpec("stem", (3, 3), (1, 1), max_channels),
                       _ds_blocks([2, 1, 1, 2, 2], max_channels, True),
                       "DS-CNN-L, stem 3x3 s1, DS strides 2,1,1,2,2, 32x32 log-mel, machine-ID classes")


def toy_space(max_channels: int = 32, blocks: int = 4, input_shape: tuple[int, int, int] = (1, 49, 10),
              classes: int = 12) -> SearchSpace:
    """A small KWS-shaped space for tests and demonstrations."""
    strides = [2] + [1] * (blocks - 1)
    return SearchSpace("toy", f"toy-c{max_channels}-b{blocks}", input_shape, classes,
                       LayerSpec("stem", (10, 4) if input_shape[1] >= 10 else (3, 3), (1, 1), max_channels),
                       _ds_blocks(strides, max_channels, True), f"toy KWS-shaped space, C_max {max_channels}")


def ibn_space(task: TaskName, name: str, input_shape: tuple[int, int, int], classes: int,
              stages: tuple[tuple[int, int, int, int], ...], stem: int, head: int, description: str) -> SearchSpace:
    """A MobileNetV2-shaped space: ``stages`` are (expansion t, channels c, repeats n, first stride s).

    Stage-first blocks change shape: two decisions (expansion, projection). Later blocks of a
    stage are residual: one decision (expansion), skippable. An expansion-1 block is a ``ds``
    layer (depthwise + linear projection). Largest widths are MobileNetV2's at width 1.0.
    """
    layers = [LayerSpec("stem", (3, 3), (2, 2), round_width(stem), kind="conv", fractions=True)]
    incoming = layers[0].max_channels
    index = 0
    for expansion, channels, repeats, first_stride in stages:
        out = round_width(channels)
        for repeat in range(repeats):
            index += 1
            stride = first_stride if repeat == 0 else 1
            if expansion == 1:
                layers.append(LayerSpec(f"b{index}", (3, 3), (stride, stride), out, kind="ds", fractions=True))
            elif repeat == 0:
                layers.append(LayerSpec(f"b{index}/expand", (3, 3), (stride, stride), round_width(incoming * expansion),
                                        kind="ibn", fractions=True))
                layers.append(LayerSpec(f"b{index}/project", (1, 1), (1, 1), out, kind="project", fractions=True))
            else:
                layers.append(LayerSpec(f"b{index}/expand", (3, 3), (1, 1), round_width(out * expansion), skippable=True,
                                        kind="ibn", residual=True, fractions=True))
            incoming = out
    layers.append(LayerSpec("head", (1, 1), (1, 1), round_width(head), kind="head", fractions=True))
    return SearchSpace(task, name, input_shape, classes, layers[0], tuple(layers[1:]), description)


def vww_space(resolution: int = 50, channels: int = 1, classes: int = 2, name: str = "micronets-vww") -> SearchSpace:
    """MicroNets VWW: MobileNetV2 with the first and last conv of every IBN block (and the stem and
    head convs) at 10%-100% of MobileNetV2's width; grayscale 50x50 (F446RE) or 160x160 (F746ZG)."""
    return ibn_space("vww", name, (channels, resolution, resolution), classes, MOBILENETV2_STAGES, MOBILENETV2_STEM,
                     MOBILENETV2_HEAD, f"MobileNetV2 IBN blocks at 10%-100% width, {channels}x{resolution}x{resolution} "
                     f"input, {classes} classes")


def imagenet_space(resolution: int = 160) -> SearchSpace:
    """The external-memory design space (TinyOpsV2's closing remark): the same MobileNetV2 space on
    ImageNet-shaped inputs, 3x R x R, 1000 classes; flash is the board's external memory."""
    return vww_space(resolution, 3, 1000, "mobilenetv2-imagenet")


def toy_ibn_space(max_channels: int = 16, blocks: int = 3, input_shape: tuple[int, int, int] = (1, 16, 16),
                  classes: int = 2) -> SearchSpace:
    """A small VWW-shaped space: one expansion-1 block, one stride-2 IBN block, then residual blocks."""
    stages = ((1, max_channels, 1, 1), (2, max_channels, max(1, blocks - 1), 2))
    return ibn_space("vww", f"toy-vww-c{max_channels}-b{blocks}", input_shape, classes, stages, max_channels,
                     2 * max_channels, f"toy VWW-shaped MobileNetV2 space, C_max {max_channels}")


SPACES = {"kws": kws_space, "ad": ad_space}


def space_for(task: str, input_shape: tuple[int, int, int] | None = None, classes: int | None = None,
              max_channels: int | None = None, blocks: int | None = None) -> SearchSpace:
    """The task's search space, resized to the data (input shape, class count) where given."""
    if max_channels is not None and max_channels % WIDTH_STEP:
        raise TinyOpsError(f"--max-channels must be a multiple of {WIDTH_STEP}, got {max_channels}")
    if task == "vww":
        shape = input_shape or (1, 50, 50)
        if shape[1] != shape[2]:
            raise TinyOpsError(f"the VWW space takes square images, got {shape[1]}x{shape[2]}")
        if blocks is not None or max_channels is not None:
            return toy_ibn_space(max_channels or 16, blocks or 3, shape, classes or 2)
        return vww_space(shape[1], shape[0], classes or 2, "micronets-vww" if (classes or 2) == 2 else
                         "mobilenetv2-imagenet")
    if task == "toy" or blocks is not None:
        base = toy_space(max_channels or 32, blocks or 4, input_shape or (1, 49, 10), classes or 12)
    elif task in SPACES:
        base = SPACES[task](max_channels) if max_channels else SPACES[task]()
    else:
        raise TinyOpsError(f"unknown task {task!r}; choose kws or ad")
    return SearchSpace(base.task, base.name, input_shape or base.input_shape, classes or base.classes,
                       base.stem, base.blocks, base.description)


def architecture_from_record(space: SearchSpace, record: dict[str, Any]) -> Architecture:
    """Map an architecture file onto ``space`` (blocks in order; missing skippable blocks skipped)."""
    if space.family == "ibn":
        if "widths" not in record:
            raise TinyOpsError(f"the architecture has no 'widths' for the {space.name} space")
        return Architecture(space, tuple(int(w) for w in record["widths"]), str(record.get("name", "architecture")))
    widths = [int(record["stem"]["channels"])]
    blocks = list(record["blocks"])
    for layer in space.blocks:
        if blocks and tuple(_as_pair(blocks[0].get("stride", 1))) == layer.stride:
            widths.append(int(blocks.pop(0)["channels"]))
        elif layer.skippable:
            widths.append(0)
        else:
            raise TinyOpsError(f"the architecture does not fit the {space.name} space at {layer.name}")
    if blocks:
        raise TinyOpsError(f"the architecture has more blocks than the {space.name} space")
    return Architecture(space, tuple(widths), str(record.get("name", "architecture")))


def _as_pair(value: Any) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else (int(value[0]), int(value[1]))


def dumps(record: dict[str, Any]) -> str:
    return json.dumps(record, indent=1) + "\n"
