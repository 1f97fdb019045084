"""Reference execution of the alternative weight formats (tinyops.quant): int4 and code-book.

Both formats change how weights are stored, not the arithmetic: LiteRT and TFLM unpack INT4
weights to int8 when preparing CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED, and a code-book
tensor decodes to int8 codes. So the reference is "decode, then run the bit-exact int8
kernels"; decoding is exact, which keeps the result bit-identical to the oracles.
"""

from __future__ import annotations

import copy
from typing import Sequence

import numpy as np

from tinyops.ir.dtypes import DType
from tinyops.ir.graph import Graph
from tinyops.runtime.interpreter import Interpreter


def decode_weight_formats(graph: Graph) -> Graph:
    """A copy whose INT4 constant tensors are int8 tensors holding the same values."""
    decoded = copy.deepcopy(graph)
    for subgraph in decoded.subgraphs:
        for tensor in subgraph.tensors:
            if tensor.is_constant and tensor.dtype is DType.INT4:
                tensor.dtype = DType.INT8
                tensor.data = np.asarray(tensor.data, dtype=np.int8)
    return decoded


def run_formats(graph: Graph, inputs: Sequence[np.ndarray], engine: str = "tflm") -> list[np.ndarray]:
    """One inference of a graph that may hold int4 weights (code-book graphs arrive decoded)."""
    return Interpreter(decode_weight_formats(graph), engine=engine).run(inputs)  # type: ignore[arg-type]
