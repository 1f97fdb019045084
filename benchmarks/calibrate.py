"""Fit the kernel profiles to published measurements; write tinyops/kernels/profiles/*.toml.

    python benchmarks/calibrate.py            # fit, print the cross-validated errors, write the files
    python benchmarks/calibrate.py --dry-run  # fit and print only

Two steps. (1) The seeds' rows (ROWS: MicroNets Table 4, TinyOpsV2 Tables 1-2) fit the cmsis-nn@2020
M4/M7 coefficient tables, as below. (2) The non-held-out rows of ../shared/measurements/published.csv
for the four published libraries fit each profile version's (MAC, overhead) scales of its base tables,
with leave-one-board-out and leave-one-model-out cross-validation: the leave-one-board-out MAPE is
the version's error band. Same-library, same-model rows of other vendors on two boards give each
core's cycles relative to a Cortex-M4 (profiles/cores/*.toml). The fifth profile, tinyops.toml (our
generated C, no published measurement), is written by benchmarks/fit_tinyops_profile.py, not here.

Model: latency_ms = (features(model, core) . theta + stall_cycles(model, board)) / clock.
theta (8 coefficients per core, see tinyops.kernels.profile.COEFFICIENTS) is fitted per core for the
cmsis-nn kernels by damped Gauss-Newton on log-latency residuals, with a ridge pull of
log(theta) toward priors from CMSIS-NN inner-loop instruction counts (PRIORS below): there are
fewer published rows than coefficients on some cores, and the pull keeps the unconstrained
coefficients physical instead of letting them absorb noise. No per-model factors.

Rows marked fit=False are held out: they are predicted with the fitted parameters and reported
separately. Every fitted row is also predicted leave-one-out (refit without it): that column is
the honest estimate of the error on an unseen model.
"""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from tinyops.frontends import load_model  # noqa: E402
from tinyops.hw.board import PowerScope, load_board  # noqa: E402
from tinyops.planning.common import PlanOptions  # noqa: E402
from tinyops.planning.internal import plan_internal  # noqa: E402
from tinyops.cost.cost_model import features  # noqa: E402
from tinyops.kernels.profile import COEFFICIENTS, MAC_COEFFICIENTS, CoreParams, core_file_name, parse_params  # noqa: E402
from tinyops.sim.simulator import simulate  # noqa: E402

MODELS = REPO.parent / "shared" / "models"
PARAMS_DIR = REPO / "src" / "tinyops" / "kernels" / "profiles"

# MicroNets §3.2: a CMSIS-NN conv with 138/138 channels took 37.5 ms, with 140/140 21.5 ms
# (STM32F767ZI). Per MAC the unaligned kernel is (37.5 / 21.5) x (140/138)^2 slower.
UNALIGNED_FACTOR = round((37.5 / 21.5) * (140 / 138) ** 2, 3)
# Lai et al. 2018 (CMSIS-NN paper, abstract): 4.6x runtime improvement over the baseline
# kernels. Used to derive the (uncalibrated) tflm-reference MAC coefficients.
REFERENCE_SLOWDOWN = 4.6
PRIOR_WEIGHT = 0.25  # lambda of the ridge pull on log(theta)

# Priors: CMSIS-NN inner loops on a single-issue M4 (SMLAD = 2 MACs, plus SXTB16 and loads);
# the M7 dual-issues loads with ALU ops (MicroNets §3.1: ~2x faster at 1.2x the clock).
PRIORS: dict[str, dict[str, float]] = {
    "M4": {"conv_cycles_per_mac": 1.2, "im2col_cycles_per_element": 1.5, "dw3x3_cycles_per_mac": 2.5,
           "dw_cycles_per_mac": 4.0, "fc_cycles_per_mac": 1.5, "cycles_per_output": 25.0,
           "cycles_per_element": 4.0, "cycles_per_op": 4000.0},
    "M7": {"conv_cycles_per_mac": 0.65, "im2col_cycles_per_element": 0.9, "dw3x3_cycles_per_mac": 1.4,
           "dw_cycles_per_mac": 2.2, "fc_cycles_per_mac": 0.9, "cycles_per_output": 15.0,
           "cycles_per_element": 2.5, "cycles_per_op": 2500.0},
}
FIXED = {
    "channel_alignment": 4,
    "conv_columns_per_filter_pass": 2,
    "flash_hidden_fraction": {"ART": 0.5, "flash-cache": 0.5, "ICACHE": 0.3, "none": 0.0},
    "sram_stall_cycles_per_byte": {"DTCM": 0.0, "SRAM": 0.0},
    "static_power_fraction": 0.4,
}
FIXED_NOTES = {
    "unaligned_channel_factor": f"MicroNets §3.2 (37.5 ms / 21.5 ms x (140/138)^2 = {UNALIGNED_FACTOR})",
    "flash_hidden_fraction": "estimate: ART/cache prefetch hides about half the flash wait states "
                             "(MicroNets §3.1: weights in SRAM instead of flash only ~1% faster)",
    "static_power_fraction": "estimate: share of board run power that does not scale with clock",
}


@dataclass
class Row:
    source: str
    model: str  # path under shared/models, or "zoo:<family>:<width>:<resolution>"
    board: str
    clock_mhz: float
    published_ms: float
    published_mj: float | None = None
    fit: bool = True
    compute_bound: bool = False  # measured with TinyOpsV2 overlays: assume compute bound (issue #6 refines)
    note: str = ""


ROWS: list[Row] = [
    # MicroNets Table 4 (TFLM + CMSIS-NN, Mbed OS; S = F446RE 180 MHz, M = F746ZG 216, L = F767ZI 216)
    Row("MicroNets T4 TFLM person det. (S)", "tflite_micro/person_detect.tflite", "nucleo-f446re", 180, 254.136, 39.96),
    Row("MicroNets T4 TFLM person det. (M)", "tflite_micro/person_detect.tflite", "nucleo-f746zg", 216, 107.987, 49.32),
    Row("MicroNets T4 TFLM person det. (L)", "tflite_micro/person_detect.tflite", "nucleo-f767zi", 216, 107.831, fit=False),
    Row("MicroNets T4 DSCNN-S (S)", "mlcommons_tiny/kws_dscnn_int8.tflite", "nucleo-f446re", 180, 130.769, 21.132),
    Row("MicroNets T4 DSCNN-S (M)", "mlcommons_tiny/kws_dscnn_int8.tflite", "nucleo-f746zg", 216, 58.416, 25.956),
    Row("MicroNets T4 DSCNN-S (L)", "mlcommons_tiny/kws_dscnn_int8.tflite", "nucleo-f767zi", 216, 57.685, fit=False),
    Row("MicroNets T4 AD baseline (S)", "mlcommons_tiny/ad_fc_autoencoder_int8.tflite", "nucleo-f446re", 180, 7.115, 1.1736),
    Row("MicroNets T4 AD baseline (M)", "mlcommons_tiny/ad_fc_autoencoder_int8.tflite", "nucleo-f746zg", 216, 3.326, 1.26),
    Row("MicroNets T4 AD baseline (L)", "mlcommons_tiny/ad_fc_autoencoder_int8.tflite", "nucleo-f767zi", 216, 2.947, fit=False),
    # TinyOpsV2 Table 2, internal TFLM deployments (latency = energy / power)
    Row("TinyOpsV2 T2 proxyless-w0.30-r152 (F469, TFLM)", "zoo:proxylessnas-mobile:0.30:152", "stm32f469i-disco", 180,
        308 / 255 * 1e3, 308.0),
    Row("TinyOpsV2 T2 proxyless-w0.30-r176 (F746, TFLM)", "zoo:proxylessnas-mobile:0.30:176", "stm32f746g-disco", 216,
        501 / 730 * 1e3, 501.0),
    # TinyOpsV2 Tables 1-2, TinyOpsV2 (overlay) deployments: compute-bound assumption
    Row("TinyOpsV2 T2 MbV3-w0.50-r112 (F469)", "zoo:mobilenetv3-large-no-se:0.50:112", "stm32f469i-disco", 180,
        250 / 370 * 1e3, compute_bound=True),
    Row("TinyOpsV2 T2 MbV3-w0.55-r128 (F746)", "zoo:mobilenetv3-large-no-se:0.55:128", "stm32f746g-disco", 216,
        373 / 810 * 1e3, compute_bound=True),
    Row("TinyOpsV2 T1 MNASNet-w1.00-r080 (F469)", "zoo:mnasnet-b1:1.00:80", "stm32f469i-disco", 180, 2146,
        compute_bound=True, fit=False),
    Row("TinyOpsV2 T1 MbV3-w0.75-r128 (F469)", "zoo:mobilenetv3-large-no-se:0.75:128", "stm32f469i-disco", 180, 1460,
        compute_bound=True, fit=False),
    Row("TinyOpsV2 T1 MbV3-w1.00-r160 (F469)", "zoo:mobilenetv3-large-no-se:1.00:160", "stm32f469i-disco", 180, 3942,
        compute_bound=True, fit=False),
    Row("TinyOpsV2 T1 MNASNet-w1.00-r128 (F746)", "zoo:mnasnet-b1:1.00:128", "stm32f746g-disco", 216, 1367,
        compute_bound=True, fit=False),
    Row("TinyOpsV2 T1 MbV3-w1.00-r160 (F746)", "zoo:mobilenetv3-large-no-se:1.00:160", "stm32f746g-disco", 216, 1307,
        compute_bound=True, fit=False),
    Row("TinyOpsV2 T1 MNASNet-w1.00-r144 (H743)", "zoo:mnasnet-b1:1.00:144", "stm32h743i-eval", 400, 1009,
        compute_bound=True, fit=False),
    Row("TinyOpsV2 T1 MNASNet-w1.00-r192 (H743)", "zoo:mnasnet-b1:1.00:192", "stm32h743i-eval", 400, 1625,
        compute_bound=True, fit=False),
]


def params_from(core: str, kernels: str, theta: dict[str, float], status: str, source: str) -> CoreParams:
    data = {
        "core": core, "kernels": kernels, "coefficients": theta,
        "unaligned_channel_factor": UNALIGNED_FACTOR if kernels == "cmsis-nn" else 1.0,
        **FIXED, "status": status, "source": source,
    }
    if kernels != "cmsis-nn":
        data["channel_alignment"] = 1
        data["conv_columns_per_filter_pass"] = 1
    return parse_params(data, f"{core}/{kernels}")


def load_row_graph(row: Row):  # type: ignore[no-untyped-def]
    if row.model.startswith("zoo:"):
        try:
            from tinyops.zoo import build_model  # type: ignore[attr-defined]
        except ImportError:
            return None
        _, family, width, resolution = row.model.split(":")
        try:
            return build_model(family, float(width), int(resolution))
        except Exception as exc:  # the zoo is young: report, do not crash the fit
            print(f"  skipped {row.source}: zoo could not build {family}: {exc}")
            return None
    return load_model(str(MODELS / row.model))


@dataclass
class Prepared:
    row: Row
    core: str
    feats: np.ndarray  # summed feature vector
    stall_cycles: float
    clock_hz: float
    run_power_mw: float


def prepare(row: Row, theta_prior: dict[str, float], graph) -> Prepared:  # type: ignore[no-untyped-def]
    board = load_board(row.board)
    params = params_from(board.core, "cmsis-nn", theta_prior, "prior", "prior")
    from tinyops.planning import internal as plan_mod

    orig = plan_mod.load_params
    plan_mod.load_params = lambda core, kernels: params  # type: ignore[assignment]  # candidate parameters
    try:
        plan = plan_internal(graph, board, PlanOptions("cmsis-nn", row.clock_mhz))
    finally:
        plan_mod.load_params = orig
    feats = sum((features(st.counts, params) for st in plan.steps), np.zeros(len(COEFFICIENTS)))
    sim = simulate(plan)
    stall = 0.0 if row.compute_bound else sum(s.stall_cycles for s in sim.steps)
    from tinyops.sim.energy import run_power_mw

    # The seeds' energies (MicroNets T4, TinyOpsV2 T2) were measured at the board's supply.
    scope: "PowerScope" = "board" if board.power.run_mw_in("board") is not None else board.power.scope
    return Prepared(row, board.core, feats, stall, row.clock_mhz * 1e6, run_power_mw(plan, scope))


def predict_ms(p: Prepared, theta: np.ndarray) -> float:
    return (p.feats @ theta + p.stall_cycles) / p.clock_hz * 1e3


# The fit works on unconstrained psi; theta(psi) builds in the published per-MAC ordering
# (MicroNets Fig. 3, TinyOpsV2 Fig. 2): 1x1/im2col conv < depthwise 3x3 < other depthwise,
# and fully connected below depthwise 3x3. Other coefficients are exp(psi) (positive).
_I = {k: i for i, k in enumerate(COEFFICIENTS)}


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def theta_of(psi: np.ndarray) -> np.ndarray:
    theta = np.exp(psi)
    conv = theta[_I["conv_cycles_per_mac"]]
    dw3 = conv * (1.0 + theta[_I["dw3x3_cycles_per_mac"]])
    theta[_I["dw3x3_cycles_per_mac"]] = dw3
    theta[_I["dw_cycles_per_mac"]] = dw3 * (1.0 + theta[_I["dw_cycles_per_mac"]])
    theta[_I["fc_cycles_per_mac"]] = dw3 * _sigmoid(psi[_I["fc_cycles_per_mac"]])
    return theta


def psi_of(theta: np.ndarray) -> np.ndarray:
    psi = np.log(theta).astype(float)
    conv, dw3 = theta[_I["conv_cycles_per_mac"]], theta[_I["dw3x3_cycles_per_mac"]]
    psi[_I["dw3x3_cycles_per_mac"]] = math.log(dw3 / conv - 1.0)
    psi[_I["dw_cycles_per_mac"]] = math.log(theta[_I["dw_cycles_per_mac"]] / dw3 - 1.0)
    share = theta[_I["fc_cycles_per_mac"]] / dw3
    psi[_I["fc_cycles_per_mac"]] = math.log(share / (1.0 - share))
    return psi


def fit(rows: list[Prepared], prior: np.ndarray, weight: float = PRIOR_WEIGHT) -> np.ndarray:
    """Damped Gauss-Newton on log residuals + ridge on psi toward the prior's psi."""
    psi0 = psi_of(prior)
    psi = psi0.copy()
    mu = 1e-3
    sqrt_w = math.sqrt(weight)

    def residual(ps: np.ndarray) -> np.ndarray:
        theta = theta_of(ps)
        res = [math.log((p.feats @ theta + p.stall_cycles) / p.clock_hz * 1e3) - math.log(p.row.published_ms)
               for p in rows]
        return np.concatenate([np.array(res), sqrt_w * (ps - psi0)])

    def jacobian(ps: np.ndarray, r0: np.ndarray) -> np.ndarray:
        h = 1e-6
        cols = []
        for k in range(len(ps)):
            d = ps.copy()
            d[k] += h
            cols.append((residual(d) - r0) / h)
        return np.array(cols).T

    r = residual(psi)
    cost = float(r @ r)
    for _ in range(300):
        j = jacobian(psi, r)
        step = np.linalg.solve(j.T @ j + mu * np.eye(len(psi)), -j.T @ r)
        r_new = residual(psi + step)
        new_cost = float(r_new @ r_new)
        if new_cost < cost:
            psi, r, cost, mu = psi + step, r_new, new_cost, mu * 0.3
            if np.abs(step).max() < 1e-8:
                break
        else:
            mu *= 10
            if mu > 1e12:
                break
    return theta_of(psi)


def ape(pred: float, published: float) -> float:
    return abs(pred - published) / published * 100


def toml_value(v: object) -> str:
    if isinstance(v, str):
        return '"' + v.replace("\\", "/").replace('"', "'") + '"'
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return f"{v:.6g}"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    return str(v)


def toml_lines(table: dict[str, object], prefix: str = "") -> list[str]:
    """Scalars first, then sub-tables ``[prefix.key]`` (enough TOML for the profile files)."""
    lines = [f"{k} = {toml_value(v)}" for k, v in table.items() if not isinstance(v, dict)]
    for k, v in table.items():
        if isinstance(v, dict):
            key = f'"{k}"' if not k.replace("-", "").replace("_", "").isalnum() else k
            name = f"{prefix}.{key}" if prefix else key
            lines += ["", f"[{name}]"] + toml_lines(v, name)
    return lines


# --------------------------------------------------------------------------- published measurements

PUBLISHED = REPO.parent / "shared" / "measurements" / "published.csv"
MODEL_FILES = {
    "mlperf:ic": "mlcommons_tiny/ic_resnet8_int8.tflite",
    "mlperf:kws": "mlcommons_tiny/kws_dscnn_int8.tflite",
    "mlperf:vww": "mlcommons_tiny/vww_mobilenetv1_96_int8.tflite",
    "mlperf:ad": "mlcommons_tiny/ad_fc_autoencoder_int8.tflite",
    "mcunet:mcunet-vww1": "tinyengine/mcunet_vww.tflite",
}
BOARD_IDS = {
    "NUCLEO-H7A3ZI-Q": "nucleo-h7a3zi-q", "NUCLEO-U575ZI-Q": "nucleo-u575zi-q", "NUCLEO-L4R5ZI": "nucleo-l4r5zi",
    "DISCO-F746NG (32F746GDISCOVERY)": "stm32f746g-disco", "CY8CPROTO-062-4343W (PSoC 62)": "cy8cproto-062-4343w",
    "EK-RA6M4": "ek-ra6m4", "nRF5340-DK": "nrf5340-dk", "B-U585I-IOT02A": "b-u585i-iot02a", "EK-RA8D1": "ek-ra8d1",
    "NUCLEO-G0B1RE": "nucleo-g0b1re", "STM32H747I-DISCO (STM32H747XI, CM7 core only)": "stm32h747i-disco",
    "NUCLEO-H743ZI": "nucleo-h743zi",
}
# Libraries outside tinyops' four whose rows measure the same code on several cores: they give the
# cycles of one core relative to another (the reference board: NUCLEO-L4R5ZI, Cortex-M4).
CORE_RATIO_LIBRARIES = ("Bosch HALE (generated C) int8", "Plumerai")
REFERENCE_BOARD = "nucleo-l4r5zi"
# Arm's Cortex-M85 product brief: about 4x the ML throughput of a Cortex-M7 per clock with Helium.
M85_VS_M7 = 4.0
# Rows fitted against the wrong graph: X-CUBE-AI >= 8.1 simplifies the MLPerf VWW model to 4.65 M
# MACs (measurements README).
SIMPLIFIED_GRAPH = {("x-cube-ai", "9.0", "mlperf:vww")}


@dataclass
class PubRow:
    library: str
    version: str
    model: str
    board: str
    clock_mhz: float
    clock_assumed: bool
    published_ms: float
    published_uj: float | None
    label: str
    source: str


def library_version(kernels: str, runtime: str) -> tuple[str, str] | None:
    """(tinyops library id, profile version) of a published row, or None (not one of ours)."""
    if kernels == "X-CUBE-AI":
        for tag, ver in (("7.1.0", "7.1"), ("7.3.0", "7.3"), ("9.0.0", "9.0"), ("10.0.0", "10.0")):
            if tag in runtime:
                return "x-cube-ai", ver
        return None
    if kernels in ("TFLM+CMSIS-NN", "TFLM+CMSIS-NN (Helium/MVE)") and "version not stated" in runtime:
        return "cmsis-nn", "2022"  # MLPerf Tiny v0.7 (RA6M4) and v1.2 (RA8D1) submissions
    if kernels == "CMSIS-NN":
        return "cmsis-nn", "2020"  # TinyEngine README column "CMSIS-NN v2.0.0"
    if kernels == "TFLM reference kernels" and "713b6ed" in runtime:
        return "tflm-reference", "2020"
    if kernels == "TinyEngine" and "Dec 2022" in runtime:
        return "tinyengine", "2022"
    return None


def read_published() -> tuple[list[PubRow], list[dict[str, str]], list[str]]:
    import csv

    ours: list[PubRow] = []
    skipped: list[str] = []
    with PUBLISHED.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    for r in rows:
        lv = library_version(r["kernels"], r["runtime"])
        if lv is None or not r["latency_ms"]:
            continue
        why = None
        if r["model"] not in MODEL_FILES:
            why = "model not shipped in shared/models"
        elif r["board"] not in BOARD_IDS:
            why = "no board file"
        elif (lv[0], lv[1], r["model"]) in SIMPLIFIED_GRAPH:
            why = "X-CUBE-AI >= 8.1 runs a simplified VWW graph (4.65 M MACs)"
        if why:
            skipped.append(f"{lv[0]}@{lv[1]} {r['model']} on {r['board']}: {why}")
            continue
        board = BOARD_IDS[r["board"]]
        clock = float(r["clock_mhz"]) if r["clock_mhz"] else load_board(board).clock_mhz
        src = r["source"].split(" ")[0].replace("github:", "")
        ours.append(PubRow(lv[0], lv[1], r["model"], board, clock, not r["clock_mhz"], float(r["latency_ms"]),
                           float(r["energy_uj"]) if r["energy_uj"] else None,
                           f"{r['model']} {board}", src))
    return ours, rows, skipped


def core_ratios(rows: list[dict[str, str]]) -> dict[str, tuple[float, str]]:
    """Cycles of each core per Cortex-M4 cycle, from same-library same-model rows on two boards."""
    by_key: dict[tuple[str, str, str], dict[str, float]] = {}
    for r in rows:
        if r["kernels"] not in CORE_RATIO_LIBRARIES or r["board"] not in BOARD_IDS or not r["clock_mhz"]:
            continue
        key = (r["kernels"], r["runtime"], r["model"])
        by_key.setdefault(key, {})[BOARD_IDS[r["board"]]] = float(r["latency_ms"]) * float(r["clock_mhz"])
    ratios: dict[str, list[float]] = {}
    names: dict[str, set[str]] = {}
    for (lib, _, _), cycles in by_key.items():
        ref = cycles.get(REFERENCE_BOARD)
        if ref is None:
            continue
        for board, c in cycles.items():
            core = load_board(board).core
            if board == REFERENCE_BOARD or core == "M4":
                continue
            ratios.setdefault(core, []).append(c / ref)
            names.setdefault(core, set()).add(f"{board} ({lib.split(' (')[0]})")
    out = {core: (float(np.exp(np.mean(np.log(v)))),
                  f"geometric mean of {len(v)} same-library, same-model cycle ratios {', '.join(sorted(names[core]))} "
                  f"/ {REFERENCE_BOARD} (measurements/published.csv, MLPerf Tiny v0.7-v1.2 closed)")
           for core, v in ratios.items()}
    out["M4"] = (1.0, "reference core")
    m7 = out["M7"][0]
    out["M85"] = (m7 / M85_VS_M7, f"estimate: Cortex-M7 ratio {m7:.3g} / {M85_VS_M7:g} (Arm Cortex-M85 product "
                                  f"brief: ~4x Cortex-M7 ML throughput per clock with Helium); no same-library "
                                  f"cross-core pair in the data")
    return out


@dataclass
class Components:
    row: PubRow
    mac_cycles: float  # cmsis-nn@2020 MAC-loop cycles (conv, im2col, depthwise, fc)
    overhead_cycles: float  # per-op, per-output, elementwise, memory stalls

    @property
    def measured_cycles(self) -> float:
        return self.row.published_ms * self.row.clock_mhz * 1e3


def components(prow: PubRow, thetas: dict[str, np.ndarray], ratios: dict[str, tuple[float, str]]) -> Components:
    board = load_board(prow.board)
    theta = thetas[board.core] if board.core in thetas else thetas["M4"] * ratios[board.core][0]
    row = Row(prow.label, MODEL_FILES[prow.model], prow.board, prow.clock_mhz, prow.published_ms)
    p = prepare(row, dict(zip(COEFFICIENTS, map(float, theta))), load_model(str(MODELS / row.model)))
    mac_mask = np.array([k in MAC_COEFFICIENTS for k in COEFFICIENTS])
    mac = float(p.feats[mac_mask] @ theta[mac_mask])
    over = float(p.feats[~mac_mask] @ theta[~mac_mask]) + p.stall_cycles
    return Components(prow, mac, over)


def fit_scales(rows: list[Components]) -> tuple[float, float]:
    """(mac_scale, overhead_scale) minimising the squared relative error. With fewer than 4 rows only
    the MAC scale is fitted: the per-op overhead stays the base library's."""
    a_mat = np.array([[c.mac_cycles / c.measured_cycles, c.overhead_cycles / c.measured_cycles] for c in rows])
    if len(rows) >= 4:
        sol, *_ = np.linalg.lstsq(a_mat, np.ones(len(rows)), rcond=None)
        if sol[0] > 0 and sol[1] > 0:
            return float(sol[0]), float(sol[1])
    m, o = a_mat[:, 0], a_mat[:, 1]
    return float(m @ (1.0 - o) / (m @ m)), 1.0


def predict_cycles(c: Components, scales: tuple[float, float]) -> float:
    return scales[0] * c.mac_cycles + scales[1] * c.overhead_cycles


def ape_c(c: Components, scales: tuple[float, float]) -> float:
    return abs(predict_cycles(c, scales) - c.measured_cycles) / c.measured_cycles * 100


def cross_validate(rows: list[Components], key: str) -> tuple[float | None, list[tuple[Components, float]]]:
    """Leave-one-<key>-out: fit without every row of one board (model), predict those rows."""
    groups = sorted({getattr(c.row, key) for c in rows})
    if len(groups) < 2:
        return None, []
    out = []
    for g in groups:
        train = [c for c in rows if getattr(c.row, key) != g]
        scales = fit_scales(train)
        out += [(c, ape_c(c, scales)) for c in rows if getattr(c.row, key) == g]
    return float(np.mean([e for _, e in out])), out


@dataclass
class VersionFit:
    library: str
    version: str
    rows: list[Components]
    scales: tuple[float, float]
    fit_mape: float
    lobo: float | None
    lomo: float | None
    lobo_rows: list[tuple[Components, float]]
    energy_lobo: float | None
    energy_rows: int
    energy_checks: list["EnergyCheck"]


def check_rows(rows: list[dict[str, str]], thetas: dict[str, np.ndarray], ratios: dict[str, tuple[float, str]],
               fits: dict[tuple[str, str], "VersionFit"]) -> list[tuple[str, float, float]]:
    """(label, published ms, predicted ms) of the microTVM + CMSIS-NN rows with the newest cmsis-nn version."""
    newest = fits.get(("cmsis-nn", "2022"))
    out = []
    for r in rows:
        if not r["kernels"].startswith("microTVM+CMSIS-NN") or r["model"] not in MODEL_FILES:
            continue
        board = BOARD_IDS.get(r["board"])
        if board is None or not r["clock_mhz"]:
            continue
        prow = PubRow("cmsis-nn", "check", r["model"], board, float(r["clock_mhz"]), False, float(r["latency_ms"]),
                      None, f"{r['model']} {board}", "")
        c = components(prow, thetas, ratios)
        core = load_board(board).core
        scales = newest.scales if newest is not None and core in {load_board(x.row.board).core for x in newest.rows} \
            else (1.0, 1.0)
        out.append((prow.label, prow.published_ms, predict_cycles(c, scales) / (prow.clock_mhz * 1e3)))
    return out


@dataclass
class ChipPowerRow:
    """One MLPerf Tiny energy row on a board whose file states its chip's datasheet current."""

    board: str
    label: str  # model and runtime
    clock_mhz: float
    implied_mw: float  # measured energy / measured latency: the chip's mean power during inference
    datasheet_mw: float  # the board file's datasheet model at this clock, workload factor 1


def chip_power_rows(rows: list[dict[str, str]]) -> list[ChipPowerRow]:
    """Measured chip power of every CPU energy row on a board with a datasheet current model."""
    out = []
    for r in rows:
        board_id = BOARD_IDS.get(r["board"])
        if board_id is None or not r["energy_uj"] or not r["latency_ms"] or not r["clock_mhz"]:
            continue
        model = load_board(board_id).power.chip_datasheet
        if model is None:
            continue
        clock = float(r["clock_mhz"])
        out.append(ChipPowerRow(board_id, f"{r['model']} {r['kernels'].split(' ')[0]} {r['runtime'].split(' (')[0]}",
                                clock, float(r["energy_uj"]) / float(r["latency_ms"]), model.run_mw(clock)))
    return out


def fit_workload_factor(power_rows: list[ChipPowerRow], without_board: str | None = None) -> float | None:
    """Measured / datasheet chip power: geometric mean per board, then across boards (each board
    counts once, however many rows it has). ``without_board``'s rows never enter: the leave-one-
    board-out prediction of a board must not rest on its own energies."""
    per_board: dict[str, list[float]] = {}
    for pr in power_rows:
        if pr.board != without_board:
            per_board.setdefault(pr.board, []).append(math.log(pr.implied_mw / pr.datasheet_mw))
    if not per_board:
        return None
    return float(math.exp(np.mean([np.mean(v) for v in per_board.values()])))


@dataclass
class EnergyCheck:
    comp: Components
    predicted_mw: float  # the chip power the held-out board is predicted to draw
    predicted_ms: float  # leave-one-board-out latency
    energy_ape: float
    power_ape: float  # predicted vs measured power (energy / latency)
    latency_ape: float


def energy_check(c: Components, lobo_scales: tuple[float, float], power_rows: list[ChipPowerRow]
                 ) -> EnergyCheck | None:
    """Leave-one-board-out energy of one row: latency from the other boards' scales x chip power
    predicted without this board's energies. None where the board gives no usable chip power."""
    if c.row.published_uj is None:
        return None
    board = load_board(c.row.board)
    if board.power.chip_datasheet is not None:
        factor = fit_workload_factor(power_rows, without_board=c.row.board)
        if factor is None:
            return None
        chip_mw = board.power.chip_datasheet.run_mw(c.row.clock_mhz, factor)
    else:
        run_mw = board.power.run_mw_in("chip")  # MLPerf Tiny measures the chip's supply domain
        source_key = "power.run_mw" if board.power.scope == "chip" else "power.chip_run_mw"
        if run_mw is None or "MLPerf" in board.sources.get(source_key, ""):
            return None  # no chip-scope power, or one derived from these very rows (circular)
        chip_mw = run_mw
    ms = predict_cycles(c, lobo_scales) / (c.row.clock_mhz * 1e3)
    measured_mw = c.row.published_uj / c.row.published_ms
    return EnergyCheck(c, chip_mw, ms, ape(chip_mw * ms, c.row.published_uj), ape(chip_mw, measured_mw),
                       ape(ms, c.row.published_ms))


def fit_version(library: str, version: str, rows: list[Components], power_rows: list[ChipPowerRow]) -> VersionFit:
    scales = fit_scales(rows)
    fit_mape = float(np.mean([ape_c(c, scales) for c in rows]))
    lobo, lobo_rows = cross_validate(rows, "board")
    lomo, _ = cross_validate(rows, "model")
    # Energy: leave-one-board-out latency x chip power predicted without the held-out board's
    # energies, against MLPerf Tiny's energy per inference (the chip's supply domain).
    checks = [e for c, _ in lobo_rows
              if (e := energy_check(c, fit_scales([x for x in rows if x.row.board != c.row.board]), power_rows))]
    return VersionFit(library, version, rows, scales, fit_mape, lobo, lomo, lobo_rows,
                      float(np.mean([e.energy_ape for e in checks])) if checks else None, len(checks), checks)


# --------------------------------------------------------------------------- profile files

LIBRARY_INFO: dict[str, dict[str, object]] = {
    "tflm-reference": {"description": "TFLM's portable reference kernels (tensorflow/lite/micro/kernels)",
                       "unaligned_channel_factor": 1.0,
                       "unaligned_channel_factor_source": "reference kernels have no channel-specific fast path",
                       "channel_alignment": 1, "conv_columns_per_filter_pass": 1},
    "cmsis-nn": {"description": "Arm CMSIS-NN kernels inside TFLM (kernels/cmsis_nn); other ops run the reference ones",
                 "unaligned_channel_factor": UNALIGNED_FACTOR,
                 "unaligned_channel_factor_source": FIXED_NOTES["unaligned_channel_factor"],
                 "channel_alignment": 4, "conv_columns_per_filter_pass": 2},
    "x-cube-ai": {"description": "STMicroelectronics X-CUBE-AI / STM32Cube.AI generated network and runtime library",
                  "unaligned_channel_factor": 1.0,
                  "unaligned_channel_factor_source": "not measured for X-CUBE-AI: no published channel sweep",
                  "channel_alignment": 1, "conv_columns_per_filter_pass": 2},
    "tinyengine": {"description": "MIT TinyEngine generated code (MCUNet), in-place depthwise",
                   "unaligned_channel_factor": 1.0,
                   "unaligned_channel_factor_source": "not measured for TinyEngine: no published channel sweep",
                   "channel_alignment": 1, "conv_columns_per_filter_pass": 2},
}
# Versions, newest first. "base": the coefficient tables a version scales; None: own tables (the seed fit).
VERSION_INFO: dict[str, list[dict[str, object]]] = {
    "tflm-reference": [
        {"version": "2020", "base": "cmsis-nn@2020",
         "describes": "TFLM reference kernels, 2020-2021 (TinyEngine README column 'TFLM @713b6ed')"}],
    "cmsis-nn": [
        {"version": "2022", "base": "2020", "own_cores_only": True,
         "describes": "TFLM + CMSIS-NN as the MLPerf Tiny v0.7 (EK-RA6M4, GCC 8.3.1) and v1.2 (EK-RA8D1, Helium, "
                      "LLVM 17) closed submissions ran it; TFLM/CMSIS-NN versions not stated"},
        {"version": "2020", "base": None,
         "describes": "TFLM + CMSIS-NN of 2020-2021 (MicroNets Table 4 on Mbed OS; TinyOpsV2 Table 2; TinyEngine "
                      "README column 'CMSIS-NN v2.0.0')"}],
    "x-cube-ai": [
        {"version": "9.0", "base": "cmsis-nn@2020", "describes": "X-CUBE-AI v9.0.0, bare metal, GCC (MLPerf Tiny v1.2)"},
        {"version": "7.3", "base": "cmsis-nn@2020", "describes": "X-CUBE-AI v7.3.0, bare metal, GCC (MLPerf Tiny v1.0)"},
        {"version": "7.1", "base": "cmsis-nn@2020",
         "describes": "X-CUBE-AI v7.1.0, bare metal, GCC (MLPerf Tiny v0.7; TinyEngine README F746 table)"}],
    "tinyengine": [
        {"version": "2022", "base": "cmsis-nn@2020",
         "describes": "TinyEngine, repository state Dec 2022 (TinyEngine README F746 table, -Ofast)"}],
}
# The four libraries measured on one model, board and toolchain: their flash and SRAM beside the
# model's own (TinyEngine README @3e6292e, mcunet-vww1 on STM32F746G-DISCO).
MEMORY_ROW_KERNELS = {"tflm-reference": "TFLM reference kernels", "cmsis-nn": "CMSIS-NN",
                      "x-cube-ai": "X-CUBE-AI", "tinyengine": "TinyEngine"}


def library_memory(rows: list[dict[str, str]], theta_m7: np.ndarray) -> dict[str, dict[str, object]]:
    from tinyops.planning import internal as plan_mod

    graph = load_model(str(MODELS / MODEL_FILES["mcunet:mcunet-vww1"]))
    weight_bytes = sum(t.size_bytes for sg in graph.subgraphs for t in sg.tensors if t.is_constant)
    board = load_board("stm32f746g-disco")
    params = params_from("M7", "cmsis-nn", dict(zip(COEFFICIENTS, map(float, theta_m7))), "fitted", "seed fit")
    orig = plan_mod.load_params
    plan_mod.load_params = lambda core, kernels: params  # type: ignore[assignment]
    try:
        plan = plan_internal(graph, board, PlanOptions("cmsis-nn"))
    finally:
        plan_mod.load_params = orig
    out: dict[str, dict[str, object]] = {}
    for lib, kernels in MEMORY_ROW_KERNELS.items():
        r = next(x for x in rows if x["model"] == "mcunet:mcunet-vww1" and x["kernels"] == kernels
                 and x["board"].startswith("DISCO-F746NG") and x["sram_kb"])
        flash, sram = float(r["flash_kb"]) * 1024, float(r["sram_kb"]) * 1024
        out[lib] = {
            "sram_vs_arena_bytes": int(sram - plan.arena_bytes),
            "code_flash_bytes": int(flash - weight_bytes),
            "source": f"TinyEngine README @3e6292e, mcunet-vww1 on STM32F746G-DISCO: {r['sram_kb']} KB SRAM, "
                      f"{r['flash_kb']} KB flash, less the model's {weight_bytes} B of constants and tinyops' "
                      f"cmsis-nn arena plan of {plan.arena_bytes} B (negative: the library's arena is smaller "
                      f"than that plan)"}
    return out


def write_library(lib: str, versions: list[dict[str, object]]) -> Path:
    head = [f"# Cost profile of the {lib} kernel library. Written by benchmarks/calibrate.py;",
            "# do not edit by hand: change the script's inputs and re-run it.",
            "# Versions are listed newest first; `--kernels " + lib + "` is the first, `" + lib + "@VERSION` any."]
    body = toml_lines({"library": lib, **LIBRARY_INFO[lib]})
    for v in versions:
        body += ["", "[[version]]"] + toml_lines(v, "version")
    path = PARAMS_DIR / f"{lib}.toml"
    path.write_text("\n".join(head + body) + "\n", encoding="utf-8")
    return path


def write_core(core: str, ratio: tuple[float, str]) -> Path:
    data: dict[str, object] = {
        "core": core, "source": "benchmarks/calibrate.py (cycles_vs_m4 from measurements/published.csv); "
                                "the rest: " + FIXED_NOTES["flash_hidden_fraction"],
        "cycles_vs_m4": ratio[0], "cycles_vs_m4_source": ratio[1],
        "static_power_fraction": FIXED["static_power_fraction"],
        "static_power_fraction_source": FIXED_NOTES["static_power_fraction"],
        "flash_hidden_fraction": dict(FIXED["flash_hidden_fraction"]),  # type: ignore[call-overload]
        "sram_stall_cycles_per_byte": dict(FIXED["sram_stall_cycles_per_byte"]),  # type: ignore[call-overload]
    }
    path = PARAMS_DIR / "cores" / core_file_name(core)
    path.parent.mkdir(exist_ok=True)
    lines = [f"# Core parameters of Cortex-{core}. Written by benchmarks/calibrate.py; do not edit by hand."]
    path.write_text("\n".join(lines + toml_lines(data)) + "\n", encoding="utf-8")
    return path


def fit_dict(vf: VersionFit | None, seed_rows: int = 0, seed_fit: float = 0.0, seed_loo: float = 0.0,
             seed_boards: int = 0) -> dict[str, object]:
    if vf is None:
        return {"rows": seed_rows, "boards": seed_boards, "fit_mape_pct": round(seed_fit, 1),
                "note": f"fitted on the seeds' rows (benchmarks/calibrate.py ROWS); leave-one-row-out "
                        f"{seed_loo:.1f} %", "rows_used": ["MicroNets T4", "TinyOpsV2 T2"], "cores": ["M4", "M7"]}
    d: dict[str, object] = {"rows": len(vf.rows), "boards": len({c.row.board for c in vf.rows}),
                            "fit_mape_pct": round(vf.fit_mape, 1)}
    if vf.lobo is not None:
        d["lobo_mape_pct"] = round(vf.lobo, 1)
    if vf.lomo is not None:
        d["lomo_mape_pct"] = round(vf.lomo, 1)
    d["energy_rows"] = vf.energy_rows
    if vf.energy_lobo is not None:
        d["energy_lobo_mape_pct"] = round(vf.energy_lobo, 1)
    d["rows_used"] = sorted({f"{c.row.label} ({c.row.source})" for c in vf.rows})
    d["cores"] = sorted({load_board(c.row.board).core for c in vf.rows})
    d["note"] = ("clock not stated for " + ", ".join(sorted({c.row.label for c in vf.rows if c.row.clock_assumed}))
                 + ": the board's default clock assumed") if any(c.row.clock_assumed for c in vf.rows) else ""
    return d


def print_chip_power(power_rows: list[ChipPowerRow], fits: dict[tuple[str, str], VersionFit]) -> None:
    """Per board: the measured chip power, the datasheet model, and what limits the energy band."""
    boards = sorted({pr.board for pr in power_rows})
    if not boards:
        return
    print("\nChip power during inference (MLPerf Tiny energy / latency, chip supply) against the board file's\n"
          "datasheet current x one workload factor fitted on the OTHER boards' rows (leave-one-board-out):")
    header = (f"{'board':<16} {'rows':>4} {'meas. mW':>8} {'spread':>7} {'datasheet':>9} {'own x':>5} "
              f"{'LOBO x':>6} {'predicted':>9} {'power %':>7} {'latency %':>9} {'E LOBO %':>8}")
    print(header)
    print("-" * len(header))
    for board in boards:
        mine = [pr for pr in power_rows if pr.board == board]
        measured = [pr.implied_mw for pr in mine]
        factor = fit_workload_factor(power_rows, without_board=board)
        model = load_board(board).power.chip_datasheet
        assert model is not None and factor is not None
        clock = mine[0].clock_mhz
        checks = [e for vf in fits.values() for e in vf.energy_checks if e.comp.row.board == board]
        def pct(xs: list[float]) -> str:
            return f"{np.mean(xs):.1f}" if xs else "-"
        own = fit_workload_factor(mine)
        assert own is not None
        print(f"{board:<16} {len(mine):>4} {np.mean(measured):>8.1f} {f'{min(measured):.0f}-{max(measured):.0f}':>7} "
              f"{model.run_mw(clock):>9.1f} {own:>5.2f} {factor:>6.3f} {model.run_mw(clock, factor):>9.1f} "
              f"{pct([e.power_ape for e in checks]):>7} {pct([e.latency_ape for e in checks]):>9} "
              f"{pct([e.energy_ape for e in checks]):>8}")
    owns = {b: fit_workload_factor([pr for pr in power_rows if pr.board == b]) or 1.0 for b in boards}
    spread = float(np.std([math.log(k) for k in owns.values()])) * 100
    print("meas.: mean and min-max over models and runtimes; datasheet: the board file's Run-mode current x\n"
          "supply at the MLPerf clock (workload factor 1); own x: measured / datasheet (evidence, not used for\n"
          "the board itself); LOBO x: fitted on the other boards; power %, latency %, E LOBO %: mean errors of\n"
          "the held-out board's profile rows (energy = predicted power x predicted latency).")
    print(f"Workload factor on all {len(boards)} boards (what plans use): {fit_workload_factor(power_rows):.3f}")
    print(f"\nWhat limits the energy band: E = P x t, so a held-out row's error combines its power and latency\n"
          f"errors. A held-out board's power is the others' mean ratio times its datasheet figure, so its own\n"
          f"ratio's distance from that mean is its power error (own x spread {spread:.0f} % in log terms).")
    for (lib, ver), vf in fits.items():
        ch = vf.energy_checks
        if not ch:
            continue
        def ratio(e: EnergyCheck) -> float:
            assert e.comp.row.published_uj is not None
            return e.comp.row.published_uj / e.comp.row.published_ms / load_board(e.comp.row.board).power.chip_datasheet.run_mw(  # type: ignore[union-attr]
                e.comp.row.clock_mhz)
        by_board = {b: [ratio(e) for e in ch if e.comp.row.board == b] for b in sorted({e.comp.row.board for e in ch})}
        within = float(np.mean([np.std(v) / np.mean(v) * 100 for v in by_board.values()]))
        print(f"  {lib + '@' + ver:<14} E {vf.energy_lobo:4.1f} % ({len(ch):>2}): power {np.mean([e.power_ape for e in ch]):4.1f} %, "
              f"latency {np.mean([e.latency_ape for e in ch]):4.1f} %; own x "
              f"{' '.join(f'{np.mean(v):.2f}' for v in by_board.values())} (+-{within:.0f} % in-board)")


def write_chip_power(power_rows: list[ChipPowerRow]) -> Path:
    boards = sorted({pr.board for pr in power_rows})
    factor = fit_workload_factor(power_rows)
    assert factor is not None
    data: dict[str, object] = {
        "workload_factor": factor,
        "workload_factor_source": (
            f"benchmarks/calibrate.py: geometric mean over {len(boards)} boards ({', '.join(boards)}) of each board's "
            f"geometric mean of measured chip power (MLPerf Tiny v0.7-v1.2 closed energy / latency, "
            f"measurements/published.csv, {len(power_rows)} rows) / the board file's datasheet Run-mode power "
            f"(chip_datasheet_*) at the same clock"),
        "rows": len(power_rows), "boards": boards,
        "note": "the chip-scope run power of a board whose file states chip_datasheet_* is V x (I_static + "
                "workload_factor x uA/MHz x f); leave_one_board_out: the factor fitted without that board's rows, "
                "which calibrate.py uses to check that board's energy; measured_vs_datasheet: the board's own ratio "
                "(evidence of what limits the band)",
        "leave_one_board_out": {b: fit_workload_factor(power_rows, without_board=b) for b in boards},
        "measured_vs_datasheet": {b: fit_workload_factor([pr for pr in power_rows if pr.board == b]) for b in boards},
    }
    path = PARAMS_DIR / "chip_power.toml"
    lines = ["# Chip power during neural-network inference vs the datasheet's Run-mode current.",
             "# Written by benchmarks/calibrate.py; do not edit by hand."]
    path.write_text("\n".join(lines + toml_lines(data)) + "\n", encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dry-run", action="store_true", help="print the fit, write nothing")
    ap.add_argument("--worst", type=int, default=3, help="worst cross-validated rows to list per profile")
    args = ap.parse_args(argv)

    # 1. The seeds' rows: per-core cmsis-nn@2020 coefficient tables (M4, M7).
    prepared: list[Prepared] = []
    for row in ROWS:
        graph = load_row_graph(row)
        if graph is not None:
            prepared.append(prepare(row, PRIORS[load_board(row.board).core], graph))
    thetas: dict[str, np.ndarray] = {}
    seed_fit: list[float] = []
    seed_loo: list[float] = []
    seed_energy_loo: list[float] = []  # board run power x leave-one-row-out latency vs the seeds' energy
    for core in PRIORS:
        prior = np.array([PRIORS[core][k] for k in COEFFICIENTS])
        fit_rows = [p for p in prepared if p.core == core and p.row.fit]
        thetas[core] = fit(fit_rows, prior) if fit_rows else prior
        for p in fit_rows:
            seed_fit.append(ape(predict_ms(p, thetas[core]), p.row.published_ms))
            rest = [q for q in fit_rows if q is not p]
            loo_ms = predict_ms(p, fit(rest, prior) if rest else prior)
            seed_loo.append(ape(loo_ms, p.row.published_ms))
            if p.row.published_mj is not None and not p.row.compute_bound:
                seed_energy_loo.append(ape(p.run_power_mw * loo_ms * 1e-3, p.row.published_mj))
    held = [ape(predict_ms(p, thetas[p.core]), p.row.published_ms) for p in prepared if not p.row.fit]
    print(f"Seeds' rows (MicroNets T4, TinyOpsV2 T1/T2) -> cmsis-nn@2020 M4/M7 tables: fit MAPE "
          f"{np.mean(seed_fit):.1f} % ({len(seed_fit)} rows), leave-one-row-out {np.mean(seed_loo):.1f} %, "
          f"held-out seed rows {np.mean(held):.1f} % ({len(held)} rows); energy (board power x leave-one-row-out "
          f"latency) {np.mean(seed_energy_loo):.1f} % ({len(seed_energy_loo)} rows)\n")

    # 2. Core ratios and the published measurements of our four libraries.
    pub, raw, skipped = read_published()
    ratios = core_ratios(raw)
    comps = [components(r, thetas, ratios) for r in pub]
    power_rows = chip_power_rows(raw)
    fits: dict[tuple[str, str], VersionFit] = {}
    for lib, versions in VERSION_INFO.items():
        for info in versions:
            rows = [c for c in comps if c.row.library == lib and c.row.version == info["version"]]
            if rows:
                fits[(lib, str(info["version"]))] = fit_version(lib, str(info["version"]), rows, power_rows)

    print("Core cycles per Cortex-M4 cycle (same library, same model, two boards):")
    for core, (r, how) in sorted(ratios.items()):
        print(f"  {core:<4} {r:6.3f}  {how[:88]}")
    print()
    cv_bands = [vf.lobo for vf in fits.values() if vf.lobo is not None]
    widest = max(cv_bands) if cv_bands else 25.0
    header = (f"{'profile':<22} {'rows':>4} {'boards':>6} {'MAC x':>6} {'ovh x':>6} {'fit %':>6} {'LOBO %':>7} "
              f"{'LOMO %':>7} {'E LOBO %':>8}  target")
    print(header)
    print("-" * len(header))
    for (lib, ver), vf in fits.items():
        def pct(x: float | None) -> str:
            return f"{x:.1f}" if x is not None else "-"
        if len(vf.rows) < 10:
            verdict = "< 10 rows"
        else:
            lat_ok = vf.lobo is not None and vf.lobo <= 15
            e_ok = vf.energy_lobo is None or vf.energy_lobo <= 20
            verdict = f"latency {'met' if lat_ok else 'NOT met'}, energy {'met' if e_ok else 'NOT met'}"
        print(f"{lib + '@' + ver:<22} {len(vf.rows):>4} {len({c.row.board for c in vf.rows}):>6} {vf.scales[0]:>6.3f} "
              f"{vf.scales[1]:>6.3f} {vf.fit_mape:>6.1f} {pct(vf.lobo):>7} {pct(vf.lomo):>7} "
              f"{pct(vf.energy_lobo):>8}  {verdict}")
    print(f"\n{'profile':<22} {'board':<22} {'core':<4} {'MHz':>4} {'rows':>4} {'fit %':>6} {'held-out %':>10} "
          f"{'E held-out %':>12}")
    for (lib, ver), vf in fits.items():
        lobo_by_board: dict[str, list[float]] = {}
        for c, e in vf.lobo_rows:
            lobo_by_board.setdefault(c.row.board, []).append(e)
        for board in sorted({c.row.board for c in vf.rows}):
            mine = [c for c in vf.rows if c.row.board == board]
            held_txt = f"{np.mean(lobo_by_board[board]):.1f}" if board in lobo_by_board else "-"
            e_mine = [e.energy_ape for e in vf.energy_checks if e.comp.row.board == board]
            e_txt = f"{np.mean(e_mine):.1f}" if e_mine else "-"
            clock = f"{mine[0].row.clock_mhz:g}" + ("?" if mine[0].row.clock_assumed else "")
            print(f"{lib + '@' + ver:<22} {board:<22} {load_board(board).core:<4} {clock:>4} {len(mine):>4} "
                  f"{np.mean([ape_c(c, vf.scales) for c in mine]):>6.1f} {held_txt:>10} {e_txt:>12}")
    print("? clock not stated by the source: the board's default clock assumed")
    print("held-out %: this board left out of the latency fit; E held-out %: its energy, latency and chip\n"
          "power both predicted without its rows")
    print_chip_power(power_rows, fits)
    print("target (profiles with >= 10 rows): leave-one-board-out latency MAPE <= 15 %, energy <= 20 %")
    print("\nWorst leave-one-board-out rows (predicted from the other boards' fit):")
    for (lib, ver), vf in fits.items():
        for c, e in sorted(vf.lobo_rows, key=lambda x: -x[1])[: args.worst]:
            pred = predict_cycles(c, fit_scales([x for x in vf.rows if x.row.board != c.row.board]))
            pred_ms = pred / (c.row.clock_mhz * 1e3)
            print(f"  {lib + '@' + ver:<16} {c.row.label:<40} {c.row.published_ms:>9.2f} ms published, "
                  f"{pred_ms:>9.2f} predicted ({e:5.1f} %)")
    check = check_rows(raw, thetas, ratios, fits)
    if check:
        print("\nCheck rows, not fitted: microTVM + CMSIS-NN (TVM's AOT runtime, CMSIS-NN kernels) predicted "
              "with the cmsis-nn profile")
        for label, published, predicted in check:
            print(f"  {label:<40} {published:>9.2f} ms published, {predicted:>9.2f} predicted "
                  f"({ape(predicted, published):5.1f} %)")
        print(f"  MAPE {np.mean([ape(p, m) for _, m, p in check]):.1f} % over {len(check)} rows")
    print(f"\nSkipped {len(skipped)} rows of these libraries:")
    for s in sorted(set(skipped)):
        print(f"  {s} (x{skipped.count(s)})")

    if args.dry_run:
        return 0
    memory = library_memory(raw, thetas["M7"])
    seed_band = float(np.mean(seed_loo))
    for lib, versions in VERSION_INFO.items():
        out: list[dict[str, object]] = []
        for info in versions:
            ver = str(info["version"])
            vfit = fits.get((lib, ver))
            v: dict[str, object] = {"version": ver, "describes": info["describes"]}
            if info["base"] is None:
                v["status"] = "fitted"
                v["source"] = "benchmarks/calibrate.py fit to MicroNets T4, TinyOpsV2 T2"
                v["latency_error_pct"] = round(seed_band, 1)
                v["energy_error_pct"] = round(float(np.mean(seed_energy_loo)), 1)
                v["band_note"] = (f"leave-one-row-out on the seeds' {len(seed_loo)} rows (energy: "
                                  f"{len(seed_energy_loo)} rows of MicroNets T4 / TinyOpsV2 T2, whole-board power)"
                                  + (f"; check rows not fitted: {', '.join(f'{c.row.label} {ape_c(c, (1.0, 1.0)):.0f} %' for c in vfit.rows)}"
                                     if vfit else ""))
                v["fit"] = fit_dict(None, len(seed_fit), float(np.mean(seed_fit)), seed_band,
                                    len({p.row.board for p in prepared if p.row.fit}))
                v["cores"] = {core: {"coefficients": dict(zip(COEFFICIENTS, map(float, theta)))}
                              for core, theta in thetas.items()}
            else:
                assert vfit is not None, f"{lib}@{ver}: no rows"
                vf = vfit
                v["status"] = "fitted"
                v["source"] = (f"benchmarks/calibrate.py: {info['base']} tables x (MAC, overhead) scales fitted to "
                               f"measurements/published.csv")
                v["base"] = info["base"]
                if info.get("own_cores_only"):
                    v["scaled_cores"] = sorted({load_board(c.row.board).core for c in vf.rows})
                v["mac_scale"], v["overhead_scale"] = round(vf.scales[0], 4), round(vf.scales[1], 4)
                if vf.lobo is not None:
                    v["latency_error_pct"] = round(vf.lobo, 1)
                    v["band_note"] = f"leave-one-board-out MAPE over {len(vf.rows)} published rows"
                else:
                    v["latency_error_pct"] = round(widest, 1)
                    v["band_note"] = (f"not cross-validated ({len(vf.rows)} row(s) on one board): the widest "
                                      f"leave-one-board-out band of the cross-validated profiles")
                if vf.energy_lobo is not None:
                    v["energy_error_pct"] = round(vf.energy_lobo, 1)
                    v["energy_note"] = (
                        f"leave-one-board-out MAPE over {vf.energy_rows} MLPerf Tiny energy rows (chip supply): latency "
                        f"from the other boards' scales x chip power from the board file's datasheet current x a "
                        f"workload factor fitted on the other boards' energies (chip_power.toml)")
                v["fit"] = fit_dict(vf)
            if lib in memory and ver == str(versions[0]["version"]) or (lib in memory and lib == "cmsis-nn" and ver == "2020"):
                v["memory"] = memory[lib]
            out.append(v)
        print(f"wrote {write_library(lib, out)}")
    for core in ("M0+", "M4", "M7", "M33", "M85"):
        print(f"wrote {write_core(core, ratios[core])}")
    if power_rows:
        print(f"wrote {write_chip_power(power_rows)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
