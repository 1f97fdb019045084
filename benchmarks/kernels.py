"""Instructions per MAC of the tinyops C kernels, portable vs DSP path, on emulated Cortex-M4/M7.

Run: python benchmarks/kernels.py [--cores m4,m7] [--model PATH] [--json]
Each kernel class runs once per firmware under QEMU with `-icount shift=0`, timed by SysTick
(one tick = 40 instructions on mps2-an386/an500, notes/qemu_cortex_m.md); the figure counts every
instruction of the kernel call (im2col, requantization, loops) divided by the op's MACs. The
anchor is the portable path measured in the same run; the issue's targets are <= 1.0 instr/MAC on
1x1 and 3x3 convolutions and <= 2.0 on depthwise with the DSP path. Instructions, not cycles.
A second table runs every op of a real model (default: the bundled VWW MobileNetV1) and sums
instructions and MACs per kernel class over the model's ops.
"""

from __future__ import annotations

import argparse
import json

from rich.console import Console
from rich.table import Table

from pathlib import Path

from tinyops.backends.c import kernel_check as K
from tinyops.frontends import load_model
from tinyops.ir.graph import Op
from tinyops.ops import spec_for

DEFAULT_MODEL = Path(__file__).resolve().parents[1] / "src" / "tinyops" / "data" / "vww_mobilenetv1_96_int8.tflite"

CLASSES = {
    "conv 1x1 12x12 64>64": lambda: K.weighted_op("CONV_2D", (1, 12, 12, 64), 64, (1, 1)),
    "conv 3x3 12x12 32>32": lambda: K.weighted_op("CONV_2D", (1, 12, 12, 32), 32, (3, 3)),
    "dw 3x3 s1 24x24x64": lambda: K.weighted_op("DEPTHWISE_CONV_2D", (1, 24, 24, 64), 64, (3, 3)),
    "dw 3x3 s2 24x24x64": lambda: K.weighted_op("DEPTHWISE_CONV_2D", (1, 24, 24, 64), 64, (3, 3),
                                                         stride=2),
    "fc 256>64": lambda: K.weighted_op("FULLY_CONNECTED", (1, 256), 64),
}


def measure(cores: list[str]) -> list[dict[str, object]]:
    cases, macs = [], {}
    for number, (label, build) in enumerate(CLASSES.items()):
        subgraph = build()
        name = f"k{number}"
        cases.append(K.make_case(name, subgraph, 0, seed=number))
        macs[name] = (label, spec_for(subgraph.ops[0]).count_macs(subgraph.ops[0]))
    source = K.program_source(cases, count=True)
    rows: dict[str, dict[str, object]] = {label: {"kernel": label, "macs": m} for label, m in macs.values()}
    for core in cores:
        for path, portable in PATHS:
            for name, instructions in instructions_per_case(source, f"bench-{core}-{path}", core, portable).items():
                label, m = macs[name]
                rows[label][f"{core}_{path}"] = round(instructions / m, 3)
    return list(rows.values())


PATHS = (("portable", True), ("dsp", False))


def instructions_per_case(source: str, folder: str, core: str, portable: bool) -> dict[str, int]:
    """Build the self-checking kernel program, run it under QEMU, and return each case's instruction
    count (a case whose output mismatches the runtime stops the benchmark)."""
    elf = K.build_firmware(source, K.build_folder(folder), core, portable=portable)
    status, output = K.run_qemu(elf, core, count=True)
    if status != 0:
        raise SystemExit(f"{folder}: {status} mismatching cases\n{output}")
    per_tick = K.QEMU_TARGETS[core].instructions_per_tick
    return {name: value * per_tick for name, value in K.ticks(output).items()}


def op_class(op: Op) -> str:
    if op.kind == "CONV_2D":
        weights = op.inputs[1]
        return "conv 1x1" if weights is not None and weights.shape[1:3] == (1, 1) else "conv kxk"
    return {"DEPTHWISE_CONV_2D": "depthwise", "FULLY_CONNECTED": "fc"}.get(op.kind, "other")


def measure_model(path: Path, cores: list[str]) -> list[dict[str, object]]:
    """Instructions per MAC per kernel class summed over a model's ops (each op timed alone)."""
    subgraph = load_model(path).main
    cases = [K.make_case(f"op{i}", subgraph, i, seed=i) for i in range(len(subgraph.ops))]
    source = K.program_source(cases, count=True)
    classes: dict[str, dict[str, int]] = {}
    for i, op in enumerate(subgraph.ops):
        entry = classes.setdefault(op_class(op), {"ops": 0, "macs": 0})
        entry["ops"] += 1
        entry["macs"] += spec_for(op).count_macs(op)
    for core in cores:
        for path_name, portable in PATHS:
            counted = instructions_per_case(source, f"bench-model-{core}-{path_name}", core, portable)
            for i, op in enumerate(subgraph.ops):
                entry = classes[op_class(op)]
                key = f"{core}_{path_name}"
                entry[key] = entry.get(key, 0) + counted[f"op{i}"]
    rows: list[dict[str, object]] = []
    total: dict[str, int] = {}
    for name, entry in classes.items():
        row: dict[str, object] = {"kernel": name, **entry}
        for key, value in entry.items():
            total[key] = total.get(key, 0) + value
        rows.append(row)
    rows.append({"kernel": "whole model", **total})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cores", default="m4,m7")
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    cores = [c for c in args.cores.split(",") if c]
    rows = measure(cores)
    model_rows = measure_model(args.model, cores)
    if args.json:
        print(json.dumps({"kernel_classes": rows, "model": str(args.model), "model_classes": model_rows},
                         indent=2))
        return
    table = Table(title="tinyops C kernels: instructions per MAC (QEMU -icount, SysTick x40)")
    table.add_column("kernel class")
    table.add_column("MACs", justify="right")
    for core in cores:
        table.add_column(f"{core} port.", justify="right")
        table.add_column(f"{core} DSP", justify="right")
        table.add_column("DSP/port.", justify="right")
    for row in rows:
        cells = [str(row["kernel"]), f"{row['macs']:,}"]
        for core in cores:
            port, dsp = float(row[f"{core}_portable"]), float(row[f"{core}_dsp"])  # type: ignore[arg-type]
            cells += [f"{port:.2f}", f"{dsp:.2f}", f"{dsp / port:.2f}x"]
        table.add_row(*cells)
    console = Console(width=100)
    console.print(table)
    print("targets (DSP): conv 1x1 and 3x3 <= 1.0, depthwise <= 2.0 instructions/MAC")
    table = Table(title=f"{args.model.name}: millions of instructions (per MAC), summed per class")
    table.add_column("class")
    table.add_column("ops", justify="right")
    table.add_column("MACs", justify="right")
    for core in cores:
        table.add_column(f"{core} port. M (/MAC)", justify="right")
        table.add_column(f"{core} DSP M (/MAC)", justify="right")
    for row in model_rows:
        macs = int(row["macs"])  # type: ignore[call-overload]
        cells = [str(row["kernel"]), str(row["ops"]), f"{macs:,}"]
        for core in cores:
            for key in (f"{core}_portable", f"{core}_dsp"):
                count = int(row[key])  # type: ignore[call-overload]
                per_mac = f"{count / macs:.2f}" if macs else "-"
                cells.append(f"{count / 1e6:.2f} ({per_mac})")
        table.add_row(*cells)
    console.print(table)


if __name__ == "__main__":
    main()
