"""The model validator: each kind of damage is refused at load with one line naming the culprit."""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np
import pytest

from tinyops.commands.common import default_model_path
from tinyops.errors import ModelFormatError
from tinyops.frontends import load_model, load_model_bytes
from tinyops.frontends.tflite_schema import BUILTIN_OP_CODES, schema
from tinyops.testing.mutations import pack_model

from conftest import SHARED_MODELS

VWW = default_model_path()


def _edited(edit: Callable[[Any], None]) -> bytes:
    model = schema.ModelT.InitFromPackedBuf(VWW.read_bytes(), 0)
    edit(model)
    return pack_model(model)


def _ops(model: Any) -> list[Any]:
    return model.subgraphs[0].operators


def _kind(model: Any, op: Any) -> str:
    code = model.operatorCodes[op.opcodeIndex]
    names = {v: k for k, v in BUILTIN_OP_CODES.items()}
    return names[max(code.builtinCode, code.deprecatedBuiltinCode)]


def _first(model: Any, kind: str) -> Any:
    return next(op for op in _ops(model) if _kind(model, op) == kind)


def _conv_filter(model: Any) -> Any:
    return model.subgraphs[0].tensors[_first(model, "CONV_2D").inputs[1]]


def _set_stride(model: Any) -> None:
    _first(model, "CONV_2D").builtinOptions.strideW = 0


def _set_dilation(model: Any) -> None:
    _first(model, "DEPTHWISE_CONV_2D").builtinOptions.dilationHFactor = -3


def _set_padding(model: Any) -> None:
    _first(model, "CONV_2D").builtinOptions.padding = 7


def _set_activation(model: Any) -> None:
    _first(model, "CONV_2D").builtinOptions.fusedActivationFunction = 42


def _set_scale(value: float) -> Callable[[Any], None]:
    def edit(model: Any) -> None:
        tensor = model.subgraphs[0].tensors[_first(model, "CONV_2D").outputs[0]]
        tensor.quantization.scale = [value]
    return edit


def _set_zero_point(model: Any) -> None:
    model.subgraphs[0].tensors[_first(model, "CONV_2D").outputs[0]].quantization.zeroPoint = [300]


def _set_quantized_dimension(model: Any) -> None:
    _conv_filter(model).quantization.quantizedDimension = 7


def _cut_channels(model: Any) -> None:
    q = _conv_filter(model).quantization
    q.scale, q.zeroPoint = list(q.scale[:3]), list(q.zeroPoint[:3])


def _cycle(model: Any) -> None:
    ops = _ops(model)
    ops[0].inputs = [ops[5].outputs[0], *list(ops[0].inputs[1:])]


def _self_loop(model: Any) -> None:
    ops = _ops(model)
    ops[3].inputs = [ops[3].outputs[0], *list(ops[3].inputs[1:])]


def _duplicate_producer(model: Any) -> None:
    ops = _ops(model)
    ops[4].outputs = [ops[2].outputs[0]]


def _write_constant(model: Any) -> None:
    op = _first(model, "CONV_2D")
    op.outputs = [op.inputs[1]]


def _shape(dims: list[int]) -> Callable[[Any], None]:
    def edit(model: Any) -> None:
        model.subgraphs[0].tensors[_first(model, "CONV_2D").outputs[0]].shape = dims
    return edit


def _buffer_size(model: Any) -> None:
    buffer = model.buffers[_conv_filter(model).buffer]
    buffer.data = np.asarray(buffer.data[:-5])


def _empty_ops(model: Any) -> None:
    model.subgraphs[0].operators = []


def _reshape_output(model: Any) -> None:
    model.subgraphs[0].tensors[_first(model, "RESHAPE").outputs[0]].shape = [7, 7]


def _tensor_index(model: Any) -> None:
    _ops(model)[2].inputs = [-7, *list(_ops(model)[2].inputs[1:])]


def _weights_nan(model: Any) -> None:
    # Float constants must be finite: make the VWW filter float32 would break sizes, so turn the
    # bias (int32) into float32 of the same byte size filled with NaN.
    op = _first(model, "CONV_2D")
    bias = model.subgraphs[0].tensors[op.inputs[2]]
    bias.type = schema.TensorType.FLOAT32
    bias.quantization = None
    model.buffers[bias.buffer].data = np.full(len(model.buffers[bias.buffer].data) // 4, np.nan, "<f4").view(np.uint8)


CASES: list[tuple[str, Callable[[Any], None], str]] = [
    ("stride 0", _set_stride, "stride_w = 0; it must be at least 1"),
    ("dilation negative", _set_dilation, "dilation_h_factor = -3"),
    ("unknown padding", _set_padding, "unknown padding 7"),
    ("unknown activation", _set_activation, "unknown fused activation 42"),
    ("scale 0", _set_scale(0.0), "scales must be finite and positive"),
    ("scale NaN", _set_scale(math.nan), "scales must be finite and positive"),
    ("scale inf", _set_scale(math.inf), "scales must be finite and positive"),
    ("scale denormal", _set_scale(1e-45), "outside the range a fixed-point multiplier"),
    ("zero point out of range", _set_zero_point, "zero point 300, outside the int8 range"),
    ("quantized_dimension out of range", _set_quantized_dimension, "quantized_dimension 7"),
    ("per-channel length", _cut_channels, "3 per-channel scales"),
    ("cycle", _cycle, "before it is produced"),
    ("op reads its own output", _self_loop, "before it is produced"),
    ("duplicate producer", _duplicate_producer, "already produced by op 2"),
    ("op writes a constant", _write_constant, "which holds constant data"),
    ("shape 0", _shape([1, 0, 48, 8]), "every dimension must be at least 1"),
    ("shape negative", _shape([1, -1, 48, 8]), "every dimension must be at least 1"),
    ("shape huge", _shape([1, 2**20, 2**20, 8]), "tensors are limited to 2 GiB"),
    ("shape rule disagrees", _shape([1, 47, 48, 8]), "but its inputs give [1, 48, 48, 8]"),
    ("buffer size", _buffer_size, "bytes of data, but shape"),
    ("no operators", _empty_ops, "has no operators"),
    ("reshape changes the element count", _reshape_output, "(RESHAPE): reshapes"),
    ("tensor index", _tensor_index, "refers to tensor -7"),
    ("non-finite constants", _weights_nan, "non-finite constant values"),
]


@pytest.mark.parametrize("edit, expected", [(e, x) for _, e, x in CASES], ids=[c[0] for c in CASES])
def test_damage_is_one_line_naming_the_culprit(edit: Callable[[Any], None], expected: str) -> None:
    with pytest.raises(ModelFormatError) as caught:
        load_model_bytes(_edited(edit), "vww.tflite")
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("vww.tflite: ")
    assert expected in message
    assert ("op " in message or "tensor " in message or "subgraph" in message or "model" in message)


def test_unedited_repack_still_loads() -> None:
    graph = load_model_bytes(_edited(lambda model: None))
    assert len(graph.main.ops) == len(load_model(VWW).main.ops)


@pytest.mark.parametrize("path", SHARED_MODELS, ids=[p.stem for p in SHARED_MODELS])
def test_every_shared_model_passes(path: Any) -> None:
    load_model(path)


def test_special_files_are_refused_without_blocking(tmp_path: Any) -> None:
    import os

    fifo = tmp_path / "pipe.tflite"
    os.mkfifo(fifo)
    for path, expected in [(fifo, "not a regular file"), ("/dev/zero", "not a regular file"),
                           (tmp_path, "is a directory"), ("", "the path is empty"),
                           (tmp_path / ("n" * 300), "file name is 300 bytes")]:
        with pytest.raises(ModelFormatError, match=expected):
            load_model(path)
