"""Verify a derived architecture with the real tools and repair it until it fits its budgets.

Penalties on proxies do not guarantee a budget, so no architecture leaves the search unverified:
it is built as an IR graph and checked with ``analyze`` (flash), TFLM's memory planner (the
arena) + the runtime overhead (SRAM), and the placement strategy's plan simulated by the cost
model (latency, on the latency board). Where it misses, widths shrink in multiples of 4, the
layer chosen by how much of the missed costs one step saves (proxy, rescaled by the last
measurement), until the real tools say it fits, or nothing is left to shrink (infeasible).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from tinyops.search.budgets import Budgets, runtime_overhead
from tinyops.search.proxy import CostProxy, Measured, graph_for, measure
from tinyops.search.space import WIDTH_STEP, Architecture

if TYPE_CHECKING:  # pragma: no cover - typing only
    from tinyops.hw.board import Board
    from tinyops.ir import Graph

MAX_REPAIR_ROUNDS = 400


@dataclass
class Verification:
    widths: list[int]
    ops: int
    flash_bytes: int
    arena_bytes: int
    runtime_overhead_bytes: int
    sram_bytes: int  # internal: arena + runtime overhead (the whole RAM TFLM needs); external: the plan's SRAM
    latency_ms: float | None  # simulated plan on the latency board
    plan_feasible: bool
    checks: dict[str, bool]
    misses: list[str]
    assumptions: dict[str, str] = field(default_factory=dict)

    @property
    def fits(self) -> bool:
        return all(self.checks.values())

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["fits"] = self.fits
        return data


def verify_graph(graph: "Graph", widths: list[int], budgets: Budgets, board: "Board", latency_board: "Board"
                 ) -> Verification:
    """Check one graph (built or read from an exported .tflite) against the budgets."""
    limit = budgets.plan_sram_limit_bytes
    measured = measure(graph, board, budgets.kernels, budgets.strategy, limit)
    timed: Measured = measured
    if latency_board.id != board.id and budgets.latency_ms is not None:
        timed = measure(graph, latency_board, budgets.kernels, budgets.strategy, limit)
    overhead, overhead_source = runtime_overhead(graph)
    sram = measured.arena_bytes + overhead
    sram_source = f"TFLM greedy planner arena ({budgets.kernels} scratch) + runtime overhead: {overhead_source}"
    if budgets.strategy != "internal" and measured.plan_sram_bytes is not None:
        # The TinyOps plan decides what lives in SRAM (activations, overlay buffers in all free SRAM).
        sram = measured.plan_sram_bytes
        sram_source = f"the {budgets.strategy} plan's SRAM (activations + overlay buffers), not TFLM's arena"
    checks: dict[str, bool] = {"plan": measured.feasible}
    misses = [] if measured.feasible else [f"plan on {board.id}: {measured.reason}"]
    if budgets.flash_bytes is not None:
        checks["flash"] = measured.flash_bytes <= budgets.flash_bytes
        if not checks["flash"]:
            misses.append(f"flash {measured.flash_bytes} B > budget {budgets.flash_bytes} B")
    if budgets.sram_bytes is not None:
        checks["sram"] = sram <= budgets.sram_bytes
        if not checks["sram"]:
            misses.append(f"SRAM {sram} B (arena {measured.arena_bytes} + runtime {overhead}) > budget "
                          f"{budgets.sram_bytes} B")
    if budgets.latency_ms is not None:
        checks["latency"] = timed.latency_ms is not None and timed.latency_ms <= budgets.latency_ms
        if not checks["latency"]:
            got = "no feasible plan" if timed.latency_ms is None else f"{timed.latency_ms:.2f} ms"
            misses.append(f"latency {got} on {latency_board.id} > budget {budgets.latency_ms:.2f} ms")
    return Verification(
        list(widths), measured.ops, measured.flash_bytes, measured.arena_bytes, overhead, sram, timed.latency_ms,
        measured.feasible, checks, misses,
        {"flash": "analyze: the serialized int8 model",
         "sram": sram_source,
         "latency": timed.assumptions or "no plan", "ops": "2 x MACs (op registry)"})


def verify(arch: Architecture, budgets: Budgets, board: "Board", latency_board: "Board", weight_bits: int
           ) -> Verification:
    return verify_graph(graph_for(arch, weight_bits), list(arch.widths), budgets, board, latency_board)


@dataclass
class Repair:
    layer: str
    from_width: int
    to_width: int
    reason: str


def _shrunk(arch: Architecture, layer: int) -> Architecture | None:
    width = arch.widths[layer]
    spec = arch.space.layers[layer]
    if width == 0:
        return None
    options = spec.width_options()
    if width <= options[0]:
        if not spec.skippable:
            return None
        new = 0  # the last step of a skippable block drops it
    elif spec.fractions:
        new = max(o for o in options if o < width)  # one 10% step down
    else:
        new = max(WIDTH_STEP, width - max(WIDTH_STEP, (width // 10) // WIDTH_STEP * WIDTH_STEP))
    widths = list(arch.widths)
    widths[layer] = new
    return Architecture(arch.space, tuple(widths), arch.name)


def _scaled_costs(proxy: CostProxy, latency_proxy: CostProxy, arch: Architecture) -> dict[str, float]:
    costs = proxy.hard_costs(arch)
    return {"flash": costs.flash_bytes, "sram": costs.sram_bytes, "latency": latency_proxy.hard_costs(arch).latency_ms}


def repair(arch: Architecture, budgets: Budgets, board: "Board", latency_board: "Board", proxy: CostProxy,
           latency_proxy: CostProxy, weight_bits: int) -> tuple[Architecture, Verification, list[Repair]]:
    """Shrink ``arch`` until the real tools say it fits (or nothing is left: the last check says why)."""
    repairs: list[Repair] = []
    check = verify(arch, budgets, board, latency_board, weight_bits)
    rounds = 0
    while not check.fits and rounds < MAX_REPAIR_ROUNDS:
        rounds += 1
        proxied = _scaled_costs(proxy, latency_proxy, arch)
        real = {"flash": float(check.flash_bytes), "sram": float(check.sram_bytes),
                "latency": float(check.latency_ms) if check.latency_ms is not None else proxied["latency"] * 2}
        limits = {"flash": budgets.flash_bytes, "sram": budgets.sram_bytes, "latency": budgets.latency_ms}
        missed = [name for name in ("flash", "sram", "latency") if not check.checks.get(name, True)]
        if not missed:  # the plan failed for a reason the budgets do not name: shrink what holds most memory
            missed = ["flash", "sram"]
        best: tuple[float, Architecture] | None = None
        for layer in range(len(arch.widths)):
            candidate = _shrunk(arch, layer)
            if candidate is None:
                continue
            after = _scaled_costs(proxy, latency_proxy, candidate)
            saving = 0.0
            for name in missed:
                limit = limits[name] or real[name]
                # The proxy's change, rescaled to the measured figure, as a share of the budget.
                ratio = real[name] / proxied[name] if proxied[name] > 0 else 1.0
                saving += max(proxied[name] - after[name], 0.0) * ratio / float(limit)
            if best is None or saving > best[0] + 1e-12:
                best = (saving, candidate)
        if best is None or best[0] <= 0.0:
            break
        candidate = best[1]
        changed = next(i for i, (a, b) in enumerate(zip(arch.widths, candidate.widths)) if a != b)
        repairs.append(Repair(arch.space.layers[changed].name, arch.widths[changed], candidate.widths[changed],
                              "; ".join(check.misses)))
        arch = candidate
        check = verify(arch, budgets, board, latency_board, weight_bits)
    return arch, check, repairs
