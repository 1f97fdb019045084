"""Generated C built with the real toolchains and run: bit-exact on emulated Cortex-M4/M7/M33 (and
M55) under QEMU and on the host with ASan/UBSan, for every shared int8 model the kernels support,
a zoo model, in-place (best planner) arenas and overlay plans with the deferred and PL081 DMA."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from conftest import model_path
from test_codegen import small_board
from tinyops.backends.c.driver import verify
from tinyops.frontends import load_model
from tinyops.hw.board import load_board
from tinyops.zoo import build_model

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not (shutil.which("arm-none-eabi-gcc") and shutil.which("qemu-system-arm")),
                       reason="needs gcc-arm-none-eabi, libnewlib-arm-none-eabi and qemu-system-arm (CI installs them)"),
]

TARGETS = ("qemu-m4", "qemu-m7", "qemu-m33", "host")
# Every shared int8 model whose ops the runtime and the C kernels support, with a board it fits.
MODELS = {
    "ic_resnet8_int8": "stm32f746g-disco",
    "ic_resnet_large_int8": "stm32h743i-eval",
    "kws_dscnn_int8": "stm32f746g-disco",
    "vww_mobilenetv1_96_int8": "stm32f746g-disco",
    "ad_fc_autoencoder_int8": "stm32f746g-disco",
    "sww_ref_model": "stm32f746g-disco",
    "person_detect": "stm32f746g-disco",
    "hello_world_int8": "stm32f746g-disco",
    "micro_speech_quantized": "stm32f746g-disco",
    "simple_add_model": "stm32f746g-disco",
    "mcunet_vww": "stm32f746g-disco",
    "mcunet_detection": "stm32h743i-eval",
}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_shared_models_bit_exact_everywhere(name: str) -> None:
    graph = load_model(model_path(name))
    board = load_board(MODELS[name])
    for target in TARGETS:
        result = verify(graph, board, target, inputs=1, seed=7, count=False)
        assert result.bit_exact, f"{name} on {target}: {result.mismatches} bytes differ\n{result.output}"


def test_zoo_model_bit_exact() -> None:
    graph = build_model("mobilenetv3-small", 0.5, 64, classes=10)
    board = load_board("stm32f746g-disco")
    for target in ("qemu-m4", "qemu-m55", "host"):
        assert verify(graph, board, target, inputs=2, count=False).bit_exact


def test_counts_per_op_and_memory() -> None:
    graph = load_model(model_path("vww_mobilenetv1_96_int8"))
    result = verify(graph, load_board("stm32f746g-disco"), "qemu-m4", inputs=2)
    # 46,080 B of activations (the best planner) + the C kernels' scratch, planned in the arena.
    assert result.bit_exact and result.arena_bytes == 46320 and result.extra_scratch_bytes == 0
    assert len(result.ops) == len(graph.main.ops)
    assert result.instructions == sum(o.instructions for o in result.ops) > 0
    convs = [o for o in result.ops if o.type == "CONV_2D"]
    assert all(o.bytes_read.get("flash", 0) > 0 and o.bytes_written.get("DTCM", 0) > 0 for o in convs)
    again = verify(graph, load_board("stm32f746g-disco"), "qemu-m4", inputs=2)
    assert [o.instructions for o in again.ops] == [o.instructions for o in result.ops]  # deterministic
    assert result.ram_bytes < 46320 + 8192 and result.stack_used_bytes > 0


def test_tflm_planner_arena_bit_exact() -> None:
    graph = load_model(model_path("vww_mobilenetv1_96_int8"))
    result = verify(graph, load_board("stm32f746g-disco"), "qemu-m33", planner="tflm", inputs=1, count=False)
    assert result.bit_exact and result.planner == "tflm" and result.arena_bytes > 46080


@pytest.mark.parametrize("strategy", ["overlay-v1", "overlay-v2"])
def test_overlays_bit_exact_with_deferred_and_pl081(strategy: str, tmp_path: Path) -> None:
    graph = load_model(model_path("vww_mobilenetv1_96_int8"))
    board = load_board(str(small_board(tmp_path)))  # 128 KiB flash: the weights must live in QSPI
    deferred = verify(graph, board, "qemu-m4", strategy, dma="deferred", inputs=2)
    assert deferred.bit_exact and deferred.dma == "deferred"
    assert deferred.external_bytes.get("qspi", 0) > board.internal_flash.size_bytes
    assert sum(o.bytes_read.get("sdram", 0) for o in deferred.ops) > 0  # slices copied from the boot copy
    pl081 = verify(graph, board, "qemu-m33", strategy, inputs=2, count=False)
    assert pl081.bit_exact and pl081.dma == "pl081"


def test_deferred_dma_catches_a_dropped_wait(tmp_path: Path) -> None:
    graph = load_model(model_path("vww_mobilenetv1_96_int8"))
    board = load_board(str(small_board(tmp_path)))
    dropped = verify(graph, board, "qemu-m4", "overlay-v2", dma="deferred", inputs=2, drop_wait=20, count=False)
    assert not dropped.bit_exact and dropped.mismatches > 0


def test_external_xip_bit_exact(tmp_path: Path) -> None:
    graph = load_model(model_path("kws_dscnn_int8"))
    board = load_board(str(small_board(tmp_path)))
    result = verify(graph, board, "qemu-m7", "external-xip", inputs=2, count=False)
    assert result.bit_exact


def test_generate_for_the_board_builds_with_the_stm32_dma(tmp_path: Path) -> None:
    from tinyops.backends.c.driver import generate

    graph = load_model(model_path("vww_mobilenetv1_96_int8"))
    board = load_board(str(small_board(tmp_path)))
    result = generate(graph, board, tmp_path / "out", "overlay-v2", build=True)
    data = result.memory_map
    assert result.built and data["dma"] == "stm32"
    elf = data["elf_bytes_by_memory"]
    assert elf["sdram"] >= data["planned_bytes_by_memory"]["sdram"] and elf["qspi"] == elf["sdram"]
    assert elf["flash"] <= board.internal_flash.size_bytes
    assert (tmp_path / "out" / "firmware.elf").is_file() is False  # built in a scratch copy, not shipped
    symbols = {s["symbol"]: s for s in data["symbols"]}
    assert symbols["tinyops_arena"]["elf_size_bytes"] == data["prediction"]["arena_bytes"]


def test_systick_fallback_agrees_with_the_plugin() -> None:
    graph = load_model(model_path("kws_dscnn_int8"))
    board = load_board("stm32f746g-disco")
    plugin = verify(graph, board, "qemu-m33", inputs=1)
    systick = verify(graph, board, "qemu-m33", inputs=1, counting="systick")
    assert systick.bit_exact and systick.counted_with.startswith("-icount")
    for a, b in zip(plugin.ops, systick.ops):
        assert abs(a.instructions - b.instructions) <= 2 * 50  # one SysTick tick is 50 instructions on an505
