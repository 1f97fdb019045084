"""CPU/DMA timelines: one lane per CPU and per DMA channel, op labels, a legend, DMA bars that show.

A DMA copy of a few hundred bytes lasts microseconds against a model's tens of milliseconds: drawn
to scale it is thinner than a pixel. Bars are therefore drawn at least ``MIN_BAR_FRACTION`` of the
time axis wide (the legend says so); their start is exact.
"""

from __future__ import annotations

from typing import Any, Sequence

MIN_BAR_FRACTION = 0.002  # of the whole time axis
LABEL_MIN_FRACTION = 0.015  # ops at least this wide get "#step" written on the bar
TYPE_LABEL_MIN_FRACTION = 0.04  # ... and at least this wide "#step type" (short type names)
SHORT_TYPES = {"CONV_2D": "conv", "DEPTHWISE_CONV_2D": "dw", "FULLY_CONNECTED": "fc", "AVERAGE_POOL_2D": "avgpool",
               "MAX_POOL_2D": "maxpool", "TRANSPOSE_CONV": "tconv"}


def short_type(op_type: str) -> str:
    return SHORT_TYPES.get(op_type, op_type.lower())
COLORS = {"compute": "tab:blue", "transfer": "tab:orange"}


def lanes_of(tasks: Sequence[Any]) -> list[str]:
    return ["cpu"] + sorted({t.lane for t in tasks if t.lane != "cpu"})


def draw_lanes(ax: Any, tasks: Sequence[Any], lanes: list[str], total_ms: float, step_types: dict[int, str]) -> None:
    """Bars of every finished task on ``ax``; ops wide enough carry '#step TYPE'."""
    min_width = max(total_ms, 1e-9) * MIN_BAR_FRACTION
    labelled: set[int] = set()
    for task in tasks:
        if task.start_s is None or task.end_s is None:
            continue
        start_ms, width_ms = task.start_s * 1e3, (task.end_s - task.start_s) * 1e3
        y = lanes.index(task.lane)
        ax.barh(y, max(width_ms, min_width), left=start_ms, height=0.6, color=COLORS.get(task.kind, "tab:gray"),
                edgecolor="black" if task.kind == "transfer" else "white", linewidth=0.3)
        if task.kind == "compute" and width_ms >= total_ms * LABEL_MIN_FRACTION and task.step not in labelled:
            labelled.add(task.step)
            text = f"#{task.step}"
            if width_ms >= total_ms * TYPE_LABEL_MIN_FRACTION:
                text += f" {short_type(step_types.get(task.step, ''))}"
            ax.text(start_ms + width_ms / 2, y, text, ha="center", va="center", fontsize=6, color="white",
                    clip_on=True)
    ax.set_yticks(range(len(lanes)), [("CPU" if lane == "cpu" else lane) for lane in lanes], fontsize=7)
    ax.invert_yaxis()


def add_legend(ax: Any) -> None:
    from matplotlib.patches import Patch

    handles = [Patch(facecolor=COLORS["compute"], label="CPU computing an op (#step; type when wide: conv, dw = depthwise, fc...)"),
               Patch(facecolor=COLORS["transfer"], edgecolor="black",
                     label=f"copy by a DMA channel or the CPU (drawn at least {MIN_BAR_FRACTION:.1%} of the axis wide)")]
    # Above the panel, outside the bars.
    ax.legend(handles=handles, loc="lower right", bbox_to_anchor=(1.0, 1.0), ncol=2, fontsize=7, frameon=False)


__all__ = ["COLORS", "MIN_BAR_FRACTION", "add_legend", "draw_lanes", "lanes_of"]
