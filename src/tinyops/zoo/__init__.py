"""Built-in model families at any width multiplier and input resolution, as int8 IR graphs.

    from tinyops.zoo import build_model, family_names, published_accuracy
    graph = build_model("mobilenetv2", width=0.5, resolution=128)

Weights are seeded random numbers with plausible int8 quantization: the graphs are for counting,
planning, simulating and running (LiteRT/TFLM), not for predictions. ``published_accuracy`` gives
the accuracy the literature reports for a configuration, so tools can place models on accuracy axes.
"""

from __future__ import annotations

import json

from tinyops.errors import TinyOpsError
from tinyops.ir import Graph
from tinyops.zoo.accuracy import AccuracyRecord, accuracy_table, published_accuracy
from tinyops.zoo.registry import FAMILIES, Family, family_names, get_family
from tinyops.zoo.scaling import check_round_to, check_width, family_resolution
from tinyops.zoo.spec import BuildRequest

MAX_CLASSES = 100_000
MAX_INPUT_CHANNELS = 64
ZOO_METADATA_KEY = "tinyops_zoo"  # TFLite metadata entry recording how the model was built


def resolve_request(family: str, width: float = 1.0, resolution: int | tuple[int, int] | str | None = None,
                    classes: int | None = None, input_channels: int | None = None, round_to: int = 8,
                    seed: int = 0) -> BuildRequest:
    """Validate a build request and fill in the family's defaults (one-line TinyOpsError otherwise)."""
    spec = get_family(family)
    size = spec.default_resolution if resolution is None else _resolution_for(spec, resolution)
    if spec.has_classifier:
        count = spec.default_classes if classes is None else classes
        if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_CLASSES:
            raise TinyOpsError(f"classes must be an integer in [1, {MAX_CLASSES}], got {classes!r}")
    elif classes is not None:
        raise TinyOpsError(f"{spec.name} reconstructs its input and has no classes; leave classes out")
    else:
        count = 0
    if spec.input_kind == "vector" and input_channels not in (None, 1):
        raise TinyOpsError(f"{spec.name} takes a flat feature vector; input_channels does not apply")
    channels = spec.default_input_channels if input_channels is None else input_channels
    if isinstance(channels, bool) or not isinstance(channels, int) or not 1 <= channels <= MAX_INPUT_CHANNELS:
        raise TinyOpsError(f"input_channels must be an integer in [1, {MAX_INPUT_CHANNELS}], got {input_channels!r}")
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise TinyOpsError(f"seed must be a non-negative integer, got {seed!r}")
    return BuildRequest(family=spec.name, width=check_width(width), resolution=size, classes=count,
                        input_channels=channels, round_to=check_round_to(round_to), seed=seed)


def _resolution_for(spec: Family, resolution: int | tuple[int, int] | str) -> tuple[int, int]:
    return family_resolution(spec.name, spec.input_kind, resolution)


def build_model(family: str, width: float = 1.0, resolution: int | tuple[int, int] | str | None = None,
                classes: int | None = None, input_channels: int | None = None, round_to: int = 8,
                seed: int = 0) -> Graph:
    """Build ``family`` as an int8 IR graph with seeded random weights.

    resolution: input size, 224 or (h, w) or "49x10"; None takes the family's native size (224 for
    the ImageNet families, 49x10 for DS-CNN, 32 for ResNet-8, 5x128 for the autoencoder).
    classes / input_channels: None takes the family's default (1000/3 for ImageNet...).
    round_to: channel divisor (8 as in the papers; 4 is friendlier to small MCU kernels).
    """
    request = resolve_request(family, width, resolution, classes, input_channels, round_to, seed)
    graph = FAMILIES[request.family].build(request)
    record = {"family": request.family, "width": request.width, "resolution": list(request.resolution),
              "classes": request.classes, "input_channels": request.input_channels,
              "round_to": request.round_to, "seed": request.seed}
    graph.extras["zoo"] = record
    graph.metadata[ZOO_METADATA_KEY] = json.dumps(record, sort_keys=True).encode()
    return graph


__all__ = ["AccuracyRecord", "BuildRequest", "Family", "FAMILIES", "accuracy_table", "build_model", "family_names",
           "get_family", "published_accuracy", "resolve_request"]
