"""Load a model file of any supported format into the IR, with clear errors for everything else."""

from __future__ import annotations

import os
from pathlib import Path

from tinyops.errors import ModelFormatError, TinyOpsError
from tinyops.files import read_input_file
from tinyops.frontends.tflite_reader import read_tflite
from tinyops.frontends.validate import validate_graph
from tinyops.ir.graph import Graph

GIT_LFS_PREFIX = b"version https://git-lfs"
# TFLite flatbuffers address at most 2 GiB (larger models keep buffers past the end; none fit an MCU).
MAX_MODEL_BYTES = 1 << 31


def load_model(path: str | os.PathLike[str]) -> Graph:
    """Read a model from disk. Raises ModelFormatError with a one-line, actionable message."""
    file_path = Path(path)
    try:
        data = read_input_file(path, "model", MAX_MODEL_BYTES)
    except TinyOpsError as exc:
        raise ModelFormatError(str(exc)) from None
    return load_model_bytes(data, str(file_path))


def load_model_bytes(data: bytes, source: str = "<bytes>") -> Graph:
    """Parse model bytes of any supported format and validate the result (see validate.py)."""
    graph = _parse(data, source)
    validate_graph(graph, source)
    return graph


def _parse(data: bytes, source: str) -> Graph:
    if not data:
        raise ModelFormatError(f"{source}: the file is empty (0 bytes); expected a .tflite model")
    if data.startswith(GIT_LFS_PREFIX):
        raise ModelFormatError(
            f"{source}: is a Git LFS pointer, not the model itself; fetch the real file "
            "(git lfs pull) and try again")
    if len(data) >= 8 and data[4:8] == b"TFL3":
        return read_tflite(data, source)
    if source.lower().endswith(".onnx") or data[:2] == b"\x08\x07" or b"onnx" in data[:64].lower():
        from tinyops.frontends.onnx_reader import read_onnx

        return read_onnx(data, source)
    if data[:8] == b"TINYOPS\0":  # tinyops container (code-book weights): decoded to an int8 graph
        from tinyops.quant.container import read_container

        return read_container(data, source).graph
    if len(data) >= 8:
        # Some old converters wrote no file identifier: accept a flatbuffer that parses as a model.
        try:
            return read_tflite(data, source)
        except ModelFormatError:
            pass
    raise ModelFormatError(f"{source}: not a TFLite model (no 'TFL3' identifier); expected a .tflite flatbuffer")
