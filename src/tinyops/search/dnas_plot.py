"""Per-epoch costs of a DNAS run against its budgets (one figure, one panel per cost)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

if TYPE_CHECKING:  # pragma: no cover - typing only
    from tinyops.search.dnas import SearchResult

PANELS = (("flash_bytes", "flash (B)", "flash_bytes"), ("sram_bytes", "working memory (B)", "sram_bytes"),
          ("latency_ms", "latency (ms)", "latency_ms"))


def plot_dnas_trace(results: Sequence["SearchResult"]) -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, len(PANELS), figsize=(12, 3.4))
    for axis, (key, label, budget_key) in zip(axes, PANELS):
        for result in results:
            epochs = [t.epoch for t in result.trace]
            tag = f"{result.config.weight_bits}-bit"
            axis.plot(epochs, [t.soft[key] for t in result.trace], "-o", label=f"soft (expected) {tag}")
            axis.plot(epochs, [t.hard[key] for t in result.trace], "--s", label=f"hard (argmax) {tag}")
            verified = {"flash_bytes": result.verification.flash_bytes,
                        "sram_bytes": result.verification.arena_bytes,
                        "latency_ms": result.verification.latency_ms}[key]
            if verified is not None and epochs:
                axis.plot([epochs[-1]], [verified], "k*", markersize=10, label=f"verified {tag}")
        budget = getattr(results[0].budgets, budget_key)
        if budget is not None:
            if key == "sram_bytes":
                budget = budget - (results[0].smallest.runtime_overhead_bytes if results[0].smallest else 0)
            axis.axhline(budget, color="red", linewidth=1, label="budget")
        axis.set_xlabel("epoch")
        axis.set_title(label)
    axes[0].legend(fontsize=7)
    figure.suptitle(f"tinyops search dnas: {results[0].space.name} for {results[0].budgets.board}")
    figure.tight_layout()
    return figure
