"""Decode work and decode buffers of sub-int8 weight formats, per op, read from the IR.

Two stored forms cost work at inference time that int8 weights do not:

- int4 weights (TFLite INT4, two per byte): TFLM's conv/depthwise/fully-connected kernels unpack the
  whole filter into an int8 scratch buffer on every invocation (tflite-micro
  kernels/conv_common.cc requests ``filter_buffer_index`` scratch for kTfLiteInt4; the scratch
  itself is counted by the memory planner's scratch rules). Work: one unpack per weight.
- code-book weights (k-means centroids + Huffman bitstream, the ``.tinyops`` container): decoded
  once per inference as the weights are streamed, Svoboda et al.'s case. Work: every bitstream
  bit read, one symbol resolution and one centroid read per weight; the decoded tensor needs an
  int8 buffer in SRAM (the largest one, buffers reused op after op).

The container reader marks each code-book tensor with ``extras["encoding"]`` (see
``tinyops.quant.container``); int4 tensors are recognised by their dtype.
"""

from __future__ import annotations

from dataclasses import dataclass

from tinyops.ir.dtypes import DType
from tinyops.ir.graph import Graph, Op

CODEBOOK_ENCODING = "codebook-huffman"
_WEIGHT_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "TRANSPOSE_CONV")


@dataclass(frozen=True)
class DecodeWork:
    """Per inference, for one op."""

    nibble_unpacks: int = 0  # int4 weights unpacked to int8
    huffman_bits: int = 0  # code-book bitstream bits read
    table_lookups: int = 0  # Huffman symbol resolutions + centroid reads
    decode_buffer_bytes: int = 0  # int8 SRAM the decoded weights need while the op runs

    @property
    def any(self) -> bool:
        return bool(self.nibble_unpacks or self.huffman_bits or self.table_lookups)


def op_decode_work(op: Op) -> DecodeWork:
    if op.kind not in _WEIGHT_OPS or len(op.inputs) < 2 or op.inputs[1] is None:
        return DecodeWork()
    weights = op.inputs[1]
    if weights.dtype is DType.INT4:
        return DecodeWork(nibble_unpacks=weights.num_elements)
    encoding = weights.extras.get("encoding")
    if isinstance(encoding, dict) and encoding.get("scheme") == CODEBOOK_ENCODING:
        return DecodeWork(huffman_bits=int(encoding.get("bits", 0)), table_lookups=2 * weights.num_elements,
                          decode_buffer_bytes=weights.num_elements)
    return DecodeWork()


def weight_format(graph: Graph) -> str:
    """"int4", "codebook" or "int8" (float and other models: "int8", nothing to decode)."""
    works = [op_decode_work(op) for op in graph.main.ops]
    if any(w.huffman_bits for w in works):
        return "codebook"
    if any(w.nibble_unpacks for w in works):
        return "int4"
    return "int8"


def decode_buffer_bytes(graph: Graph) -> int:
    """SRAM for decoded weights: the largest decoded tensor (one buffer, reused op after op)."""
    return max((op_decode_work(op).decode_buffer_bytes for op in graph.main.ops), default=0)


__all__ = ["CODEBOOK_ENCODING", "DecodeWork", "decode_buffer_bytes", "op_decode_work", "weight_format"]
