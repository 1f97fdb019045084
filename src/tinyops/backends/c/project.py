"""A generated C99 project: model.c/.h (one kernel call per op in plan order, tensors at fixed arena
offsets, overlay transfers around partitions), the weights placed by the plan, a self-checking
main.c with seeded test vectors and their expected outputs from ``tinyops.runtime``, the DMA
back ends, start-up code, a linker script and a Makefile.

Nothing runs at generation time: the caller (``generate``/``verify``) builds and runs it.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from tinyops.backends.c.carrays import C_TYPES, c_array
from tinyops.backends.c.emit import StepCode, emit_step
from tinyops.backends.c.linker import STACK_BYTES, linker_script
from tinyops.backends.c.plan_view import DeploymentView, PartitionView, StepView
from tinyops.backends.c.targets import MemoryMap
from tinyops.errors import TinyOpsError
from tinyops.hw.board import FLASH_NAME
from tinyops.ir.graph import Tensor

TEMPLATE_FILES = ("startup.c", "tinyops_semihost.h", "tinyops_dma.h", "tinyops_dma_memcpy.c",
                  "tinyops_dma_deferred.c", "tinyops_dma_pl081.c", "tinyops_dma_stm32.c")
SCRATCH_ALIGN_BYTES = 16


@dataclass(frozen=True)
class PlacedSymbol:
    """A symbol the plan places: what it is, which board memory holds it, how many bytes."""

    symbol: str
    what: str
    memory: str
    section: str
    size_bytes: int


@dataclass
class Project:
    files: dict[str, bytes]
    view: DeploymentView
    memory_map: MemoryMap
    symbols: list[PlacedSymbol]
    dma: str
    extra_scratch_bytes: int
    inputs: list[list[np.ndarray]] = field(default_factory=list)
    expected: list[list[np.ndarray]] = field(default_factory=list)


def _c_type(tensor: Tensor) -> str:
    ctype = C_TYPES.get(tensor.dtype)
    if ctype is None:
        raise TinyOpsError(f"model input/output {tensor.name!r} has type {tensor.dtype.value}, which generated "
                           f"code does not pass")
    return ctype


def _section_macro(view: DeploymentView, memory: str) -> tuple[str, str]:
    """(attribute macro, section name) for constants the plan keeps in ``memory``."""
    if memory == FLASH_NAME:
        return "", ".rodata"
    ext = next((m for m in view.board.external_memories if m.name == memory), None)
    if ext is None:
        raise TinyOpsError(f"the plan keeps constants in {memory}, which board {view.board.id} does not have")
    if not ext.memory_mapped:
        raise TinyOpsError(f"the plan reads constants from {memory} ({ext.kind}), which is not memory-mapped; "
                           f"generate supports memory-mapped external memories only")
    return ("TINYOPS_IN_SDRAM", ".sdram") if ext.volatile else ("TINYOPS_IN_EXT_FLASH", ".ext_flash")


class _Pointers:
    """Tensor -> C pointer expression into the arena (or the model's input/output pointers)."""

    def __init__(self, view: DeploymentView) -> None:
        self.view = view
        self.index = {id(t): i for i, t in enumerate(view.graph.main.tensors)}
        self.constants: dict[int, str] = {}  # constant operands a kernel reads through a pointer

    def constant_definitions(self) -> list[tuple[str, str, int]]:
        """(C definition, name, bytes) of the constant operands referenced so far."""
        out = []
        for index, name in sorted(self.constants.items()):
            values = np.ascontiguousarray(self.view.graph.main.tensors[index].data)
            out.append((c_array(name, values, static=True), name, int(values.nbytes)))
        return out

    def offset(self, tensor: Tensor) -> int:
        i = self.index[id(tensor)]
        slot = self.view.tensors.get(i)
        if slot is None:
            raise TinyOpsError(f"tensor {tensor.name!r} has no arena offset in the plan")
        return slot.offset_bytes

    def __call__(self, tensor: Tensor) -> str:
        if tensor.is_constant:
            index = self.index[id(tensor)]
            if tensor.dtype not in C_TYPES:
                raise TinyOpsError(f"constant operand {tensor.name!r} has type {tensor.dtype.value}, which generated "
                                   f"code does not store")
            return self.constants.setdefault(index, f"tinyops_const_t{index}")
        return f"(tinyops_arena + {self.offset(tensor)})"


def _describe(view: DeploymentView, step: StepView, ptr: _Pointers) -> str:
    def where(t: Tensor) -> str:
        return f"arena+{ptr.offset(t)} [{'x'.join(str(d) for d in t.shape)}]"

    ins = ", ".join(where(t) for t in step.op.inputs if t is not None and not t.is_constant)
    outs = ", ".join(where(t) for t in step.op.outputs)
    extra = f" in-place ({step.inplace_kind})" if step.inplace_kind else ""
    parts = f" in {len(step.partitions)} partitions" if len(step.partitions) > 1 else ""
    return f"/* op {step.op_index}: {step.op.label} in={ins} out={outs}{extra}{parts} */"


def _program_order(view: DeploymentView) -> list[tuple[int, int]]:
    return [(s.step, p.index) for s in view.steps for p in s.partitions]


def _start_positions(view: DeploymentView) -> dict[int, int]:
    """Transfer id -> position in program order before which it starts.

    Double buffering: one partition ahead of the one that needs it, and never before the
    partition that frees its destination has ended (the plan's ``after``).
    """
    order = {ref: k for k, ref in enumerate(_program_order(view))}
    out: dict[int, int] = {}
    for t in view.transfers:
        need = order[t.needed_by]
        earliest = order[t.after] + 1 if t.after is not None else 0
        out[t.id] = max(earliest, need - 1)
    return out


def _scratch_expr(step: StepView, needed_bytes: int, arena_bytes: int, extra: list[int]) -> str:
    """The kernel's scratch: the plan's scratch slot for the op, else arena bytes nothing uses
    during the op, else one buffer beside the arena (counted apart)."""
    if needed_bytes <= 0:
        return "(void *)0"
    for slot in step.scratch:
        if slot.size_bytes >= needed_bytes and slot.offset_bytes % 4 == 0:
            return f"(void *)(tinyops_arena + {slot.offset_bytes})"
    gap = step.free_gap(needed_bytes, arena_bytes)
    if gap is not None:
        return f"(void *)(tinyops_arena + {gap})  /* free during this op */"
    extra.append(needed_bytes)
    return "(void *)tinyops_scratch"


def render_model(view: DeploymentView,
                 drop_wait: int | None = None) -> tuple[dict[str, str], list[PlacedSymbol], int]:
    """model.h and model.c; placed symbols; bytes of scratch outside the arena."""
    graph = view.graph.main
    ptr = _Pointers(view)
    symbols: list[PlacedSymbol] = [PlacedSymbol("tinyops_arena", "activation arena (plan)", view.arena_memory,
                                                ".tinyops_arena", view.arena_bytes)]
    weights: list[str] = []
    body: list[str] = []
    extra_scratch: list[int] = []
    starts = _start_positions(view)
    transfers = {t.id: t for t in view.transfers}
    filters: dict[int, tuple[str, int]] = {}  # tensor index -> (array name, bytes per output channel)
    tensor_index = ptr.index
    emitted_ops: dict[int, StepCode] = {}
    declarations: list[str] = []
    for step in view.steps:
        emitted = emit_step(view.graph, step, ptr)
        emitted_ops[step.step] = emitted
        if emitted.declarations:
            declarations.append(emitted.declarations)
        for array in emitted.params:
            weights.append(array.c_definition("static const", "__attribute__((aligned(4)))"))
            symbols.append(PlacedSymbol(array.name, f"op {step.op_index} {step.op.label} {array.role}", FLASH_NAME,
                                        ".rodata", array.size_bytes))
        filt = emitted.filter
        if filt is not None:
            index = tensor_index[id(step.op.inputs[1])]
            memory = view.constant_memory.get(index, FLASH_NAME)
            macro, section = _section_macro(view, memory)
            weights.append(filt.c_definition("static const", f"__attribute__((aligned(32))) {macro}".strip()))
            symbols.append(PlacedSymbol(filt.name, f"op {step.op_index} {step.op.label} filter", memory,
                                        section, filt.size_bytes))
            filters[index] = (filt.name, filt.row_elements)
    for definition, name, size in ptr.constant_definitions():
        weights.append(definition)
        symbols.append(PlacedSymbol(name, "constant operand", FLASH_NAME, ".rodata", size))
    position = 0
    for step in view.steps:
        emitted = emitted_ops[step.step]
        scratch = _scratch_expr(step, emitted.scratch_bytes, view.arena_bytes, extra_scratch)
        body.append("    " + _describe(view, step, ptr))
        body.append("    TINYOPS_OP_MARKER();")
        for part in step.partitions:
            for t in sorted(t for t, p in starts.items() if p == position):
                tr = transfers[t]
                if tr.tensor_index not in filters:
                    raise TinyOpsError(f"transfer {t} moves a constant that is not a filter of the model")
                name, row = filters[tr.tensor_index]
                nbytes = (tr.channel_hi - tr.channel_lo) * row
                body.append(f"    tinyops_dma_start({t}u, tinyops_arena + {tr.dst_offset_bytes}, "
                            f"(const int8_t *){name} + {tr.channel_lo * row}, {nbytes}u);"
                            f"  /* op {view.steps[tr.needed_by[0]].op_index} channels "
                            f"{tr.channel_lo}..{tr.channel_hi - 1} */")
            if part.transfer is not None:
                if part.transfer == drop_wait:
                    body.append(f"    /* wait for transfer {part.transfer} deliberately dropped */")
                else:
                    body.append(f"    tinyops_dma_wait({part.transfer}u);")
            filt = emitted.filter
            expr = _filter_expr(part, filt.name, filt.row_elements) if filt is not None else None
            body.append("    " + emitted.call(expr, part.channel_lo, part.channel_hi, scratch))
            position += 1
    body.append("    TINYOPS_OP_MARKER();")
    inputs = [(f"in{i}" if len(graph.inputs) > 1 else "in", t) for i, t in enumerate(graph.inputs)]
    outputs = [(f"out{i}" if len(graph.outputs) > 1 else "out", t) for i, t in enumerate(graph.outputs)]
    params = ", ".join([f"const {_c_type(t)} *{n}" for n, t in inputs] + [f"{_c_type(t)} *{n}" for n, t in outputs])
    copy_in = [f"    memcpy(tinyops_arena + {ptr.offset(t)}, {n}, {t.size_bytes}u);" for n, t in inputs]
    copy_out = [f"    memcpy({n}, tinyops_arena + {ptr.offset(t)}, {t.size_bytes}u);" for n, t in outputs]
    scratch_bytes = max(extra_scratch, default=0)
    scratch_bytes = -(-scratch_bytes // SCRATCH_ALIGN_BYTES) * SCRATCH_ALIGN_BYTES
    if scratch_bytes:
        symbols.append(PlacedSymbol("tinyops_scratch", "kernel scratch the plan does not reserve (outside the arena)",
                                    view.arena_memory, ".bss", scratch_bytes))
    header = _model_h(view, params, inputs, outputs, scratch_bytes)
    model_c = "\n".join([
        f"/* Generated by tinyops: {Path(view.model).name} on {view.label}, strategy {view.strategy}, "
        f"planner {view.planner}. */",
        "#include <stdint.h>", "#include <string.h>", "", '#include "model.h"', '#include "tinyops_dma.h"',
        '#include "tinyops_kernels.h"', '#include "tinyops_sections.h"', "",
        "#if defined(TINYOPS_PROFILE)", "void tinyops_op_marker(void);",
        "#define TINYOPS_OP_MARKER() tinyops_op_marker()", "#else", "#define TINYOPS_OP_MARKER() ((void)0)", "#endif", "",
        f"/* The plan's arena: every activation, scratch and overlay buffer at a fixed offset ({view.arena_bytes} B). */",
        "TINYOPS_IN_ARENA uint8_t tinyops_arena[TINYOPS_ARENA_BYTES] __attribute__((aligned(16)));",
        *([f"/* Kernel scratch the plan does not reserve: outside the arena, counted apart. */",
           f"static uint8_t tinyops_scratch[{scratch_bytes}] __attribute__((aligned(16)));"] if scratch_bytes else []),
        "", "/* Constants: filters where the plan keeps them (see tinyops_sections.h), the rest in flash. */",
        *weights, "/* Kernel parameters. */", *declarations,
        f"void tinyops_invoke({params}) {{", *copy_in, *body, *copy_out, "}", ""])
    return {"model.h": header, "model.c": model_c}, symbols, scratch_bytes


def _filter_expr(part: PartitionView, filter_name: str | None, row_elements: int) -> str | None:
    if part.overlay_offset_bytes is not None:
        return f"(const int8_t *)(tinyops_arena + {part.overlay_offset_bytes})"
    if filter_name is None:
        return None
    return f"{filter_name} + {part.channel_lo * row_elements}" if part.channel_lo else filter_name


def _model_h(view: DeploymentView, params: str, inputs: list[tuple[str, Tensor]],
             outputs: list[tuple[str, Tensor]], scratch_bytes: int) -> str:
    lines = ["#ifndef TINYOPS_MODEL_H", "#define TINYOPS_MODEL_H", "", "#include <stdint.h>", "",
             f"/* {Path(view.model).name} on {view.label}: strategy {view.strategy}, planner {view.planner}. */",
             f"#define TINYOPS_ARENA_BYTES {view.arena_bytes}u",
             f"#define TINYOPS_EXTRA_SCRATCH_BYTES {scratch_bytes}u",
             f"#define TINYOPS_NUM_INPUTS {len(inputs)}", f"#define TINYOPS_NUM_OUTPUTS {len(outputs)}",
             f"#define TINYOPS_NUM_OPS {len(view.steps)}"]
    for i, (_, t) in enumerate(inputs):
        lines.append(f"#define TINYOPS_INPUT{i}_BYTES {t.size_bytes}u  /* {t.name}: {list(t.shape)} {t.dtype.value} */")
    for i, (_, t) in enumerate(outputs):
        lines.append(f"#define TINYOPS_OUTPUT{i}_BYTES {t.size_bytes}u  /* {t.name}: {list(t.shape)} {t.dtype.value} */")
    lines += ["", "extern uint8_t tinyops_arena[TINYOPS_ARENA_BYTES];", "",
              "/* One inference: inputs and outputs in the model's order. Not reentrant (one static arena). */",
              f"void tinyops_invoke({params});", "", "#endif", ""]
    return "\n".join(lines)


SECTIONS_H = """/* Where generated symbols go. The linker script maps each section onto a board memory. */
#ifndef TINYOPS_SECTIONS_H
#define TINYOPS_SECTIONS_H
#if defined(TINYOPS_HOST)
#define TINYOPS_IN_EXT_FLASH
#define TINYOPS_IN_SDRAM
#define TINYOPS_IN_ARENA
#define TINYOPS_IN_HARNESS_DATA
#define TINYOPS_IN_HARNESS_BSS
#else
#define TINYOPS_IN_EXT_FLASH __attribute__((section(".ext_flash")))
#define TINYOPS_IN_SDRAM __attribute__((section(".sdram")))
#define TINYOPS_IN_ARENA __attribute__((section(".tinyops_arena")))
#if defined(TINYOPS_HARNESS_REGION)
#define TINYOPS_IN_HARNESS_DATA __attribute__((section(".harness_data")))
#define TINYOPS_IN_HARNESS_BSS __attribute__((section(".harness_bss")))
#else
#define TINYOPS_IN_HARNESS_DATA
#define TINYOPS_IN_HARNESS_BSS
#endif
#endif
#endif
"""


def render_test_data(inputs: list[list[np.ndarray]], expected: list[list[np.ndarray]]) -> str:
    lines = ["/* Seeded random inputs and the outputs tinyops.runtime computes for them. */", "#include <stdint.h>",
             '#include "tinyops_sections.h"', '#include "test_data.h"', ""]
    for k, vector in enumerate(inputs):
        for i, array in enumerate(vector):
            lines.append(c_array(f"tinyops_test_in{i}_{k}", np.ascontiguousarray(array), "TINYOPS_IN_HARNESS_DATA",
                                 align_bytes=16))
    for k, vector in enumerate(expected):
        for i, array in enumerate(vector):
            lines.append(c_array(f"tinyops_test_out{i}_{k}", np.ascontiguousarray(array), "TINYOPS_IN_HARNESS_DATA",
                                 align_bytes=16))
    n_in = len(inputs[0]) if inputs else 0
    n_out = len(expected[0]) if expected else 0
    for i in range(n_in):
        lines.append(f"const void *const tinyops_test_in{i}[TINYOPS_TEST_VECTORS] = {{"
                     + ", ".join(f"tinyops_test_in{i}_{k}" for k in range(len(inputs))) + "};")
    for i in range(n_out):
        lines.append(f"const void *const tinyops_test_out{i}[TINYOPS_TEST_VECTORS] = {{"
                     + ", ".join(f"tinyops_test_out{i}_{k}" for k in range(len(expected))) + "};")
    return "\n".join(lines) + "\n"


def render_test_header(count: int, n_in: int, n_out: int) -> str:
    lines = ["#ifndef TINYOPS_TEST_DATA_H", "#define TINYOPS_TEST_DATA_H", f"#define TINYOPS_TEST_VECTORS {count}"]
    if count:
        lines += [f"extern const void *const tinyops_test_in{i}[TINYOPS_TEST_VECTORS];" for i in range(n_in)]
        lines += [f"extern const void *const tinyops_test_out{i}[TINYOPS_TEST_VECTORS];" for i in range(n_out)]
    return "\n".join(lines + ["#endif", ""])


def render_main(view: DeploymentView) -> str:
    graph = view.graph.main
    n_in, n_out = len(graph.inputs), len(graph.outputs)
    outs = "\n".join(f"static uint8_t out{i}[TINYOPS_OUTPUT{i}_BYTES] TINYOPS_IN_HARNESS_BSS __attribute__((aligned(16)));"
                     for i in range(n_out))
    call_args = ", ".join([f"(const void *)tinyops_test_in{i}[k]" for i in range(n_in)]
                          + [f"(void *)out{i}" for i in range(n_out)])
    zero_inputs = "\n".join(f"    static uint8_t in{i}[TINYOPS_INPUT{i}_BYTES] TINYOPS_IN_HARNESS_BSS "
                            f"__attribute__((aligned(16)));" for i in range(n_in))
    zero_args = ", ".join([f"(const void *)in{i}" for i in range(n_in)] + [f"(void *)out{i}" for i in range(n_out)])
    compares = "\n".join(
        f"        mismatches += count_mismatches(out{i}, (const uint8_t *)tinyops_test_out{i}[k], "
        f"TINYOPS_OUTPUT{i}_BYTES);" for i in range(n_out))
    return f"""/* Test harness: runs every embedded input, compares every output byte with the expected
 * output of tinyops.runtime, prints the count and exits 0 (bit-exact) or 1 through semihosting. */
#include <stdint.h>

#include "model.h"
#include "test_data.h"
#include "tinyops_dma.h"
#include "tinyops_sections.h"
#include "tinyops_semihost.h"

#if defined(TINYOPS_SYSTICK)
/* Fallback counting without the QEMU plugin: under -icount shift=0 SysTick on the core clock ticks
 * once per (clock period / 1 ns) instructions; each marker of the first inference records it. */
#define SYST_CSR (*(volatile uint32_t *)0xE000E010u)
#define SYST_RVR (*(volatile uint32_t *)0xE000E014u)
#define SYST_CVR (*(volatile uint32_t *)0xE000E018u)
static uint32_t tick_marks[TINYOPS_NUM_OPS + 1];
static uint32_t tick_count, tick_high;

static uint32_t ticks_now(void) {{
    uint32_t wrapped = SYST_CSR & (1u << 16); /* COUNTFLAG, cleared by the read */
    uint32_t value = SYST_CVR;
    if (wrapped) tick_high += 1u << 24;
    return tick_high + (0xFFFFFFu - value);
}}

__attribute__((noinline, used)) void tinyops_op_marker(void) {{
    if (tick_count < TINYOPS_NUM_OPS + 1) tick_marks[tick_count++] = ticks_now();
}}

static void start_ticks(void) {{
    SYST_RVR = 0xFFFFFFu;
    SYST_CVR = 0u;
    SYST_CSR = 5u; /* enable, processor clock, no interrupt */
}}

static void report_ticks(void) {{
    for (uint32_t k = 0; k < tick_count; k++) tinyops_put_uint("tinyops: tick ", tick_marks[k]);
}}
#else
/* QEMU's counting plugin splits instruction counts where this runs (between ops). */
__attribute__((noinline, used)) void tinyops_op_marker(void) {{ __asm__ volatile("" ::: "memory"); }}
static void start_ticks(void) {{}}
static void report_ticks(void) {{}}
#endif

#if !defined(TINYOPS_HOST)
uint32_t tinyops_stack_used(void); /* startup.c: deepest stack use since reset, in bytes */
#endif

{outs}

#if TINYOPS_TEST_VECTORS > 0
static uint32_t count_mismatches(const uint8_t *got, const uint8_t *want, uint32_t bytes) {{
    uint32_t n = 0;
    for (uint32_t i = 0; i < bytes; i++) n += got[i] != want[i];
    return n;
}}
#endif

int main(void) {{
    uint32_t mismatches = 0;
    tinyops_dma_init();
    start_ticks();
#if TINYOPS_TEST_VECTORS > 0
    for (uint32_t k = 0; k < TINYOPS_TEST_VECTORS; k++) {{
        tinyops_invoke({call_args});
{compares}
    }}
#else
    /* No embedded vectors (generate --inputs 0): one inference on zeros, nothing to compare. */
{zero_inputs}
    tinyops_invoke({zero_args});
#endif
    uint32_t pending = tinyops_dma_pending();
    report_ticks();
    tinyops_put_uint("tinyops: vectors ", TINYOPS_TEST_VECTORS);
    tinyops_put_uint("tinyops: mismatched bytes ", mismatches);
    tinyops_put_uint("tinyops: transfers left pending ", pending);
#if !defined(TINYOPS_HOST)
    tinyops_put_uint("tinyops: stack bytes used ", tinyops_stack_used());
#endif
    return (mismatches || pending) ? TINYOPS_EXIT_MISMATCH : TINYOPS_EXIT_OK;
}}
"""


def render_makefile(memory_map: MemoryMap, dma: str) -> str:
    cflags = " ".join(memory_map.cflags)
    return f"""# Generated by tinyops. `make` builds firmware.elf for {memory_map.kind} ({memory_map.core});
# `make host` builds model_host with the system compiler and sanitizers; `make lib` a shared library.
# DMA back end: memcpy | deferred | pl081 | stm32 (see tinyops_dma.h). Objects go to build/.
CC = arm-none-eabi-gcc
HOSTCC ?= gcc
CORE_FLAGS ?= {cflags}
DMA ?= {dma}
LDSCRIPT ?= tinyops.ld
OPT ?= -O2
DEFS ?= -DTINYOPS_HARNESS_REGION
WARN = -Wall -Wextra -Werror
SRCS = model.c main.c test_data.c $(wildcard kernels/*.c)
CFLAGS = $(CORE_FLAGS) -std=c99 $(OPT) $(WARN) -ffunction-sections -fdata-sections -I. -Ikernels $(DEFS)
OBJS = $(patsubst %.c,build/%.o,$(SRCS) startup.c tinyops_dma_$(DMA).c)
HEADERS = $(wildcard *.h kernels/*.h)

all: firmware.elf

build/%.o: %.c $(HEADERS)
\t@mkdir -p $(dir $@)
\t$(CC) $(CFLAGS) -c $< -o $@

firmware.elf: $(OBJS) $(LDSCRIPT)
\t$(CC) $(CORE_FLAGS) -nostartfiles --specs=nano.specs -T $(LDSCRIPT) -Wl,--gc-sections -Wl,-Map=firmware.map \\
\t\t$(OBJS) -o $@ -lc -lnosys

host: model_host
model_host: $(SRCS) tinyops_dma_$(DMA).c $(HEADERS)
\t$(HOSTCC) -std=c99 -O1 -g $(WARN) -fsanitize=address,undefined -fno-sanitize-recover=all -DTINYOPS_HOST \\
\t\t-I. -Ikernels $(DEFS) $(SRCS) tinyops_dma_$(DMA).c -o $@

lib: libtinyops_model.so
libtinyops_model.so: model.c $(wildcard kernels/*.c) tinyops_dma_memcpy.c $(HEADERS)
\t$(HOSTCC) -std=c99 -O3 -shared -fPIC $(WARN) -DTINYOPS_HOST -I. -Ikernels $(DEFS) \\
\t\tmodel.c $(wildcard kernels/*.c) tinyops_dma_memcpy.c -o $@

clean:
\trm -rf build firmware.elf firmware.map model_host libtinyops_model.so

.PHONY: all host lib clean
"""


def _package_file(folder: str, name: str) -> bytes:
    return (resources.files("tinyops.backends.c") / folder / name).read_bytes()


def kernel_files() -> dict[str, bytes]:
    folder = resources.files("tinyops.backends.c") / "kernels"
    out: dict[str, bytes] = {}
    for entry in folder.iterdir():
        if entry.name.endswith((".c", ".h")):
            out[f"kernels/{entry.name}"] = entry.read_bytes()
    if not out:
        raise TinyOpsError("the C kernel library is missing from this installation of tinyops")
    return out


def build_project(view: DeploymentView, memory_map: MemoryMap, dma: str, inputs: list[list[np.ndarray]],
                  expected: list[list[np.ndarray]], drop_wait: int | None = None) -> Project:
    sources, symbols, scratch_bytes = render_model(view, drop_wait)
    graph = view.graph.main
    files: dict[str, bytes] = {name: text.encode() for name, text in sources.items()}
    files["tinyops_sections.h"] = SECTIONS_H.encode()
    files["test_data.c"] = render_test_data(inputs, expected).encode()
    files["test_data.h"] = render_test_header(len(inputs), len(graph.inputs), len(graph.outputs)).encode()
    files["main.c"] = render_main(view).encode()
    files["tinyops.ld"] = linker_script(memory_map, view.arena_bytes, STACK_BYTES).encode()
    files["Makefile"] = render_makefile(memory_map, dma).encode()
    for name in TEMPLATE_FILES:
        files[name] = _package_file("templates", name)
    files.update(kernel_files())
    return Project(files, view, memory_map, symbols, dma, scratch_bytes, inputs, expected)


def write_project(files: dict[str, bytes], output: Path, force: bool) -> None:
    """Write into a temporary folder beside ``output``, then rename it into place."""
    if output.exists() and not force:
        raise TinyOpsError(f"{output} exists; pass --force to replace it")
    if output.exists() and not output.is_dir():
        raise TinyOpsError(f"{output} exists and is not a folder")
    output.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{output.name}.", dir=output.parent))
    try:
        for name, payload in files.items():
            path = staging / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(payload)
        staging.chmod(0o755)
        if output.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{output.name}.old.", dir=output.parent))
            old.rmdir()
            output.rename(old)
            staging.rename(output)
            shutil.rmtree(old, ignore_errors=True)
        else:
            staging.rename(output)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def symbols_json(symbols: list[PlacedSymbol]) -> list[dict[str, Any]]:
    return [{"symbol": s.symbol, "what": s.what, "memory": s.memory, "section": s.section,
             "size_bytes": s.size_bytes} for s in symbols]


__all__ = ["Project", "PlacedSymbol", "build_project", "write_project", "render_model", "symbols_json"]
