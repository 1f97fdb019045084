"""One descriptor per kernel library: what a deployment built with it can run and what it needs.

A :class:`KernelLibrary` holds, for one library, everything the pipeline must know about it:
the runtime its kernels run under, the scratch buffers each op asks the arena for, the in-place
kinds its kernels follow, which ops it can run (and which it only runs through a fallback), and
its cost profile (``tinyops/kernels/profiles/<library>.toml``, fitted by
``benchmarks/calibrate.py``). Analysis, the memory planner, the placement planners and the cost
model all ask here; none re-derives it.

``tinyops`` (the code generator's own kernels, ``backends/c``) runs under the ``tinyops`` runtime (no
interpreter), follows every in-place kind, runs int8 ops of the kinds its emitters implement and
nothing else (no fallback), and its cost profiles are derived from instruction counts under QEMU
(``benchmarks/fit_tinyops_profile.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Mapping, get_args

from tinyops.errors import TinyOpsError
from tinyops.ir.graph import Op
from tinyops.kernels.cmsis_scratch import CMSIS_NN_RULES
from tinyops.kernels.tflm_scratch import TFLM_CUSTOM_RULES, TFLM_REFERENCE_RULES, ScratchRule
from tinyops.kernels.tinyops_scratch import TINYOPS_KINDS, TINYOPS_RULES
from tinyops.ops import spec_for

KernelLibraryName = Literal["tflm-reference", "cmsis-nn", "x-cube-ai", "tinyengine", "tinyops"]
KERNEL_LIBRARIES: tuple[KernelLibraryName, ...] = get_args(KernelLibraryName)
# A library's own generated runtime (X-CUBE-AI's network_runtime, TinyEngine's generated code): a
# static arena planned by the vendor's tool, not TFLM's interpreter.
LibraryRuntime = Literal["tflm", "tinyops", "own"]
# The runtime a plan's arena is laid out for: TFLM's interpreter (stock kernels, its own arena
# rules) or tinyops' generated code (which can follow every in-place kind).
Runtime = Literal["tflm", "tinyops"]
RUNTIMES: tuple[Runtime, ...] = get_args(Runtime)
# In-place kinds (see tinyops.memory.inplace for the byte relation each one promises).
InplaceKind = Literal["view", "elementwise", "depthwise", "pointwise", "pad"]
INPLACE_KINDS: tuple[InplaceKind, ...] = get_args(InplaceKind)
# TFLM's RESHAPE skips its copy when input and output share bytes, and its reference elementwise
# loops read element i before writing element i: the only in-place kinds stock TFLM follows.
TFLM_INPLACE_KINDS: tuple[InplaceKind, ...] = ("view", "elementwise")
# Custom ops TFLM registers (micro_mutable_op_resolver.h: the signal library and detection
# post-processing). "ethos-u" needs an Ethos-U NPU, which no Cortex-M board here has.
TFLM_CUSTOM_OPS = frozenset({
    "TFLite_Detection_PostProcess", "SignalDelay", "SignalEnergy", "SignalFftAutoScale", "SignalFilterBank",
    "SignalFilterBankLog", "SignalFilterBankSquareRoot", "SignalFilterBankSpectralSubtraction", "SignalFramer",
    "SignalIrfft", "SignalOverlapAdd", "SignalPCAN", "SignalRfft", "SignalStacker", "SignalWindow",
})
NPU_CUSTOM_OPS = frozenset({"ethos-u"})

SupportStatus = Literal["native", "fallback", "estimate", "unsupported"]


@dataclass(frozen=True)
class OpSupport:
    """Whether a library runs one op: ``native``/``fallback`` are costed, ``estimate`` is costed
    with stated assumptions (``reason``), ``unsupported`` makes a plan infeasible."""

    status: SupportStatus
    library: str  # the library whose kernel runs it (a fallback's name for fallbacks)
    reason: str | None = None

    @property
    def runnable(self) -> bool:
        return self.status != "unsupported"


@dataclass(frozen=True)
class KernelLibrary:
    name: KernelLibraryName
    runtime: LibraryRuntime
    inplace_kinds: tuple[InplaceKind, ...]
    # op kind -> scratch rule for the ops this library implements itself.
    scratch_rules: Mapping[str, ScratchRule]
    custom_scratch_rules: Mapping[str, ScratchRule] = field(default_factory=dict)
    # Ops the library lacks run on this library's kernels (CMSIS-NN inside TFLM: the reference ones).
    fallback: KernelLibrary | None = None
    # Data types the library's own kernels take; other ops go to the fallback.
    native_dtypes: tuple[str, ...] | None = None  # None: any
    # A library without a fallback that runs only these kinds (None: every kind TFLM registers).
    supported_kinds: frozenset[str] | None = None
    description: str = ""

    def implements(self, op: Op) -> bool:
        """The library has its own kernel for ``op`` (kind and data type)."""
        if self.fallback is None:
            return True
        if op.kind not in self.scratch_rules:
            return False
        data = op.input(0)
        return self.native_dtypes is None or data is None or data.dtype.value in self.native_dtypes

    def kernel_library_for(self, op: Op) -> KernelLibrary:
        return self if self.implements(op) or self.fallback is None else self.fallback.kernel_library_for(op)

    def scratch_requests(self, op: Op) -> list[int]:
        """Bytes of each scratch buffer ``op`` asks the arena for, in request order."""
        lib = self.kernel_library_for(op)
        if op.kind == "CUSTOM":
            rule = lib.custom_scratch_rules.get(op.custom_code or "")
        else:
            rule = lib.scratch_rules.get(op.kind)
        return [int(b) for b in rule(op)] if rule is not None else []

    def scratch_bytes(self, op: Op) -> int:
        """Scratch of ``op`` in total (all its requests are live during the op)."""
        return sum(self.scratch_requests(op))

    def support(self, op: Op) -> OpSupport:
        """Can a deployment built with this library run ``op``? (see :class:`OpSupport`; the
        reason does not name the op: callers prefix its index and kind)."""
        if self.supported_kinds is not None and self.fallback is None:
            if op.kind not in self.supported_kinds:
                return OpSupport("unsupported", self.name, f"{self.name} has no kernel for {op.kind}")
            # QUANTIZE / DEQUANTIZE convert at the edge: one side in a native type is enough.
            ends = [t for t in (op.input(0), op.outputs[0] if op.outputs else None) if t is not None]
            if self.native_dtypes is not None and ends and all(t.dtype.value not in self.native_dtypes for t in ends):
                return OpSupport("unsupported", self.name, f"{self.name} has no {ends[0].dtype.value} kernel "
                                                           f"(its kernels take {', '.join(self.native_dtypes)})")
        if op.kind == "CUSTOM":
            code = op.custom_code or ""
            if code in NPU_CUSTOM_OPS:
                return OpSupport("unsupported", self.name,
                                 f"an Ethos-U NPU command stream; {self.name} runs on the CPU and has no kernel "
                                 f"for it (plan the model before Vela compiles it)")
            if code not in TFLM_CUSTOM_OPS:
                return OpSupport("unsupported", self.name, f"custom op {code!r} has no kernel in {self.name} "
                                                           f"(TFLM registers no such op)")
        lib = self.kernel_library_for(op)
        spec = spec_for(op)
        if spec.opaque:
            return OpSupport("estimate", lib.name,
                             f"{lib.name} runs it, but the cost model has no rule for it; costed as one pass over "
                             f"its output elements (a lower bound)")
        if lib is not self:
            data = op.input(0)
            dtype = data.dtype.value if data is not None else "?"
            why = (f"{self.name} has no {dtype} kernel" if op.kind in self.scratch_rules
                   else f"{self.name} has no kernel for {op.kind}")
            if data is not None and data.dtype.is_float and spec.category in ("conv", "depthwise", "fc"):
                return OpSupport("estimate", lib.name,
                                 f"{why}; TFLM runs {lib.name}'s kernel, costed with {self.name}'s int8 "
                                 f"coefficients (an underestimate)")
            return OpSupport("fallback", lib.name, f"{why}; runs {lib.name}'s kernel")
        return OpSupport("native", self.name)


TFLM_REFERENCE = KernelLibrary(
    "tflm-reference", "tflm", TFLM_INPLACE_KINDS, TFLM_REFERENCE_RULES, TFLM_CUSTOM_RULES,
    description="TFLM's portable reference kernels (tensorflow/lite/micro/kernels)")
CMSIS_NN = KernelLibrary(
    "cmsis-nn", "tflm", TFLM_INPLACE_KINDS, CMSIS_NN_RULES, fallback=TFLM_REFERENCE,
    native_dtypes=("int8", "int16"),
    description="Arm CMSIS-NN kernels inside TFLM (kernels/cmsis_nn); other ops use the reference kernels")
TINYOPS = KernelLibrary(
    "tinyops", "tinyops", INPLACE_KINDS, TINYOPS_RULES, native_dtypes=("int8",), supported_kinds=TINYOPS_KINDS,
    description="tinyops' generated C kernels (backends/c): int8, portable C with DSP paths; no interpreter")
# Vendor code generators: tinyops plans their arena with CMSIS-NN's scratch rules and TFLM's in-place
# kinds (their own planners are not public; an estimate, said so in their profiles), and costs them
# with their fitted profiles. Their runtime RAM and code flash are in the profile's [version.memory].
X_CUBE_AI = KernelLibrary(
    "x-cube-ai", "own", TFLM_INPLACE_KINDS, CMSIS_NN_RULES, fallback=None, native_dtypes=("int8",),
    description="STMicroelectronics X-CUBE-AI / STM32Cube.AI generated network (network_runtime library); "
                "arena rules approximated by CMSIS-NN's scratch")
TINYENGINE = KernelLibrary(
    "tinyengine", "own", TFLM_INPLACE_KINDS, CMSIS_NN_RULES, fallback=None, native_dtypes=("int8",),
    description="MIT TinyEngine generated code (in-place depthwise, patch-based inference not modelled); "
                "arena rules approximated by CMSIS-NN's scratch")
LIBRARIES: dict[str, KernelLibrary] = {lib.name: lib for lib in (TFLM_REFERENCE, CMSIS_NN, X_CUBE_AI, TINYENGINE, TINYOPS)}


def split_kernels_spec(spec: str) -> tuple[str, str | None]:
    """``"cmsis-nn@2020"`` -> ``("cmsis-nn", "2020")``; a bare id -> ``(id, None)`` (the newest version)."""
    name, sep, version = str(spec).partition("@")
    if sep and not version:
        raise TinyOpsError(f"kernel library {spec!r}: empty version after '@'")
    if name not in KERNEL_LIBRARIES:
        raise TinyOpsError(f"unknown kernel library {name!r}; known: {', '.join(KERNEL_LIBRARIES)} "
                           f"(optionally ID@VERSION)")
    return name, (version or None)


def kernel_library(name: str) -> KernelLibrary:
    """The descriptor of library ``name`` (``ID`` or ``ID@VERSION``; a user error names the known ones)."""
    return LIBRARIES[split_kernels_spec(name)[0]]


def kernels_arg(spec: str) -> str:
    """argparse ``type=`` for ``--kernels``: checks the id and, if given, the profile version."""
    import argparse

    from tinyops.kernels.profile import resolve  # profiles are data next to this module

    try:
        resolve(spec)
    except TinyOpsError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return spec


def scratch_requests(op: Op, kernels: str = "tflm-reference") -> list[int]:
    return kernel_library(kernels).scratch_requests(op)


__all__ = ["CMSIS_NN", "INPLACE_KINDS", "KERNEL_LIBRARIES", "KernelLibrary", "KernelLibraryName", "InplaceKind",
           "LIBRARIES", "LibraryRuntime", "OpSupport", "RUNTIMES", "Runtime", "TFLM_INPLACE_KINDS", "TFLM_REFERENCE",
           "TINYENGINE", "TINYOPS", "X_CUBE_AI", "kernel_library", "kernels_arg", "scratch_requests",
           "split_kernels_spec"]
