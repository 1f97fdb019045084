"""Architecture files for ``tinyops train --arch``: MicroNets-style depthwise-separable networks.

    {"name": "MicroNet-KWS-S",
     "stem": {"kernel": [10, 4], "channels": 84, "stride": [1, 1]},
     "blocks": [{"channels": 112, "stride": 2}, {"channels": 84}, ...],
     "classes": 12}

A stem conv (BN + ReLU), depthwise-separable blocks (3x3 depthwise + 1x1 pointwise, BN + ReLU;
``stride`` on the depthwise, default 1), global average pooling, one fully connected layer, softmax
(MicroNets Table 5). The input shape and class count come from the data when training; the files
shipped here (``micronet-kws-{s,m,l}.json``, ``micronet-ad-{s,m,l}.json``) are the published
architectures.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any, Sequence

from tinyops.errors import TinyOpsError
from tinyops.ir import Graph
from tinyops.zoo.blocks import separable
from tinyops.zoo.builder import GraphBuilder
from tinyops.zoo.tiny import MFCC_RANGE

MAX_CHANNELS = 4096


def published(name: str) -> Path:
    """Path of a shipped architecture file (e.g. ``micronet-kws-s``)."""
    path = Path(str(resources.files("tinyops.tasks.architectures") / f"{name}.json"))
    if not path.is_file():
        raise TinyOpsError(f"no shipped architecture {name!r}")
    return path


def load_arch(path: str | Path) -> dict[str, Any]:
    source = Path(path)
    try:
        record = json.loads(source.read_text())
    except OSError as exc:
        raise TinyOpsError(f"{source}: cannot read the architecture file ({exc.strerror})") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise TinyOpsError(f"{source}: not a JSON architecture file ({exc})") from None
    if not isinstance(record, dict) or not isinstance(record.get("stem"), dict) or not isinstance(
            record.get("blocks"), list):
        raise TinyOpsError(f"{source}: an architecture needs a 'stem' object and a 'blocks' list (docs/tasks.md)")
    return record


def _pair(value: Any, what: str, source: str) -> tuple[int, int]:
    pair = [value, value] if isinstance(value, int) else value
    if not (isinstance(pair, list) and len(pair) == 2 and all(isinstance(v, int) and not isinstance(v, bool)
                                                             and 1 <= v <= 64 for v in pair)):
        raise TinyOpsError(f"{source}: {what} must be an integer or a pair of integers in 1..64, got {value!r}")
    return int(pair[0]), int(pair[1])


def _channels(value: Any, source: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_CHANNELS:
        raise TinyOpsError(f"{source}: channels must be an integer in 1..{MAX_CHANNELS}, got {value!r}")
    return value


def build_arch(path: str | Path, input_shape: Sequence[int] | None = None, classes: int | None = None,
               seed: int = 0) -> Graph:
    """The int8 graph of an architecture file; ``input_shape`` (C, H, W) and ``classes`` override the file's."""
    record = load_arch(path)
    source = str(path)
    shape = list(input_shape) if input_shape is not None else record.get("input", [1, 49, 10])
    if not (isinstance(shape, list) and len(shape) == 3 and all(isinstance(v, int) and v > 0 for v in shape)):
        raise TinyOpsError(f"{source}: 'input' must be [channels, height, width], got {shape!r}")
    count = classes if classes is not None else record.get("classes", 12)
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise TinyOpsError(f"{source}: 'classes' must be a positive integer, got {count!r}")
    name = str(record.get("name", Path(path).stem))
    builder = GraphBuilder(name, seed)
    x = builder.input((1, shape[1], shape[2], shape[0]), MFCC_RANGE)
    stem = record["stem"]
    x = builder.conv(x, _channels(stem.get("channels"), source), _pair(stem.get("kernel", 3), "stem kernel", source),
                     _pair(stem.get("stride", 1), "stem stride", source), activation="RELU", name="stem")
    for index, block in enumerate(record["blocks"], start=1):
        if not isinstance(block, dict):
            raise TinyOpsError(f"{source}: block {index} must be an object like {{\"channels\": 64, \"stride\": 1}}")
        x = separable(builder, x, _channels(block.get("channels"), source),
                      _pair(block.get("stride", 1), f"block {index} stride", source), "RELU", name=f"ds{index}",
                      kernel=_pair(block.get("kernel", 3), f"block {index} kernel", source)[0])
    y = builder.classifier(x, count)
    return builder.finish([y], f"{name} (architecture file {Path(path).name})")
