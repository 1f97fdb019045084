"""Fit the `tinyops` kernel profile: cost-model coefficients of our own generated C, per core.

    python benchmarks/fit_tinyops_profile.py [--write] [--cores M4,M7,M33]

`verify` runs the shared int8 models under QEMU (DSP kernel paths) and counts the instructions
every op executes. The cost model's features of each op (MACs per kernel class, outputs, im2col
elements, elements of non-MAC ops, 1 per op) are fitted to those counts by non-negative least
squares on relative error, then multiplied by an estimated cycles-per-instruction of the core to
give cycles. The result is written (with --write) as `src/tinyops/kernels/profiles/tinyops.toml` (one
`[[version]]` with `[version.cores.<core>.coefficients]` per core), status "derived": it comes from emulation,
not from boards, and its error band is the per-op fit error, not a silicon cross-validation.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from tinyops.backends.c.driver import verify
from tinyops.frontends import load_model
from tinyops.hw.board import load_board
from tinyops.cost.cost_model import features, op_counts
from tinyops.kernels.profile import COEFFICIENTS, load_params

REPO = Path(__file__).resolve().parents[1]
MODELS_DIR = REPO.parent / "shared" / "models"
MODELS = ("vww_mobilenetv1_96_int8", "mcunet_vww", "kws_dscnn_int8", "ic_resnet8_int8", "ad_fc_autoencoder_int8",
          "sww_ref_model", "micro_speech_quantized", "person_detect")
TARGET_OF = {"M4": "qemu-m4", "M7": "qemu-m7", "M33": "qemu-m33"}
# Estimates from the cores' instruction timing (Cortex-M4/M33 TRMs: single-cycle ALU and MAC,
# two-cycle loads unless pipelined, 1-3 cycles of branch refill; the M7 issues two instructions
# per cycle in many pairs). Not measured: DWT's cycle counter is not emulated.
CPI = {"M4": 1.3, "M7": 0.9, "M33": 1.3}


def nnls(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Non-negative least squares by repeatedly dropping the most negative coefficient."""
    active = list(range(a.shape[1]))
    x = np.zeros(a.shape[1])
    while active:
        sol, *_ = np.linalg.lstsq(a[:, active], b, rcond=None)
        if (sol >= 0).all():
            x[:] = 0
            x[active] = sol
            return x
        active.pop(int(np.argmin(sol)))
    return x


def fit(core: str) -> tuple[dict[str, float], float, int]:
    base = load_params(core, "cmsis-nn")  # feature routing (channel alignment) only
    rows, counts = [], []
    board = load_board("stm32h743i-eval")
    for name in MODELS:
        path = next(iter(sorted(MODELS_DIR.glob(f"*/{name}.tflite"))), None)
        if path is None:
            continue
        graph = load_model(path)
        result = verify(graph, board, TARGET_OF[core], inputs=1)
        for o in result.ops:
            op = graph.main.ops[o.index]
            rows.append(features(op_counts(op), base))
            counts.append(o.instructions)
    a, b = np.array(rows), np.array(counts, dtype=float)
    weight = 1.0 / np.maximum(b, 1.0)  # relative error: small ops matter as much as large ones
    x = nnls(a * weight[:, None], b * weight)
    predicted = a @ x
    mape = float(np.mean(np.abs(predicted - b) / np.maximum(b, 1.0))) * 100
    return {name: float(v) for name, v in zip(COEFFICIENTS, x)}, mape, len(b)


VERSION = "0.1"
DESCRIBES = ("tinyops 0.1 generated C (backends/c: `tinyops generate`), int8 kernels with the DSP (SMLAD) "
             "paths, built with arm-none-eabi-gcc -O2")


def toml_text(fits: dict[str, tuple[dict[str, float], float, int]]) -> str:
    """The `tinyops` profile (one library file, issue-12 format) from per-core fits (instructions per feature,
    instruction-count MAPE %, ops)."""
    cores = list(fits)
    n_ops = max(n for _, _, n in fits.values())
    worst = max(mape for _, mape, _ in fits.values())
    per_core = ", ".join(f"{c} {fits[c][1]:.1f} % (CPI {CPI[c]})" for c in cores)
    band = round(worst)
    lines = [
        "# Cost profile of the tinyops kernel library (our generated C). Written by",
        "# benchmarks/fit_tinyops_profile.py; do not edit by hand: re-run it (--write).",
        "# Versions are listed newest first; `--kernels tinyops` is the first, `tinyops@VERSION` any.",
        'library = "tinyops"',
        'description = "tinyops\' generated C kernels (backends/c): int8, portable C with DSP paths; no interpreter"',
        "unaligned_channel_factor = 1.0",
        'unaligned_channel_factor_source = "tinyops kernels have no channel-aligned fast path"',
        "channel_alignment = 1",
        "conv_columns_per_filter_pass = 2",
        "", "[[version]]",
        f'version = "{VERSION}"',
        f'describes = "{DESCRIBES}"',
        'status = "derived"',
        'source = "emulation: instructions per op counted by tinyops verify under QEMU (qemu-m4, qemu-m7, qemu-m33), '
        'fitted by benchmarks/fit_tinyops_profile.py, times an estimated cycles per instruction per core '
        '(M4/M33 1.3, M7 0.9; DWT is not emulated); no board measurement"',
        f"latency_error_pct = {band}",
        f'band_note = "emulation-derived, not silicon: per-op fit error of QEMU instruction counts ({n_ops} ops, '
        f'{len(MODELS)} models); the estimated CPI\'s error is not included"',
        "", "[version.fit]",
        f"rows = {n_ops}",
        "boards = 0",
        f"fit_mape_pct = {worst:.1f}",
        f"rows_used = [{', '.join(chr(34) + m + chr(34) for m in MODELS)}]",
        f"cores = [{', '.join(chr(34) + c + chr(34) for c in cores)}]",
        f'note = "rows are ops (QEMU instruction counts of every op of the models in rows_used), not boards; '
        f'per-core instruction-count MAPE: {per_core}"',
    ]
    for core in cores:
        instructions = fits[core][0]
        lines += ["", f"[version.cores.{core}.coefficients]"]
        lines += [f"{name} = {instructions[name] * CPI[core]:.5g}" for name in COEFFICIENTS]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cores", default="M4,M7,M33")
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args(argv)
    print(f"{'core':5} {'ops':>4} {'MAPE %':>7}  instructions per feature")
    fits = {}
    for core in args.cores.split(","):
        coeffs, mape, n = fit(core)
        fits[core] = (coeffs, mape, n)
        print(f"{core:5} {n:>4} {mape:>7.1f}  " + ", ".join(f"{k}={v:.3g}" for k, v in coeffs.items() if v))
    if args.write:
        path = REPO / "src/tinyops/kernels/profiles" / "tinyops.toml"
        tmp = path.with_suffix(".toml.tmp")
        tmp.write_text(toml_text(fits), encoding="utf-8")
        tmp.replace(path)
        print(f"wrote {path.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
