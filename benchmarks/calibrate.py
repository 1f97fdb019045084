"""Fit the cost model to published measurements and write tinyops/kernels/profiles/*.toml.

    python benchmarks/calibrate.py            # fit, print residuals, write the parameter files
    python benchmarks/calibrate.py --dry-run  # fit and print only

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
from tinyops.hw.board import load_board  # noqa: E402
from tinyops.planning.common import PlanOptions  # noqa: E402
from tinyops.planning.internal import plan_internal  # noqa: E402
from tinyops.cost.cost_model import features  # noqa: E402
from tinyops.kernels.profile import COEFFICIENTS, CoreParams, params_file_name, parse_params  # noqa: E402
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
    plan_mod.load_params = lambda core, kernels: params  # the fit evaluates candidate parameters
    try:
        plan = plan_internal(graph, board, PlanOptions("cmsis-nn", row.clock_mhz))
    finally:
        plan_mod.load_params = orig
    feats = sum((features(st.counts, params) for st in plan.steps), np.zeros(len(COEFFICIENTS)))
    sim = simulate(plan)
    stall = 0.0 if row.compute_bound else sum(s.stall_cycles for s in sim.steps)
    from tinyops.sim.energy import run_power_mw

    return Prepared(row, board.core, feats, stall, row.clock_mhz * 1e6, run_power_mw(plan))


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
        return '"' + v.replace('"', "'") + '"'
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


def write_params(core: str, kernels: str, theta: dict[str, float], status: str, source: str,
                 fit_summary: str) -> Path:
    lines = [f"# Cost-model parameters for Cortex-{core} with {kernels}. Written by benchmarks/calibrate.py;",
             "# do not edit by hand: change the script's inputs and re-run it.",
             f'core = "{core}"', f'kernels = "{kernels}"', f"status = {toml_value(status)}",
             f"source = {toml_value(source)}", f"fit = {toml_value(fit_summary)}",
             f"unaligned_channel_factor = {UNALIGNED_FACTOR if kernels == 'cmsis-nn' else 1.0}",
             f"unaligned_channel_factor_source = {toml_value(FIXED_NOTES['unaligned_channel_factor'] if kernels == 'cmsis-nn' else 'reference kernels have no channel-specific fast path')}",
             f"channel_alignment = {4 if kernels == 'cmsis-nn' else 1}",
             f"conv_columns_per_filter_pass = {2 if kernels == 'cmsis-nn' else 1}",
             f"static_power_fraction = {FIXED['static_power_fraction']}",
             f"static_power_fraction_source = {toml_value(FIXED_NOTES['static_power_fraction'])}",
             "", "[coefficients]"]
    lines += [f"{k} = {theta[k]:.6g}" for k in COEFFICIENTS]
    lines += ["", "[flash_hidden_fraction]", f"# {FIXED_NOTES['flash_hidden_fraction']}"]
    lines += [f'"{k}" = {v}' for k, v in FIXED["flash_hidden_fraction"].items()]  # type: ignore[union-attr]
    lines += ["", "[sram_stall_cycles_per_byte]",
              "# relative to the calibration placement (activations in the main SRAM arena)"]
    lines += [f'"{k}" = {v}' for k, v in FIXED["sram_stall_cycles_per_byte"].items()]  # type: ignore[union-attr]
    path = PARAMS_DIR / params_file_name(core, kernels)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dry-run", action="store_true", help="print the fit, write nothing")
    args = ap.parse_args(argv)

    prepared: list[Prepared] = []
    skipped: list[str] = []
    for row in ROWS:
        graph = load_row_graph(row)
        if graph is None:
            skipped.append(row.source)
            continue
        core = load_board(row.board).core
        prepared.append(prepare(row, PRIORS[core], graph))

    thetas: dict[str, np.ndarray] = {}
    loo: dict[int, float] = {}
    for core in PRIORS:
        prior = np.array([PRIORS[core][k] for k in COEFFICIENTS])
        fit_rows = [p for p in prepared if p.core == core and p.row.fit]
        thetas[core] = fit(fit_rows, prior) if fit_rows else prior
        for p in fit_rows:  # leave-one-out
            rest = [q for q in fit_rows if q is not p]
            loo[id(p)] = predict_ms(p, fit(rest, prior) if rest else prior)

    print(f"Calibration: cmsis-nn kernels, internal strategy (weights in flash) unless 'compute-bound'.")
    print(f"unaligned-channel factor {UNALIGNED_FACTOR} (MicroNets 138->140 ch); prior weight {PRIOR_WEIGHT}\n")
    header = f"{'row':<48} {'board':<17} {'MHz':>4} {'published ms':>12} {'predicted':>10} {'err %':>7} {'LOO ms':>9} {'LOO %':>7} {'set':>8}"
    print(header)
    print("-" * len(header))
    groups: dict[str, list[float]] = {"fit": [], "loo": [], "held-out": [], "energy": []}
    energy_lines = []
    for p in prepared:
        pred = predict_ms(p, thetas[p.core])
        err = ape(pred, p.row.published_ms)
        kind = "fit" if p.row.fit else "held-out"
        groups[kind].append(err)
        loo_ms = loo.get(id(p))
        loo_txt = f"{loo_ms:9.1f} {ape(loo_ms, p.row.published_ms):7.1f}" if loo_ms is not None else f"{'-':>9} {'-':>7}"
        if loo_ms is not None:
            groups["loo"].append(ape(loo_ms, p.row.published_ms))
        tag = kind + ("*" if p.row.compute_bound else "")
        print(f"{p.row.source:<48} {p.row.board:<17} {p.row.clock_mhz:>4g} {p.row.published_ms:>12.1f} "
              f"{pred:>10.1f} {err:>7.1f} {loo_txt} {tag:>8}")
        if p.row.published_mj is not None and not p.row.compute_bound:
            e_pred = p.run_power_mw * pred * 1e-3
            groups["energy"].append(ape(e_pred, p.row.published_mj))
            energy_lines.append(f"{p.row.source:<48} {p.row.published_mj:>9.2f} {e_pred:>9.2f} "
                                f"{ape(e_pred, p.row.published_mj):>7.1f}")
    print("\n* compute-bound assumption (TinyOpsV2 overlay deployment; refined by the overlay strategy)")
    for name, vals in groups.items():
        if vals:
            print(f"MAPE {name:<9}: {np.mean(vals):6.1f} %  over {len(vals)} rows")
    if energy_lines:
        print(f"\n{'energy row (run power x predicted latency)':<48} {'pub. mJ':>9} {'pred. mJ':>9} {'err %':>7}")
        print("\n".join(energy_lines))
    for s in skipped:
        print(f"skipped (model not available): {s}")
    print()
    for core, theta in thetas.items():
        print(f"{core} cmsis-nn: " + ", ".join(f"{k}={v:.4g}" for k, v in zip(COEFFICIENTS, theta)))

    if args.dry_run:
        return 0
    for core, theta in thetas.items():
        n_rows = len([p for p in prepared if p.core == core and p.row.fit])
        summary = (f"{n_rows} published rows for this core; MAPE fit {np.mean(groups['fit']):.1f} %, leave-one-out "
                   f"{np.mean(groups['loo']) if groups['loo'] else float('nan'):.1f} % (all cores)")
        t = dict(zip(COEFFICIENTS, map(float, theta)))
        used = sorted({p.row.source.split(" ")[0] + " " + p.row.source.split(" ")[1]
                       for p in prepared if p.core == core and p.row.fit})
        write_params(core, "cmsis-nn", t, "fitted", "benchmarks/calibrate.py fit to " + ", ".join(used), summary)
        ref = {k: (v * REFERENCE_SLOWDOWN if "per_mac" in k or k == "im2col_cycles_per_element" else v)
               for k, v in t.items()}
        write_params(core, "tflm-reference", ref, "derived",
                     f"cmsis-nn fit with MAC coefficients x {REFERENCE_SLOWDOWN} (Lai et al. 2018: CMSIS-NN "
                     "4.6x faster than baseline kernels); not fitted to reference-kernel measurements", summary)
    # Cores without published measurements: the M33 has the M4's DSP extension and a similar
    # 3-stage pipeline; it reuses the M4 fit, marked as such.
    m4 = dict(zip(COEFFICIENTS, map(float, thetas["M4"])))
    write_params("M33", "cmsis-nn", m4, "derived", "copy of the M4 cmsis-nn fit (same DSP instructions); no M33 measurements", "not fitted")
    write_params("M33", "tflm-reference", {k: (v * REFERENCE_SLOWDOWN if "per_mac" in k or k == "im2col_cycles_per_element" else v) for k, v in m4.items()},
                 "derived", "M4 fit x reference slowdown; no M33 measurements", "not fitted")
    print(f"\nwrote parameter files to {PARAMS_DIR}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
