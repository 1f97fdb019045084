"""4-bit weights packed two per byte (MicroNets' sub-byte kernels).

PTQ runs with ``weight_bits=4`` (symmetric, per-channel, values in [-7, 7]); the weights of
CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED then become TFLite INT4 tensors, which the writer
packs two per byte (low nibble first, as TFLite stores INT4 buffers). LiteRT and TFLM both run
such models (they unpack the nibbles to int8 when preparing the op), so int4 weights are written
as plain .tflite. Activations stay int8: TFLite has no 4-bit activation kernels.
"""

from __future__ import annotations

import copy

import numpy as np

from tinyops.ir.dtypes import DType
from tinyops.ir.graph import Graph
from tinyops.quant.codebook import weight_tensors

INT4_MIN, INT4_MAX = -8, 7


def pack_int4(values: np.ndarray) -> bytes:
    """Two signed nibbles per byte, element 2i in the low nibble (odd counts padded with 0)."""
    flat = np.asarray(values, dtype=np.int64).reshape(-1)
    if flat.size and (flat.min() < INT4_MIN or flat.max() > INT4_MAX):
        raise ValueError("values outside the int4 range [-8, 7]")
    nibbles = (flat & 0x0F).astype(np.uint8)
    if nibbles.size % 2:
        nibbles = np.append(nibbles, np.uint8(0))
    return (nibbles[0::2] | (nibbles[1::2] << 4)).tobytes()


def unpack_int4(payload: bytes, count: int) -> np.ndarray:
    """Inverse of pack_int4: ``count`` int8 values in [-8, 7]."""
    packed = np.frombuffer(payload, dtype=np.uint8)
    nibbles = np.empty(packed.size * 2, dtype=np.int16)
    nibbles[0::2] = packed & 0x0F
    nibbles[1::2] = packed >> 4
    return np.where(nibbles >= 8, nibbles - 16, nibbles)[:count].astype(np.int8)


def to_int4_weights(graph: Graph) -> Graph:
    """A copy of a PTQ graph quantized with weight_bits=4 whose weight tensors are INT4."""
    result = copy.deepcopy(graph)
    for _, tensor in weight_tensors(result):
        data = np.asarray(tensor.data)
        if data.min(initial=0) < INT4_MIN or data.max(initial=0) > INT4_MAX:
            raise ValueError(f"{tensor.name}: weights exceed the int4 range; quantize with weight_bits=4")
        tensor.dtype = DType.INT4
    result.description = "tinyops PTQ int8 activations, int4 weights (packed two per byte)"
    return result
