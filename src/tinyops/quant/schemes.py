"""One entry point per output scheme: int8, qformat, codebook, int4 (what `tinyops quantize` runs)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from tinyops.backends.tflite_writer import to_tflite_bytes
from tinyops.ir.graph import Graph
from tinyops.quant.codebook import DEFAULT_CLUSTERS, apply_codebook
from tinyops.quant.container import container_bytes
from tinyops.quant.costs import SCHEMES, format_costs
from tinyops.quant.int4 import to_int4_weights
from tinyops.quant.ptq import PtqConfig, QuantizationReport, quantize_graph
from tinyops.quant.qformat import qformat_config


@dataclass
class SchemeResult:
    scheme: str
    graph: Graph  # runnable int8 graph (code-book: decoded weights)
    payload: bytes  # what goes to disk
    container: bool  # True: tinyops container, False: .tflite
    costs: dict[str, Any]
    report: QuantizationReport


def quantize_scheme(graph: Graph, samples: Sequence[Sequence[np.ndarray]], scheme: str = "int8",
                    config: PtqConfig = PtqConfig(), clusters: int = DEFAULT_CLUSTERS,
                    progress: Callable[[int], None] | None = None) -> SchemeResult:
    """Quantize ``graph`` in ``scheme``; TFLite where it can express the result, else a container."""
    if scheme not in SCHEMES:
        from tinyops.errors import TinyOpsError

        raise TinyOpsError(f"unknown scheme {scheme!r}; use one of {', '.join(SCHEMES)}")
    if scheme == "qformat":
        config = qformat_config(config)
    elif scheme == "int4":
        config = PtqConfig(method=config.method, per_channel=config.per_channel, int8_io=config.int8_io,
                           weight_bits=4, seed=config.seed)
    quantized, report = quantize_graph(graph, samples, config, progress)
    if scheme == "int4":
        quantized = to_int4_weights(quantized)
    if scheme == "codebook":
        decoded, encoded = apply_codebook(quantized, clusters)
        costs = format_costs(decoded, scheme)
        payload = container_bytes(decoded, encoded, scheme, {"clusters": clusters, "costs": costs})
        return SchemeResult(scheme, decoded, payload, True, costs, report)
    return SchemeResult(scheme, quantized, to_tflite_bytes(quantized), False, format_costs(quantized, scheme), report)
