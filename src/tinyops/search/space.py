"""The MicroNets block space shared by DNAS and the published MicroNet architectures.

A backbone is a stem conv then depthwise-separable blocks (k x k depthwise + 1x1 pointwise, BN +
ReLU), global average pooling, one fully connected layer and softmax (MicroNets Table 5). Kernel
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
from tinyops.zoo.micronets import DsBlock, DsNetwork, build_ds_network

WIDTH_STEP = 4
TaskName = Literal["kws", "vww", "ad", "toy"]


@dataclass(frozen=True)
class LayerSpec:
    """One searchable layer: the stem conv or a depthwise-separable block."""

    name: str
    kernel: tuple[int, int]
    stride: tuple[int, int]
    max_channels: int
    skippable: bool = False

    def width_options(self, step: int = WIDTH_STEP) -> tuple[int, ...]:
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
        return Architecture(self, tuple(0 if layer.skippable else WIDTH_STEP for layer in self.layers))

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
                "layers": [{"name": l.name, "kernel": list(l.kernel), "stride": list(l.stride),
                            "max_channels": l.max_channels, "skippable": l.skippable} for l in self.layers],
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
            if width < WIDTH_STEP or width % WIDTH_STEP or width > layer.max_channels:
                raise TinyOpsError(f"{layer.name}: width {width} is not a multiple of {WIDTH_STEP} in "
                                   f"{WIDTH_STEP}..{layer.max_channels}")

    def kept_blocks(self) -> list[tuple[LayerSpec, int]]:
        return [(layer, width) for layer, width in zip(self.space.blocks, self.widths[1:]) if width]

    def record(self) -> dict[str, Any]:
        """The ``tinyops train --arch`` file: stem, kept blocks, input, classes."""
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

    def describe(self) -> str:
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


SPACES = {"kws": kws_space, "ad": ad_space}


def space_for(task: str, input_shape: tuple[int, int, int] | None = None, classes: int | None = None,
              max_channels: int | None = None, blocks: int | None = None) -> SearchSpace:
    """The task's search space, resized to the data (input shape, class count) where given."""
    if task == "vww":
        raise TinyOpsError("the VWW space (MobileNetV2 inverted-residual blocks at 10%-100% width) is not "
                           "built yet; search kws or ad (docs/dnas.md)")
    if task == "toy" or blocks is not None:
        base = toy_space(max_channels or 32, blocks or 4, input_shape or (1, 49, 10), classes or 12)
    elif task in SPACES:
        base = SPACES[task](max_channels) if max_channels else SPACES[task]()
    else:
        raise TinyOpsError(f"unknown task {task!r}; choose kws or ad")
    if max_channels is not None and max_channels % WIDTH_STEP:
        raise TinyOpsError(f"--max-channels must be a multiple of {WIDTH_STEP}, got {max_channels}")
    return SearchSpace(base.task, base.name, input_shape or base.input_shape, classes or base.classes,
                       base.stem, base.blocks, base.description)


def architecture_from_record(space: SearchSpace, record: dict[str, Any]) -> Architecture:
    """Map an architecture file onto ``space`` (blocks in order; missing skippable blocks skipped)."""
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
