"""The explore figures: TinyOpsV2 Figure 1 (accuracy vs MACs per width), Figure 2's MAC skew, and
latency/energy vs accuracy Pareto fronts per board and strategy. matplotlib (Agg), no display.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any, Callable, Sequence

from tinyops.search.explore import AUTO, MAC_CLASSES, Row
from tinyops.search.pareto import (INTERNAL, accuracy_curves, board_finding, deployable, diminishing_returns,
                                   mac_shares, pareto_front)

STRATEGY_COLORS = {"internal": "tab:blue", "external-xip": "tab:orange", "overlay-v1": "tab:green",
                   "overlay-v2": "tab:red", AUTO: "tab:purple"}
CLASS_LABELS = {"conv1x1": "1x1 conv", "conv_kxk": "kxk conv (stem)", "depthwise3x3": "3x3 depthwise",
                "depthwise_kxk": "5x5/7x7 depthwise", "fc": "fully connected"}
CLASS_COLORS = {"conv1x1": "tab:blue", "conv_kxk": "tab:gray", "depthwise3x3": "tab:orange",
                "depthwise_kxk": "tab:red", "fc": "tab:olive"}


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _grid(count: int) -> tuple[int, int]:
    cols = min(count, 2)
    return math.ceil(count / cols), cols


def _families_with_accuracy(rows: Sequence[Row]) -> list[str]:
    seen: list[str] = []
    for r in rows:
        if r["accuracy"] and r["family"] not in seen:
            seen.append(r["family"])
    return seen


def accuracy_vs_macs_figure(rows: Sequence[Row]) -> Any:
    """Figure 1: per family, accuracy vs MACs with one curve per width (resolutions along it)."""
    plt = _pyplot()
    families = _families_with_accuracy(rows)
    nrows, ncols = _grid(max(len(families), 1))
    fig, axes = plt.subplots(nrows, ncols, figsize=(6.5 * ncols, 4.6 * nrows), squeeze=False)
    for ax, family in zip(axes.flat, families):
        curves = accuracy_curves(rows, family)
        knees = diminishing_returns(curves)
        cmap = plt.get_cmap("viridis")
        for i, (width, points) in enumerate(curves.items()):
            color = cmap(i / max(len(curves) - 1, 1))
            xs = [p.macs / 1e6 for p in points]
            ax.plot(xs, [p.accuracy for p in points], "-", color=color, label=f"w{width:g}")
            for p in points:
                filled = p.accuracy_source == "published"
                ax.plot(p.macs / 1e6, p.accuracy, "o", color=color, markerfacecolor=color if filled else "white",
                        markersize=5)
                ax.annotate(f"r{p.resolution}", (p.macs / 1e6, p.accuracy), fontsize=6, xytext=(3, -8),
                            textcoords="offset points", color=color)
            knee = knees.get(width)
            if knee is not None:
                ax.plot(knee.macs / 1e6, knee.accuracy, "*", color="black", markersize=12, zorder=5)
        everything = [p for ps in curves.values() for p in ps]
        front = pareto_front(everything, lambda p: float(p.macs), lambda p: p.accuracy)
        ax.plot([p.macs / 1e6 for p in front], [p.accuracy for p in front], "--", color="gray", linewidth=0.8,
                label="front over widths")
        ax.set_xscale("log")
        ax.set_xlabel("MACs (M)")
        ax.set_ylabel("ImageNet top-1 (%)")
        ax.set_title(f"{family}: * = point of diminishing returns", fontsize=9)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7, loc="lower right")
    for ax in list(axes.flat)[len(families):]:
        ax.axis("off")
    fig.suptitle("Accuracy vs MACs per width (filled: published, hollow: estimated by the zoo-wide fit)",
                 fontsize=10)
    fig.tight_layout()
    return fig


def mac_share_figure(rows: Sequence[Row]) -> Any:
    """Figure 2's skew: the share of MACs in 1x1 convs vs depthwise kxk convs as width shrinks."""
    plt = _pyplot()
    families = list(dict.fromkeys(r["family"] for r in rows))
    nrows, ncols = _grid(max(len(families), 1))
    fig, axes = plt.subplots(nrows, ncols, figsize=(6 * ncols, 3.8 * nrows), squeeze=False)
    for ax, family in zip(axes.flat, families):
        shares = mac_shares(rows, family)
        resolution = next((r["resolution"] for r in rows if r["family"] == family), "?")
        resolutions = sorted({r["resolution"] for r in rows if r["family"] == family}, key=lambda s: int(s.split("x")[0]))
        resolution = resolutions[len(resolutions) // 2] if resolutions else resolution
        labels = [f"{w:g}" for w in shares]
        bottom = [0.0] * len(shares)
        for cls in MAC_CLASSES:
            values = [100 * s[cls] for s in shares.values()]
            if not any(values):
                continue
            ax.bar(labels, values, bottom=bottom, color=CLASS_COLORS[cls], label=CLASS_LABELS[cls])
            bottom = [b + v for b, v in zip(bottom, values)]
        ax.set_xlabel("width multiplier")
        ax.set_ylabel("share of MACs (%)")
        ax.set_ylim(0, 100)
        ax.set_title(f"{family} at r{resolution}", fontsize=9)
        ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))
    for ax in list(axes.flat)[len(families):]:
        ax.axis("off")
    fig.suptitle("Uniform width scaling moves MACs from 1x1 convs into depthwise convs (MACs by kernel class)",
                 fontsize=10)
    fig.tight_layout()
    return fig


def pareto_figure(rows: Sequence[Row], board: str) -> Any:
    """Latency and energy vs accuracy on ``board``: each strategy's points and front, and the overall front.

    Ringed points are on the overall front but cannot be deployed by the internal strategy.
    """
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.8))
    on_board = [r for r in rows if r["board"] == board]
    # Internal last, so its points are drawn on top of the external ones they often sit on.
    strategies = sorted((s for s in dict.fromkeys(r["strategy"] for r in on_board) if s != AUTO),
                        key=lambda s: s == INTERNAL)
    assumptions = next((r["assumptions"].split("; strategy")[0] for r in on_board if r["feasible"] == "true"), board)
    for ax, metric, label in ((axes[0], "latency_ms", "latency (ms)"), (axes[1], "energy_mj", "energy (mJ)")):
        for strategy in strategies:
            points = deployable([r for r in on_board if r["strategy"] == strategy], metric)
            if not points:
                continue
            color = STRATEGY_COLORS.get(strategy, "tab:brown")
            ax.scatter([float(r[metric]) for r in points], [float(r["accuracy"]) for r in points],
                       s=14 if strategy == INTERNAL else 10, color=color, alpha=0.8 if strategy == INTERNAL else 0.3,
                       label=f"{strategy} ({len(points)} deployable)")
            front = pareto_front(points, _getter(metric), _getter("accuracy"))
            ax.step([float(r[metric]) for r in front], [float(r["accuracy"]) for r in front], where="post",
                    color=color, linewidth=1.2)
        finding = board_finding(rows, board, metric)
        ax.step([p.cost for p in finding.front], [p.accuracy for p in finding.front], where="post", color="black",
                linewidth=1.6, linestyle="--", label="front over all strategies")
        only = finding.external_only
        ax.scatter([p.cost for p in only], [p.accuracy for p in only], s=70, facecolors="none",
                   edgecolors="black", linewidths=1.2, label=f"on the front, not deployable by {INTERNAL} ({len(only)})")
        for i, p in enumerate(sorted(only, key=lambda p: -p.accuracy)[:3]):
            ax.annotate(p.label(), (p.cost, p.accuracy), fontsize=6, xytext=(-150, -14 - 12 * i),
                        textcoords="offset points", arrowprops={"arrowstyle": "-", "color": "gray", "lw": 0.5})
        ax.set_xscale("log")
        ax.set_xlabel(f"{label}, cost model")
        ax.set_ylabel("ImageNet top-1 (%)")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7, loc="lower right")
    fig.suptitle(f"{board}: accuracy vs latency / energy per strategy ({assumptions})", fontsize=9)
    fig.tight_layout()
    return fig


def _getter(column: str) -> Callable[[Row], float]:
    return lambda row: float(row[column])


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name)


def write_plots(rows: Sequence[Row], directory: Path) -> list[str]:
    """All figures into ``directory``; returns the paths written."""
    from tinyops.backends.reports.figures import save_figure

    plt = _pyplot()
    written: list[str] = []

    def save(fig: Any, name: str) -> None:
        path = directory / name
        save_figure(fig, str(path))
        plt.close(fig)
        written.append(str(path))

    if any(r["accuracy"] for r in rows):
        save(accuracy_vs_macs_figure(rows), "accuracy_vs_macs.png")
    save(mac_share_figure(rows), "mac_share.png")
    for board in dict.fromkeys(r["board"] for r in rows):
        if deployable([r for r in rows if r["board"] == board]):
            save(pareto_figure(rows, board), f"pareto_{_safe(board)}.png")
    return written


__all__ = ["accuracy_vs_macs_figure", "mac_share_figure", "pareto_figure", "write_plots"]
