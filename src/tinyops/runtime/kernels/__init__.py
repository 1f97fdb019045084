"""Reference kernels, one module per op family. Importing this package registers them all."""

from tinyops.runtime.kernels import (  # noqa: F401
    activations,
    binary,
    conv,
    data_movement,
    fully_connected,
    pooling,
    quantize,
    softmax,
)
from tinyops.runtime.kernels.base import (
    BatchNotSupported,
    KernelUnsupported,
    PreparedKernel,
    kernel_factory,
    register_kernel,
)

__all__ = ["BatchNotSupported", "KernelUnsupported", "PreparedKernel", "kernel_factory", "register_kernel"]
