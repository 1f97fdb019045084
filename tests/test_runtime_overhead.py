"""TFLM's persistent (tail) allocations: the formula against the TFLM Python interpreter."""

from __future__ import annotations

import pytest

from conftest import SHARED_MODELS, model_path
from tinyops.frontends import load_model
from tinyops.memory.runtime_overhead import (CORTEX_M_ABI, PYTHON_WHEEL_ABI, struct_bytes, tflm_runtime_overhead,
                                             tflm_runtime_overhead_bytes)
from tinyops.memory.runtime_overhead import (_BUILTIN_OPTIONS, NODE_AND_REGISTRATION, TFLITE_EVAL_TENSOR,
                                             TFLITE_TENSOR, _op_data_fields)
from tinyops.oracles import tflm_arena

TFLM_CANNOT_LOAD = {"kws_dscnn_float32", "person_detect_vela"}
TFLM_MODELS = [p for p in SHARED_MODELS if p.stem not in TFLM_CANNOT_LOAD]


@pytest.mark.parametrize("path", TFLM_MODELS, ids=[p.stem for p in TFLM_MODELS])
def test_64bit_formula_reproduces_python_interpreter_tail(path) -> None:
    graph = load_model(path)
    measured = tflm_arena(path.read_bytes())["tail"]
    ours = tflm_runtime_overhead_bytes(graph, pointer_size_bytes=8)
    assert abs(ours - measured) <= 0.05 * measured, (ours, measured)


def test_struct_sizes_match_tflm_on_both_abis() -> None:
    # 64-bit sizes as the wheel's recording allocator reports them (89 eval tensors: 2,136 B;
    # 31 NodeAndRegistration: 1,984 B; 2 persistent TfLiteTensors: 128 B, VWW).
    assert struct_bytes(TFLITE_EVAL_TENSOR, PYTHON_WHEEL_ABI) == 24
    assert struct_bytes(NODE_AND_REGISTRATION, PYTHON_WHEEL_ABI) == 64
    assert struct_bytes(TFLITE_TENSOR, PYTHON_WHEEL_ABI) == 64
    # 32-bit sizes as arm-none-eabi-g++ 12.2 -mcpu=cortex-m4 lays TFLM's headers out (short enums).
    assert struct_bytes(TFLITE_EVAL_TENSOR, CORTEX_M_ABI) == 12
    assert struct_bytes(NODE_AND_REGISTRATION, CORTEX_M_ABI) == 28 + 4
    assert struct_bytes(TFLITE_TENSOR, CORTEX_M_ABI) == 32
    expected_op_data = {"CONV_2D": (56, 80), "FULLY_CONNECTED": (48, 72), "SOFTMAX": (56, 80), "ADD": (60, 60),
                        "MUL": (36, 36), "QUANTIZE": (32, 32), "DEQUANTIZE": (32, 32), "MEAN": (44, 44),
                        "SVDF": (36, 36), "LOGISTIC": (16, 16)}
    for kind, (cortex_m, wheel) in expected_op_data.items():
        assert struct_bytes(_op_data_fields(kind, CORTEX_M_ABI), CORTEX_M_ABI) == cortex_m, kind  # type: ignore[arg-type]
        assert struct_bytes(_op_data_fields(kind, PYTHON_WHEEL_ABI), PYTHON_WHEEL_ABI) == wheel, kind  # type: ignore[arg-type]
    options = {"ADD": 2, "FULLY_CONNECTED": 5, "CONV_2D": 28, "DEPTHWISE_CONV_2D": 28, "AVERAGE_POOL_2D": 40,
               "RESHAPE": 36, "SVDF": 8, "UNIDIRECTIONAL_SEQUENCE_LSTM": 16, "CAST": 2, "CONCATENATION": 8}
    for kind, size in options.items():
        assert struct_bytes(_BUILTIN_OPTIONS[kind], CORTEX_M_ABI) == size, kind


def test_vww_32bit_overhead_is_dominated_by_per_channel_arrays() -> None:
    graph = load_model(model_path("vww_mobilenetv1_96_int8"))
    breakdown = tflm_runtime_overhead(graph, CORTEX_M_ABI)
    # 27 conv/depthwise ops with 2,736 output channels in all: int32 multiplier + shift each.
    assert breakdown.per_channel_quantization_bytes == 8 * 2736
    assert breakdown.counts["ops"] == 31 and breakdown.counts["tensors"] == 89
    assert breakdown.total_bytes == tflm_runtime_overhead_bytes(graph)
    assert breakdown.total_bytes < tflm_runtime_overhead_bytes(graph, pointer_size_bytes=8)
    assert not breakdown.unknown_ops


def test_analyze_reports_arena_overhead_and_total_and_fits_on_the_total() -> None:
    import dataclasses

    from tinyops.analysis import analyze
    from tinyops.hw.board import load_board

    graph = load_model(model_path("vww_mobilenetv1_96_int8"))
    board = load_board("stm32f746g-disco")
    totals = analyze(graph, board=board, kernels="tflm-reference").totals
    assert totals.sram_lower_bound_bytes == 55_296  # live bytes: what any planner needs at least
    assert totals.arena_bytes == 73_728  # TFLM's own planner (the interpreter's head)
    assert totals.runtime_overhead_bytes == tflm_runtime_overhead_bytes(graph)
    assert totals.sram_bytes == totals.arena_bytes + totals.runtime_overhead_bytes
    # A board whose SRAM holds the lower bound but not arena + overhead: does not fit.
    region = dataclasses.replace(board.sram_regions[1], size_bytes=totals.sram_lower_bound_bytes + 1024)
    small = dataclasses.replace(board, sram_regions=(region,))
    fit = analyze(graph, board=small, kernels="tflm-reference").board
    assert fit is not None and not fit.fits_sram and fit.sram_needed_bytes == totals.sram_bytes


def test_suite_skips_model_tests_with_a_message_when_shared_models_are_absent(tmp_path) -> None:
    import os
    import subprocess
    import sys
    from pathlib import Path

    tests = Path(__file__).parent
    env = dict(os.environ, TINYOPS_SHARED_MODELS=str(tmp_path))
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-n", "0", "-rs", "-p", "no:cacheprovider",
                           str(tests / "test_runtime_overhead.py"), str(tests / "test_runtime_fixedpoint.py")],
                          capture_output=True, text=True, env=env, cwd=tests.parent)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "needs the shared third-party models" in done.stdout and str(tmp_path) in done.stdout
    assert " passed" in done.stdout and "1 skipped" in done.stdout


def test_cmsis_nn_opdata_and_scratch_handles_add_to_the_32bit_overhead() -> None:
    from tinyops.analysis import analyze

    graph = load_model(model_path("vww_mobilenetv1_96_int8"))
    reference = tflm_runtime_overhead(graph, CORTEX_M_ABI)
    scratch_ops = sum(1 for op in analyze(graph, kernels="cmsis-nn").ops if op.scratch_bytes)
    cmsis = tflm_runtime_overhead(graph, CORTEX_M_ABI, kernels="cmsis-nn", scratch_buffers=scratch_ops)
    # Conv/depthwise OpData grow 56 -> 60 B, still one 16-byte-aligned 64 B block; AVERAGE_POOL_2D 32 -> 36
    # (48 aligned) and FULLY_CONNECTED 48 -> 72 (80 aligned); one 4-byte handle per scratch request.
    assert cmsis.total_bytes - reference.total_bytes == 16 + 32 + 4 * scratch_ops
    assert analyze(graph, kernels="cmsis-nn").totals.runtime_overhead_bytes == cmsis.total_bytes


# `arena_used_bytes()` of stock TFLM (tflite-micro 90b983c, reference kernels, MicroAllocator,
# arm-none-eabi-g++ 12.2 -O2 -mcpu=cortex-m4 -mfloat-abi=hard) after AllocateTensors, on QEMU 7.2
# mps2-an386; how it was built and run: docs/tflm_overhead.md. Head = the interpreter's head, which
# the `tflm` planner reproduces exactly (tests/test_memory_tflm.py); tail = used - head.
CORTEX_M4_ARENA_USED_BYTES = {
    "vww_mobilenetv1_96_int8": 100_660, "mcunet_vww": 219_744, "ic_resnet8_int8": 54_340, "kws_dscnn_int8": 22_772,
    "ad_fc_autoencoder_int8": 2_260, "person_detect": 82_292, "micro_speech_quantized": 6_788,
    "hello_world_int8": 676, "mcunet_detection": 379_936, "keyword_scrambled_8bit": 8_052,
    "mnist_lenet_300_100_ptq": 4_816,
}


@pytest.mark.parametrize("stem", sorted(CORTEX_M4_ARENA_USED_BYTES))
def test_32bit_formula_matches_tflm_built_for_cortex_m4(stem: str) -> None:
    from tinyops.memory import plan_memory

    graph = load_model(model_path(stem))
    head = plan_memory(graph, planner="tflm", kernels="tflm-reference").arena_bytes
    measured_tail = CORTEX_M4_ARENA_USED_BYTES[stem] - head
    ours = tflm_runtime_overhead_bytes(graph)
    assert abs(ours - measured_tail) <= 0.03 * measured_tail, (ours, measured_tail)
