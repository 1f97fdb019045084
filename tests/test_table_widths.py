"""Tables readable at 100 columns, full at 160+; timelines with a legend, op labels and DMA bars (issue 10, fix 8)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tinyops.backends.reports.tables import Column, fit_columns

STRATEGIES = ("internal", "external-xip", "overlay-v1", "overlay-v2")


def tinyops(columns: int, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "COLUMNS": str(columns), **env}
    return subprocess.run([sys.executable, "-m", "tinyops.cli", *args], capture_output=True, text=True,
                          env=environment)


def assert_fits(text: str, width: int) -> None:
    assert text.strip()
    assert max(len(line) for line in text.splitlines()) <= width, text
    assert "…" not in text  # nothing cut short


def test_plan_compare_at_100_columns_keeps_the_answer_whole() -> None:
    done = tinyops(100, "plan", "--board", "stm32f746g-disco", "--compare")
    assert done.returncode == 0, done.stderr
    assert_fits(done.stdout, 100)
    for strategy in STRATEGIES:
        assert f"│ {strategy}" in done.stdout
    import json

    data = json.loads(tinyops(160, "plan", "--board", "stm32f746g-disco", "--compare", "--json").stdout)
    assert "109.9" in done.stdout
    assert all(f"{s['sram_bytes']:,}" in done.stdout for s in data["strategies"])  # SRAM, a key column, whole
    assert "left out at 100 columns" in done.stdout and "external B" in done.stdout.split("left out")[1]


def test_plan_compare_at_170_columns_is_complete() -> None:
    done = tinyops(170, "plan", "--board", "stm32f746g-disco", "--compare")
    assert done.returncode == 0, done.stderr
    assert_fits(done.stdout, 170)
    assert "left out" not in done.stdout
    for header in ("external B", "partitions", "DMA B", "compute"):
        assert header in done.stdout


def test_per_layer_plan_table_at_100_columns_names_the_memories() -> None:
    from conftest import model_path

    done = tinyops(100, "plan", str(model_path("mcunet_vww")), "--board", "stm32f746g-disco", "--strategy",
                   "overlay-v2")
    assert done.returncode == 0, done.stderr
    assert_fits(done.stdout, 100)
    assert "DEPTHWISE_CONV_2D" in done.stdout and "3,235,977" in done.stdout  # op names and cycles whole
    # The on-chip memory is named by its real regions and addresses, not "DTCM".
    assert "SRAM: DTCM+SRAM1+SRAM2 0x20000000-0x2004ffff" in done.stdout
    assert "read DTCM" not in done.stdout


def test_analyze_and_explore_at_100_columns(tmp_path: Path) -> None:
    analyzed = tinyops(100, "analyze")
    assert analyzed.returncode == 0, analyzed.stderr
    assert_fits(analyzed.stdout, 100)
    assert "DEPTHWISE_CONV_2D" in analyzed.stdout and "497,664" in analyzed.stdout
    explored = tinyops(100, "explore", "--family", "mobilenetv2", "--widths", "0.35", "--resolutions", "96",
                       "--boards", "stm32f746g-disco", "--output", str(tmp_path / "x.csv"), "--workers", "1")
    assert explored.returncode == 0, explored.stderr
    assert_fits(explored.stdout, 100)
    assert "stm32f746g-disco" in explored.stdout and "mobilenetv2-w0.35-r96" in explored.stdout


def test_fit_columns_drops_empty_then_low_priority_columns_never_key_ones() -> None:
    columns = [Column("name", "left", key=True), Column("busy", drop_rank=1), Column("zeros", drop_rank=0),
               Column("detail", drop_rank=5), Column("value", key=True)]
    rows = [["a-rather-long-name", "123,456", "0", "some detail text", "1.0"]]
    assert fit_columns(columns, rows, 200) == [0, 1, 2, 3, 4]
    assert fit_columns(columns, rows, 60) == [0, 1, 3, 4]  # the column of zeros goes first
    assert fit_columns(columns, rows, 45) == [0, 1, 4]
    assert fit_columns(columns, rows, 10) == [0, 4]  # key columns stay even when nothing fits


def test_timeline_has_a_legend_op_labels_and_visible_dma_bars(tmp_path: Path) -> None:
    from tinyops.backends.reports.timeline import MIN_BAR_FRACTION
    from tinyops.commands.common import default_model_path
    from tinyops.backends.reports.plan import timeline_figure
    from tinyops.frontends import load_model
    from tinyops.hw.board import load_board
    from tinyops.deploy import evaluate
    from tinyops.sim.simulator import simulate

    plan = evaluate(load_model(default_model_path()), load_board("stm32f746g-disco"), "overlay-v1").plan
    sim = simulate(plan)
    figure = timeline_figure(plan, sim)
    ax = figure.axes[0]
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any("CPU" in t for t in legend) and any("DMA" in t for t in legend)
    labels = [t.get_text() for t in ax.texts]
    assert "#0 conv" in labels and "#1 dw" in labels and len(labels) > 10
    dma_bars = [p for p in ax.patches if p.get_facecolor()[:3] != ax.patches[0].get_facecolor()[:3]]
    assert dma_bars and min(p.get_width() for p in dma_bars) >= 0.99 * MIN_BAR_FRACTION * sim.latency_ms
    done = tinyops(100, "plan", "--board", "stm32f746g-disco", "--compare", "--timeline", str(tmp_path / "t.png"),
                   TTY_COMPATIBLE="1", TTY_INTERACTIVE="1")
    assert done.returncode == 0, done.stderr
    assert "planning and simulating every strategy" in done.stderr  # the progress line, on stderr
    assert (tmp_path / "t.png").read_bytes()[:4] == b"\x89PNG"
