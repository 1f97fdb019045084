"""Tensor element types, named as in the TFLite schema, with their storage size."""

from __future__ import annotations

from enum import Enum

import numpy as np


class DType(Enum):
    """Element type of a tensor. The value is the lower-case TFLite TensorType name."""

    FLOAT32 = "float32"
    FLOAT16 = "float16"
    BFLOAT16 = "bfloat16"
    FLOAT64 = "float64"
    INT2 = "int2"
    INT4 = "int4"
    UINT4 = "uint4"
    INT8 = "int8"
    UINT8 = "uint8"
    INT16 = "int16"
    UINT16 = "uint16"
    INT32 = "int32"
    UINT32 = "uint32"
    INT64 = "int64"
    UINT64 = "uint64"
    BOOL = "bool"
    STRING = "string"
    COMPLEX64 = "complex64"
    COMPLEX128 = "complex128"
    RESOURCE = "resource"
    VARIANT = "variant"
    FLOAT8_E4M3FN = "float8_e4m3fn"
    FLOAT8_E5M2 = "float8_e5m2"

    @property
    def bits(self) -> int:
        return _BITS[self]

    @property
    def numpy(self) -> np.dtype:
        """The NumPy type that holds one element (sub-byte types are held unpacked in int8)."""
        try:
            return np.dtype(_NUMPY[self])
        except KeyError:
            raise TypeError(f"{self.value} tensors have no NumPy element type") from None

    @property
    def is_float(self) -> bool:
        return self in (DType.FLOAT32, DType.FLOAT16, DType.BFLOAT16, DType.FLOAT64)

    def storage_bytes(self, num_elements: int) -> int:
        """Bytes to store ``num_elements`` packed (sub-byte types two or four per byte, rounded up)."""
        return (num_elements * self.bits + 7) // 8


_BITS: dict[DType, int] = {
    DType.FLOAT32: 32, DType.FLOAT16: 16, DType.BFLOAT16: 16, DType.FLOAT64: 64,
    DType.INT2: 2, DType.INT4: 4, DType.UINT4: 4, DType.INT8: 8, DType.UINT8: 8,
    DType.INT16: 16, DType.UINT16: 16, DType.INT32: 32, DType.UINT32: 32,
    DType.INT64: 64, DType.UINT64: 64, DType.BOOL: 8, DType.STRING: 8,
    DType.COMPLEX64: 64, DType.COMPLEX128: 128, DType.RESOURCE: 32, DType.VARIANT: 32,
    DType.FLOAT8_E4M3FN: 8, DType.FLOAT8_E5M2: 8,
}

_NUMPY: dict[DType, str] = {
    DType.FLOAT32: "float32", DType.FLOAT16: "float16", DType.FLOAT64: "float64",
    DType.INT4: "int8", DType.UINT4: "uint8", DType.INT2: "int8",
    DType.INT8: "int8", DType.UINT8: "uint8", DType.INT16: "int16", DType.UINT16: "uint16",
    DType.INT32: "int32", DType.UINT32: "uint32", DType.INT64: "int64", DType.UINT64: "uint64",
    DType.BOOL: "bool", DType.COMPLEX64: "complex64", DType.COMPLEX128: "complex128",
}
