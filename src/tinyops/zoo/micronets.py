"""MicroNets (Banbury et al., MLSys 2021, arXiv 2010.11267v6, Table 5): KWS-S/M/L and AD-S/M/L.

A stem conv (BN + ReLU), depthwise-separable blocks (3x3 depthwise + 1x1 pointwise, BN + ReLU),
global average pooling, fully connected, softmax. The stem has stride 1 and the first DS block
stride 2 (unlike the Hello Edge DS-CNN). ``build_ds_network`` is the block space the DNAS search
(``tinyops.search.space``) derives its architectures in, so searched and published models are
built by the same code. Width multipliers scale every layer and round to a multiple of 4
(CMSIS-NN's fast paths); width 1.0 gives the published layers verbatim.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from tinyops.ir import Graph
from tinyops.zoo.blocks import separable
from tinyops.zoo.builder import GraphBuilder
from tinyops.zoo.spec import BuildRequest
from tinyops.zoo.tiny import MFCC_RANGE

CHANNEL_MULTIPLE = 4


@dataclass(frozen=True)
class DsBlock:
    channels: int
    stride: tuple[int, int] = (1, 1)
    kernel: int = 3


@dataclass(frozen=True)
class DsNetwork:
    stem_channels: int
    stem_kernel: tuple[int, int]
    stem_stride: tuple[int, int]
    blocks: tuple[DsBlock, ...]


def _blocks(first: int, *rest: int | tuple[int, int]) -> tuple[DsBlock, ...]:
    out = [DsBlock(first, (2, 2))]
    for item in rest:
        out.append(DsBlock(item[0], (item[1], item[1])) if isinstance(item, tuple) else DsBlock(item))
    return tuple(out)


KWS_STEM, AD_STEM = (10, 4), (3, 3)
MICRONETS: dict[str, DsNetwork] = {
    "kws-l": DsNetwork(276, KWS_STEM, (1, 1), _blocks(248, 276, 276, 248, 248, 248, 248)),
    "kws-m": DsNetwork(140, KWS_STEM, (1, 1), _blocks(140, 140, 140, 112, 196)),
    "kws-s": DsNetwork(84, KWS_STEM, (1, 1), _blocks(112, 84, 84, 84, 196)),
    "ad-l": DsNetwork(276, AD_STEM, (1, 1), _blocks(248, 276, 276, (248, 2), (248, 2))),
    "ad-m": DsNetwork(192, AD_STEM, (1, 1), _blocks(276, 276, 276, (276, 2), (276, 2))),
    "ad-s": DsNetwork(72, AD_STEM, (1, 1), _blocks(164, 220, (276, 2), (276, 2))),
}


def build_ds_network(name: str, network: DsNetwork, input_shape: Sequence[int], classes: int, seed: int,
                     description: str) -> Graph:
    """The int8 graph of a stem + DS-block network; ``input_shape`` is NHWC."""
    builder = GraphBuilder(name, seed)
    x = builder.input(tuple(input_shape), MFCC_RANGE)
    x = builder.conv(x, network.stem_channels, network.stem_kernel, network.stem_stride, activation="RELU",
                     name="stem")
    for index, block in enumerate(network.blocks, start=1):
        x = separable(builder, x, block.channels, block.stride, "RELU", name=f"ds{index}", kernel=block.kernel)
    y = builder.classifier(x, classes)
    return builder.finish([y], description)


def _scaled(channels: int, width: float) -> int:
    return max(CHANNEL_MULTIPLE, int(channels * width / CHANNEL_MULTIPLE + 0.5) * CHANNEL_MULTIPLE)


def build_micronet(request: BuildRequest, size: str) -> Graph:
    base = MICRONETS[size]
    network = DsNetwork(_scaled(base.stem_channels, request.width), base.stem_kernel, base.stem_stride,
                        tuple(DsBlock(_scaled(b.channels, request.width), b.stride, b.kernel) for b in base.blocks))
    return build_ds_network(request.label, network, request.input_shape, request.classes, request.seed,
                            f"tinyops zoo {request.label}: MicroNet-{size.upper()} (MicroNets Table 5, random weights)")


def build_micronet_kws_s(request: BuildRequest) -> Graph:
    return build_micronet(request, "kws-s")


def build_micronet_kws_m(request: BuildRequest) -> Graph:
    return build_micronet(request, "kws-m")


def build_micronet_kws_l(request: BuildRequest) -> Graph:
    return build_micronet(request, "kws-l")


def build_micronet_ad_s(request: BuildRequest) -> Graph:
    return build_micronet(request, "ad-s")


def build_micronet_ad_m(request: BuildRequest) -> Graph:
    return build_micronet(request, "ad-m")


def build_micronet_ad_l(request: BuildRequest) -> Graph:
    return build_micronet(request, "ad-l")
