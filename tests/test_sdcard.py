"""The SPI micro-SD card of Svoboda et al. as a backing store: whole blocks, asymmetry, SPI clock, energy."""

from __future__ import annotations

import json

import pytest

from tinyops.cost.memory_model import (SVOBODA_BLOCK_BYTES, memory_ports, movement_cost, movement_costs,
                                       spi_at_clock)
from tinyops.errors import TinyOpsError
from tinyops.hw.board import load_board
from tinyops.kernels.profile import load_params
from tinyops.planning.common import PlanOptions
from tinyops.planning.planners import candidates
from tinyops.planning.verify import verify
from tinyops.sim.simulator import _transfer_duration_s, moved_bytes, simulate
from tinyops.zoo import build_model

BOARD = "nucleo-f767zi"


def _ports():
    board = load_board(BOARD)
    return board, memory_ports(board, board.max_clock_mhz, load_params(board.core, "cmsis-nn"))


def test_the_card_moves_whole_blocks_and_writes_slower_than_it_reads():
    _, ports = _ports()
    card = ports["sdcard"]
    assert card.block_bytes == SVOBODA_BLOCK_BYTES and not card.cpu_addressable
    one = movement_cost(card, SVOBODA_BLOCK_BYTES)
    assert one.write_s > one.read_s > 0 and one.write_mj > one.read_mj > 0
    # A few bytes still cost a whole block; a partial block written is read first.
    tiny = movement_cost(card, 100)
    assert tiny.read_s == pytest.approx(one.read_s)
    assert tiny.write_s == pytest.approx(one.write_s + one.read_s)
    two = movement_cost(card, SVOBODA_BLOCK_BYTES + 1)
    assert two.read_s == pytest.approx(2 * one.read_s)


def test_a_faster_spi_clock_costs_more_power_but_less_energy_per_block():
    board, _ = _ports()
    card = board.external("sdcard")
    assert card is not None
    fast = spi_at_clock(card, 25)
    assert fast.read_bandwidth_mb_s == pytest.approx(25 * card.read_bandwidth_mb_s)
    assert fast.active_power_mw > card.active_power_mw
    costs = {c.note: c for c in movement_costs(board, board.max_clock_mhz, load_params(board.core, "cmsis-nn"))
             if c.kind == "sdcard-spi"}
    slow, quick = costs["SPI 1 MHz"], costs["SPI 25 MHz"]
    assert quick.read_s < slow.read_s and quick.read_mj < slow.read_mj and quick.write_mj < slow.write_mj
    with pytest.raises(TinyOpsError, match="outside"):
        spi_at_clock(card, 50)


def test_sd_card_plans_read_their_blocks_before_the_compute_that_needs_them():
    graph = build_model("mcunet-vww1")
    board = load_board(BOARD)
    for strategy in ("external-xip", "overlay-v2"):
        for plan in candidates(graph, board, strategy, PlanOptions()):
            assert verify(plan) == []
            reads = [t for t in plan.transfers if t.src == "sdcard"]
            assert reads and all(t.dst != "sdcard" for t in plan.transfers)  # weights are only read
            order = {(s.step, p.index): i for i, s in enumerate(plan.steps) for p in s.partitions}
            positions = [order[t.needed_by] for t in reads]
            assert positions == sorted(positions)  # the card is read in the order compute needs it
            # Source offsets walk the weight image forward: sequential block reads.
            offsets = [t.src_offset_bytes for t in reads]
            assert offsets == sorted(offsets)
            sim = simulate(plan)
            assert sim.bytes_read["sdcard"] % SVOBODA_BLOCK_BYTES == 0
            for t in reads:
                assert moved_bytes(plan, "sdcard", t.bytes) >= t.bytes
                assert _transfer_duration_s(plan, t) >= plan.memories["sdcard"].access_latency_s


def test_plan_compare_shows_the_card_beside_the_other_memories(tmp_path, capsys):
    from tinyops.backends.tflite_writer import to_tflite_bytes
    from tinyops.cli import main

    path = tmp_path / "vww1.tflite"
    path.write_bytes(to_tflite_bytes(build_model("mcunet-vww1")))
    assert main(["plan", str(path), "--board", BOARD, "--compare", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    kinds = {row["kind"] for row in data["data_movement"]}
    assert {"internal-flash", "sdcard-spi"} <= kinds
    card = [row for row in data["data_movement"] if row["kind"] == "sdcard-spi"]
    assert len(card) == 2 and card[0]["write_ms"] > card[0]["read_ms"]
    flash = next(row for row in data["data_movement"] if row["kind"] == "internal-flash")
    assert flash["write_ms"] is None and flash["read_ms"] < card[0]["read_ms"]
    assert main(["plan", str(path), "--board", BOARD, "--compare"]) == 0
    assert "sdcard (SPI 25 MHz)" in capsys.readouterr().out


def _sd_spill_plans():
    graph = build_model("mcunet-vww1")
    return candidates(graph, load_board(BOARD), "overlay-v2", PlanOptions(sram_limit_bytes=200_000))


def test_activations_spill_to_the_card_only_through_row_tiles_with_ordered_block_writes():
    plans = _sd_spill_plans()
    assert all(p.spilled_activation_bytes.get("sdcard") for p in plans)
    untiled = [p for p in plans if not any(s.tiles["rows"] > 1 for s in p.steps)]
    tiled = [p for p in plans if p.feasible]
    assert untiled and all(not p.feasible and "row-tile copies" in (p.reason or "") for p in untiled)
    assert tiled
    for plan in tiled:
        assert verify(plan) == []
        block = plan.memories["sdcard"].block_bytes
        image = plan.external_bytes["sdcard"] - plan.spilled_activation_bytes["sdcard"]
        outs = [t for t in plan.transfers if t.direction == "out"]
        assert outs and all(t.dst == "sdcard" for t in outs)
        # Spilled activations sit above the weight image, each tensor on its own block.
        assert all(t.dst_offset_bytes >= image for t in outs) and image % block == 0
        # Write-backs to the card run one after another in program order ...
        for earlier, later in zip(outs, outs[1:]):
            assert earlier.id in later.waits_for
        # ... and a tile read from the card waits for every write-back of the step before.
        reads = [t for t in plan.transfers if t.direction == "in" and t.src == "sdcard" and t.row_start is not None]
        assert reads and all(t.waits_for or t.after is not None for t in reads)
        assert simulate(plan).latency_ms > 0


def test_write_backs_sharing_a_block_unordered_are_caught():
    import dataclasses

    plan = next(p for p in _sd_spill_plans() if p.feasible)
    outs = [t for t in plan.transfers if t.direction == "out"]
    victim = next(t for t in outs[1:] if t.waits_for)
    broken = dataclasses.replace(plan, transfers=[
        dataclasses.replace(t, waits_for=()) if t is victim else t for t in plan.transfers])
    assert any("block race" in issue for issue in verify(broken))
