"""The op registry: per op kind, everything the pipeline knows about it, found in one place.

Each op family module (conv.py, pooling.py...) registers an OpSpec. Stages look ops up here
rather than re-deriving shape rules or MAC counts. Ops nobody registered get the opaque spec:
they stay in the graph, their tensors still count for memory and flash, they count 0 MACs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from tinyops.ir.graph import Op

Shape = tuple[int, ...]
ShapeRule = Callable[[Op], list[Shape]]
KERNEL_LIBRARIES = ("tflm-reference", "cmsis-nn", "tinyops")


def _no_macs(op: Op) -> int:
    return 0


def _output_elements(op: Op) -> int:
    return sum(t.num_elements for t in op.outputs)


def _no_scratch(op: Op, kernels: str) -> int:
    return 0


@dataclass
class OpSpec:
    """What tinyops knows about one op kind."""

    kind: str
    category: str  # conv | depthwise | fc | pool | elementwise | activation | reshape | data | opaque
    infer_shapes: ShapeRule | None = None
    count_macs: Callable[[Op], int] = _no_macs
    # Elementary arithmetic operations besides MACs (comparisons, adds, table look-ups...).
    count_elementary_ops: Callable[[Op], int] = _output_elements
    # Scratch bytes the kernel asks the arena for, per kernel library (TFLM reference or CMSIS-NN).
    scratch_bytes: Callable[[Op, str], int] = _no_scratch
    # Later stages attach their per-op pieces here (reference kernel, cost function, C emitter).
    hooks: dict[str, Any] = field(default_factory=dict)

    @property
    def opaque(self) -> bool:
        return self.category == "opaque"


_REGISTRY: dict[str, OpSpec] = {}


def register(spec: OpSpec) -> OpSpec:
    if spec.kind in _REGISTRY:
        raise ValueError(f"op {spec.kind} registered twice")
    _REGISTRY[spec.kind] = spec
    return spec


def spec_for(op_or_kind: Op | str) -> OpSpec:
    """The spec of an op (custom ops and unregistered builtins get an opaque spec)."""
    kind = op_or_kind if isinstance(op_or_kind, str) else op_or_kind.kind
    spec = _REGISTRY.get(kind)
    if spec is None:
        return OpSpec(kind=kind, category="opaque", count_elementary_ops=_no_macs)
    return spec


def known_kinds() -> list[str]:
    return sorted(_REGISTRY)


def infer_output_shapes(op: Op) -> list[Shape] | None:
    """Output shapes from the registry's shape rule, or None for opaque ops."""
    spec = spec_for(op)
    return None if spec.infer_shapes is None else spec.infer_shapes(op)
