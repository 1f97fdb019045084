"""Access to the TFLite flatbuffer schema and the name tables both reader and writer need.

The generated schema bindings ship with LiteRT (`ai-edge-litert`), which tinyops depends on as
its numerics oracle anyway; we use its object API rather than maintaining our own copy.
"""

from __future__ import annotations

import re
from typing import Any

from ai_edge_litert import schema_py_generated as schema

from tinyops.ir.dtypes import DType


def _enum_names(enum_class: type) -> dict[int, str]:
    return {value: name for name, value in vars(enum_class).items() if not name.startswith("_")}


BUILTIN_OP_NAMES: dict[int, str] = _enum_names(schema.BuiltinOperator)
BUILTIN_OP_CODES: dict[str, int] = {name: code for code, name in BUILTIN_OP_NAMES.items()}
OPTIONS_NAMES: dict[int, str] = _enum_names(schema.BuiltinOptions)
OPTIONS_CODES: dict[str, int] = {name: code for code, name in OPTIONS_NAMES.items()}
OPTIONS2_NAMES: dict[int, str] = _enum_names(schema.BuiltinOptions2)
OPTIONS2_CODES: dict[str, int] = {name: code for code, name in OPTIONS2_NAMES.items()}

TENSOR_TYPE_TO_DTYPE: dict[int, DType] = {
    code: DType[name] for code, name in _enum_names(schema.TensorType).items() if name in DType.__members__
}
DTYPE_TO_TENSOR_TYPE: dict[DType, int] = {dtype: code for code, dtype in TENSOR_TYPE_TO_DTYPE.items()}

# Option fields whose enum values the IR holds as names, because every stage reads them.
ENUM_FIELDS: dict[str, dict[int, str]] = {
    "padding": _enum_names(schema.Padding),
    "fused_activation_function": _enum_names(schema.ActivationFunctionType),
}

# Options table of the builtin ops whose options class name does not follow from the op name.
OPTIONS_FOR_OP: dict[str, str] = {
    "AVERAGE_POOL_2D": "Pool2DOptions",
    "MAX_POOL_2D": "Pool2DOptions",
    "L2_POOL_2D": "Pool2DOptions",
    "MEAN": "ReducerOptions",
    "SUM": "ReducerOptions",
    "REDUCE_MAX": "ReducerOptions",
    "REDUCE_MIN": "ReducerOptions",
    "REDUCE_PROD": "ReducerOptions",
    "CONV_2D": "Conv2DOptions",
    "DEPTHWISE_CONV_2D": "DepthwiseConv2DOptions",
    "TRANSPOSE_CONV": "TransposeConvOptions",
    "RESIZE_NEAREST_NEIGHBOR": "ResizeNearestNeighborOptions",
    "RESIZE_BILINEAR": "ResizeBilinearOptions",
    "UNIDIRECTIONAL_SEQUENCE_LSTM": "UnidirectionalSequenceLSTMOptions",
    "SVDF": "SVDFOptions",
    "LOG_SOFTMAX": "LogSoftmaxOptions",
    "RELU": "",
    "RELU6": "",
    "LOGISTIC": "",
    "TANH": "",
}

# "fusedActivationFunction" -> fused_activation_function; "dilationHFactor" -> dilation_h_factor.
_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def snake_case(name: str) -> str:
    return _CAMEL_BOUNDARY.sub("_", name).lower()


def camel_case(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def options_class_for(kind: str) -> str:
    """Name of the options table of a builtin op ('' for ops without options)."""
    if kind in OPTIONS_FOR_OP:
        return OPTIONS_FOR_OP[kind]
    guess = "".join(part.capitalize() for part in kind.split("_")) + "Options"
    return guess if guess in OPTIONS_CODES else ""


def options_to_attrs(options: Any) -> dict[str, Any]:
    """Flatten a generated options object into snake_case attributes, enums as names."""
    attrs: dict[str, Any] = {}
    for field_name, value in vars(options).items():
        key = snake_case(field_name)
        if key in ENUM_FIELDS and isinstance(value, int):
            value = ENUM_FIELDS[key].get(value, value)
        elif hasattr(value, "tolist"):
            value = value.tolist()
        attrs[key] = value
    return attrs


def attrs_to_options(class_name: str, attrs: dict[str, Any]) -> Any:
    """Build a generated options object from IR attributes (unknown attributes are rejected)."""
    options = getattr(schema, class_name + "T")()
    known = vars(options)
    for key, value in attrs.items():
        field_name = camel_case(key)
        if field_name not in known:
            continue  # attributes of other option tables (e.g. builtin_options_2) live here too
        if key in ENUM_FIELDS and isinstance(value, str):
            codes = {name: code for code, name in ENUM_FIELDS[key].items()}
            value = codes[value]
        setattr(options, field_name, value)
    return options
