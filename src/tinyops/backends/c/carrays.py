"""C text for constant arrays and small helpers the generator shares."""

from __future__ import annotations

import numpy as np

from tinyops.ir.dtypes import DType

C_TYPES: dict[DType, str] = {
    DType.INT8: "int8_t", DType.UINT8: "uint8_t", DType.INT16: "int16_t", DType.INT32: "int32_t",
    DType.FLOAT32: "float", DType.UINT16: "uint16_t", DType.UINT32: "uint32_t", DType.BOOL: "uint8_t",
    DType.INT64: "int64_t",
}
_NUMPY_C = {np.dtype("int8"): "int8_t", np.dtype("uint8"): "uint8_t", np.dtype("int16"): "int16_t",
            np.dtype("int32"): "int32_t", np.dtype("float32"): "float", np.dtype("uint32"): "uint32_t",
            np.dtype("int64"): "int64_t", np.dtype("uint16"): "uint16_t"}
PER_LINE = 24


def c_type_of(dtype: np.dtype) -> str:
    try:
        return _NUMPY_C[np.dtype(dtype)]
    except KeyError:
        raise TypeError(f"no C type for {dtype}") from None


def _literal_list(values: np.ndarray) -> list[str]:
    flat = values.reshape(-1)
    if flat.dtype == np.float32:
        return [f"{float(v)!r}f".replace("inf", "INFINITY") for v in flat]
    if flat.dtype == np.int32:
        # INT32_MIN has no literal; write it as an expression.
        return [str(v) if v != -2**31 else "(-2147483647 - 1)" for v in flat.tolist()]
    if flat.dtype == np.int64:
        return [f"{v}LL" if v != -2**63 else "(-9223372036854775807LL - 1)" for v in flat.tolist()]
    return [str(v) for v in flat.tolist()]


def c_array(name: str, values: np.ndarray, attributes: str = "", align_bytes: int = 4,
            static: bool = False) -> str:
    """``const T name[N] = {...};`` with alignment and placement attributes."""
    ctype = c_type_of(values.dtype)
    items = _literal_list(values)
    lines = [", ".join(items[i:i + PER_LINE]) for i in range(0, len(items), PER_LINE)] or ["0"]
    body = ",\n    ".join(lines)
    prefix = "static " if static else ""
    attrs = f" {attributes}" if attributes else ""
    count = max(len(items), 1)
    return (f"{prefix}const {ctype} {name}[{count}] __attribute__((aligned({align_bytes}))){attrs} = {{\n"
            f"    {body}\n}};\n")


__all__ = ["C_TYPES", "c_array", "c_type_of"]
