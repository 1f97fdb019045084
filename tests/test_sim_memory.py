"""The simulator: memory hierarchy (Svoboda §5.1), DMA overlap and bus contention, energy."""

from __future__ import annotations

from dataclasses import replace

import pytest

from tinyops.hw.board import load_board
from tinyops.planning.common import PlanOptions
from tinyops.planning.internal import plan_internal, with_constants_in
from tinyops.planning.plan import Transfer
from tinyops.sim.simulator import simulate
from tinyops.sim.synthetic import SyntheticBuilder, single_conv


def svoboda_layer():  # type: ignore[no-untyped-def]
    """Svoboda §5.1: the last MobileNetV2 conv, input 1x4x4x112, weights 1280x1x1x112."""
    return single_conv(112, 1280, 4)


def test_weights_on_the_sd_card_are_two_orders_of_magnitude_slower() -> None:
    board = load_board("nucleo-f767zi")
    flash_plan = plan_internal(svoboda_layer(), board)
    sram = simulate(with_constants_in(flash_plan, "SRAM1"))
    flash = simulate(flash_plan)
    sd = simulate(with_constants_in(flash_plan, "sdcard", staging="SRAM1"))
    assert abs(flash.latency_ms - sram.latency_ms) / sram.latency_ms < 0.1  # "identical at 1 ms"
    assert 30 < sd.latency_ms / sram.latency_ms < 1000  # "almost two orders of magnitude"
    assert flash.energy.total_mj > sram.energy.total_mj  # flash reads cost a little energy
    assert flash.energy.total_mj < 1.1 * sram.energy.total_mj  # Svoboda: only +0.07 mJ
    assert sd.bytes_read["sdcard"] >= 1280 * 112
    assert sd.energy.movement_mj["sdcard"] > 0


def _two_convs_with_prefetch(board_id: str, shared_bus: bool):  # type: ignore[no-untyped-def]
    """Two 1x1 convs; a DMA copies op 1's filter from QSPI while op 0 computes."""
    b = SyntheticBuilder("two-convs")
    x = b.conv(b.input((1, 16, 16, 64)), 64)
    b.conv(x, 64)
    board = load_board(board_id)
    plan = with_constants_in(plan_internal(b.finish(), board), "qspi" if shared_bus else "SRAM1")
    filter_bytes = 64 * 64
    dma = Transfer(0, "qspi", "SRAM2", filter_bytes * 40, "DMA2", needed_by=(1, 0), after=None)
    return plan, replace(plan, transfers=[dma])


def test_dma_overlaps_cpu_compute() -> None:
    plan, with_dma = _two_convs_with_prefetch("stm32f746g-disco", shared_bus=False)
    alone = simulate(plan)
    both = simulate(with_dma)
    dma_task = next(t for t in both.tasks if t.kind == "transfer")
    assert dma_task.lane.startswith("DMA2")
    assert dma_task.start_s == 0.0
    dma_s = dma_task.end_s - dma_task.start_s
    # The copy runs beside op 0: the total is less than compute + copy in series.
    assert both.latency_ms < alone.latency_ms + dma_s * 1e3 - 1e-6


def test_memory_bus_contention_slows_the_cpu() -> None:
    plan, with_dma = _two_convs_with_prefetch("stm32f746g-disco", shared_bus=True)
    alone = simulate(plan)
    both = simulate(with_dma)
    op0_alone = alone.steps[0].latency_ms
    op0_contended = both.steps[0].latency_ms
    assert op0_contended > op0_alone  # the CPU's QSPI reads share the bus with the DMA


def test_layers_add_up_and_energy_is_power_times_time_plus_movement() -> None:
    board = load_board("nucleo-f746zg")
    sim = simulate(plan_internal(single_conv(64, 64, 24), board))
    assert sum(s.latency_ms for s in sim.steps) == pytest.approx(sim.latency_ms)
    e = sim.energy
    assert e.core_mj == pytest.approx(e.run_power_mw * sim.latency_ms * 1e-3)
    assert e.total_mj == pytest.approx(e.core_mj + sum(e.movement_mj.values()))


def test_lower_clock_is_slower_but_draws_less_power() -> None:
    board = load_board("nucleo-f746zg")
    graph = single_conv(64, 64, 24)
    fast = simulate(plan_internal(graph, board, PlanOptions(clock_mhz=216)))
    slow = simulate(plan_internal(graph, board, PlanOptions(clock_mhz=108)))
    assert slow.latency_ms > 1.8 * fast.latency_ms
    assert slow.energy.run_power_mw < fast.energy.run_power_mw


def test_line_fills_cost_latency_plus_one_word_and_strided_loads_cost_more() -> None:
    """Cortex-M7 line fills are critical word first: a miss waits for the latency and its own word,
    not the whole 32-byte line; a sequential stream finds the SDRAM row open, a strided walk does not."""
    from tinyops.cost.memory_model import memory_ports
    from tinyops.kernels.profile import load_params

    board = load_board("stm32h743i-eval")
    params = load_params(board.core, "cmsis-nn")
    clock_mhz = 400.0
    sdram = next(m for m in board.external_memories if m.name == "sdram")
    port = memory_ports(board, clock_mhz, params)["sdram"]
    word_cycles = 4 / (sdram.read_bandwidth_mb_s * 1e6) * clock_mhz * 1e6
    assert port.cpu_read_stall("sequential") == pytest.approx(
        (sdram.stream_latency_ns * 1e-3 * clock_mhz + word_cycles) / 32)
    assert port.cpu_read_stall("strided") == pytest.approx(
        (sdram.first_access_latency_ns * 1e-3 * clock_mhz + word_cycles) / 32)
    assert port.cpu_read_stall("strided") > port.cpu_read_stall("sequential")  # type: ignore[operator]
    # No D-cache: every load is its own word-sized transaction.
    uncached = memory_ports(replace(board, dcache_bytes=0), clock_mhz, params)["sdram"]
    assert uncached.cpu_read_stall("sequential") == pytest.approx(8 * port.cpu_read_stall("sequential"))  # type: ignore[operator]


def test_dma_transfers_cost_cpu_setup_and_cache_maintenance() -> None:
    from tinyops.cost.memory_model import dma_cpu_cycles, memory_ports
    from tinyops.kernels.profile import load_memory_system, load_params

    system = load_memory_system()
    h743 = load_board("stm32h743i-eval")
    ports = memory_ports(h743, 400.0, load_params(h743.core, "cmsis-nn"))
    nbytes = 4096
    # AXI SRAM sits behind the D-cache: the destination's lines are cleaned+invalidated at the start
    # and invalidated at the wait; a cached source is cleaned once.
    per_pass = nbytes / 32 * system.dcache_maintenance_cycles_per_line
    assert dma_cpu_cycles(h743, ports["qspi"], ports["AXI_SRAM"], nbytes) == pytest.approx(
        system.dma_setup_cycles + 2 * per_pass)
    assert dma_cpu_cycles(h743, ports["AXI_SRAM"], ports["sdram"], nbytes) == pytest.approx(
        system.dma_setup_cycles + per_pass)
    # DTCM is not cached, and a Cortex-M4 has no D-cache: set-up only.
    assert dma_cpu_cycles(h743, ports["qspi"], ports["DTCM"], nbytes) == system.dma_setup_cycles
    f469 = load_board("stm32f469i-disco")
    f469_ports = memory_ports(f469, 180.0, load_params(f469.core, "cmsis-nn"))
    assert dma_cpu_cycles(f469, f469_ports["qspi"], f469_ports["SRAM1"], nbytes) == system.dma_setup_cycles
    # The simulator charges them to the CPU: the op that waits for the copy takes that much longer.
    plan, with_dma = _two_convs_with_prefetch("stm32f746g-disco", shared_bus=False)
    late = replace(with_dma, transfers=[replace(with_dma.transfers[0], bytes=64)])
    op1 = next(t for t in simulate(late).tasks if t.kind == "compute" and t.step == 1)
    op1_alone = next(t for t in simulate(plan).tasks if t.kind == "compute" and t.step == 1)
    extra_cycles = (op1.duration_s - op1_alone.duration_s) * plan.clock_mhz * 1e6
    assert extra_cycles == pytest.approx(system.dma_setup_cycles + 2 * 2 * system.dcache_maintenance_cycles_per_line)
