"""Canonical Huffman coding of small-alphabet symbol streams (code-book indices).

Canonical codes are fully described by one code length per symbol, so the stored table is one
byte per code-book entry; the decoder rebuilds the codes. Bits are packed MSB first.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

import numpy as np

MAX_CODE_BITS = 24


@dataclass(frozen=True)
class HuffmanCode:
    lengths: np.ndarray  # uint8 code length per symbol (0: symbol never occurs)
    codes: np.ndarray  # uint32 canonical code per symbol

    @property
    def max_bits(self) -> int:
        return int(self.lengths.max(initial=0))


def code_lengths(counts: np.ndarray) -> np.ndarray:
    """Huffman code lengths for symbol frequencies (a lone symbol still gets a 1-bit code)."""
    present = [int(s) for s in np.flatnonzero(counts)]
    lengths = np.zeros(counts.size, dtype=np.uint8)
    if len(present) == 1:
        lengths[present[0]] = 1
        return lengths
    # Heap entries: (frequency, tie-break id, symbols in the subtree); merging deepens them by one.
    heap = [(int(counts[s]), s, [s]) for s in present]
    heapq.heapify(heap)
    tie = counts.size
    while len(heap) > 1:
        f1, _, s1 = heapq.heappop(heap)
        f2, _, s2 = heapq.heappop(heap)
        for s in s1 + s2:
            lengths[s] += 1
        heapq.heappush(heap, (f1 + f2, tie, s1 + s2))
        tie += 1
    if lengths.max() > MAX_CODE_BITS:
        raise ValueError("Huffman code longer than 24 bits; use fewer clusters")
    return lengths


def canonical_code(lengths: np.ndarray) -> HuffmanCode:
    """Assign canonical codes: shorter codes first, ties by symbol order."""
    codes = np.zeros(lengths.size, dtype=np.uint32)
    code, previous = 0, 0
    for symbol in sorted(np.flatnonzero(lengths), key=lambda s: (int(lengths[s]), int(s))):
        code <<= int(lengths[symbol]) - previous
        codes[symbol] = code
        previous = int(lengths[symbol])
        code += 1
    return HuffmanCode(lengths=lengths.astype(np.uint8), codes=codes)


def encode(symbols: np.ndarray, code: HuffmanCode) -> tuple[bytes, int]:
    """(packed bitstream, number of bits) of a symbol stream."""
    lengths = code.lengths[symbols].astype(np.int64)
    values = code.codes[symbols].astype(np.int64)
    width = max(code.max_bits, 1)
    positions = np.arange(width)
    bits = (values[:, None] >> (lengths[:, None] - 1 - positions[None, :])) & 1
    valid = positions[None, :] < lengths[:, None]
    stream = bits[valid].astype(np.uint8)
    return np.packbits(stream).tobytes(), int(stream.size)


def decode(payload: bytes, count: int, code: HuffmanCode) -> np.ndarray:
    """Decode ``count`` symbols, one bit at a time as a simple MCU decoder would."""
    bits = np.unpackbits(np.frombuffer(payload, dtype=np.uint8))
    table = {(int(code.lengths[s]), int(code.codes[s])): int(s) for s in np.flatnonzero(code.lengths)}
    out = np.empty(count, dtype=np.int64)
    position = 0
    for index in range(count):
        value, length = 0, 0
        while True:
            value = (value << 1) | int(bits[position])
            position += 1
            length += 1
            symbol = table.get((length, value))
            if symbol is not None:
                out[index] = symbol
                break
            if length > code.max_bits:
                raise ValueError("corrupt Huffman stream")
    return out
