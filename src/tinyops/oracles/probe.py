"""Run LiteRT or TFLM on a model in a child process and bring back outputs and arena figures."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

_ARENA_LINE = re.compile(r"Arena allocation (head|tail|total) (\d+) bytes")


class OracleError(RuntimeError):
    """The oracle could not load or run the model (its message says why)."""


@dataclass
class OracleResult:
    outputs: list[np.ndarray]  # one list entry per model output, stacked over the input batches
    arena: dict[str, int] = field(default_factory=dict)  # TFLM: head, tail, total


def _run_child(engine: str, model: bytes, inputs: Sequence[Sequence[np.ndarray]] | None,
               timeout_s: float) -> OracleResult:
    with tempfile.TemporaryDirectory(prefix="tinyops-oracle-") as folder:
        model_path = Path(folder) / "model.tflite"
        model_path.write_bytes(model)
        inputs_path = Path(folder) / "inputs.npz"
        outputs_path = Path(folder) / "outputs.npz"
        if inputs is not None:
            arrays: dict[str, Any] = {f"b{b}_in{i}": x for b, batch in enumerate(inputs) for i, x in enumerate(batch)}
            np.savez(inputs_path, **arrays)
        command = [sys.executable, "-m", "tinyops.oracles._child", engine, str(model_path),
                   str(inputs_path if inputs is not None else ""), str(outputs_path)]
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s, env=env)
        except subprocess.TimeoutExpired:
            raise OracleError(f"{engine} did not finish within {timeout_s:.0f} s") from None
        if done.returncode != 0:
            lines = [line for line in (done.stderr + done.stdout).splitlines() if line.strip()]
            reason = lines[-1] if lines else f"exit status {done.returncode}"
            raise OracleError(f"{engine} failed: {reason}")
        arena = {kind: int(value) for kind, value in _ARENA_LINE.findall(done.stdout + done.stderr)}
        outputs: list[np.ndarray] = []
        if inputs is not None:
            with np.load(outputs_path) as stored:
                count = len([k for k in stored.files if k.startswith("out")])
                outputs = [stored[f"out{i}"] for i in range(count)]
        return OracleResult(outputs=outputs, arena=arena)


def litert_run(model: bytes, inputs: Sequence[Sequence[np.ndarray]], timeout_s: float = 600,
               reference_kernels: bool = True) -> OracleResult:
    """Run LiteRT on each batch of inputs, 1 thread: its reference kernels (the bit-exactness
    oracle), or with ``reference_kernels=False`` its default optimized kernels and delegates."""
    return _run_child("litert" if reference_kernels else "litert-optimized", model, inputs, timeout_s)


def tflm_run(model: bytes, inputs: Sequence[Sequence[np.ndarray]], timeout_s: float = 600) -> OracleResult:
    """Run the TFLM interpreter on each batch of inputs; also returns its arena figures."""
    return _run_child("tflm", model, inputs, timeout_s)


def tflm_arena(model: bytes, timeout_s: float = 120) -> dict[str, int]:
    """TFLM's own arena figures for a model: {'head': ..., 'tail': ..., 'total': ...}."""
    return _run_child("tflm", model, None, timeout_s).arena


__all__ = ["OracleError", "OracleResult", "litert_run", "tflm_arena", "tflm_run"]
