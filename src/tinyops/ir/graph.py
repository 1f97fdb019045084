"""The tinyops IR: a graph of ops and tensors that holds a real model faithfully.

Every stage (analysis, memory planning, placement, simulation, runtime, code generation) reads
this structure. Format-specific details that no stage interprets (TFLite sparsity, custom
quantization details, signature defs...) ride along in ``extras`` so writers can reproduce them.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Iterator

import numpy as np

from tinyops.ir.dtypes import DType


@dataclass
class Quantization:
    """Affine quantization: real = scale * (q - zero_point), per tensor or per channel on ``axis``."""

    scale: np.ndarray  # float32, one entry per tensor or per channel
    zero_point: np.ndarray  # int64, same length as scale
    axis: int = 0  # TFLite quantized_dimension; meaningful when per-channel
    min: np.ndarray | None = None
    max: np.ndarray | None = None

    @property
    def per_channel(self) -> bool:
        return self.scale.size > 1

    @property
    def num_channels(self) -> int:
        return int(self.scale.size)


@dataclass(eq=False)
class Tensor:
    """A tensor. Constant tensors carry ``data``; identity (not value) is what graphs link."""

    name: str
    shape: tuple[int, ...]
    dtype: DType
    quantization: Quantization | None = None
    data: np.ndarray | None = None
    is_variable: bool = False
    shape_signature: tuple[int, ...] | None = None
    producer: "Op | None" = field(default=None, repr=False)
    consumers: list["Op"] = field(default_factory=list, repr=False)
    extras: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def is_constant(self) -> bool:
        return self.data is not None and not self.is_variable

    @property
    def num_elements(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) if self.shape else 1

    @property
    def size_bytes(self) -> int:
        """Bytes the tensor occupies in memory (packed for sub-byte types)."""
        if self.dtype is DType.STRING and self.data is not None:
            return int(self.data.nbytes)
        return self.dtype.storage_bytes(self.num_elements)

    @property
    def quant_param_bytes(self) -> int:
        """Bytes of quantization parameters stored with the tensor (float32 scale + int64 zero point)."""
        if self.quantization is None:
            return 0
        return 12 * self.quantization.num_channels


@dataclass(eq=False)
class Op:
    """One operation. ``kind`` is the TFLite builtin name (CONV_2D...) or ``CUSTOM`` for custom ops.

    ``inputs`` may hold ``None`` where the model leaves an optional input out (TFLite index -1).
    ``attrs`` holds the op's options with snake_case names; padding and fused activation are
    strings ("SAME", "RELU6"), everything else as the format stores it.
    """

    kind: str
    inputs: list[Tensor | None]
    outputs: list[Tensor]
    attrs: dict[str, Any] = field(default_factory=dict)
    custom_code: str | None = None
    custom_options: bytes | None = None
    version: int = 1
    extras: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def label(self) -> str:
        """The op type as users know it: the builtin name, or ``CUSTOM:<code>``."""
        return f"CUSTOM:{self.custom_code}" if self.kind == "CUSTOM" else self.kind

    def input(self, index: int) -> Tensor | None:
        return self.inputs[index] if index < len(self.inputs) else None

    @property
    def activation_inputs(self) -> list[Tensor]:
        return [t for t in self.inputs if t is not None and not t.is_constant]

    @property
    def constant_inputs(self) -> list[Tensor]:
        return [t for t in self.inputs if t is not None and t.is_constant]


@dataclass(eq=False)
class Subgraph:
    name: str
    tensors: list[Tensor]
    ops: list[Op]
    inputs: list[Tensor]
    outputs: list[Tensor]

    def link(self) -> None:
        """Recompute producer/consumer links from the op list."""
        for tensor in self.tensors:
            tensor.producer = None
            tensor.consumers = []
        for op in self.ops:
            for operand in op.inputs:
                if operand is not None:
                    operand.consumers.append(op)
            for tensor in op.outputs:
                tensor.producer = op

    def op_index(self, op: Op) -> int:
        for index, candidate in enumerate(self.ops):
            if candidate is op:
                return index
        raise ValueError(f"op {op.label} is not in subgraph {self.name!r}")

    def tensor_index(self, tensor: Tensor) -> int:
        for index, candidate in enumerate(self.tensors):
            if candidate is tensor:
                return index
        raise ValueError(f"tensor {tensor.name!r} is not in subgraph {self.name!r}")


@dataclass(eq=False)
class Graph:
    """A whole model: subgraph 0 is the entry point, others are called by control-flow ops."""

    subgraphs: list[Subgraph]
    description: str = ""
    metadata: dict[str, bytes] = field(default_factory=dict)
    source_path: str | None = None
    extras: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def main(self) -> Subgraph:
        return self.subgraphs[0]

    def __deepcopy__(self, memo: dict[int, Any]) -> "Graph":
        """Copy without following producer/consumer links, then relink the copy.

        Followed naively those links make Python's recursion as deep as the model (a MobileNetV3
        exceeds the interpreter's limit); the op lists hold the same information."""
        tensors = {id(t): t for sg in self.subgraphs for t in sg.tensors}
        for sg in self.subgraphs:
            for op in sg.ops:
                tensors.update((id(t), t) for t in (*op.inputs, *op.outputs) if t is not None)
        saved = [(t, t.producer, t.consumers) for t in tensors.values()]
        for tensor, _, _ in saved:
            tensor.producer, tensor.consumers = None, []
        try:
            result = Graph.__new__(Graph)
            memo[id(self)] = result
            for key, value in self.__dict__.items():
                setattr(result, key, copy.deepcopy(value, memo))
        finally:
            for tensor, producer, consumers in saved:
                tensor.producer, tensor.consumers = producer, consumers
        for subgraph in result.subgraphs:
            subgraph.link()
        return result

    def all_ops(self) -> Iterator[tuple[int, int, Op]]:
        for subgraph_index, subgraph in enumerate(self.subgraphs):
            for op_index, op in enumerate(subgraph.ops):
                yield subgraph_index, op_index, op

    def constant_tensors(self) -> list[Tensor]:
        """Distinct constant tensors over all subgraphs (tensors sharing one buffer count once)."""
        seen: set[int] = set()
        result = []
        for subgraph in self.subgraphs:
            for tensor in subgraph.tensors:
                if tensor.is_constant and id(tensor.data) not in seen:
                    seen.add(id(tensor.data))
                    result.append(tensor)
        return result
