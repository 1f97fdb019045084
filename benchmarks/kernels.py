"""Instructions per MAC of the tinyops C kernels, portable vs DSP path, on emulated Cortex-M4/M7.

Run: python benchmarks/kernels.py [--cores m4,m7] [--json]
Each kernel class runs once per firmware under QEMU with `-icount shift=0`, timed by SysTick
(one tick = 40 instructions on mps2-an386/an500, notes/qemu_cortex_m.md); the figure counts every
instruction of the kernel call (im2col, requantization, loops) divided by the op's MACs. The
anchor is the portable path measured in the same run; the issue's targets are <= 1.0 instr/MAC on
1x1 and 3x3 convolutions and <= 2.0 on depthwise with the DSP path. Instructions, not cycles.
"""

from __future__ import annotations

import argparse
import json

from rich.console import Console
from rich.table import Table

from tinyops.backends.c import kernel_check as K
from tinyops.ops import spec_for

CLASSES = {
    "conv 1x1 (12x12, 64->64)": lambda: K.weighted_op("CONV_2D", (1, 12, 12, 64), 64, (1, 1)),
    "conv 3x3 (12x12, 32->32)": lambda: K.weighted_op("CONV_2D", (1, 12, 12, 32), 32, (3, 3)),
    "depthwise 3x3 s1 (24x24x64)": lambda: K.weighted_op("DEPTHWISE_CONV_2D", (1, 24, 24, 64), 64, (3, 3)),
    "depthwise 3x3 s2 (24x24x64)": lambda: K.weighted_op("DEPTHWISE_CONV_2D", (1, 24, 24, 64), 64, (3, 3),
                                                         stride=2),
    "fully connected (1x256 -> 64)": lambda: K.weighted_op("FULLY_CONNECTED", (1, 256), 64),
}
TARGETS = {"conv 1x1": 1.0, "conv 3x3": 1.0, "depthwise": 2.0}


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
        for path, portable in (("portable", True), ("dsp", False)):
            elf = K.build_firmware(source, K.build_folder(f"bench-{core}-{path}"), core, portable=portable)
            status, output = K.run_qemu(elf, core, count=True)
            if status != 0:
                raise SystemExit(f"{core} {path}: {status} mismatching kernels\n{output}")
            per_tick = K.QEMU_TARGETS[core].instructions_per_tick
            for name, value in K.ticks(output).items():
                label, m = macs[name]
                rows[label][f"{core}_{path}"] = round(value * per_tick / m, 3)
    return list(rows.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cores", default="m4,m7")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    cores = [c for c in args.cores.split(",") if c]
    rows = measure(cores)
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    table = Table(title="tinyops C kernels: instructions per MAC (QEMU -icount, SysTick x40)")
    table.add_column("kernel class")
    table.add_column("MACs", justify="right")
    for core in cores:
        table.add_column(f"{core} portable", justify="right")
        table.add_column(f"{core} DSP", justify="right")
        table.add_column(f"{core} DSP/port", justify="right")
    for row in rows:
        cells = [str(row["kernel"]), f"{row['macs']:,}"]
        for core in cores:
            port, dsp = float(row[f"{core}_portable"]), float(row[f"{core}_dsp"])  # type: ignore[arg-type]
            cells += [f"{port:.2f}", f"{dsp:.2f}", f"{dsp / port:.2f}x"]
        table.add_row(*cells)
    Console(width=100).print(table)
    print("targets (DSP): conv 1x1 and 3x3 <= 1.0, depthwise <= 2.0 instructions/MAC")


if __name__ == "__main__":
    main()
