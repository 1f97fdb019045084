"""Counts of a built model in the convention the papers use (conv/FC MACs, weights + biases)."""

from __future__ import annotations

from dataclasses import dataclass

from tinyops.ir import Graph
from tinyops.ops import spec_for

PARAMETRIC_KINDS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")


@dataclass(frozen=True)
class ModelCounts:
    macs: int  # multiply-accumulates of CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED (op registry rule)
    parameters: int  # weights and (BN-folded) biases of those ops
    weight_bytes: int  # their storage in the int8 model (int8 weights, int32 biases)


def model_counts(graph: Graph) -> ModelCounts:
    macs = parameters = weight_bytes = 0
    for _, _, op in graph.all_ops():
        macs += spec_for(op).count_macs(op)
        if op.kind in PARAMETRIC_KINDS:
            for tensor in op.constant_inputs:
                parameters += tensor.num_elements
                weight_bytes += tensor.size_bytes
    return ModelCounts(macs=macs, parameters=parameters, weight_bytes=weight_bytes)
