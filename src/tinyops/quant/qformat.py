"""Q-format (CMSIS-NN q7 style): every scale a power of two, zero points 0.

A q7 tensor with f fraction bits stores real = q * 2**-f. Requantization between power-of-two
scales is then a plain arithmetic shift (no 32x32->64-bit multiply), which is what made Q-format
cheap on Cortex-M; the price is accuracy: symmetric ranges waste half the codes of ReLU outputs
and power-of-two steps round ranges up by up to 2x. The result is still affine int8 with
power-of-two scales, so it is written as ordinary TFLite (LiteRT/TFLM/the tinyops runtime run it).
SOFTMAX/LOGISTIC keep TFLite's fixed 1/256 output scale (a power of two, zero point -128).
"""

from __future__ import annotations

import math

import numpy as np

from tinyops.ir.graph import Graph
from tinyops.quant.ptq import PtqConfig


def qformat_config(base: PtqConfig) -> PtqConfig:
    """Q-format settings: power-of-two scales, per-tensor weights (one shift per layer as in q7)."""
    return PtqConfig(method=base.method, per_channel=False, int8_io=base.int8_io, weight_bits=base.weight_bits,
                     power_of_two=True, seed=base.seed)


def fraction_bits(scale: float) -> int:
    """f such that scale == 2**-f; ValueError when the scale is not a power of two."""
    exponent = math.log2(scale)
    if not math.isclose(exponent, round(exponent), abs_tol=1e-9):
        raise ValueError(f"scale {scale} is not a power of two")
    return -round(exponent)


def qformat_table(graph: Graph) -> dict[str, str]:
    """Tensor name -> 'Qm.f' notation (m integer bits, f fraction bits, 1 sign bit, 8 bits in all)."""
    table = {}
    for tensor in graph.main.tensors:
        quant = tensor.quantization
        if quant is None or quant.per_channel or tensor.dtype.bits != 8:
            continue
        bits = fraction_bits(float(np.float32(quant.scale[0])))
        table[tensor.name] = f"Q{7 - bits}.{bits}"
    return table
