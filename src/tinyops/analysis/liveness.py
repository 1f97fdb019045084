"""Tensor lifetimes over an operator order, and the live-bytes curve they imply.

A tensor is live from the step of the op that produces it (step 0 for subgraph inputs) to the
step of its last consumer (the last step for subgraph outputs), both inclusive, as TFLM counts
it. Constant tensors live in flash and variable tensors (RNN state) persist for the whole run;
neither belongs to the activation arena.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from tinyops.ir.graph import Subgraph, Tensor


@dataclass(frozen=True)
class Lifetime:
    tensor: Tensor
    tensor_index: int
    first_op: int  # step (position in the order), inclusive
    last_op: int  # step, inclusive
    size_bytes: int


def activation_lifetimes(subgraph: Subgraph, order: Sequence[int] | None = None) -> list[Lifetime]:
    """Lifetimes of the arena tensors of ``subgraph`` when its ops run in ``order`` (default: as stored)."""
    steps = list(range(len(subgraph.ops))) if order is None else list(order)
    last_step = max(len(steps) - 1, 0)
    first: dict[int, int] = {}
    last: dict[int, int] = {}
    for tensor in subgraph.inputs:
        first[id(tensor)] = 0
        last[id(tensor)] = 0
    for step, op_index in enumerate(steps):
        op = subgraph.ops[op_index]
        for operand in op.inputs:
            if operand is not None and not operand.is_constant and not operand.is_variable:
                first.setdefault(id(operand), step)
                last[id(operand)] = max(last.get(id(operand), step), step)
        for tensor in op.outputs:
            if not tensor.is_variable:
                first[id(tensor)] = min(first.get(id(tensor), step), step)
                last[id(tensor)] = max(last.get(id(tensor), step), step)
    for tensor in subgraph.outputs:
        if id(tensor) in first:
            last[id(tensor)] = last_step
    lifetimes = []
    for index, tensor in enumerate(subgraph.tensors):
        key = id(tensor)
        if key in first and not tensor.is_constant and not tensor.is_variable:
            lifetimes.append(Lifetime(tensor, index, first[key], last[key], tensor.size_bytes))
    return lifetimes


def live_bytes_per_step(lifetimes: Sequence[Lifetime], num_steps: int) -> np.ndarray:
    """Sum of the sizes of the tensors live at each step."""
    delta = np.zeros(max(num_steps, 1) + 1, dtype=np.int64)
    for life in lifetimes:
        delta[life.first_op] += life.size_bytes
        delta[life.last_op + 1] -= life.size_bytes
    return np.cumsum(delta)[:-1]


def peak_activation_bytes(subgraph: Subgraph, order: Sequence[int] | None = None) -> int:
    """The largest live activation total of one step: the lower bound of any arena for this order."""
    curve = live_bytes_per_step(activation_lifetimes(subgraph, order), len(subgraph.ops))
    return int(curve.max()) if curve.size else 0


def variable_bytes(subgraph: Subgraph) -> int:
    """Bytes of variable (state) tensors, which persist across invocations."""
    return sum(t.size_bytes for t in subgraph.tensors if t.is_variable)
