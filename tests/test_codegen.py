"""C generation without running it: the plan view, the project files, bad input (exit 2, one line)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import model_path
from tinyops.backends.c.linker import linker_script
from tinyops.backends.c.plan_view import view
from tinyops.backends.c.targets import qemu_map
from tinyops.frontends import load_model
from tinyops.hw.board import load_board
from tinyops.kernels import TINYOPS

VWW = model_path("vww_mobilenetv1_96_int8")
F746 = "stm32f746g-disco"


def tinyops(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tinyops.cli", *args], capture_output=True, text=True, env=env)


def assert_one_line_error(done: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    for needle in needles:
        assert needle in lines[0]


def small_board(tmp_path: Path) -> Path:
    """The F746 with 128 KiB of flash and 96 KiB of SRAM: VWW's weights must go external."""
    source = (Path(__file__).resolve().parents[1] / "src/tinyops/hw/boards/stm32f746g-disco.toml").read_text()
    text = source.replace('id = "stm32f746g-disco"', 'id = "small-f746"')
    text = re.sub(r'(name = "SRAM1"\nkind = "SRAM1"\nbase = 0x20010000\nsize_bytes = )245760', r"\g<1>32768", text)
    text = re.sub(r'\[\[sram\]\]\nname = "SRAM2".*?\n\n', "", text, flags=re.S)
    text = text.replace('"SRAM1", "SRAM2", ', '"SRAM1", ')
    text = text.replace("[flash]\nsize_bytes = 1048576", "[flash]\nsize_bytes = 131072")
    text = re.sub(r"\[paper_config\].*", "", text, flags=re.S)
    path = tmp_path / "small-f746.toml"
    path.write_text(text)
    return path


def test_internal_view_is_the_memory_plan() -> None:
    deployment = view(load_model(VWW), load_board(F746), "internal", "best")
    # The best planner's arena, in-place kinds included: 46,080 B of activations (the planner's
    # figure under TFLM's scratch rules, where VWW asks for none) plus the C kernels' own scratch.
    assert deployment.arena_bytes == deployment.plan.arena_bytes == 46320
    assert deployment.plan.arena_runtime == "tinyops" and deployment.plan.kernels == "tinyops"
    assert all(s.scratch or not TINYOPS.scratch_bytes(s.op) for s in deployment.steps)  # scratch is planned
    assert any(s.inplace_kind == "depthwise" for s in deployment.steps)
    for slot in deployment.tensors.values():
        assert 0 <= slot.offset_bytes and slot.offset_bytes + slot.size_bytes <= deployment.arena_bytes
    assert set(deployment.constant_memory.values()) == {"flash"}


def test_overlay_view_has_channel_ranges_and_transfers(tmp_path: Path) -> None:
    deployment = view(load_model(VWW), load_board(str(small_board(tmp_path))), "overlay-v2")
    assert deployment.transfers
    split = [s for s in deployment.steps if len(s.partitions) > 1]
    assert split, "the small board must force partitioned ops"
    for step in split:
        ranges = [(p.channel_lo, p.channel_hi) for p in step.partitions]
        assert ranges[0][0] == 0 and all(a[1] == b[0] for a, b in zip(ranges, ranges[1:]))
        assert all(p.overlay_offset_bytes is not None and p.transfer is not None for p in step.partitions)
    for t in deployment.transfers:
        assert t.dst_offset_bytes + t.plan_bytes <= deployment.arena_bytes


def test_linker_script_names_every_region(tmp_path: Path) -> None:
    board = load_board(str(small_board(tmp_path)))
    script = linker_script(qemu_map(board, "qemu-m33"), 1024)
    assert "ORIGIN = 0x10000000, LENGTH = 131072" in script  # code RAM as long as the board's flash
    assert "ORIGIN = 0x38000000, LENGTH = 98304" in script
    assert "> EXT_RAM AT > EXT_FLASH" in script
    assert script.count("ASSERT(") >= 4


def test_generate_writes_a_project(tmp_path: Path) -> None:
    out = tmp_path / "vww"
    done = tinyops("generate", str(VWW), "--board", F746, "--output", str(out), "--no-build", "--json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert {"model.c", "model.h", "Makefile", "tinyops.ld", "main.c", "memory_map.json"} <= set(data["files"])
    model_c = (out / "model.c").read_text()
    assert "void tinyops_invoke(const int8_t *in, int8_t *out)" in model_c
    # A person finds op 17 and its arena offsets; in-place ops say so.
    assert re.search(r"/\* op 17: DEPTHWISE_CONV_2D in=arena\+(\d+) \[1x6x6x128\] out=arena\+\1 \[1x6x6x128\] "
                     r"in-place \(depthwise\) \*/", model_c)
    assert "uint8_t tinyops_arena[TINYOPS_ARENA_BYTES]" in model_c
    assert "#define TINYOPS_ARENA_BYTES 46320u" in (out / "model.h").read_text()  # activations + scratch
    assert "#define TINYOPS_EXTRA_SCRATCH_BYTES 0u" in (out / "model.h").read_text()  # all scratch is planned
    assert data["memory_map"]["prediction"]["arena_bytes"] == 46320


def test_generate_refuses_an_existing_folder(tmp_path: Path) -> None:
    out = tmp_path / "taken"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    done = tinyops("generate", str(VWW), "--board", F746, "--output", str(out), "--no-build")
    assert_one_line_error(done, "exists", "--force")
    assert (out / "keep.txt").read_text() == "mine"


def test_unsupported_op_is_refused_with_kind_and_index(tmp_path: Path) -> None:
    done = tinyops("generate", str(model_path("mnist_lenet_300_100_ptq")), "--board", F746, "--output",
                   str(tmp_path / "x"), "--no-build")
    assert_one_line_error(done, "LOG_SOFTMAX", "op 6")
    assert not (tmp_path / "x").exists()


def test_missing_toolchain_names_the_packages(tmp_path: Path) -> None:
    env = dict(os.environ, PATH=str(tmp_path))
    done = tinyops("verify", str(VWW), "--board", F746, "--target", "qemu-m4", env=env)
    assert_one_line_error(done, "gcc-arm-none-eabi", "qemu-system-arm")


def test_plan_that_does_not_fit_is_refused(tmp_path: Path) -> None:
    done = tinyops("generate", str(VWW), "--board", str(small_board(tmp_path)), "--output", str(tmp_path / "x"),
                   "--no-build")
    assert_one_line_error(done, "does not fit", "flash")


@pytest.mark.skipif(not shutil.which("gcc"), reason="needs the host C compiler")
def test_c_engine_matches_the_runtime(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import numpy as np

    from tinyops.backends.c.host_engine import CEngine
    from tinyops.runtime import Interpreter

    monkeypatch.setenv("TINYOPS_CACHE_DIR", str(tmp_path / "cache"))
    graph = load_model(model_path("kws_dscnn_int8"))
    batch = np.random.default_rng(3).integers(-128, 128, (5, 49, 10, 1)).astype(np.int8)
    engine = CEngine(graph)
    assert engine.library_path.is_file()
    got = engine.run([batch])[0]
    want = Interpreter(graph).run([batch])[0]
    assert got.shape == want.shape == (5, 12) and np.array_equal(got, want)
    assert CEngine(graph).library_path == engine.library_path  # cached per model


def test_tinyops_kernel_profile_is_derived_from_emulation() -> None:
    from tinyops.kernels.profile import load_params
    from tinyops.planning.common import PlanOptions
    from tinyops.planning.internal import plan_internal
    from tinyops.sim.simulator import simulate

    for core in ("M4", "M7", "M33"):
        params = load_params(core, "tinyops")
        assert params.status == "derived" and "emulation" in params.source and "QEMU" in params.source
    plan = plan_internal(load_model(VWW), load_board(F746), PlanOptions(kernels="tinyops", runtime="tinyops"))
    assert plan.kernels == "tinyops" and plan.arena_runtime == "tinyops" and plan.runtime_overhead_bytes == 0
    assert plan.feasible and simulate(plan).latency_ms > 0


@pytest.mark.parametrize("name", ["vww_mobilenetv1_96_int8", "kws_dscnn_int8", "ic_resnet8_int8", "mcunet_vww"])
def test_tinyops_library_scratch_is_the_emitters(name: str) -> None:
    """The planner's scratch for tinyops (kernels/tinyops_scratch.py) is what the C kernels use."""
    from tinyops.backends.c.emit_ops import scratch_bytes
    from tinyops.kernels import TINYOPS

    main = load_model(model_path(name)).main
    for i, op in enumerate(main.ops):
        assert TINYOPS.support(op).runnable, (i, op.kind)
        assert TINYOPS.scratch_bytes(op) == scratch_bytes(main, i), (i, op.kind)


def test_tinyops_library_lists_the_emitters_kinds() -> None:
    from tinyops.backends.c.emit_ops import supported_kinds
    from tinyops.kernels.tinyops_scratch import TINYOPS_KINDS

    assert set(supported_kinds()) == TINYOPS_KINDS  # planning and generation agree on what runs


def test_tinyops_library_refuses_ops_without_a_c_kernel() -> None:
    from tinyops.ir.dtypes import DType
    from tinyops.ir.graph import Op, Tensor
    from tinyops.kernels import TINYOPS

    x = Tensor("x", (1, 4), DType.INT8)
    lstm = Op("UNIDIRECTIONAL_SEQUENCE_LSTM", [x], [Tensor("y", (1, 4), DType.INT8)])
    verdict = TINYOPS.support(lstm)
    assert verdict.status == "unsupported" and "UNIDIRECTIONAL_SEQUENCE_LSTM" in (verdict.reason or "")
    float_add = Op("ADD", [Tensor("a", (4,), DType.FLOAT32)], [Tensor("b", (4,), DType.FLOAT32)])
    assert TINYOPS.support(float_add).status == "unsupported"


@pytest.mark.skipif(not shutil.which("gcc"), reason="needs the host C compiler")
def test_generate_without_test_vectors_runs_on_zeros(tmp_path: Path) -> None:
    out = tmp_path / "kws"
    done = tinyops("generate", str(model_path("kws_dscnn_int8")), "--board", F746, "--output", str(out),
                   "--no-build", "--inputs", "0")
    assert done.returncode == 0, done.stderr
    assert "#define TINYOPS_TEST_VECTORS 0" in (out / "test_data.h").read_text()
    built = subprocess.run(["make", "-s", "-C", str(out), "host"], capture_output=True, text=True)
    assert built.returncode == 0, built.stderr
    ran = subprocess.run([str(out / "model_host")], capture_output=True, text=True)
    assert ran.returncode == 0 and "tinyops: vectors 0" in ran.stdout


def test_in_place_kernels_get_their_scratch_in_the_arena() -> None:
    """An in-place depthwise op's copy buffer is its kernel's scratch: planned at least that large,
    so no scratch lives beside the arena (mcunet_vww used to need 1,776 B there)."""
    from tinyops.backends.c.emit_ops import scratch_bytes

    deployment = view(load_model(model_path("mcunet_vww")), load_board(F746), "internal", "best")
    main = deployment.graph.main
    assert any(s.inplace_kind == "depthwise" for s in deployment.steps)
    for step in deployment.steps:
        need = scratch_bytes(main, step.op_index)
        if need:
            assert max(s.size_bytes for s in step.scratch) >= need, (step.op_index, step.op.kind)


def test_row_tiled_candidates_are_not_generated(monkeypatch: pytest.MonkeyPatch) -> None:
    """The generator cannot execute row tiles yet: it takes a candidate without them, or refuses."""
    from dataclasses import replace

    from tinyops.backends.c import plan_view
    from tinyops.errors import TinyOpsError
    from tinyops.planning.common import PlanOptions
    from tinyops.planning.internal import plan_internal

    graph, board = load_model(VWW), load_board(F746)
    options = PlanOptions(kernels="tinyops", runtime="tinyops")
    flat = plan_internal(graph, board, options)
    tiled = plan_internal(graph, board, options)
    tiled.steps[0].partitions = [replace(tiled.steps[0].partitions[0], row_start=0, row_stop=8)]
    monkeypatch.setattr(plan_view, "candidates", lambda *args, **kwargs: [tiled, flat])
    assert plan_view.choose_plan(graph, board, "overlay-v2", options) is flat
    monkeypatch.setattr(plan_view, "candidates", lambda *args, **kwargs: [tiled])
    with pytest.raises(TinyOpsError, match="row tiles"):
        plan_view.choose_plan(graph, board, "overlay-v2", options)
