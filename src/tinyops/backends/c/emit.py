"""The generator's view of the per-op emitters (``emit_ops``): for one plan step, the constant
arrays it needs, its filter (placed by the plan, one output channel per row), its scratch bytes and
the C call for a channel range. Only this module talks to ``emit_ops``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Protocol

import numpy as np

from tinyops.backends.c.plan_view import StepView
from tinyops.ir.graph import Tensor


@dataclass(frozen=True)
class ParamArray:
    name: str
    values: np.ndarray
    what: str  # "bias", "multipliers", "table"...
    align_bytes: int = 4


@dataclass(frozen=True)
class FilterArray:
    name: str
    values: np.ndarray  # int8, output channel c in row c
    row_bytes: int  # bytes of one output channel's row


class CallText(Protocol):
    def __call__(self, filter_expr: str, channel_lo: int, channel_hi: int, scratch_expr: str,
                 partitioned: bool) -> str: ...


@dataclass(frozen=True)
class EmittedOp:
    params: tuple[ParamArray, ...]
    filter: FilterArray | None
    scratch_bytes: int
    call: CallText


Pointer = Callable[[Tensor], str]


def emit_step(step: StepView, pointer: Pointer, prefix: str) -> EmittedOp:
    from tinyops.backends.c import emit_ops

    return emit_ops.emit_for_generator(step.op, pointer, prefix, step.inplace_kind)


__all__ = ["EmittedOp", "ParamArray", "FilterArray", "emit_step", "Pointer"]
