"""Generated C on emulated Cortex-M cores: memory, instructions per MAC, QEMU time.

    python benchmarks/codegen.py [--models a,b] [--cores qemu-m4,qemu-m7,...] [--inputs 1] [--json]

For each model and core, `verify` generates the project (internal strategy, best planner: the
in-place arena), builds it with -O2 and runs it under QEMU twice: with the kernels' DSP paths
(default on M4/M7/M33/M55) and with TINYOPS_FORCE_PORTABLE. Columns:
  flash / RAM      bytes of the ELF in the board's internal flash (code + constants + .data image)
                   and SRAM (arena + .data + .bss + 1 KiB stack), from `arm-none-eabi-size -A`
  arena            the plan's arena (activations, in-place aliases, scratch)
  TFLM RAM         TFLM's arena head + tail as the tflite_micro interpreter reports them for the
                   same model (its stack and interpreter statics not included)
  TFLM flash       the .tflite bytes TFLM keeps in flash; TFLM's interpreter and kernel code are
                   NOT included (no Cortex-M build of TFLM here; typically tens of kB more)
  instr/MAC        instructions QEMU executed (counting plugin) per MAC, per kernel class, DSP and
                   portable path: instructions, not cycles (no wait states or pipeline effects)
  qemu s / wall s  the QEMU process (start-up included) and the whole verify (generate, build, run)
Targets: mcunet_vww RAM < 92 kB and flash < 521 kB (TinyEngine's published peak); VWW arena 46,080 B of activations (+ kernel scratch);
`tinyops verify` of VWW on qemu-m4 under 5 s wall, build included (timed as a command, last line).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tinyops.backends.c.driver import VerifyResult, verify
from tinyops.frontends import load_model
from tinyops.hw.board import load_board
from tinyops.ir.graph import Graph

REPO = Path(__file__).resolve().parents[1]
MODELS_DIR = REPO.parent / "shared" / "models"
MODELS = {"vww_mobilenetv1_96_int8": "stm32f746g-disco", "mcunet_vww": "stm32f746g-disco",
          "kws_dscnn_int8": "stm32f746g-disco", "ic_resnet8_int8": "stm32f746g-disco"}
CORES = ("qemu-m4", "qemu-m7", "qemu-m33", "qemu-m55")
CLASSES = ("1x1 conv", "3x3 conv", "depthwise", "fc")


def kernel_class(graph: Graph, op_index: int) -> str | None:
    op = graph.main.ops[op_index]
    if op.kind == "DEPTHWISE_CONV_2D":
        return "depthwise"
    if op.kind == "FULLY_CONNECTED":
        return "fc"
    if op.kind == "CONV_2D":
        w = op.inputs[1]
        assert w is not None
        return "1x1 conv" if w.shape[1:3] == (1, 1) else "3x3 conv" if w.shape[1:3] == (3, 3) else None
    return None


def per_mac(graph: Graph, result: VerifyResult) -> dict[str, float]:
    sums: dict[str, list[int]] = {}
    for o in result.ops:
        cls = kernel_class(graph, o.index)
        if cls is not None and o.macs:
            pair = sums.setdefault(cls, [0, 0])
            pair[0] += o.instructions
            pair[1] += o.macs
    return {cls: round(i / m, 2) for cls, (i, m) in sums.items()}


def tflm_arena(path: Path) -> dict[str, int]:
    from tinyops.oracles.probe import tflm_arena as probe

    try:
        return probe(path.read_bytes())
    except Exception:  # the TFLM oracle not installed or the model refused: leave the column empty
        return {}


def cli_wall_s(path: Path, board: str, target: str) -> float:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "tinyops.cli", "verify", str(path), "--board", board, "--target",
                           target, "--inputs", "1"], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(done.stderr)
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--cores", default=",".join(CORES))
    parser.add_argument("--inputs", type=int, default=1)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    rows: list[dict[str, Any]] = []
    for name in args.models.split(","):
        path = next(iter(sorted(MODELS_DIR.glob(f"*/{name}.tflite"))), None)
        if path is None:
            print(f"skipping {name}: not in {MODELS_DIR}", file=sys.stderr)
            continue
        graph = load_model(path)
        board = load_board(MODELS.get(name, "stm32f746g-disco"))
        tflm = tflm_arena(path)
        for core in args.cores.split(","):
            dsp = verify(graph, board, core, inputs=args.inputs)
            portable = verify(graph, board, core, inputs=args.inputs, portable=True)
            rows.append({
                "model": name, "core": core, "bit_exact": dsp.bit_exact and portable.bit_exact,
                "flash_bytes": dsp.flash_bytes, "ram_bytes": dsp.ram_bytes, "arena_bytes": dsp.arena_bytes,
                "tflm_arena_head_bytes": tflm.get("head"), "tflm_arena_tail_bytes": tflm.get("tail"),
                "tflm_model_bytes": path.stat().st_size, "instructions": dsp.instructions,
                "instructions_portable": portable.instructions,
                "instr_per_mac_dsp": per_mac(graph, dsp), "instr_per_mac_portable": per_mac(graph, portable),
                "qemu_s": round(dsp.run_s, 3), "build_s": round(dsp.build_s, 3), "wall_s": round(dsp.wall_s, 3),
            })
    vww = next(iter(sorted(MODELS_DIR.glob("*/vww_mobilenetv1_96_int8.tflite"))), None)
    command_s = cli_wall_s(vww, "stm32f746g-disco", "qemu-m4") if vww else None
    if args.json:
        json.dump({"rows": rows, "verify_vww_qemu_m4_command_s": command_s}, sys.stdout, indent=2)
        print()
        return 0
    print(f"{'model':24} {'core':9} {'exact':5} {'flash B':>8} {'RAM B':>7} {'arena B':>7} {'TFLM RAM':>9} "
          f"{'TFLM flash':>10} {'qemu s':>6} {'wall s':>6}")
    for r in rows:
        tflm_ram = (r["tflm_arena_head_bytes"] or 0) + (r["tflm_arena_tail_bytes"] or 0)
        print(f"{r['model'][:24]:24} {r['core']:9} {'yes' if r['bit_exact'] else 'NO':5} {r['flash_bytes']:>8} "
              f"{r['ram_bytes']:>7} {r['arena_bytes']:>7} {tflm_ram or '-':>9} {r['tflm_model_bytes']:>10} "
              f"{r['qemu_s']:>6.2f} {r['wall_s']:>6.2f}")
    print(f"\ninstructions per MAC (DSP path / portable path), per kernel class")
    print(f"{'model':24} {'core':9} " + " ".join(f"{c:>15}" for c in CLASSES) + f" {'total instr':>12}")
    for r in rows:
        cells = []
        for c in CLASSES:
            d, p = r["instr_per_mac_dsp"].get(c), r["instr_per_mac_portable"].get(c)
            cells.append(f"{'-' if d is None else f'{d:.2f}'} / {'-' if p is None else f'{p:.2f}'}".rjust(15))
        print(f"{r['model'][:24]:24} {r['core']:9} " + " ".join(cells) + f" {r['instructions']:>12}")
    mcunet = [r for r in rows if r["model"] == "mcunet_vww"]
    if mcunet:
        worst = max(mcunet, key=lambda r: r["ram_bytes"])
        print(f"\nmcunet_vww: RAM {worst['ram_bytes']} B (target < 92,000 B, TinyEngine), flash "
              f"{max(r['flash_bytes'] for r in mcunet)} B (target < 521,000 B)")
    vww_rows = [r for r in rows if r["model"] == "vww_mobilenetv1_96_int8"]
    if vww_rows:
        print(f"VWW arena {vww_rows[0]['arena_bytes']} B, the C kernels' scratch included "
              f"(target: the planner's 46,080 B of activations)")
    if command_s is not None:
        print(f"`tinyops verify` VWW on qemu-m4, 1 input, as a command: {command_s:.2f} s wall (target < 5 s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
