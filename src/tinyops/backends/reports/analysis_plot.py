"""Working set per layer against the board's SRAM, as in Svoboda et al., Figure 3."""

from __future__ import annotations

from typing import Any

from tinyops.analysis.analyze import Analysis


def working_set_figure(analysis: Analysis) -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ops = [op for op in analysis.ops if op.subgraph == 0]
    steps = list(range(len(ops)))
    inputs_kb = [op.input_bytes / 1024 for op in ops]
    outputs_kb = [op.output_bytes / 1024 for op in ops]
    weights_kb = [op.weight_bytes / 1024 for op in ops]
    figure, axes = plt.subplots(figsize=(max(6.0, 0.22 * len(ops) + 3), 4.2))
    axes.bar(steps, inputs_kb, label="inputs", color="#4C72B0")
    axes.bar(steps, outputs_kb, bottom=inputs_kb, label="outputs", color="#55A868")
    bottoms = [i + o for i, o in zip(inputs_kb, outputs_kb)]
    axes.bar(steps, weights_kb, bottom=bottoms, label="weights", color="#C44E52")
    if analysis.board is not None:
        sram_kb = analysis.board.sram_available_bytes / 1024
        axes.axhline(sram_kb, color="black", linestyle="--", linewidth=1.2,
                     label=f"SRAM of {analysis.board.id} ({sram_kb:.0f} KB)")
    axes.set_xticks(steps)
    axes.set_xticklabels([op.type.replace("_2D", "").replace("DEPTHWISE_CONV", "DW")[:10] for op in ops],
                         rotation=90, fontsize=7)
    axes.set_ylabel("working set (KB)")
    axes.set_xlabel("layer (model order)")
    axes.set_title(f"Working set per layer: {analysis.model.split('/')[-1]}", fontsize=10)
    axes.legend(fontsize=8)
    figure.tight_layout()
    return figure
