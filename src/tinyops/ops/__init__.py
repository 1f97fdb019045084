"""Per-op knowledge. Importing this package registers every op family."""

from tinyops.ops import conv, data_movement, elementwise, fully_connected, pooling  # noqa: F401
from tinyops.ops.registry import OpSpec, infer_output_shapes, known_kinds, register, spec_for

__all__ = ["OpSpec", "infer_output_shapes", "known_kinds", "register", "spec_for"]
