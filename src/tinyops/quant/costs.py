"""Size and hidden decode costs of each weight format, for the analysis and cost stages.

    from tinyops.quant.costs import format_costs
    costs = format_costs(graph, "codebook")   # graph: the quantized (for codebook: decoded) graph

Returned dict (all per inference unless named otherwise):
- ``weight_bytes_stored``: bytes of CONV/DEPTHWISE/FC weights as stored in flash (int4 packed,
  code-book: Huffman bitstream + centroid and code-length tables);
- ``weight_bytes_decompressed``: bytes once unpacked to int8 (what the kernels read);
- ``decode_sram_bytes``: extra SRAM to hold the largest decoded weight tensor (0 when kernels read
  the stored form directly);
- ``huffman_bits_decoded``: code-book bits the decoder reads (one pass over all weights, as when
  weights are streamed from flash/SD every inference, the case the Svoboda paper describes);
- ``table_lookups``: Huffman symbol-table and centroid look-ups;
- ``nibble_unpacks``: int4 shift-and-mask extractions (one per MAC: sub-byte kernels unpack weights
  on every use, as MicroNets' kernels do);
- ``requant_multiplies``: 32x32->64-bit multiplies of output requantization (one per output
  element of conv/FC; Q-format replaces them with shifts: ``requant_shifts``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinyops.errors import TinyOpsError
from tinyops.ir.dtypes import DType
from tinyops.ir.graph import Graph
from tinyops.ops import spec_for
from tinyops.quant import huffman
from tinyops.quant.codebook import weight_tensors
from tinyops.quant.prepare import WEIGHT_CHANNEL_AXIS

SCHEMES = ("int8", "qformat", "codebook", "int4")


def _codebook_bits(values: np.ndarray) -> tuple[int, int]:
    """(bitstream bits, distinct values) of Huffman-coding a tensor over its distinct values."""
    _, counts = np.unique(np.asarray(values).reshape(-1), return_counts=True)
    lengths = huffman.code_lengths(counts.astype(np.int64))
    return int(np.sum(lengths.astype(np.int64) * counts)), int(counts.size)


def format_costs(graph: Graph, scheme: str) -> dict[str, Any]:
    """Storage and decode-work figures of ``graph``'s weights under ``scheme`` (see module doc)."""
    if scheme not in SCHEMES:
        raise TinyOpsError(f"unknown scheme {scheme!r}; use one of {', '.join(SCHEMES)}")
    weights = weight_tensors(graph)
    count = sum(t.num_elements for _, t in weights)
    weighted_ops = [op for op in graph.main.ops if op.kind in WEIGHT_CHANNEL_AXIS]
    requants = sum(op.outputs[0].num_elements for op in weighted_ops)
    macs = sum(spec_for(op).count_macs(op) for op in weighted_ops)
    stored, decode_sram, bits, lookups, unpacks = count, 0, 0, 0, 0
    if scheme == "int4":
        stored = sum(DType.INT4.storage_bytes(t.num_elements) for _, t in weights)
        unpacks = macs
    elif scheme == "codebook":
        stored = 0
        for _, tensor in weights:
            tensor_bits, distinct = _codebook_bits(np.asarray(tensor.data))
            stored += (tensor_bits + 7) // 8 + 2 * distinct
            bits += tensor_bits
            # Per weight: one canonical-Huffman symbol resolution plus one centroid read.
            lookups += 2 * tensor.num_elements
        decode_sram = max((t.num_elements for _, t in weights), default=0)
    return {
        "scheme": scheme,
        "weight_count": count,
        "weight_bytes_stored": int(stored),
        "weight_bytes_decompressed": count,
        "compression_ratio": round(count / stored, 3) if stored else 1.0,
        "decode_sram_bytes": int(decode_sram),
        "huffman_bits_decoded": int(bits),
        "table_lookups": int(lookups),
        "nibble_unpacks": int(unpacks),
        "requant_multiplies": 0 if scheme == "qformat" else int(requants),
        "requant_shifts": int(requants),
        "macs": int(macs),
    }
