"""Activation partitioning: row tiles with halos, executed tile by tile, planned, verified, simulated."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tinyops.hw.board import load_board
from tinyops.ir import Graph, Tensor
from tinyops.ops.rows import row_window, split_rows
from tinyops.planning.common import PlanOptions
from tinyops.planning.plan import Access, Partition, Plan
from tinyops.planning.planners import candidates
from tinyops.planning.verify import verify
from tinyops.runtime.kernels.base import KernelOptions, kernel_factory
from tinyops.runtime.tiled import run_row_tiled
from tinyops.sim.simulator import simulate
from tinyops.zoo.builder import GraphBuilder

BOARD = "stm32f746g-disco@paper"


def _pool(builder: GraphBuilder, x: Tensor, kind: str, kernel: int, stride: int, padding: str) -> Tensor:
    attrs = {"padding": padding, "stride_h": stride, "stride_w": stride, "filter_height": kernel,
             "filter_width": kernel, "fused_activation_function": "NONE"}
    assert x.quantization is not None
    return builder._emit(kind, [x], attrs, kind.lower(), x.quantization, builder._rms(x))


def _window_graph(kind: str, height: int, width: int, channels: int, kernel: int, stride: int, padding: str,
                  seed: int = 0) -> Graph:
    builder = GraphBuilder("tile-test", seed)
    x = builder.input((1, height, width, channels), (0.0, 1.0))
    if kind == "CONV_2D":
        y = builder.conv(x, channels + 3, kernel, stride, activation="RELU6", padding=padding)
    elif kind == "DEPTHWISE_CONV_2D":
        y = builder.dwconv(x, kernel, stride, activation="RELU6", padding=padding)
    else:
        y = _pool(builder, x, kind, kernel, stride, padding)
    return builder.finish([y], "one window op")


window_ops = st.tuples(
    st.sampled_from(["CONV_2D", "DEPTHWISE_CONV_2D", "MAX_POOL_2D", "AVERAGE_POOL_2D"]),
    st.integers(4, 23), st.integers(1, 9), st.integers(1, 6), st.sampled_from([1, 2, 3, 5, 7]),
    st.integers(1, 3), st.sampled_from(["SAME", "VALID"]), st.integers(1, 8),
).filter(lambda c: c[4] <= c[1] and c[4] <= c[2] and not (c[0] == "AVERAGE_POOL_2D" and c[6] == "SAME"))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(window_ops)
def test_tile_by_tile_execution_is_bit_identical_to_the_untiled_op(case):
    kind, height, width, channels, kernel, stride, padding, rows = case
    graph = _window_graph(kind, height, width, channels, kernel, stride, padding)
    op = graph.main.ops[0]
    window = row_window(op)
    assert window is not None and window.out_rows == op.outputs[0].shape[1]
    x = np.random.default_rng(height * 31 + width).integers(-128, 128, size=op.inputs[0].shape).astype(np.int8)
    factory = kernel_factory(op)
    assert factory is not None
    whole = factory(op, KernelOptions())([x])[0].reshape(op.outputs[0].shape)
    tiles = split_rows(window.out_rows, rows)
    assert np.array_equal(run_row_tiled(op, [x], tiles), whole)
    # Geometry: tiles cover the output once; input rows stay in the map; halos are what k - s says.
    covered = [r for r0, r1 in tiles for r in range(r0, r1)]
    assert covered == list(range(window.out_rows))
    for r0, r1 in tiles:
        i0, i1 = window.input_rows(r0, r1)
        assert 0 <= i0 < i1 <= height
        top, bottom = window.tile_padding(r0, r1)
        assert (i1 - i0) + top + bottom == (r1 - r0 - 1) * stride + kernel
        assert window.halo_rows(r0, r1) <= max(kernel - stride, 0)


def test_same_average_pool_is_not_row_tiled():
    graph = _window_graph("AVERAGE_POOL_2D", 9, 9, 4, 3, 1, "SAME")
    assert row_window(graph.main.ops[0]) is None


def _spilling_chain(height: int, channels: int, kernel: int, stride: int) -> Graph:
    """conv -> depthwise -> max pool on a map too large for the SRAM limit used below."""
    builder = GraphBuilder("spill-chain", 0)
    x = builder.input((1, height, height, 3), (0.0, 1.0))
    y = builder.conv(x, channels, 3, 1, activation="RELU6")
    y = builder.dwconv(y, kernel, stride, activation="RELU6")
    y = _pool(builder, y, "MAX_POOL_2D", 2, 2, "VALID")
    y = builder.conv(y, 8, 1, activation="RELU6")
    return builder.finish([builder.classifier(y, 4)], "spilling chain")


def _tiled(plans: list[Plan]) -> list[Plan]:
    return [p for p in plans if any(s.tiles["rows"] > 1 for s in p.steps)]


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(40, 72), st.sampled_from([16, 24, 32]), st.sampled_from([3, 5, 7]), st.sampled_from([1, 2]),
       st.sampled_from(["external-xip", "overlay-v1", "overlay-v2"]))
def test_row_tiled_plans_verify_clean_and_simulate(height, channels, kernel, stride, strategy):
    graph = _spilling_chain(height, channels, kernel, stride)
    board = load_board(BOARD)
    limit = height * height * channels + 8_000  # the first conv's output and its input do not fit together
    plans = candidates(graph, board, strategy, PlanOptions(sram_limit_bytes=limit))
    for plan in plans:
        assert plan.feasible and verify(plan) == []
    assert _tiled(plans)
    for plan in _tiled(plans):
        assert plan.spilled_activation_bytes and simulate(plan).latency_ms > 0
        for step in plan.steps:
            rows = [(p.row_start, p.row_stop) for p in step.partitions]
            if step.tiles["rows"] > 1:
                # Channel slices outside, row tiles inside, each slice covering every output row.
                per_slice = len(rows) // step.tiles["channels"]
                assert rows[:per_slice][0][0] == 0 and rows[per_slice - 1][1] == step.op.outputs[0].shape[1]


def _a_tiled_plan() -> Plan:
    graph = _spilling_chain(64, 24, 5, 1)
    plans = _tiled(candidates(graph, load_board(BOARD), "external-xip", PlanOptions(sram_limit_bytes=190_000)))
    assert plans, "the chain should spill and be row-tiled"
    return plans[0]


def test_a_deliberately_overlapping_tile_is_caught():
    plan = _a_tiled_plan()
    assert verify(plan) == []
    step = next(s for s in plan.steps if s.tiles["rows"] > 2)
    first, second = step.partitions[0], step.partitions[1]
    tile = next(a for a in second.accesses if "@step" in a.tensor and a.role == "input")
    # Put tile 1's input buffer on tile 0's slot: tile 1 is copied in while tile 0 is computed.
    slot = next(a for a in first.accesses if "@step" in a.tensor and a.role == "input").offset_bytes
    bad_access = dataclasses.replace(tile, offset_bytes=slot)
    bad_part = dataclasses.replace(second, accesses=tuple(bad_access if a is tile else a for a in second.accesses))
    bad_transfers = [dataclasses.replace(t, dst_offset_bytes=slot) if t.tensor == tile.tensor else t
                     for t in plan.transfers]
    step.partitions[1] = bad_part
    broken = dataclasses.replace(plan, transfers=bad_transfers)
    issues = verify(broken)
    assert any("race" in i or "overlap" in i for i in issues), issues


def test_a_read_before_its_write_back_lands_is_caught():
    plan = _a_tiled_plan()
    waiting = [t for t in plan.transfers if t.waits_for]
    assert waiting
    broken = dataclasses.replace(plan, transfers=[dataclasses.replace(t, waits_for=()) if t is waiting[0] else t
                                                  for t in plan.transfers])
    issues = verify(broken)
    assert any("write-back race" in i or "race" in i for i in issues), issues


def test_plan_json_reports_tiles_groups_and_spilled_bytes(tmp_path, capsys):
    import json

    from tinyops.backends.tflite_writer import to_tflite_bytes
    from tinyops.cli import main

    path = tmp_path / "chain.tflite"
    path.write_bytes(to_tflite_bytes(_spilling_chain(64, 24, 5, 1)))
    # The Cortex-M4 F469 has no D-cache: reading a spilled map in place costs a bus transaction per
    # word, so the fastest plan tiles it (on the M7 boards critical-word-first line fills make
    # reading it in place about as fast).
    assert main(["plan", str(path), "--board", "stm32f469i-disco@paper", "--strategy", "external-xip",
                 "--sram-limit-bytes", "190000",
                 "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["spilled_activation_bytes"] and all(v > 0 for v in data["spilled_activation_bytes"].values())
    for layer in data["layers"]:
        assert set(layer["tiles"]) == {"channels", "rows"} and layer["fused_group"] is None
    assert any(layer["tiles"]["rows"] > 1 for layer in data["layers"])
    assert any(t["direction"] == "out" for t in data["transfers"])


def test_partition_defaults_mean_whole_rows():
    part = Partition(0, 1.0, (Access("x", "input", "SRAM1", 4, 4),))
    assert not part.row_tiled and (part.row_start, part.row_stop) == (0, 0)


@pytest.mark.parametrize("kind", ["ADD"])
def test_elementwise_ops_tile_without_halo(kind):
    builder = GraphBuilder("add", 0)
    x = builder.input((1, 9, 5, 4), (0.0, 1.0))
    y = builder.dwconv(x, 3, 1)
    z = builder.add(x, y)
    op = builder.finish([z], "add").main.ops[-1]
    window = row_window(op)
    assert window is not None and window.halo_rows(2, 5) == 0 and window.input_rows(2, 5) == (2, 5)
    rng = np.random.default_rng(0)
    a, b = (rng.integers(-128, 128, size=(1, 9, 5, 4)).astype(np.int8) for _ in range(2))
    factory = kernel_factory(op)
    assert factory is not None
    whole = factory(op, KernelOptions())([a, b])[0].reshape(op.outputs[0].shape)
    assert np.array_equal(run_row_tiled(op, [a, b], split_rows(9, 2)), whole)


def _run_fused(graph: Graph, group, x: np.ndarray) -> np.ndarray:
    """Execute a fused group tile by tile: each op gets only the rows the tile computed upstream."""
    from tinyops.runtime.tiled import run_tile

    ops = [graph.main.ops[i] for i in group.ops]
    last = ops[-1].outputs[0]
    out = np.empty(last.shape, dtype=last.dtype.numpy)
    for rows in group.rows:
        have: dict[int, tuple[int, np.ndarray]] = {id(graph.main.inputs[0]): (0, x)}
        for op, (r0, r1) in zip(ops, rows):
            if r1 <= r0:
                continue
            parts = [have[id(t)] for t in op.inputs if t is not None and not t.is_constant]
            have[id(op.outputs[0])] = (r0, run_tile(op, parts, r0, r1))
        first, rows_out = have[id(last)]
        out[:, first:first + rows_out.shape[1]] = rows_out
    return out


@pytest.mark.parametrize("tiles", [2, 3, 5])
def test_fused_group_runs_tile_by_tile_bit_identically_with_recompute(tiles):
    from tinyops.planning.patches import fuse_prefix
    from tinyops.runtime.interpreter import Interpreter

    builder = GraphBuilder("fused", 3)
    x = builder.input((1, 33, 20, 3), (0.0, 1.0))
    y = builder.pad(x, 1, 1, 1, 1)
    y = builder.conv(y, 32, 3, 2, activation="RELU6", padding="VALID")
    z = builder.dwconv(y, 5, 1, activation="RELU6")
    z = builder.conv(z, 32, 1)
    y = builder.add(y, z)  # a residual inside the group: its rows are the union of both readers'
    y = builder.dwconv(y, 3, 2, activation="RELU6")
    graph = builder.finish([builder.classifier(y, 3)], "fused chain")
    end = 5  # pad, conv, dw, conv, add, dw
    group = fuse_prefix(graph, end, tiles)
    assert group is not None and group.tiles == tiles and group.recompute_macs > 0
    assert group.sram_bytes < group.untiled_sram_bytes
    image = np.random.default_rng(0).integers(-128, 128, size=(1, 33, 20, 3)).astype(np.int8)
    interpreter = Interpreter(graph)
    interpreter.run([image], trace=True)
    reference = interpreter.trace[graph.main.ops[end].outputs[0].name]
    assert np.array_equal(_run_fused(graph, group, image), reference.reshape(graph.main.ops[end].outputs[0].shape))


def test_patch_plan_lowers_the_peak_of_a_high_resolution_model():
    from tinyops.planning.patches import best_patch_plan
    from tinyops.zoo import build_model

    plan = best_patch_plan(build_model("mobilenetv2", 0.35, 160))
    assert plan.group is not None and plan.peak_bytes < plan.untiled_peak_bytes
    assert plan.group.recompute_pct <= 50.0
    for rows in plan.group.rows:  # the last op's strips tile its output exactly
        assert rows[-1][1] > rows[-1][0]
    assert sum(r[-1][1] - r[-1][0] for r in plan.group.rows) == build_model("mobilenetv2", 0.35, 160).main.ops[
        plan.group.ops[-1]].outputs[0].shape[1]


def test_a_row_tiled_plan_executed_tile_by_tile_matches_the_untiled_model():
    """The reference for the code generator: run every row-tiled step of a plan from its partitions'
    row ranges, each tile from only the input rows the plan copies in."""
    from tinyops.runtime.interpreter import Interpreter
    from tinyops.runtime.tiled import run_tile

    graph = _spilling_chain(64, 24, 5, 1)
    plan = _a_tiled_plan()
    image = np.random.default_rng(2).integers(-128, 128, size=graph.main.inputs[0].shape).astype(np.int8)
    interpreter = Interpreter(graph)
    interpreter.run([image], trace=True)
    values = {**interpreter.trace, graph.main.inputs[0].name: image}
    checked = 0
    for step in plan.steps:
        if step.tiles["rows"] < 2:
            continue
        op = graph.main.ops[step.op_index]
        window = row_window(op)
        assert window is not None
        out = np.empty(op.outputs[0].shape, dtype=np.int8)
        copies = {t.tensor: t for t in plan.transfers if t.direction == "in" and t.needed_by[0] == step.step}
        for part in step.partitions:
            assert (part.input_row_start, part.input_row_stop) == window.input_rows(part.row_start, part.row_stop)
            parts = []
            for t in op.inputs:
                if t is None or t.is_constant:
                    continue
                full = values[t.name].reshape(t.shape)
                copy = next((c for c in copies.values() if c.tensor_index == graph.main.tensors.index(t)
                             and c.needed_by == (step.step, part.index)), None)
                if copy is not None:  # only the rows the plan copies into SRAM
                    parts.append((copy.row_start, full[:, copy.row_start:copy.row_stop]))
                else:
                    parts.append((0, full))
            out[:, part.row_start:part.row_stop] = run_tile(op, parts, part.row_start, part.row_stop)
        assert np.array_equal(out, values[op.outputs[0].name].reshape(op.outputs[0].shape))
        checked += 1
    assert checked
