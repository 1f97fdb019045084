"""The generator's side of the per-op emitters (:mod:`tinyops.backends.c.emit_ops`): one plan step
in, its constants, parameter declarations, scratch need and the C call for a channel range out.
Only this module calls ``emit_ops``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from tinyops.backends.c import emit_ops
from tinyops.backends.c.emit_ops import CArray
from tinyops.backends.c.plan_view import StepView
from tinyops.ir.graph import Graph, Tensor

SCRATCH_TOKEN = "__TINYOPS_SCRATCH__"
Pointer = Callable[[Tensor], str]


@dataclass(frozen=True)
class StepCode:
    emitted: emit_ops.EmittedOp

    @property
    def declarations(self) -> str:
        return self.emitted.declarations

    @property
    def filter(self) -> CArray | None:
        return self.emitted.filter if self.emitted.partitionable else None

    @property
    def params(self) -> list[CArray]:
        filt = self.filter
        return [c for c in self.emitted.constants if c is not filt]

    @property
    def scratch_bytes(self) -> int:
        return self.emitted.scratch_bytes

    def call(self, filter_expr: str | None, channel_lo: int, channel_hi: int, scratch_expr: str) -> str:
        if self.emitted.partitionable and filter_expr is not None:
            text = self.emitted.call_range(channel_lo, channel_hi, filter_expr)
        else:
            text = self.emitted.call
        return text.replace(SCRATCH_TOKEN, scratch_expr)


def emit_step(graph: Graph, step: StepView, pointer: Pointer) -> StepCode:
    return StepCode(emit_ops.emit_op(graph.main, step.op_index, pointer, SCRATCH_TOKEN))


def check_supported(graph: Graph) -> None:
    emit_ops.check_supported(graph.main)


__all__ = ["StepCode", "emit_step", "check_supported", "CArray", "Pointer"]
