"""Error bands of predicted latencies and energies, as every report prints them.

The band of a figure is its kernel profile's cross-validation error on the published measurements
(``tinyops/kernels/profiles/<library>.toml``: ``latency_error_pct``, ``energy_error_pct`` and the
note saying which cross-validation and which rows).
"""

from __future__ import annotations

from typing import Any

from tinyops.kernels.profile import CoreParams


def band_fields(params: CoreParams) -> dict[str, Any]:
    """JSON fields of a plan or sweep row: the bands and what they rest on."""
    return {
        "latency_error_pct": params.latency_error_pct,
        "energy_error_pct": params.energy_error_pct,
        "error_band": {"profile": params.spec, "core": params.core, "note": params.band_note,
                       "rows": list(params.extras.get("rows_used", []))},
        # The library's own RAM and code flash beside the model (profile [version.memory]; informational:
        # the plan's SRAM and flash figures do not include it).
        "library_memory": params.extras.get("memory"),
    }


def pm(pct: float | None) -> str:
    """`` ±14%``, or `` ±?`` for a figure without a cross-validated band (reports say so)."""
    return f" ±{pct:.0f}%" if pct is not None else " ±?"


def latency_text(latency_ms: float, pct: float | None) -> str:
    return f"{latency_ms:.2f} ms{pm(pct)}"


def energy_text(energy_mj: float, pct: float | None) -> str:
    return f"{energy_mj:.2f} mJ{pm(pct)}"
