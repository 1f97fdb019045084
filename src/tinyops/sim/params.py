"""Cost-model parameters: one TOML file per (core, kernel library) in ``tinyops/sim/params``.

The files are written by ``benchmarks/calibrate.py`` (the fit) and read here. Nothing numeric
about a core or a kernel library lives in code: the cost model multiplies these coefficients
with per-op counts (MACs, outputs, im2col elements...) taken from the op registry.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

from tinyops.errors import TinyOpsError

# The linear coefficients the fit estimates, in the order of the feature vectors.
COEFFICIENTS: tuple[str, ...] = (
    "conv_cycles_per_mac",         # CONV_2D / TRANSPOSE_CONV inner loop
    "im2col_cycles_per_element",   # building the im2col column of a non-1x1 convolution
    "dw3x3_cycles_per_mac",        # depthwise 3x3, channel multiplier 1 (CMSIS-NN's special kernel)
    "dw_cycles_per_mac",           # any other depthwise (5x5, 7x7, multiplier > 1)
    "fc_cycles_per_mac",           # FULLY_CONNECTED (weight streaming, no reuse)
    "cycles_per_output",           # requantize + clamp + store one output element of a MAC op
    "cycles_per_element",          # pooling, elementwise, activation, data-movement ops
    "cycles_per_op",               # interpreter dispatch + kernel set-up, every op
)
KERNEL_LIBRARIES: tuple[str, ...] = ("tflm-reference", "cmsis-nn", "tinyops")  # tinyops: our generated C (derived)


@dataclass(frozen=True)
class CoreParams:
    """Calibrated coefficients of one core with one kernel library."""

    core: str
    kernels: str
    coefficients: dict[str, float]
    # CMSIS-NN's convolution fast paths need channel counts divisible by 4; otherwise the MAC
    # loop runs this much slower (MicroNets §3.2: 138 -> 140 channels, 37.5 ms -> 21.5 ms).
    unaligned_channel_factor: float
    channel_alignment: int
    # Output columns (pixels) computed per pass over a convolution's filter: how often the
    # filter is re-read when it does not stay in the data cache.
    conv_columns_per_filter_pass: int
    # Flash accelerator / cache: the share of flash wait states hidden by prefetch.
    flash_hidden_fraction: dict[str, float]
    # Extra CPU cycles per byte for operands in each SRAM kind, relative to the calibration
    # placement (activations in the main SRAM).
    sram_stall_cycles_per_byte: dict[str, float]
    # Share of the board's run power that does not scale with clock (leakage, regulators, board).
    static_power_fraction: float
    status: str  # "fitted" | "derived" | "prior"
    source: str
    extras: dict[str, Any] = field(default_factory=dict)

    def c(self, name: str) -> float:
        return self.coefficients[name]


def params_file_name(core: str, kernels: str) -> str:
    return f"{core.lower().replace('+', 'p')}_{kernels}.toml"


def _params_dir() -> Any:
    return resources.files("tinyops.sim").joinpath("params")


def available() -> list[tuple[str, str]]:
    """(core, kernels) pairs that have a parameter file."""
    out = []
    for entry in _params_dir().iterdir():
        if entry.name.endswith(".toml") and entry.name != "memories.toml":
            data = tomllib.loads(entry.read_text(encoding="utf-8"))
            out.append((str(data["core"]), str(data["kernels"])))
    return sorted(out)


def parse_params(data: dict[str, Any], label: str) -> CoreParams:
    try:
        coeffs = {name: float(data["coefficients"][name]) for name in COEFFICIENTS}
        return CoreParams(
            core=str(data["core"]),
            kernels=str(data["kernels"]),
            coefficients=coeffs,
            unaligned_channel_factor=float(data["unaligned_channel_factor"]),
            channel_alignment=int(data["channel_alignment"]),
            conv_columns_per_filter_pass=int(data["conv_columns_per_filter_pass"]),
            flash_hidden_fraction={str(k): float(v) for k, v in data["flash_hidden_fraction"].items()},
            sram_stall_cycles_per_byte={str(k): float(v) for k, v in data["sram_stall_cycles_per_byte"].items()},
            static_power_fraction=float(data["static_power_fraction"]),
            status=str(data.get("status", "prior")),
            source=str(data.get("source", "")),
            extras={k: v for k, v in data.items() if k in ("fit", "notes")},
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise TinyOpsError(f"cost-model parameter file {label}: missing or bad field {exc}") from None


@lru_cache(maxsize=None)
def load_params(core: str, kernels: str) -> CoreParams:
    """Parameters for ``core`` (M4, M7, M33...) and ``kernels`` (tflm-reference | cmsis-nn)."""
    if kernels not in KERNEL_LIBRARIES:
        raise TinyOpsError(f"unknown kernel library {kernels!r}; known: {', '.join(KERNEL_LIBRARIES)}")
    name = params_file_name(core, kernels)
    entry = _params_dir().joinpath(name)
    if not entry.is_file():
        have = ", ".join(f"{c}/{k}" for c, k in available())
        raise TinyOpsError(f"no cost-model parameters for core {core} with {kernels} "
                           f"(have: {have})")
    return parse_params(tomllib.loads(entry.read_text(encoding="utf-8")), name)


@dataclass(frozen=True)
class MemoryEnergy:
    """Per-byte energies not captured by the board's run power (data file memories.toml)."""

    internal_flash_read_nj_per_byte: float
    source: str


@lru_cache(maxsize=1)
def load_memory_energy() -> MemoryEnergy:
    data = tomllib.loads(_params_dir().joinpath("memories.toml").read_text(encoding="utf-8"))
    t = data["internal_flash"]
    return MemoryEnergy(float(t["read_nj_per_byte"]), str(t["source"]))
