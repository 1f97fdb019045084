"""Overlay strategies (TinyOps V1/V2), external-xip and the plan verifier, on small zoo models."""

from __future__ import annotations

from dataclasses import replace
from functools import lru_cache

import pytest

from tinyops.hw.board import load_board
from tinyops.ir.graph import Graph
from tinyops.deploy import evaluate, evaluate_all, select
from tinyops.planning.common import PlanOptions, compute_bound_cycles
from tinyops.planning.internal import plan_internal
from tinyops.planning.plan import Plan
from tinyops.planning.verify import PlanVerificationError, check, verify
from tinyops.sim.simulator import simulate


@lru_cache(maxsize=None)
def model(family: str, width: float, resolution: int) -> Graph:
    from tinyops.zoo import build_model

    return build_model(family, width=width, resolution=resolution)


def all_plans(graph: Graph, board_id: str) -> dict[str, tuple[Plan, float]]:
    board = load_board(board_id)
    out = {}
    for e in evaluate_all(graph, board):
        if e.plan.feasible:  # the verifier runs on every feasible plan we make
            assert verify(e.plan) == [], e.plan.strategy
        out[e.plan.strategy] = (e.plan, e.latency_ms)
    return out


# MNASNet-B1 w1.0 keeps its 4.4 MB of weights at any resolution: far beyond 1-2 MB of flash.
@pytest.mark.parametrize("board_id", ["stm32f746g-disco@paper", "stm32f469i-disco@paper"])
def test_overlays_beat_xip_when_weights_exceed_flash(board_id: str) -> None:
    graph = model("mnasnet-b1", 1.0, 64)
    plans = all_plans(graph, board_id)
    internal, _ = plans["internal"]
    assert not internal.feasible and "flash" in (internal.reason or "")
    xip, v1, v2 = plans["external-xip"][1], plans["overlay-v1"][1], plans["overlay-v2"][1]
    assert all(plans[s][0].feasible for s in ("external-xip", "overlay-v1", "overlay-v2"))
    assert v2 <= v1 + 1e-9 and v1 <= xip
    board = load_board(board_id)
    base = plan_internal(graph, board)
    bound_ms = compute_bound_cycles(base) / (base.clock_mhz * 1e3)
    assert v2 <= 1.10 * bound_ms  # QSPI/SDRAM DMA bandwidth keeps up with the CPU here
    v2_plan = plans["overlay-v2"][0]
    assert v2_plan.transfers and all(t.engine != "cpu" for t in v2_plan.transfers)
    assert sum(t.bytes for t in v2_plan.transfers) >= sum(v2_plan.external_bytes.values()) // 2


def test_v2_uses_free_sram_for_fewer_partitions() -> None:
    # High resolution, tight SRAM: V1's fixed buffer above the activation peak is small.
    graph = model("mobilenetv3-large-no-se", 0.75, 128)
    board = load_board("stm32f469i-disco@paper")
    limit = board.paper_config.sram_bytes if board.paper_config else None
    from tinyops.planning.overlay import plan_overlay

    # The tinyops runtime: no interpreter tail, so the activations spill up to the whole limit.
    options = PlanOptions(sram_limit_bytes=limit, runtime="tinyops")
    v1 = check(plan_overlay(graph, board, "v1", options))
    v2 = check(plan_overlay(graph, board, "v2", options))
    parts = lambda p: sum(len(s.partitions) for s in p.steps if len(s.partitions) > 1)  # noqa: E731
    assert len(v2.transfers) > len(v1.transfers)  # V1 could not overlay these filters at all
    assert simulate(v2).latency_ms < simulate(v1).latency_ms
    assert parts(v2) >= 0


# TinyOpsV2 §2: "for devices with larger cache, such as the H743 with 16KB cache, we did not observe
# any benefit of overlaying filters hence this was disabled". The Table 1 H743 rows and one below.
@pytest.mark.parametrize("resolution", [96, 144, 192])
def test_h743_auto_skips_overlays(resolution: int) -> None:
    graph = model("mnasnet-b1", 1.0, resolution)
    evaluations = evaluate_all(graph, load_board("stm32h743i-eval@paper"))
    assert select(evaluations)[0].plan.strategy not in ("overlay-v1", "overlay-v2")
    # By mechanism, not by a margin that happens to hold: with critical-word-first line fills, open
    # SDRAM rows for sequential filter streams and the overlays' own DMA and cache-maintenance
    # cycles, the overlays gain little enough to sit inside the latency band.
    latency = {e.plan.strategy: e.latency_ms for e in evaluations}
    gain_pct = 100 * (latency["external-xip"] / min(latency["overlay-v1"], latency["overlay-v2"]) - 1)
    assert gain_pct < 3.5


def test_cache_size_drives_the_xip_penalty() -> None:
    """The same model on the same board: a larger D-cache keeps depthwise filters resident across
    output pixels, so executing in place loses less to overlays."""
    graph = model("mnasnet-b1", 1.0, 64)
    gap = {}
    for dcache_bytes in (4096, 16384, 65536):
        board = replace(load_board("stm32h743i-eval@paper"), dcache_bytes=dcache_bytes)
        latency = {e.plan.strategy: e.latency_ms for e in evaluate_all(graph, board) if e.plan.feasible}
        gap[dcache_bytes] = latency["external-xip"] / latency["overlay-v2"]
    assert gap[65536] < gap[16384] < gap[4096]


def test_no_dcache_makes_xip_pay_every_load() -> None:
    """Without a D-cache (Cortex-M4 F469) every filter load is a bus transaction to SDRAM: the
    overlays win by far, and `auto` picks one."""
    graph = model("mnasnet-b1", 1.0, 80)
    evaluations = evaluate_all(graph, load_board("stm32f469i-disco@paper"))
    latency = {e.plan.strategy: e.latency_ms for e in evaluations}
    assert latency["external-xip"] > 1.2 * latency["overlay-v2"]
    assert select(evaluations)[0].plan.strategy.startswith("overlay")


def test_activations_spill_to_sdram_when_sram_is_short() -> None:
    graph = model("mobilenetv3-large-no-se", 0.5, 160)
    board = load_board("stm32f746g-disco@paper")
    from tinyops.planning.overlay import plan_overlay

    plan = check(plan_overlay(graph, board, "v2", PlanOptions(sram_limit_bytes=160 * 1024)))
    assert plan.feasible and plan.external_bytes.get("sdram", 0) > 0
    assert "sdram" in set(plan.placement().values())
    assert plan.sram_bytes <= 160 * 1024


def test_sd_card_backing_store() -> None:
    """Svoboda's setup: weights on a micro-SD card over SPI (not memory-mapped, 16 KB blocks)."""
    graph = model("mobilenetv3-large-no-se", 0.35, 96)
    plans = all_plans(graph, "nucleo-f767zi")
    xip, _ = plans["external-xip"]
    assert xip.feasible and xip.transfers and all(t.engine == "cpu" and t.src == "sdcard" for t in xip.transfers)
    v2, v2_ms = plans["overlay-v2"]
    assert v2.feasible and all(t.src == "sdcard" and t.engine.startswith("DMA") for t in v2.transfers)
    assert v2_ms < plans["external-xip"][1]  # DMA overlaps the card's slow reads with compute


def test_verifier_catches_races_and_overlaps() -> None:
    graph = model("mnasnet-b1", 1.0, 64)
    board = load_board("stm32f746g-disco@paper")
    plan = check(evaluate(graph, board, "overlay-v2").plan)
    # A prefetch allowed to start before the previous user of its buffer is done: a race.
    racy = next(t for t in plan.transfers if t.after is not None)
    bad = replace(plan, transfers=[replace(t, after=None) if t is racy else t for t in plan.transfers])
    assert any("race" in issue for issue in verify(bad))
    with pytest.raises(PlanVerificationError):
        check(bad)
    # A slice landing where the partition does not read it.
    moved = replace(plan, transfers=[replace(t, dst_offset_bytes=(t.dst_offset_bytes or 0) + 16)
                                     if t is racy else t for t in plan.transfers])
    assert any("lands at offset" in issue for issue in verify(moved))
    # A DMA engine that cannot reach the source.
    wrong = replace(plan, transfers=[replace(t, engine="DMA9") if t is racy else t for t in plan.transfers])
    assert any("no DMA engine" in issue for issue in verify(wrong))


def test_overlay_window_odd_slot_ends_inside_the_double_buffer() -> None:
    """The odd slice sits at the top of the two slots, not of the free space past them: the plan's
    SRAM figure (lo + 2 x slot) covers it (it used to fall up to 15 B short)."""
    from tinyops.planning.overlay import SLOT_ALIGN_BYTES, OverlayWindow

    window = OverlayWindow(0, 110)  # two 48 B slots; 14 B of free space above them
    assert window.slot_bytes == 48
    for size in range(1, window.slot_bytes + 1):
        odd = window.slot_offset(1, size)
        assert odd % SLOT_ALIGN_BYTES == 0 and odd >= window.slot_bytes  # above the even slot
        assert odd + size <= window.lo_bytes + 2 * window.slot_bytes


@pytest.mark.parametrize("strategy", ["overlay-v1", "overlay-v2"])
def test_overlay_arena_covers_every_buffer(strategy: str) -> None:
    from tinyops.planning.planners import candidates

    graph = model("mnasnet-b1", 1.0, 64)
    board = load_board("stm32f746g-disco@paper")
    for plan in candidates(graph, board, strategy, PlanOptions(runtime="tinyops", kernels="tinyops")):
        sram = [b for b in plan.buffers if b.memory not in plan.external_bytes and b.kind != "constant"]
        assert sram and max(b.end_bytes for b in sram) <= plan.arena_bytes
        ends = [a.offset_bytes + a.size_bytes for s in plan.steps for p in s.partitions for a in p.accesses
                if a.offset_bytes is not None and a.role in ("filter", "input", "output", "scratch")
                and a.memory not in plan.external_bytes and a.memory != "flash"]
        assert max(ends) <= plan.arena_bytes
