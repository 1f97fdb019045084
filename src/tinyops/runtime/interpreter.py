"""The reference interpreter: runs a subgraph op by op with the registered reference kernels.

Preparation happens once in the constructor (each op's kernel factory precomputes multipliers,
lookup tables and reshaped weights), so ``run`` only moves arrays through prepared callables.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence, cast

import numpy as np
from threadpoolctl import ThreadpoolController

import tinyops.runtime.kernels  # noqa: F401  (registers every kernel with the op registry)
from tinyops.errors import TinyOpsError, UnsupportedOpError
from tinyops.ir.graph import Graph, Subgraph, Tensor
from tinyops.runtime.kernels.base import (
    ENGINES,
    BatchNotSupported,
    Engine,
    KernelOptions,
    KernelUnsupported,
    PreparedKernel,
    kernel_factory,
)


_BLAS = ThreadpoolController()
# The process-wide BLAS thread limit the interpreters set (threads -> threadpoolctl limiter). Set
# once: entering threadpoolctl's context on every run scans the loaded libraries each time, which
# cost more than a whole small model's inference.
_BLAS_LIMITS: dict[int, object] = {}


def _limit_blas(threads: int) -> None:
    if threads not in _BLAS_LIMITS:
        _BLAS_LIMITS.clear()
        _BLAS_LIMITS[threads] = _BLAS.limit(limits=threads, user_api="blas")


@dataclass
class _Step:
    index: int
    label: str
    kernel: PreparedKernel
    inputs: list[int | None]  # tensor indices, None for absent optional inputs
    outputs: list[int]


class Interpreter:
    """Prepare a subgraph once, then run it on any number of inputs.

    ``run`` takes and returns arrays in subgraph order. Inputs whose leading dimension is larger
    than the model's are treated as a batch (vectorized where every kernel allows it).
    ``engine`` picks whose rounding to follow where TFLM and LiteRT differ (see KernelOptions).
    """

    def __init__(self, graph: Graph, subgraph_index: int = 0, engine: Engine = "tflm",
                 blas_threads: int | None = 1) -> None:
        if engine not in ENGINES:
            raise TinyOpsError(f"unknown engine {engine!r}; choose one of {', '.join(ENGINES)}")
        self.options = KernelOptions(engine=engine)
        # One BLAS thread by default: the matrices are small, and multi-threaded OpenBLAS on them
        # was measured 10x slower and erratic on a shared 2-core machine. None leaves BLAS alone.
        self.blas_threads = blas_threads
        if not 0 <= subgraph_index < len(graph.subgraphs):
            raise TinyOpsError(f"the model has no subgraph {subgraph_index} (it has {len(graph.subgraphs)})")
        self.graph = graph
        self.subgraph: Subgraph = graph.subgraphs[subgraph_index]
        _check_runnable(self.subgraph)
        # The first op whose float output held NaN or infinity in the last run (None: all finite).
        self.numeric_warning: str | None = None
        self._index = {id(t): i for i, t in enumerate(self.subgraph.tensors)}
        self._constants: dict[int, np.ndarray] = {}
        for i, tensor in enumerate(self.subgraph.tensors):
            if tensor.is_constant:
                self._constants[i] = np.asarray(tensor.data)
        self._inputs = [self._index[id(t)] for t in self.subgraph.inputs]
        self._outputs = [self._index[id(t)] for t in self.subgraph.outputs]
        self._steps = [self._prepare(i, op) for i, op in enumerate(self.subgraph.ops)]
        self.trace: dict[str | int, np.ndarray] = {}
        # The hot loop: (kernel, input slots, output slots) over a flat list of tensor values.
        self._program = [(step.kernel, tuple(-1 if i is None else i for i in step.inputs), tuple(step.outputs))
                         for step in self._steps]
        self._registers: list[np.ndarray | None] = [None] * (len(self.subgraph.tensors) + 1)  # [-1] is None
        for index, array in self._constants.items():
            self._registers[index] = array
        self._input_specs = [(t.dtype.numpy, tuple(t.shape)) for t in self.subgraph.inputs]
        if blas_threads is not None:
            _limit_blas(blas_threads)

    def _prepare(self, index: int, op) -> _Step:  # type: ignore[no-untyped-def]
        factory = kernel_factory(op)
        if factory is None:
            raise UnsupportedOpError(
                f"{op.label} (op {index}) has no reference kernel in the tinyops runtime; re-export the "
                f"model with supported ops ({', '.join(supported_kinds())})")
        try:
            kernel = factory(op, self.options)
        except KernelUnsupported as exc:
            raise UnsupportedOpError(f"{op.label} (op {index}) is not supported by the runtime: {exc}; "
                                     f"re-export the model with int8/float32 types for this op") from None
        return _Step(index, op.label, kernel,
                     [None if t is None else self._index[id(t)] for t in op.inputs],
                     [self._index[id(t)] for t in op.outputs])

    @property
    def input_tensors(self) -> list[Tensor]:
        return list(self.subgraph.inputs)

    @property
    def output_tensors(self) -> list[Tensor]:
        return list(self.subgraph.outputs)

    def _check_inputs(self, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
        if len(inputs) != len(self._inputs):
            raise TinyOpsError(f"the model takes {len(self._inputs)} input(s), {len(inputs)} given")
        checked = []
        for position, (array, tensor) in enumerate(zip(inputs, self.subgraph.inputs)):
            array = np.asarray(array)
            expected = tensor.dtype.numpy
            if array.dtype != expected:
                same_kind = (np.issubdtype(array.dtype, np.floating) and np.issubdtype(expected, np.floating)) or (
                    np.issubdtype(array.dtype, np.integer) and np.issubdtype(expected, np.integer)
                    and np.can_cast(np.min_scalar_type(array.min()) if array.size else expected, expected)
                    and (not array.size or np.can_cast(np.min_scalar_type(array.max()), expected)))
                if not same_kind:
                    raise TinyOpsError(f"input {position} ({tensor.name!r}) must be {tensor.dtype.value}, "
                                       f"got {array.dtype}")
                array = array.astype(expected)
            model_shape = tuple(tensor.shape)
            if tuple(array.shape) != model_shape and (
                    array.ndim != len(model_shape) or tuple(array.shape[1:]) != model_shape[1:]):
                raise TinyOpsError(f"input {position} ({tensor.name!r}) must have shape {list(model_shape)} "
                                   f"(or a different batch size), got {list(array.shape)}")
            checked.append(array)
        return checked

    def run(self, inputs: Sequence[np.ndarray], trace: bool = False) -> list[np.ndarray]:
        """One inference (or one batched inference); with ``trace`` keep every tensor in ``.trace``."""
        specs = self._input_specs
        if len(inputs) == len(specs) and all(
                type(a) is np.ndarray and a.dtype == d and a.shape == s for a, (d, s) in zip(inputs, specs)):
            arrays = inputs  # the common case: exactly the model's types and shapes
        else:
            arrays = self._check_inputs(inputs)
        if self.blas_threads is not None and self.blas_threads not in _BLAS_LIMITS:
            _limit_blas(self.blas_threads)  # another interpreter changed the process-wide limit
        regs = list(self._registers)
        for index, array in zip(self._inputs, arrays):
            regs[index] = array
        # Float overflow is reported once per run (numeric_warning), not as NumPy warnings per op.
        with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
            for kernel, ins, outs in self._program:
                results = kernel(cast(list[np.ndarray], [regs[i] for i in ins]))
                for index, array in zip(outs, results):
                    regs[index] = array
        self.numeric_warning = None
        if any(a is not None and a.dtype.kind == "f" and not np.isfinite(a).all() for a in (regs[i] for i in self._outputs)):
            self.numeric_warning = self._first_non_finite(regs)
        if trace:
            self.trace = {}
            for index, value in enumerate(regs[:-1]):
                if value is None or index in self._constants:
                    continue
                self.trace[index] = value
                self.trace[self.subgraph.tensors[index].name] = value
        return cast(list[np.ndarray], [regs[i] for i in self._outputs])

    def _first_non_finite(self, regs: list[np.ndarray | None]) -> str:
        for step in self._steps:
            for index in step.outputs:
                array = regs[index]
                if array is not None and array.dtype.kind == "f" and not np.isfinite(array).all():
                    count = int(np.count_nonzero(~np.isfinite(array)))
                    return (f"op {step.index} ({step.label}) produced {count:,} NaN or infinite values "
                            f"(float overflow); the outputs that depend on it are meaningless")
        return "the outputs hold NaN or infinite values"

    def run_batch(self, batches: Sequence[Sequence[np.ndarray]]) -> list[np.ndarray]:
        """Many inferences: one list of inputs each; outputs stacked on a new axis 0 (like the oracles).

        The inferences are concatenated along the batch dimension and run in one vectorized pass
        when the model's batch is 1 and every kernel supports it; otherwise they run one by one.
        """
        if not batches:
            return [np.zeros((0,) + tuple(t.shape), t.dtype.numpy) for t in self.subgraph.outputs]
        model_batch_one = all(t.shape and t.shape[0] == 1 for t in self.subgraph.inputs)
        if model_batch_one and len(batches) > 1:
            try:
                stacked = [np.concatenate([np.asarray(b[i]) for b in batches], axis=0)
                           for i in range(len(self._inputs))]
                if all(s.shape[0] == len(batches) for s in stacked):
                    outputs = self.run(stacked)
                    return [o.reshape((len(batches),) + tuple(t.shape))
                            for o, t in zip(outputs, self.subgraph.outputs)]
            except BatchNotSupported:
                pass
        results = [self.run(batch) for batch in batches]
        return [np.stack([r[i] for r in results]) for i in range(len(self._outputs))]


# The reference runtime holds every activation in host memory at once (for traces).
MAX_ACTIVATION_BYTES = 1 << 30
MAX_MACS = 50_000_000_000


def _check_runnable(subgraph: Subgraph) -> None:
    """Refuse what the NumPy runtime cannot hold: tensors without a NumPy type, gigabyte activations."""
    total = 0
    for tensor in {id(t): t for op in subgraph.ops for t in [*op.inputs, *op.outputs] if t is not None}.values():
        try:
            tensor.dtype.numpy
        except TypeError:
            raise UnsupportedOpError(f"tensor '{tensor.name}' is {tensor.dtype.value}, which the reference "
                                     "runtime cannot hold") from None
        if not tensor.is_constant:
            total += tensor.size_bytes
    for tensor in subgraph.inputs:
        try:
            tensor.dtype.numpy
        except TypeError:
            raise UnsupportedOpError(f"model input '{tensor.name}' is {tensor.dtype.value}, which the reference "
                                     "runtime cannot hold") from None
    if total > MAX_ACTIVATION_BYTES:
        raise UnsupportedOpError(f"the activations need {total:,} bytes; the reference runtime holds at most "
                                 f"{MAX_ACTIVATION_BYTES:,}")
    from tinyops.ops.registry import spec_for

    macs = sum(spec_for(op).count_macs(op) for op in subgraph.ops)
    if macs > MAX_MACS:
        raise UnsupportedOpError(f"the model needs {macs:,} MACs per inference; the reference runtime stops at "
                                 f"{MAX_MACS:,} (minutes of NumPy time, far beyond any MCU model)")


def supported_kinds() -> list[str]:
    """Op kinds the runtime has a reference kernel for."""
    from tinyops.ops.registry import known_kinds, spec_for

    return [kind for kind in known_kinds() if "kernel" in spec_for(kind).hooks]


def run_graph(graph: Graph, inputs: Sequence[np.ndarray], trace: bool = False,
              engine: Engine = "tflm") -> list[np.ndarray]:
    """Convenience: prepare an Interpreter for subgraph 0 and run it once."""
    return Interpreter(graph, engine=engine).run(inputs, trace=trace)
