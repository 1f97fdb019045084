"""Self-checking programs for the C kernels: single ops, bit for bit against tinyops.runtime.

A :class:`KernelCase` is one op of a real subgraph with seeded random inputs and the runtime's
output for them. :func:`program_source` writes one C program that, per case, lays the inputs out
in an arena (in place when the case says so: the layouts of ``memory/inplace.py``), calls the
kernel through the code :mod:`emit_ops` emits, and compares the output bytes with the runtime's.
The same program builds for the host (optionally under ASan/UBSan) and as bare-metal firmware for
QEMU's Cortex-M machines, where it reports through semihosting and can time each case with
SysTick (under ``-icount shift=0`` a tick is a fixed number of instructions). Its exit status is
the number of mismatching cases.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Sequence, cast

import numpy as np

from tinyops.errors import TinyOpsError
from tinyops.ir.dtypes import DType
from tinyops.ir.graph import Op, Quantization, Subgraph, Tensor
from tinyops.ops.common import output_size
from tinyops.runtime.kernels import kernel_factory
from tinyops.runtime.kernels.base import KernelOptions
from tinyops.backends.c.emit_ops import KERNEL_SOURCES, c_array, emit_op, kernel_dir

InPlace = Literal["none", "elementwise", "depthwise", "pointwise", "pad"]
ALIGN_BYTES = 8


@dataclass(frozen=True)
class QemuTarget:
    machine: str
    cflags: tuple[str, ...]
    origin: int  # code + data memory (one writable RAM region holds the whole firmware)
    length_bytes: int
    instructions_per_tick: int  # SysTick under -icount shift=0 (notes/qemu_cortex_m.md)


QEMU_TARGETS: dict[str, QemuTarget] = {
    "m4": QemuTarget("mps2-an386", ("-mcpu=cortex-m4", "-mfpu=fpv4-sp-d16", "-mfloat-abi=hard"),
                     0x00000000, 4 << 20, 40),
    "m7": QemuTarget("mps2-an500", ("-mcpu=cortex-m7", "-mfpu=fpv5-d16", "-mfloat-abi=hard"),
                     0x00000000, 4 << 20, 40),
    "m33": QemuTarget("mps2-an505", ("-mcpu=cortex-m33", "-mfpu=fpv5-sp-d16", "-mfloat-abi=hard"),
                      0x10000000, 4 << 20, 50),
    # ITCM (Secure) holds the whole firmware; SysTick's rate there is not documented in the notes
    "m55": QemuTarget("mps3-an547", ("-mcpu=cortex-m55", "-mfloat-abi=hard"), 0x10000000, 512 << 10, 0),
}

CFLAGS = ("-std=c99", "-Wall", "-Wextra", "-Werror")


@dataclass
class KernelCase:
    name: str
    subgraph: Subgraph
    op_index: int
    inputs: list[np.ndarray]  # the op's activation (non-constant) inputs, in input order
    expected: np.ndarray
    inplace: InPlace = "none"
    repeat: int = 1  # how many times the firmware runs the kernel when counting
    # Channel-range partitions (conv/depthwise/FC): split points; each range's filter rows are
    # copied into an overlay buffer first, as an overlay plan does.
    splits: tuple[int, ...] = ()


def runtime_output(subgraph: Subgraph, op_index: int, inputs: Sequence[np.ndarray]) -> np.ndarray:
    """What tinyops.runtime computes for the op on these activation inputs."""
    op = subgraph.ops[op_index]
    factory = kernel_factory(op)
    if factory is None:
        raise TinyOpsError(f"{op.label} has no runtime kernel")
    arrays: list[np.ndarray | None] = []
    supplied = iter(inputs)
    for tensor in op.inputs:
        if tensor is None:
            arrays.append(None)
        elif tensor.is_constant:
            arrays.append(np.asarray(tensor.data))
        else:
            arrays.append(np.asarray(next(supplied)).reshape(tensor.shape))
    # Absent optional operands stay None, as the interpreter passes them.
    return np.asarray(factory(op, KernelOptions())(cast(list[np.ndarray], arrays))[0])


def make_case(name: str, subgraph: Subgraph, op_index: int, inplace: InPlace = "none", seed: int = 0,
              repeat: int = 1) -> KernelCase:
    """Random inputs over each type's whole range (float inputs: normal, scaled by 4)."""
    rng = np.random.default_rng(seed)
    op = subgraph.ops[op_index]
    inputs = []
    for tensor in op.inputs:
        if tensor is None or tensor.is_constant:
            continue
        dtype = tensor.dtype.numpy
        if np.issubdtype(dtype, np.integer):
            info = np.iinfo(dtype)
            inputs.append(rng.integers(info.min, info.max, size=tensor.shape, endpoint=True, dtype=dtype))
        else:
            inputs.append((rng.standard_normal(tensor.shape) * 4).astype(dtype))
    return KernelCase(name, subgraph, op_index, inputs, runtime_output(subgraph, op_index, inputs), inplace, repeat)


def _align(n: int) -> int:
    return (n + ALIGN_BYTES - 1) // ALIGN_BYTES * ALIGN_BYTES


def _layout(case: KernelCase) -> tuple[list[int], int, int]:
    """Arena offsets of the inputs and of the output, and the arena bytes the case needs."""
    in_sizes = [a.nbytes for a in case.inputs]
    out_bytes = case.expected.nbytes
    if case.inplace == "none":
        offsets, top = [], 0
        for size in in_sizes:
            offsets.append(top)
            top = _align(top + size)
        return offsets, top, top + out_bytes
    if case.inplace == "pad":
        return [out_bytes - in_sizes[0]], 0, out_bytes  # input ends where the output ends
    return [0] + [_align(max(in_sizes[0], out_bytes))] * (len(in_sizes) - 1), 0, max(in_sizes[0], out_bytes) + 8


def program_source(cases: Sequence[KernelCase], count: bool = False) -> str:
    """One C file running every case; main returns the number of mismatching cases."""
    parts = ['#include <stdint.h>\n#include <string.h>\n#include "tinyops_kernels.h"\n',
             '#include "kernel_check_io.h"\n\n']
    arena_bytes, scratch_bytes, overlay_bytes, runs = 8, 4, 4, []
    for number, case in enumerate(cases):
        prefix = f"c{number}_"
        offsets, out_offset, need = _layout(case)
        arena_bytes = max(arena_bytes, need)
        op = case.subgraph.ops[case.op_index]
        activation = [t for t in op.inputs if t is not None and not t.is_constant]
        where = {id(t): off for t, off in zip(activation, offsets)}
        output = op.outputs[0]

        def ref(tensor: object, where: dict[int, int] = where, output: object = output,
                out_offset: int = out_offset) -> str:
            offset = out_offset if tensor is output else where[id(tensor)]
            return f"(arena + {offset})"

        emitted = emit_op(case.subgraph, case.op_index, ref, scratch="scratch", prefix=prefix)
        call = emitted.call
        if case.splits:
            weights = emitted.filter
            assert weights is not None and emitted.partitionable
            bounds = [0, *case.splits, emitted.out_channels]
            row = weights.row_elements
            overlay_bytes = max(overlay_bytes, max(b - a for a, b in zip(bounds, bounds[1:])) * row)
            call = "\n    ".join(
                f"memcpy(overlay, {weights.name} + {a * row}, {(b - a) * row});\n    "
                + emitted.call_range(a, b, "(const int8_t *)overlay")
                for a, b in zip(bounds, bounds[1:]))
        scratch_bytes = max(scratch_bytes, emitted.scratch_bytes)
        parts.append(f"/* case {number}: {case.name} ({op.kind}, {case.inplace}) */\n")
        parts.append(emitted.declarations)
        for array in emitted.constants:
            parts.append(array.c_definition())
        for k, data in enumerate(case.inputs):
            parts.append(c_array(f"{prefix}in{k}", "uint8_t", np.frombuffer(np.ascontiguousarray(data).tobytes(),
                                                                             np.uint8), "static const"))
        parts.append(c_array(f"{prefix}expected", "uint8_t",
                             np.frombuffer(np.ascontiguousarray(case.expected).tobytes(), np.uint8), "static const"))
        copies = "".join(f"    memcpy(arena + {off}, {prefix}in{k}, sizeof({prefix}in{k}));\n"
                         for k, off in enumerate(offsets))
        timed = count and case.repeat > 0
        parts.append(f"static int {prefix}run(void)\n{{\n    uint32_t ticks;\n    int32_t r;\n"
                     f"    memset(arena, 0x5a, sizeof(arena));\n{copies}"
                     f"    {call}\n"
                     f"    if (memcmp(arena + {out_offset}, {prefix}expected, sizeof({prefix}expected)) != 0) {{\n"
                     f'        check_report("{case.name}", -1);\n        return 1;\n    }}\n')
        if timed:
            again = copies if case.inplace != "none" else ""  # in place, the input must be restored
            parts.append(f"    ticks = check_ticks();\n    for (r = 0; r < {case.repeat}; r++) {{\n{again}"
                         f"        {call}\n    }}\n"
                         f'    check_report("{case.name}", (int32_t)(check_ticks() - ticks));\n')
        else:
            parts.append("    (void)ticks;\n    (void)r;\n")
        parts.append("    return 0;\n}\n\n")
        runs.append(f"{prefix}run()")
    header = (f"static uint8_t arena[{_align(arena_bytes)}] __attribute__((aligned(8)));\n"
              f"static uint8_t scratch[{_align(scratch_bytes)}] __attribute__((aligned(8)));\n"
              f"static int8_t overlay[{_align(overlay_bytes)}] __attribute__((aligned(8)));\n\n")
    parts.insert(2, header)
    parts.append("int main(void)\n{\n    int bad = 0;\n")
    parts.extend(f"    bad += {run};\n" for run in runs)
    parts.append("    (void)scratch;\n    (void)overlay;\n    return bad;\n}\n")
    return "".join(parts)


IO_HOST = """#include <stdio.h>
static inline uint32_t check_ticks(void) { return 0; }
static void check_report(const char *name, int32_t value)
{
    if (value < 0) { printf("MISMATCH %s\\n", name); } else { printf("TICKS %s %ld\\n", name, (long)value); }
}
"""

# Bare metal: semihosting for text and the exit status, SysTick as the counter (it counts down).
IO_FIRMWARE = """static int32_t semihost(int32_t op, const void *arg)
{
    register int32_t r0 __asm__("r0") = op;
    register const void *r1 __asm__("r1") = arg;
    __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}
static void check_puts(const char *s) { semihost(0x04, s); }
static inline uint32_t check_ticks(void) { return 0xFFFFFFu - *(volatile uint32_t *)0xE000E018u; }
static void check_report(const char *name, int32_t value)
{
    char digits[12];
    int i = 11;
    digits[i] = 0;
    check_puts(value < 0 ? "MISMATCH " : "TICKS ");
    check_puts(name);
    check_puts(" ");
    if (value < 0) { value = 0; }
    do { digits[--i] = (char)('0' + value % 10); value /= 10; } while (value > 0 && i > 0);
    check_puts(digits + i);
    check_puts("\\n");
}
"""

STARTUP = """#include <stdint.h>
#include <string.h>
extern uint8_t __bss_start[], __bss_end[], __stack_top[];
int main(void);
static int32_t semihost_exit(int32_t op, const void *arg)
{
    register int32_t r0 __asm__("r0") = op;
    register const void *r1 __asm__("r1") = arg;
    __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}
void check_reset(void);
void check_fault(void);
void check_reset(void)
{
    uint32_t block[2];
    memset(__bss_start, 0, (size_t)(__bss_end - __bss_start));
    *(volatile uint32_t *)0xE000ED88u |= (0xFu << 20); /* CPACR: enable the FPU */
    __asm__ volatile("dsb\\n\\tisb" ::: "memory");
    *(volatile uint32_t *)0xE000E014u = 0xFFFFFFu; /* SysTick reload */
    *(volatile uint32_t *)0xE000E018u = 0;
    *(volatile uint32_t *)0xE000E010u = 5; /* enable, core clock, no interrupt */
    block[0] = 0x20026; /* ADP_Stopped_ApplicationExit */
    block[1] = (uint32_t)main();
    semihost_exit(0x20, block);
    for (;;) {}
}
void check_fault(void)
{
    uint32_t block[2] = {0x20026, 255};
    semihost_exit(0x20, block);
    for (;;) {}
}
typedef void (*vector_t)(void);
__attribute__((section(".vectors"), used)) const vector_t check_vectors[16] = {
    (vector_t)(uintptr_t)__stack_top, check_reset, check_fault, check_fault, check_fault,
    check_fault, check_fault, check_fault, 0, 0, 0, check_fault, check_fault, 0, check_fault,
    check_fault};
"""


def _linker_script(target: QemuTarget) -> str:
    return f"""MEMORY {{ RAM (rwx) : ORIGIN = {target.origin:#x}, LENGTH = {target.length_bytes:#x} }}
SECTIONS {{
  .vectors : {{ KEEP(*(.vectors)) }} > RAM
  .text : {{ *(.text*) *(.rodata*) }} > RAM
  .data : {{ *(.data*) }} > RAM
  .bss (NOLOAD) : {{ __bss_start = .; *(.bss*) *(COMMON) . = ALIGN(8); __bss_end = .; }} > RAM
  __stack_top = ORIGIN(RAM) + LENGTH(RAM);
}}
"""


def _kernel_files() -> list[str]:
    return [str(kernel_dir() / name) for name in KERNEL_SOURCES]


def _run(command: list[str], cwd: Path) -> None:
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    if result.returncode != 0:
        raise TinyOpsError(f"{command[0]} failed:\n{result.stderr[-4000:]}")


def build_host(source: str, folder: Path, sanitize: bool = False, portable: bool = True,
               opt: str = "-O2") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "check.c").write_text(source)
    (folder / "kernel_check_io.h").write_text(IO_HOST)
    exe = folder / "check"
    flags = list(CFLAGS) + [opt, "-g", f"-I{kernel_dir()}", f"-I{folder}"]
    if sanitize:
        flags += ["-fsanitize=address,undefined", "-fno-sanitize-recover=all"]
    if portable:
        flags.append("-DTINYOPS_FORCE_PORTABLE")
    _run(["gcc", *flags, "check.c", *_kernel_files(), "-o", str(exe)], folder)
    return exe


def run_host(exe: Path) -> tuple[int, str]:
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=0")
    result = subprocess.run([str(exe)], capture_output=True, text=True, timeout=120, env=env)
    return result.returncode, result.stdout + result.stderr


def build_firmware(source: str, folder: Path, core: str, portable: bool = False, opt: str = "-O2") -> Path:
    target = QEMU_TARGETS[core]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "check.c").write_text(source)
    (folder / "kernel_check_io.h").write_text(IO_FIRMWARE)
    (folder / "startup.c").write_text(STARTUP)
    (folder / "link.ld").write_text(_linker_script(target))
    elf = folder / "check.elf"
    flags = list(CFLAGS) + [opt, "-mthumb", *target.cflags, f"-I{kernel_dir()}", f"-I{folder}",
                            "-ffunction-sections", "-fdata-sections"]
    if portable:
        flags.append("-DTINYOPS_FORCE_PORTABLE")
    _run(["arm-none-eabi-gcc", *flags, "check.c", "startup.c", *_kernel_files(), "-nostartfiles",
          "--specs=nano.specs", "--specs=nosys.specs", "-Wl,--gc-sections", "-T", "link.ld",
          "-o", str(elf)], folder)
    return elf


def run_qemu(elf: Path, core: str, count: bool = False, timeout_s: float = 120) -> tuple[int, str]:
    target = QEMU_TARGETS[core]
    command = ["qemu-system-arm", "-M", target.machine, "-display", "none", "-monitor", "none",
               "-serial", "none", "-semihosting-config", "enable=on,target=native", "-kernel", str(elf)]
    if count:
        command[1:1] = ["-icount", "shift=0"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s)
    return result.returncode, result.stdout + result.stderr


def ticks(output: str) -> dict[str, int]:
    """The TICKS lines of a counting run, by case name."""
    found = {}
    for line in output.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0] == "TICKS":
            found[parts[1]] = int(parts[2])
    return found


def build_folder(tag: str) -> Path:
    """A per-user cache folder for builds (outside the repository)."""
    root = Path(tempfile.gettempdir()) / f"tinyops-kernel-check-{os.getuid()}" / tag
    root.mkdir(parents=True, exist_ok=True)
    return root


# --- synthetic single-op subgraphs (tests, benchmarks) ---------------------------------------------

def quant(scale: float | Sequence[float] | np.ndarray, zero_point: int | Sequence[int] = 0,
          axis: int = 0) -> Quantization:
    scales = np.atleast_1d(np.asarray(scale, dtype=np.float32))
    zps = np.broadcast_to(np.atleast_1d(np.asarray(zero_point, dtype=np.int64)), scales.shape).copy()
    return Quantization(scale=scales, zero_point=zps, axis=axis)


def activation(name: str, shape: tuple[int, ...], q: Quantization | None, dtype: DType = DType.INT8) -> Tensor:
    return Tensor(name, tuple(shape), dtype, q)


def constant_tensor(name: str, values: np.ndarray, dtype: DType, q: Quantization | None = None) -> Tensor:
    data = np.asarray(values, dtype=dtype.numpy)
    return Tensor(name, tuple(data.shape), dtype, q, data=data)


def single_op(kind: str, inputs: list[Tensor | None], outputs: list[Tensor], **attrs: object) -> Subgraph:
    op = Op(kind, list(inputs), list(outputs), dict(attrs))
    tensors = list(dict.fromkeys([t for t in inputs if t is not None] + outputs))
    subgraph = Subgraph("main", tensors, [op], [t for t in inputs if t is not None and not t.is_constant],
                        list(outputs))
    subgraph.link()
    return subgraph


def weighted_op(kind: Literal["CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"], in_shape: tuple[int, ...],
                out_c: int, kernel: tuple[int, int] = (1, 1), stride: int = 1, padding: str = "SAME",
                dilation: int = 1, activation_fn: str = "NONE", seed: int = 0, bias_range: int = 3000,
                out_scale: float | None = None) -> Subgraph:
    """A conv / depthwise / FC op with random per-channel int8 weights and a realistic output scale
    (or ``out_scale``); biases uniform in +-``bias_range``."""
    rng = np.random.default_rng(seed)
    in_scale, in_zp = 0.05, int(rng.integers(-20, 20))
    if kind == "FULLY_CONNECTED":
        depth = int(in_shape[-1])
        w = rng.integers(-127, 128, size=(out_c, depth))
        taps, fan_in = depth, depth
        attrs: dict[str, object] = {"fused_activation_function": activation_fn}
    else:
        k_h, k_w = kernel
        in_c = int(in_shape[3])
        w = rng.integers(-127, 128, size=(out_c, k_h, k_w, in_c) if kind == "CONV_2D" else (1, k_h, k_w, out_c))
        fan_in = k_h * k_w * (in_c if kind == "CONV_2D" else 1)
        attrs = {"padding": padding, "stride_h": stride, "stride_w": stride, "dilation_h_factor": dilation,
                 "dilation_w_factor": dilation, "fused_activation_function": activation_fn}
        if kind == "DEPTHWISE_CONV_2D":
            attrs["depth_multiplier"] = out_c // in_c
    w_scales = rng.uniform(0.002, 0.02, size=out_c)
    axis = 3 if kind == "DEPTHWISE_CONV_2D" else 0
    weights = constant_tensor("w", w, DType.INT8, quant(w_scales, 0, axis))
    bias = constant_tensor("b", rng.integers(-bias_range, bias_range, size=out_c), DType.INT32,
                           quant(in_scale * w_scales, 0))
    if out_scale is None:
        out_scale = float(in_scale * w_scales.mean() * np.sqrt(fan_in) * 60)
    if kind == "FULLY_CONNECTED":
        out_shape: tuple[int, ...] = (int(np.prod(in_shape[:-1])), out_c)
    else:
        out_h = output_size(in_shape[1], kernel[0], stride, dilation, padding)
        out_w = output_size(in_shape[2], kernel[1], stride, dilation, padding)
        out_shape = (in_shape[0], out_h, out_w, out_c)
    x = activation("x", in_shape, quant(in_scale, in_zp))
    y = activation("y", out_shape, quant(out_scale, int(rng.integers(-10, 10))))
    return single_op(kind, [x, weights, bias], [y], **attrs)
