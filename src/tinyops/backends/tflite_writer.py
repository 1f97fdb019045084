"""Write the tinyops IR as a TFLite flatbuffer that LiteRT and TFLM load."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import flatbuffers
import numpy as np

from tinyops.frontends.tflite_schema import (
    BUILTIN_OP_CODES,
    DTYPE_TO_TENSOR_TYPE,
    OPTIONS2_CODES,
    OPTIONS_CODES,
    attrs_to_options,
    options_class_for,
    schema,
)
from tinyops.ir.dtypes import DType
from tinyops.files import write_atomically  # re-exported: callers import it from here
from tinyops.ir.graph import Graph, Tensor

BUFFER_ALIGNMENT_BYTES = 16  # as the TFLite converter does: int32/float data must be aligned on-target


class _AlignedBufferT(schema.BufferT):
    """A buffer whose data vector starts on a 16-byte boundary."""

    def Pack(self, builder: flatbuffers.Builder) -> int:  # noqa: N802 (generated-code naming)
        data_offset = None
        if self.data is not None:
            payload = bytes(self.data)
            builder.StartVector(1, len(payload), BUFFER_ALIGNMENT_BYTES)
            builder.head -= len(payload)
            builder.Bytes[builder.head:builder.head + len(payload)] = payload
            builder.vectorNumElems = len(payload)
            data_offset = builder.EndVector()
        schema.BufferStart(builder)
        if data_offset is not None:
            schema.BufferAddData(builder, data_offset)
        return schema.BufferEnd(builder)


def _constant_bytes(tensor: Tensor) -> bytes:
    data = tensor.data
    assert data is not None
    if tensor.extras.get("raw_data"):
        return np.ascontiguousarray(data, dtype=np.uint8).tobytes()
    if tensor.dtype in (DType.INT4, DType.UINT4):
        nibbles = (np.asarray(data).reshape(-1).astype(np.int16) & 0x0F).astype(np.uint8)
        if nibbles.size % 2:
            nibbles = np.append(nibbles, np.uint8(0))
        return (nibbles[0::2] | (nibbles[1::2] << 4)).astype(np.uint8).tobytes()
    return np.ascontiguousarray(data, dtype=tensor.dtype.numpy.newbyteorder("<")).tobytes()


def _quantization_params(tensor: Tensor) -> Any:
    quant = tensor.quantization
    details = tensor.extras.get("quantization_details")
    if quant is None and details is None:
        return None
    params = schema.QuantizationParametersT()
    if quant is not None:
        params.scale = np.asarray(quant.scale, dtype=np.float32)
        params.zeroPoint = np.asarray(quant.zero_point, dtype=np.int64)
        params.quantizedDimension = int(quant.axis)
        if quant.min is not None:
            params.min = np.asarray(quant.min, dtype=np.float32)
        if quant.max is not None:
            params.max = np.asarray(quant.max, dtype=np.float32)
    if details is not None:
        params.detailsType, params.details = details
    return params


def to_tflite_bytes(graph: Graph) -> bytes:
    """Serialize a graph. Tensor order within each subgraph is kept, so indices stay valid."""
    model = schema.ModelT()
    model.version = int(graph.extras.get("tflite_version", 3))
    model.description = graph.description or "tinyops"
    buffers: list[Any] = [_AlignedBufferT()]
    buffer_of_array: dict[int, int] = {}
    opcode_index: dict[tuple[int, str | None, int], int] = {}
    model.operatorCodes = []
    model.subgraphs = []

    def add_buffer(payload: bytes) -> int:
        buffer = _AlignedBufferT()
        buffer.data = payload
        buffers.append(buffer)
        return len(buffers) - 1

    for subgraph in graph.subgraphs:
        index_of = {id(t): i for i, t in enumerate(subgraph.tensors)}
        raw_subgraph = schema.SubGraphT()
        raw_subgraph.name = subgraph.name
        raw_subgraph.tensors = []
        for tensor in subgraph.tensors:
            raw = schema.TensorT()
            raw.name = tensor.name
            raw.shape = np.asarray(tensor.shape, dtype=np.int32)
            raw.type = DTYPE_TO_TENSOR_TYPE[tensor.dtype]
            raw.isVariable = tensor.is_variable
            if tensor.shape_signature is not None:
                raw.shapeSignature = np.asarray(tensor.shape_signature, dtype=np.int32)
            raw.quantization = _quantization_params(tensor)
            for key in ("sparsity", "variantTensors"):
                if key in tensor.extras:
                    setattr(raw, key, tensor.extras[key])
            raw.hasRank = bool(tensor.extras.get("hasRank", False))
            if tensor.data is not None:
                data_id = id(tensor.data)
                if data_id not in buffer_of_array:
                    buffer_of_array[data_id] = add_buffer(_constant_bytes(tensor))
                raw.buffer = buffer_of_array[data_id]
            raw_subgraph.tensors.append(raw)
        raw_subgraph.inputs = np.asarray([index_of[id(t)] for t in subgraph.inputs], dtype=np.int32)
        raw_subgraph.outputs = np.asarray([index_of[id(t)] for t in subgraph.outputs], dtype=np.int32)
        raw_subgraph.operators = []
        for op in subgraph.ops:
            builtin = 32 if op.kind == "CUSTOM" else BUILTIN_OP_CODES[op.kind]
            code_key = (builtin, op.custom_code, op.version)
            if code_key not in opcode_index:
                code = schema.OperatorCodeT()
                code.builtinCode = builtin
                code.deprecatedBuiltinCode = min(builtin, 127)
                code.customCode = op.custom_code
                code.version = op.version
                opcode_index[code_key] = len(model.operatorCodes)
                model.operatorCodes.append(code)
            raw_op = schema.OperatorT()
            raw_op.opcodeIndex = opcode_index[code_key]
            raw_op.inputs = np.asarray([-1 if t is None else index_of[id(t)] for t in op.inputs], dtype=np.int32)
            raw_op.outputs = np.asarray([index_of[id(t)] for t in op.outputs], dtype=np.int32)
            options_class = op.extras.get("options_class", options_class_for(op.kind) if op.kind != "CUSTOM" else "")
            if options_class:
                raw_op.builtinOptionsType = OPTIONS_CODES[options_class]
                raw_op.builtinOptions = attrs_to_options(options_class, op.attrs)
            options2_class = op.extras.get("options2_class")
            if options2_class:
                raw_op.builtinOptions2Type = OPTIONS2_CODES[options2_class]
                raw_op.builtinOptions2 = attrs_to_options(options2_class, op.attrs)
            if op.custom_options is not None:
                raw_op.customOptions = np.frombuffer(op.custom_options, dtype=np.uint8)
            for key in ("mutatingVariableInputs", "intermediates"):
                if key in op.extras:
                    value = op.extras[key]
                    setattr(raw_op, key, np.asarray(value, dtype=np.bool_ if key.startswith("mutating") else np.int32))
            raw_subgraph.operators.append(raw_op)
        model.subgraphs.append(raw_subgraph)

    model.metadata = []
    for name, payload in graph.metadata.items():
        entry = schema.MetadataT()
        entry.name = name
        entry.buffer = add_buffer(payload)
        model.metadata.append(entry)
    if "signature_defs" in graph.extras:
        model.signatureDefs = graph.extras["signature_defs"]
    model.buffers = buffers
    builder = flatbuffers.Builder(1 << 16)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def write_tflite(graph: Graph, path: str | os.PathLike[str]) -> None:
    write_atomically(path, to_tflite_bytes(graph))
