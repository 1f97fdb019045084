"""Read a TFLite flatbuffer into the tinyops IR, keeping everything a writer needs to reproduce it."""

from __future__ import annotations

from typing import Any

import numpy as np

from tinyops.errors import ModelFormatError
from tinyops.frontends.tflite_schema import (
    BUILTIN_OP_NAMES,
    OPTIONS2_NAMES,
    OPTIONS_NAMES,
    TENSOR_TYPE_TO_DTYPE,
    options_to_attrs,
    schema,
)
from tinyops.ir.dtypes import DType
from tinyops.ir.graph import Graph, Op, Quantization, Subgraph, Tensor


def read_tflite(data: bytes, source: str = "<bytes>") -> Graph:
    """Parse TFLite flatbuffer bytes. Raises ModelFormatError on anything that is not a sound model."""
    if len(data) < 8:
        raise ModelFormatError(f"{source}: file is too short ({len(data)} bytes) to be a TFLite model")
    try:
        model = schema.ModelT.InitFromPackedBuf(data, 0)
    except Exception as exc:  # the generated parser raises struct/Index/Value errors on damage
        raise ModelFormatError(
            f"{source}: not a valid TFLite flatbuffer ({type(exc).__name__}: {exc}); "
            "the file may be truncated or corrupt"
        ) from None
    try:
        return _to_graph(model, data, source)
    except ModelFormatError:
        raise
    except Exception as exc:
        raise ModelFormatError(
            f"{source}: inconsistent TFLite model ({type(exc).__name__}: {exc}); "
            "the file may be truncated or corrupt"
        ) from None


def _buffer_bytes(model: Any, index: int, file_bytes: bytes, source: str) -> bytes | None:
    if index <= 0 or model.buffers is None:
        return None
    if index >= len(model.buffers):
        raise ModelFormatError(f"{source}: tensor refers to buffer {index}, but the model has {len(model.buffers)}")
    buffer = model.buffers[index]
    if buffer.offset > 1:  # data stored after the flatbuffer (models over 2 GB)
        end = buffer.offset + buffer.size
        if end > len(file_bytes):
            raise ModelFormatError(f"{source}: buffer {index} ends at byte {end}, past the end of the file; truncated?")
        return file_bytes[buffer.offset:end]
    if buffer.data is None or len(buffer.data) == 0:
        return None
    return buffer.data.tobytes() if hasattr(buffer.data, "tobytes") else bytes(buffer.data)


def _decode_constant(raw: bytes, dtype: DType, shape: tuple[int, ...]) -> tuple[np.ndarray, bool]:
    """Constant data as a typed array of ``shape``; (raw uint8 array, False) when they disagree."""
    count = int(np.prod(shape, dtype=np.int64)) if shape else 1
    if dtype in (DType.INT4, DType.UINT4) and len(raw) == dtype.storage_bytes(count):
        packed = np.frombuffer(raw, dtype=np.uint8)
        low, high = packed & 0x0F, packed >> 4
        nibbles = np.stack([low, high], axis=-1).reshape(-1)[:count].astype(np.int8)
        if dtype is DType.INT4:
            nibbles = np.where(nibbles > 7, nibbles - 16, nibbles).astype(np.int8)
        return nibbles.reshape(shape), True
    try:
        element = dtype.numpy
    except TypeError:
        return np.frombuffer(raw, dtype=np.uint8), False
    if len(raw) != count * element.itemsize:
        return np.frombuffer(raw, dtype=np.uint8), False
    return np.frombuffer(raw, dtype=element.newbyteorder("<")).reshape(shape), True


def _quantization(params: Any) -> Quantization | None:
    if params is None or params.scale is None or len(params.scale) == 0:
        if params is not None and params.details is not None:
            return None  # custom quantization only: kept in tensor extras
        return None
    scale = np.asarray(params.scale, dtype=np.float32)
    zero_point = (np.asarray(params.zeroPoint, dtype=np.int64) if params.zeroPoint is not None
                  else np.zeros(scale.shape, dtype=np.int64))
    return Quantization(
        scale=scale,
        zero_point=zero_point,
        axis=int(params.quantizedDimension),
        min=None if params.min is None else np.asarray(params.min, dtype=np.float32),
        max=None if params.max is None else np.asarray(params.max, dtype=np.float32),
    )


def _to_graph(model: Any, file_bytes: bytes, source: str) -> Graph:
    if not model.subgraphs:
        raise ModelFormatError(f"{source}: the model has no subgraphs")
    opcodes = model.operatorCodes or []
    constant_cache: dict[int, np.ndarray] = {}  # tensors that share a buffer share one array
    subgraphs = []
    for subgraph_index, raw_subgraph in enumerate(model.subgraphs):
        tensors = []
        for tensor_index, raw in enumerate(raw_subgraph.tensors or []):
            if raw.type not in TENSOR_TYPE_TO_DTYPE:
                raise ModelFormatError(f"{source}: tensor {tensor_index} has unknown type code {raw.type}")
            dtype = TENSOR_TYPE_TO_DTYPE[raw.type]
            shape = tuple(int(d) for d in (raw.shape if raw.shape is not None else []))
            name = raw.name.decode("utf-8", "replace") if isinstance(raw.name, bytes) else (raw.name or "")
            data = None
            extras: dict[str, Any] = {"buffer": int(raw.buffer)}
            blob = _buffer_bytes(model, raw.buffer, file_bytes, source)
            if blob is not None:
                if raw.buffer in constant_cache:
                    data = constant_cache[raw.buffer]
                else:
                    data, typed = _decode_constant(blob, dtype, shape)
                    if not typed:
                        extras["raw_data"] = True
                    constant_cache[raw.buffer] = data
            params = raw.quantization
            if params is not None and params.details is not None:
                extras["quantization_details"] = (params.detailsType, params.details)
            for key in ("sparsity", "variantTensors"):
                if getattr(raw, key, None) is not None:
                    extras[key] = getattr(raw, key)
            if getattr(raw, "hasRank", False):
                extras["hasRank"] = True
            tensors.append(Tensor(
                name=name,
                shape=shape,
                dtype=dtype,
                quantization=_quantization(params),
                data=data,
                is_variable=bool(raw.isVariable),
                shape_signature=None if raw.shapeSignature is None else tuple(int(d) for d in raw.shapeSignature),
                extras=extras,
            ))

        def tensor_at(index: int, where: str, optional: bool = True) -> Tensor | None:
            if index == -1 and optional:
                return None  # TFLite's "optional input left out"
            if index < 0:
                raise ModelFormatError(f"{source}: subgraph {subgraph_index} {where} refers to tensor {index}; "
                                       "tensor indices are 0 or more (-1 only for a left-out input)")
            if index >= len(tensors):
                raise ModelFormatError(
                    f"{source}: subgraph {subgraph_index} {where} refers to tensor {index}, "
                    f"but the subgraph has {len(tensors)} tensors")
            return tensors[index]

        ops = []
        for op_index, raw_op in enumerate(raw_subgraph.operators or []):
            if raw_op.opcodeIndex >= len(opcodes):
                raise ModelFormatError(f"{source}: op {op_index} uses operator code {raw_op.opcodeIndex}, "
                                       f"but the model has {len(opcodes)}")
            code = opcodes[raw_op.opcodeIndex]
            builtin = max(int(code.builtinCode), int(code.deprecatedBuiltinCode))
            kind = BUILTIN_OP_NAMES.get(builtin, f"BUILTIN_{builtin}")
            attrs: dict[str, Any] = {}
            # "" records that the file has no options table, so the writer does not invent one.
            extras = {"options_class": ""}
            if raw_op.builtinOptions is not None:
                attrs.update(options_to_attrs(raw_op.builtinOptions))
                extras["options_class"] = OPTIONS_NAMES[raw_op.builtinOptionsType]
            if raw_op.builtinOptions2 is not None:
                attrs.update(options_to_attrs(raw_op.builtinOptions2))
                extras["options2_class"] = OPTIONS2_NAMES[raw_op.builtinOptions2Type]
            for key in ("mutatingVariableInputs", "intermediates"):
                value = getattr(raw_op, key, None)
                if value is not None and len(value):
                    extras[key] = [int(v) for v in value]
            custom_options = None
            if raw_op.customOptions is not None and len(raw_op.customOptions):
                custom_options = bytes(bytearray(raw_op.customOptions))
            elif raw_op.largeCustomOptionsSize:
                start = raw_op.largeCustomOptionsOffset
                custom_options = file_bytes[start:start + raw_op.largeCustomOptionsSize]
            custom_code = code.customCode
            if isinstance(custom_code, bytes):
                custom_code = custom_code.decode("utf-8", "replace")
            where = f"op {op_index} ({kind})"
            ops.append(Op(
                kind=kind,
                inputs=[tensor_at(int(i), where) for i in (raw_op.inputs if raw_op.inputs is not None else [])],
                outputs=[t for t in (tensor_at(int(i), where, optional=False) for i in
                                     (raw_op.outputs if raw_op.outputs is not None else [])) if t is not None],
                attrs=attrs,
                custom_code=custom_code if kind == "CUSTOM" else None,
                custom_options=custom_options,
                version=int(code.version),
                extras=extras,
            ))
        name = raw_subgraph.name.decode("utf-8", "replace") if isinstance(raw_subgraph.name, bytes) else (raw_subgraph.name or "")
        subgraph = Subgraph(
            name=name,
            tensors=tensors,
            ops=ops,
            inputs=[t for t in (tensor_at(int(i), "input list", optional=False) for i in (raw_subgraph.inputs if raw_subgraph.inputs is not None else [])) if t],
            outputs=[t for t in (tensor_at(int(i), "output list", optional=False) for i in (raw_subgraph.outputs if raw_subgraph.outputs is not None else [])) if t],
        )
        subgraph.link()
        subgraphs.append(subgraph)

    metadata = {}
    for entry in model.metadata or []:
        key = entry.name.decode("utf-8", "replace") if isinstance(entry.name, bytes) else entry.name
        metadata[key] = _buffer_bytes(model, entry.buffer, file_bytes, source) or b""
    description = model.description.decode("utf-8", "replace") if isinstance(model.description, bytes) else (model.description or "")
    extras = {"tflite_version": int(model.version)}
    if model.signatureDefs:
        extras["signature_defs"] = model.signatureDefs
    return Graph(subgraphs=subgraphs, description=description, metadata=metadata, source_path=source, extras=extras)
