"""Energy of a simulated plan: power(state) x time + per-byte data movement.

MicroNets §3.4 measures MCU power as nearly independent of the workload, so the board's run
power (from the board file, at its measured clock) times the latency is the core term. Where the
board file gives the chip's datasheet Run-mode current (``chip_datasheet_*``), the chip-scope run
power is that current x supply voltage x one workload factor fitted on MLPerf Tiny's energies
(a network keeps flash, caches and SRAM busier than the datasheet's CoreMark; ``chip_run_mw``):
P(f) = V x (I_static + k x uA/MHz x f). Other run powers scale with the clock as static + dynamic:
P(f) = P_run x (s + (1 - s) f / f_run), with the static share s from the core's parameter file. Data movement adds per-byte energies for the
internal flash (Svoboda §5.1; not where the fitted workload factor already holds on-chip traffic)
and for external memories (active power / bandwidth, board file).

Every energy names its scope: ``chip`` (the MCU's supply domain, as MLPerf Tiny's energy harness
measures it) or ``board`` (the whole board's supply, as TinyOpsV2 Table 2 does). A board file gives
its run power in one scope and may give the other; each scope is predicted from its own power.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tinyops.kernels.profile import load_chip_power

if TYPE_CHECKING:
    from tinyops.hw.board import Power, PowerScope
    from tinyops.planning.plan import Plan


@dataclass
class EnergyReport:
    total_mj: float
    run_power_mw: float
    core_mj: float  # run power x latency
    movement_mj: dict[str, float] = field(default_factory=dict)  # per memory
    scope: str = "chip"  # chip | board: the supply the run power was measured at
    by_scope_mj: dict[str, float] = field(default_factory=dict)  # the same inference in every scope the board gives


def uses_measured_external_power(plan: "Plan") -> bool:
    """A plan that keeps data in external memory runs at the board's measured external-memory power
    (TinyOpsV2 Table 2: the SDRAM and QSPI rails are up for the whole inference) when the board
    file has that figure."""
    return bool(plan.external_bytes) and plan.board.power.run_external_mw is not None


def chip_run_mw(power: "Power") -> float | None:
    """Chip-scope run power at ``power.run_clock_mhz``: the datasheet current model x the fitted
    workload factor where the board file states one, else the board file's chip figure."""
    if power.chip_datasheet is not None:
        return power.chip_datasheet.run_mw(power.run_clock_mhz, load_chip_power().workload_factor)
    return power.run_mw_in("chip")


def run_mw_in(power: "Power", scope: "PowerScope") -> float | None:
    """The run power at ``power.run_clock_mhz`` in ``scope`` (None where the board gives none)."""
    return chip_run_mw(power) if scope == "chip" else power.run_mw_in(scope)


def run_power_mw(plan: "Plan", scope: "PowerScope | None" = None) -> float:
    """Run power at the plan's clock in ``scope`` (default: the scope the board file measured)."""
    power = plan.board.power
    scope = scope or power.scope
    s = plan.params.static_power_fraction
    if scope == power.scope and uses_measured_external_power(plan):
        run_mw = power.run_external_mw
    elif scope == "chip" and power.chip_datasheet is not None:
        # The datasheet model has its own clock dependence: static current + per-MHz current.
        return power.chip_datasheet.run_mw(plan.clock_mhz, load_chip_power().workload_factor)
    else:
        run_mw = run_mw_in(power, scope)
    if run_mw is None:
        raise ValueError(f"board {plan.board.id} gives no {scope} run power")
    return run_mw * (s + (1.0 - s) * plan.clock_mhz / power.run_clock_mhz)


def energy_of(plan: "Plan", latency_s: float, bytes_read: dict[str, int],
              bytes_written: dict[str, int]) -> EnergyReport:
    report = _energy_in(plan, latency_s, bytes_read, bytes_written, plan.board.power.scope)
    report.by_scope_mj = {scope: _energy_in(plan, latency_s, bytes_read, bytes_written, scope).total_mj
                          for scope in plan.board.power.scopes}
    return report


def _energy_in(plan: "Plan", latency_s: float, bytes_read: dict[str, int], bytes_written: dict[str, int],
               scope: "PowerScope") -> EnergyReport:
    p_mw = run_power_mw(plan, scope)
    core_mj = p_mw * latency_s  # mW x s = mJ
    movement: dict[str, float] = {}
    measured = scope == plan.board.power.scope and uses_measured_external_power(plan)
    # The workload factor is fitted on whole-chip energies: on-chip flash and SRAM traffic is inside it.
    fitted_on_chip = scope == "chip" and plan.board.power.chip_datasheet is not None
    for name, port in plan.memories.items():
        if measured and port.external:
            continue  # already inside the measured external-memory run power
        if fitted_on_chip and not port.external:
            continue
        nj = bytes_read.get(name, 0) * port.read_nj_per_byte + bytes_written.get(name, 0) * port.write_nj_per_byte
        if nj:
            movement[name] = nj * 1e-6
    return EnergyReport(core_mj + sum(movement.values()), p_mw, core_mj, movement, scope)
