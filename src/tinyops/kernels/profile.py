"""Kernel-library cost profiles (data) and core parameters (data), composed into :class:`CoreParams`.

Two kinds of file, both written by ``benchmarks/calibrate.py`` and read here:

* ``tinyops/kernels/profiles/<library>.toml``: one per kernel library (tflm-reference, cmsis-nn,
  x-cube-ai, tinyengine, tinyops). Library-wide facts (channel alignment, the unaligned-channel slowdown,
  output columns per filter pass, the library's own RAM and code-flash overheads) and a list of
  ``[[version]]`` tables, newest first. A version either holds per-core coefficient tables of its
  own (``[version.cores.M7]``) or is ``base`` version x fitted ``mac_scale`` / ``overhead_scale``.
  Every version states the runtime it describes, the published rows it was fitted on, its fit
  quality and its error band (leave-one-board-out cross-validation where the rows allow).
* ``tinyops/kernels/profiles/cores/<core>.toml``: what does not depend on the library: the
  core's cycles per MAC relative to a Cortex-M4 (for versions without a table for that core),
  flash-accelerator hit share, SRAM stalls, static power share.

``--kernels ID`` names the newest version of a library, ``--kernels ID@VERSION`` a given one.
Nothing numeric about a core or a kernel library lives in code.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

from tinyops.errors import TinyOpsError
from tinyops.kernels.library import KERNEL_LIBRARIES, split_kernels_spec

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
# Coefficients a version's ``mac_scale`` multiplies; ``overhead_scale`` multiplies the rest.
MAC_COEFFICIENTS: tuple[str, ...] = ("conv_cycles_per_mac", "im2col_cycles_per_element", "dw3x3_cycles_per_mac",
                                     "dw_cycles_per_mac", "fc_cycles_per_mac")
REFERENCE_CORE = "M4"


@dataclass(frozen=True)
class CoreParams:
    """Calibrated coefficients of one core with one kernel library version, and its error band."""

    core: str
    kernels: str  # library id
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
    version: str = ""
    # Error band of a latency (energy) this profile predicts: mean absolute percentage error of
    # cross-validation on the published measurements (see ``band_note`` for which).
    latency_error_pct: float | None = None
    energy_error_pct: float | None = None
    band_note: str = ""

    def c(self, name: str) -> float:
        return self.coefficients[name]

    @property
    def spec(self) -> str:
        return f"{self.kernels}@{self.version}" if self.version else self.kernels


@dataclass(frozen=True)
class FitQuality:
    rows: int
    boards: int
    fit_mape_pct: float | None
    lobo_mape_pct: float | None  # leave-one-board-out
    lomo_mape_pct: float | None  # leave-one-model-out
    energy_rows: int
    energy_lobo_mape_pct: float | None
    rows_used: tuple[str, ...]
    note: str
    cores: tuple[str, ...] = ()  # cores of the rows the version was fitted / cross-validated on


@dataclass(frozen=True)
class LibraryMemory:
    """RAM and code flash the library needs besides the model, from one published comparison.

    ``sram_vs_arena_bytes``: the library's published whole SRAM minus tinyops' cmsis-nn arena plan of
    the same model (negative: the library's own planner packs the arena tighter than that plan).
    ``code_flash_bytes``: published flash minus the model's constant bytes (runtime + kernel code)."""

    sram_vs_arena_bytes: int
    code_flash_bytes: int
    source: str


@dataclass(frozen=True)
class ProfileVersion:
    version: str
    describes: str  # the runtime / library release the rows used
    status: str  # fitted | derived | prior
    source: str
    cores: dict[str, dict[str, float]]
    base: str | None
    mac_scale: float
    overhead_scale: float
    # Cores the scales were fitted for; other cores take the base version unchanged (empty: all).
    scaled_cores: tuple[str, ...]
    latency_error_pct: float
    energy_error_pct: float | None
    band_note: str
    fit: FitQuality
    memory: LibraryMemory | None


@dataclass(frozen=True)
class KernelProfile:
    library: str
    description: str
    unaligned_channel_factor: float
    unaligned_channel_factor_source: str
    channel_alignment: int
    conv_columns_per_filter_pass: int
    versions: tuple[ProfileVersion, ...]  # newest first

    def version(self, name: str | None) -> ProfileVersion:
        if name is None:
            return self.versions[0]
        for v in self.versions:
            if v.version == name:
                return v
        raise TinyOpsError(f"kernel library {self.library} has no profile version {name!r}; "
                           f"known: {', '.join(v.version for v in self.versions)} (bare {self.library} = "
                           f"{self.versions[0].version}, the newest)")


@dataclass(frozen=True)
class CoreFile:
    core: str
    cycles_vs_m4: float
    cycles_vs_m4_source: str
    flash_hidden_fraction: dict[str, float]
    sram_stall_cycles_per_byte: dict[str, float]
    static_power_fraction: float
    source: str


def _profiles_dir() -> Any:
    return resources.files("tinyops.kernels").joinpath("profiles")


def core_file_name(core: str) -> str:
    return f"{core.lower().replace('+', 'p')}.toml"


def _fail(label: str, exc: BaseException) -> TinyOpsError:
    return TinyOpsError(f"kernel profile {label}: missing or bad field {exc}")


def _fit(t: dict[str, Any]) -> FitQuality:
    def opt(k: str) -> float | None:
        return float(t[k]) if k in t else None
    return FitQuality(int(t.get("rows", 0)), int(t.get("boards", 0)), opt("fit_mape_pct"), opt("lobo_mape_pct"),
                      opt("lomo_mape_pct"), int(t.get("energy_rows", 0)), opt("energy_lobo_mape_pct"),
                      tuple(str(r) for r in t.get("rows_used", [])), str(t.get("note", "")),
                      tuple(str(c) for c in t.get("cores", [])))


def parse_profile(data: dict[str, Any], label: str) -> KernelProfile:
    try:
        versions = []
        for v in data["version"]:
            cores = {str(c): {k: float(t["coefficients"][k]) for k in COEFFICIENTS}
                     for c, t in v.get("cores", {}).items()}
            base = v.get("base")
            if not cores and base is None:
                raise KeyError(f"version {v.get('version')}: needs [version.cores.*] tables or a base")
            mem = v.get("memory")
            versions.append(ProfileVersion(
                version=str(v["version"]), describes=str(v["describes"]), status=str(v["status"]),
                source=str(v["source"]), cores=cores, base=str(base) if base is not None else None,
                mac_scale=float(v.get("mac_scale", 1.0)), overhead_scale=float(v.get("overhead_scale", 1.0)),
                scaled_cores=tuple(str(c) for c in v.get("scaled_cores", [])),
                latency_error_pct=float(v["latency_error_pct"]),
                energy_error_pct=float(v["energy_error_pct"]) if "energy_error_pct" in v else None,
                band_note=str(v.get("band_note", "")), fit=_fit(v.get("fit", {})),
                memory=LibraryMemory(int(mem["sram_vs_arena_bytes"]), int(mem["code_flash_bytes"]), str(mem["source"]))
                if mem else None))
        if not versions:
            raise KeyError("no [[version]]")
        return KernelProfile(
            library=str(data["library"]), description=str(data.get("description", "")),
            unaligned_channel_factor=float(data["unaligned_channel_factor"]),
            unaligned_channel_factor_source=str(data.get("unaligned_channel_factor_source", "")),
            channel_alignment=int(data["channel_alignment"]),
            conv_columns_per_filter_pass=int(data["conv_columns_per_filter_pass"]),
            versions=tuple(versions))
    except (KeyError, TypeError, ValueError) as exc:
        raise _fail(label, exc) from None


def parse_core(data: dict[str, Any], label: str) -> CoreFile:
    try:
        return CoreFile(
            core=str(data["core"]), cycles_vs_m4=float(data["cycles_vs_m4"]),
            cycles_vs_m4_source=str(data["cycles_vs_m4_source"]),
            flash_hidden_fraction={str(k): float(v) for k, v in data["flash_hidden_fraction"].items()},
            sram_stall_cycles_per_byte={str(k): float(v) for k, v in data["sram_stall_cycles_per_byte"].items()},
            static_power_fraction=float(data["static_power_fraction"]), source=str(data["source"]))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise TinyOpsError(f"core parameter file {label}: missing or bad field {exc}") from None


@lru_cache(maxsize=None)
def load_profile(library: str) -> KernelProfile:
    """The profile file of ``library`` (an id without version)."""
    if library not in KERNEL_LIBRARIES:
        raise TinyOpsError(f"unknown kernel library {library!r}; known: {', '.join(KERNEL_LIBRARIES)}")
    entry = _profiles_dir().joinpath(f"{library}.toml")
    if not entry.is_file():
        raise TinyOpsError(f"kernel library {library} has no cost profile (tinyops/kernels/profiles/{library}.toml)")
    try:
        data = tomllib.loads(entry.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise TinyOpsError(f"kernel profile {library}.toml: malformed TOML: {exc}") from None
    return parse_profile(data, f"{library}.toml")


def available_cores() -> list[str]:
    out = []
    for entry in _profiles_dir().joinpath("cores").iterdir():
        if entry.name.endswith(".toml"):
            out.append(str(tomllib.loads(entry.read_text(encoding="utf-8"))["core"]))
    return sorted(out)


@lru_cache(maxsize=None)
def load_core(core: str) -> CoreFile:
    entry = _profiles_dir().joinpath("cores").joinpath(core_file_name(core))
    if not entry.is_file():
        raise TinyOpsError(f"no core parameters for Cortex-{core}: no published measurement or datasheet figure "
                           f"calibrates it (have: {', '.join(available_cores())}; add "
                           f"tinyops/kernels/profiles/cores/{core_file_name(core)})")
    return parse_core(tomllib.loads(entry.read_text(encoding="utf-8")), core_file_name(core))


def resolve(spec: str) -> tuple[KernelProfile, ProfileVersion]:
    """The profile and version ``spec`` (``ID`` or ``ID@VERSION``) names."""
    library, version = split_kernels_spec(spec)
    profile = load_profile(library)
    return profile, profile.version(version)


def core_coefficients(profile: KernelProfile, version: ProfileVersion, core: str) -> tuple[dict[str, float], str]:
    """Coefficients of ``core`` in ``version`` and how they were obtained."""
    if core in version.cores:
        return dict(version.cores[core]), f"{version.status} table for {core}"
    if version.base is not None:
        # base: another version of this library ("2020") or of another one ("cmsis-nn@2020").
        base_profile, base_version = (resolve(version.base) if "@" in version.base
                                      else (profile, profile.version(version.base)))
        base_coeffs, how = core_coefficients(base_profile, base_version, core)
        if version.scaled_cores and core not in version.scaled_cores:
            return base_coeffs, (f"{base_profile.library}@{base_version.version} ({how}): no {profile.library}@"
                                 f"{version.version} rows for Cortex-{core}")
        scaled = {k: v * (version.mac_scale if k in MAC_COEFFICIENTS else version.overhead_scale)
                  for k, v in base_coeffs.items()}
        return scaled, (f"{base_profile.library}@{base_version.version} ({how}) x MAC {version.mac_scale:.3g}, "
                        f"overhead {version.overhead_scale:.3g}")
    if REFERENCE_CORE in version.cores:
        factor = load_core(core).cycles_vs_m4
        return ({k: v * factor for k, v in version.cores[REFERENCE_CORE].items()},
                f"{REFERENCE_CORE} table x {factor:.3g} cycles of Cortex-{core} per M4 cycle (cores/{core_file_name(core)})")
    raise TinyOpsError(f"{profile.library}@{version.version} has no coefficients for Cortex-{core}")


@lru_cache(maxsize=None)
def load_params(core: str, kernels: str) -> CoreParams:
    """Parameters for ``core`` (M4, M7, M33...) with ``kernels`` (``ID`` or ``ID@VERSION``)."""
    profile, version = resolve(kernels)
    core_file = load_core(core)
    coeffs, how = core_coefficients(profile, version, core)
    fit = version.fit
    band_version = version
    while band_version.base is not None and band_version.scaled_cores and core not in band_version.scaled_cores:
        band_profile, band_version = (resolve(band_version.base) if "@" in band_version.base
                                      else (profile, profile.version(band_version.base)))
    return CoreParams(
        core=core, kernels=profile.library, coefficients=coeffs,
        unaligned_channel_factor=profile.unaligned_channel_factor, channel_alignment=profile.channel_alignment,
        conv_columns_per_filter_pass=profile.conv_columns_per_filter_pass,
        flash_hidden_fraction=core_file.flash_hidden_fraction,
        sram_stall_cycles_per_byte=core_file.sram_stall_cycles_per_byte,
        static_power_fraction=core_file.static_power_fraction,
        status="derived" if "cycles of Cortex" in how else version.status,
        source=f"{version.source}; {how}",
        extras={"memory": ({"sram_vs_arena_bytes": version.memory.sram_vs_arena_bytes,
                            "code_flash_bytes": version.memory.code_flash_bytes, "source": version.memory.source}
                           if version.memory else None),
                "fit": f"{fit.rows} rows on {fit.boards} boards; fit MAPE {fit.fit_mape_pct}, "
                       f"leave-one-board-out {fit.lobo_mape_pct}, leave-one-model-out {fit.lomo_mape_pct}",
                "describes": version.describes, "rows_used": list(fit.rows_used)},
        version=version.version, latency_error_pct=band_version.latency_error_pct,
        energy_error_pct=band_version.energy_error_pct,
        band_note=(band_version.band_note if band_version is version else
                   f"{band_version.band_note} (the band of @{band_version.version}: no @{version.version} rows for "
                   f"Cortex-{core})") + (f"; Cortex-{core} derived with cores/{core_file_name(core)} cycles_vs_m4, "
                                         f"whose error the band does not include"
                                         if "cycles of Cortex" in how and core not in band_version.fit.cores else ""))


def parse_params(data: dict[str, Any], label: str) -> CoreParams:
    """CoreParams from a flat dict (the calibration script evaluates candidate coefficients)."""
    try:
        coeffs = {name: float(data["coefficients"][name]) for name in COEFFICIENTS}
        return CoreParams(
            core=str(data["core"]), kernels=str(data["kernels"]), coefficients=coeffs,
            unaligned_channel_factor=float(data["unaligned_channel_factor"]),
            channel_alignment=int(data["channel_alignment"]),
            conv_columns_per_filter_pass=int(data["conv_columns_per_filter_pass"]),
            flash_hidden_fraction={str(k): float(v) for k, v in data["flash_hidden_fraction"].items()},
            sram_stall_cycles_per_byte={str(k): float(v) for k, v in data["sram_stall_cycles_per_byte"].items()},
            static_power_fraction=float(data["static_power_fraction"]),
            status=str(data.get("status", "prior")), source=str(data.get("source", "")))
    except (KeyError, TypeError, ValueError) as exc:
        raise TinyOpsError(f"cost-model parameters {label}: missing or bad field {exc}") from None


@dataclass(frozen=True)
class MemoryEnergy:
    """Per-byte energies not captured by the board's run power (data file memories.toml)."""

    internal_flash_read_nj_per_byte: float
    source: str


@lru_cache(maxsize=1)
def load_memory_energy() -> MemoryEnergy:
    data = tomllib.loads(_profiles_dir().joinpath("memories.toml").read_text(encoding="utf-8"))
    t = data["internal_flash"]
    return MemoryEnergy(float(t["read_nj_per_byte"]), str(t["source"]))


@dataclass(frozen=True)
class MemorySystem:
    """CPU cycles around DMA transfers (data file memories.toml, tables [dma] and [dcache])."""

    dma_setup_cycles: float
    dcache_line_bytes: int
    dcache_maintenance_cycles_per_line: float
    source: str


@lru_cache(maxsize=1)
def load_memory_system() -> MemorySystem:
    data = tomllib.loads(_profiles_dir().joinpath("memories.toml").read_text(encoding="utf-8"))
    try:
        dma, cache = data["dma"], data["dcache"]
        return MemorySystem(float(dma["setup_cycles"]), int(cache["line_bytes"]),
                            float(cache["maintenance_cycles_per_line"]),
                            f"DMA: {dma['source']}; D-cache: {cache['source']}")
    except (KeyError, TypeError, ValueError) as exc:
        raise TinyOpsError(f"memories.toml: missing or bad field {exc}") from None


@dataclass(frozen=True)
class ChipPowerFit:
    """How much more than its datasheet's Run-mode current a chip draws running a neural network
    (data file chip_power.toml, written by benchmarks/calibrate.py from MLPerf Tiny energies)."""

    workload_factor: float
    source: str
    # The factor each board's leave-one-board-out check used: fitted without that board's rows.
    leave_one_board_out: dict[str, float]


@lru_cache(maxsize=1)
def load_chip_power() -> ChipPowerFit:
    entry = _profiles_dir().joinpath("chip_power.toml")
    if not entry.is_file():
        return ChipPowerFit(1.0, "no chip_power.toml: datasheet current taken as is", {})
    data = tomllib.loads(entry.read_text(encoding="utf-8"))
    try:
        return ChipPowerFit(float(data["workload_factor"]), str(data["workload_factor_source"]),
                            {str(k): float(v) for k, v in data.get("leave_one_board_out", {}).items()})
    except (KeyError, TypeError, ValueError) as exc:
        raise TinyOpsError(f"chip_power.toml: missing or bad field {exc}") from None
