"""Code-book weights (Svoboda et al.): k-means clustering of int8 weight codes + Huffman coding.

Each CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED weight tensor of an int8 graph is clustered
into ``clusters`` int8 centroids (1-D k-means, Lloyd iterations on the 256-bin histogram, so it
is exact and fast); each weight becomes a centroid index; the index stream is Huffman coded.
The per-channel scales stay as they are, so a decoded tensor is an ordinary int8 tensor: the
decoded graph is a valid TFLite model that LiteRT, TFLM and the tinyops runtime run, which is how
the accuracy impact is measured. The hidden cost is the decoding itself: every weight is a
Huffman decode (bit reads + compares) and a centroid look-up each time the weights are brought
in, and a decompressed copy needs SRAM.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np

from tinyops.ir.dtypes import DType
from tinyops.ir.graph import Graph, Tensor
from tinyops.quant import huffman
from tinyops.quant.prepare import WEIGHT_CHANNEL_AXIS

DEFAULT_CLUSTERS = 32
KMEANS_ITERATIONS = 50


@dataclass
class EncodedTensor:
    """One weight tensor in code-book form."""

    name: str
    shape: tuple[int, ...]
    centroids: np.ndarray  # int8, one per cluster
    code: huffman.HuffmanCode
    bitstream: bytes
    bits: int

    @property
    def num_values(self) -> int:
        return int(np.prod(self.shape))

    @property
    def stored_bytes(self) -> int:
        """Bitstream + centroid table (1 B each) + canonical code-length table (1 B each)."""
        return len(self.bitstream) + 2 * int(self.centroids.size)

    @property
    def decompressed_bytes(self) -> int:
        return self.num_values

    def decode(self) -> np.ndarray:
        indices = huffman.decode(self.bitstream, self.num_values, self.code)
        return self.centroids[indices].astype(np.int8).reshape(self.shape)


def kmeans_int8(values: np.ndarray, clusters: int) -> tuple[np.ndarray, np.ndarray]:
    """(int8 centroids, index per value): 1-D k-means on int8 codes, quantile initialisation."""
    flat = values.astype(np.int64).reshape(-1)
    levels = np.arange(-128, 128)
    counts = np.bincount(flat + 128, minlength=256).astype(np.float64)
    distinct = int(np.count_nonzero(counts))
    k = min(clusters, distinct)
    centroids = np.unique(np.quantile(flat, (np.arange(k) + 0.5) / k).round())
    for _ in range(KMEANS_ITERATIONS):
        nearest = np.abs(levels[:, None] - centroids[None, :]).argmin(axis=1)
        weight = np.bincount(nearest, weights=counts, minlength=centroids.size)
        total = np.bincount(nearest, weights=counts * levels, minlength=centroids.size)
        used = weight > 0
        updated = np.round(total[used] / weight[used])
        if updated.size == centroids.size and np.array_equal(updated, centroids):
            break
        centroids = np.unique(updated)
    index_of_level = np.abs(levels[:, None] - centroids[None, :]).argmin(axis=1)
    return centroids.astype(np.int8), index_of_level[flat + 128]


def encode_tensor(tensor: Tensor, clusters: int = DEFAULT_CLUSTERS) -> EncodedTensor:
    assert tensor.data is not None
    centroids, indices = kmeans_int8(np.asarray(tensor.data), clusters)
    code = huffman.canonical_code(huffman.code_lengths(np.bincount(indices, minlength=centroids.size)))
    bitstream, bits = huffman.encode(indices, code)
    return EncodedTensor(name=tensor.name, shape=tuple(tensor.shape), centroids=centroids, code=code,
                         bitstream=bitstream, bits=bits)


def weight_tensors(graph: Graph) -> list[tuple[int, Tensor]]:
    """(index in main subgraph, tensor) of the int8 weights of CONV/DEPTHWISE/FC ops."""
    index_of = {id(t): i for i, t in enumerate(graph.main.tensors)}
    found: dict[int, Tensor] = {}
    for op in graph.main.ops:
        if op.kind in WEIGHT_CHANNEL_AXIS and op.inputs[1] is not None:
            weights = op.inputs[1]
            if weights.is_constant and weights.dtype in (DType.INT8, DType.INT4):
                found[index_of[id(weights)]] = weights
    return sorted(found.items())


def apply_codebook(int8_graph: Graph, clusters: int = DEFAULT_CLUSTERS) -> tuple[Graph, dict[int, EncodedTensor]]:
    """The decoded graph (weights replaced by their centroids) and the encoded tensors by index."""
    decoded = copy.deepcopy(int8_graph)
    encoded: dict[int, EncodedTensor] = {}
    for index, tensor in weight_tensors(decoded):
        entry = encode_tensor(tensor, clusters)
        tensor.data = entry.decode()
        encoded[index] = entry
    decoded.description = f"tinyops code-book ({clusters} clusters, Huffman), decoded"
    return decoded, encoded
