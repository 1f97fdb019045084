"""The generated C as a fast host engine (``tinyops run --engine c``): the model's project is
built natively as a shared library (``-O3``, cached per model, kernels and compiler flags) and
called through ctypes. The code that ships is the code that runs the data set.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Sequence

import numpy as np

from tinyops.backends.c import toolchain
from tinyops.backends.c.plan_view import view
from tinyops.backends.c.project import build_project, write_project
from tinyops.backends.c.targets import board_map
from tinyops.errors import TinyOpsError
from tinyops.hw.board import load_board
from tinyops.ir.graph import Graph

NOMINAL_BOARD = "stm32h743i-eval"  # only names memories; the host has no memory limits to check
HOST_FLAGS = "-O3 -march=native"


def _cache_key(graph: Graph, files: dict[str, bytes], flags: str) -> str:
    digest = hashlib.sha256(flags.encode())
    for name in sorted(files):
        if name.startswith(("model.", "kernels/", "tinyops_")):
            digest.update(name.encode())
            digest.update(files[name])
    return digest.hexdigest()[:24]


class CEngine:
    """Prepare (generate + build, or reuse the cached library) once, then run any number of inputs."""

    def __init__(self, graph: Graph, planner: str = "best", cache_dir: Path | None = None) -> None:
        from tinyops.backends.c.driver import default_cache_dir

        self.graph = graph
        deployment = view(graph, load_board(NOMINAL_BOARD), "internal", planner, check_fit=False)
        deployment.label = "host"
        empty: list[list[np.ndarray]] = []
        project = build_project(deployment, board_map(deployment.board), "memcpy", empty, empty)
        key = _cache_key(graph, project.files, HOST_FLAGS)
        folder = (cache_dir or default_cache_dir()) / "c-engine" / key
        library = folder / "libtinyops_model.so"
        if not library.is_file():
            toolchain.require(os.environ.get("HOSTCC", "gcc"), "gcc")
            folder.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory(dir=folder.parent) as tmp:
                staging = Path(tmp) / "project"
                write_project(project.files, staging, force=False)
                toolchain.make(staging, "lib", {"OPT": HOST_FLAGS})
                if folder.exists():
                    shutil.rmtree(folder)
                staging.rename(folder)
        self.library_path = library
        self._lib = ctypes.CDLL(str(library))
        self._invoke = self._lib.tinyops_invoke
        self._invoke.restype = None
        self._in_specs = [(t.dtype.numpy, tuple(t.shape)) for t in graph.main.inputs]
        self._out_specs = [(t.dtype.numpy, tuple(t.shape)) for t in graph.main.outputs]

    def run(self, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
        """One inference (inputs in the model's shapes) or a batch along a larger leading dimension."""
        if len(inputs) != len(self._in_specs):
            raise TinyOpsError(f"the model takes {len(self._in_specs)} input(s), {len(inputs)} given")
        arrays = []
        count = None
        for array, (dtype, shape) in zip(inputs, self._in_specs):
            array = np.ascontiguousarray(array, dtype=dtype)
            per = int(np.prod(shape))
            if array.size % per:
                raise TinyOpsError(f"an input of {array.size} values is not a whole number of {list(shape)} inputs")
            n = array.size // per
            if count is not None and n != count:
                raise TinyOpsError("inputs hold different numbers of inferences")
            count = n
            arrays.append(array.reshape((n,) + shape))
        assert count is not None
        outputs = [np.empty((count,) + shape, dtype) for dtype, shape in self._out_specs]
        for k in range(count):
            args = [ctypes.c_void_p(a[k].ctypes.data) for a in arrays]
            args += [ctypes.c_void_p(o[k].ctypes.data) for o in outputs]
            self._invoke(*args)
        single = all(tuple(a.shape[1:]) == s and a.shape[0] == 1 for a, (_, s) in zip(arrays, self._in_specs))
        if count == 1 and single and all(np.asarray(i).shape == s for i, (_, s) in zip(inputs, self._in_specs)):
            return [o[0] for o in outputs]
        return [o.reshape((count * s[0],) + s[1:]) if s and s[0] == 1 else o for o, (_, s) in
                zip(outputs, self._out_specs)]


__all__ = ["CEngine"]
