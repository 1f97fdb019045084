"""Per-kernel-library knowledge: one :class:`KernelLibrary` descriptor per library (scratch rules,
in-place kinds, supported ops, runtime) and its cost profiles (:mod:`tinyops.kernels.profile`)."""

from tinyops.kernels.library import (CMSIS_NN, INPLACE_KINDS, KERNEL_LIBRARIES, LIBRARIES, RUNTIMES,
                                     TFLM_INPLACE_KINDS, TFLM_REFERENCE, TINYOPS, InplaceKind, KernelLibrary,
                                     KernelLibraryName, OpSupport, Runtime, kernel_library, scratch_requests)

__all__ = ["CMSIS_NN", "INPLACE_KINDS", "KERNEL_LIBRARIES", "KernelLibrary", "KernelLibraryName", "InplaceKind",
           "LIBRARIES", "OpSupport", "RUNTIMES", "Runtime", "TFLM_INPLACE_KINDS", "TFLM_REFERENCE", "TINYOPS",
           "kernel_library", "scratch_requests"]
