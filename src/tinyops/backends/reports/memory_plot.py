"""Draw a plan: buffers as rectangles in (op step, arena address) space, live bytes underneath."""

from __future__ import annotations

from typing import Any

from tinyops.memory.plan import MemoryPlan

KIND_COLOURS = {"tensor": "#4c72b0", "scratch": "#dd8452", "alias": "#55a868"}


def plot_plan(plan: MemoryPlan, title: str = "") -> Any:
    """A matplotlib figure (Agg backend) of the plan; the caller saves it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    figure, (top, bottom) = plt.subplots(2, 1, figsize=(11, 7), sharex=True,
                                         gridspec_kw={"height_ratios": [3, 1]})
    steps = max(len(plan.order), 1)
    for buffer in plan.buffers:
        kind = "alias" if buffer.inplace_of else buffer.kind
        top.add_patch(Rectangle((buffer.first_op - 0.4, buffer.offset), buffer.last_op - buffer.first_op + 0.8,
                                max(buffer.size_bytes, 1), facecolor=KIND_COLOURS[kind], edgecolor="black",
                                linewidth=0.4, alpha=0.75))
    curve = plan.live_bytes_per_step()
    peak_step = max(range(len(curve)), key=lambda s: curve[s]) if curve else 0
    top.axhline(plan.arena_bytes, color="black", linestyle="--", linewidth=1,
                label=f"arena {plan.arena_bytes:,} B")
    top.axhline(plan.tflm_arena_bytes, color="#c44e52", linestyle=":", linewidth=1,
                label=f"TFLM arena {plan.tflm_arena_bytes:,} B")
    top.axvline(peak_step, color="#8172b3", linewidth=1, label=f"peak at step {peak_step}")
    top.set_xlim(-0.8, steps - 0.2)
    top.set_ylim(0, max(plan.arena_bytes, plan.tflm_arena_bytes, 1) * 1.05)
    top.set_ylabel("arena offset (bytes)")
    handles = [Rectangle((0, 0), 1, 1, facecolor=c, alpha=0.75) for c in KIND_COLOURS.values()]
    legend = top.legend(loc="upper right", fontsize=8)
    top.add_artist(legend)
    top.legend(handles, ["tensor", "scratch", "in place"], loc="upper left", fontsize=8)
    top.set_title(title or f"memory plan ({plan.planner}): {plan.arena_bytes:,} bytes")
    bottom.step(range(len(curve)), curve, where="mid", color="#4c72b0")
    bottom.fill_between(range(len(curve)), curve, step="mid", alpha=0.3, color="#4c72b0")
    bottom.axhline(plan.lower_bound_bytes, color="black", linestyle="--", linewidth=1,
                   label=f"lower bound {plan.lower_bound_bytes:,} B")
    bottom.axvline(peak_step, color="#8172b3", linewidth=1)
    bottom.set_xlabel("op step (execution order)")
    bottom.set_ylabel("live bytes")
    bottom.legend(loc="upper right", fontsize=8)
    figure.tight_layout()
    return figure
