"""`tinyops verify MODEL --board ID --target T`: generate, build, run on an emulated Cortex-M (or the
host with sanitizers) and compare every output byte with the reference runtime."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from tinyops.commands.common import print_json


def add_parser(subparsers: Any) -> None:
    from tinyops.backends.c.plan_view import PLANNERS
    from tinyops.backends.c.targets import DMA_BACKENDS, TARGETS
    from tinyops.planning.plan import STRATEGIES

    p = subparsers.add_parser("verify", help="run generated C bit-exact under QEMU or on the host",
                              description=__doc__.splitlines()[0])
    p.add_argument("model", help="the .tflite model (int8)")
    p.add_argument("--board", required=True, metavar="ID|FILE", help="board id or board .toml file")
    p.add_argument("--target", required=True, choices=TARGETS,
                   help="qemu-m4 (mps2-an386), qemu-m7 (mps2-an500), qemu-m33 (mps2-an505), "
                        "qemu-m55 (mps3-an547) or host (system gcc with ASan/UBSan)")
    p.add_argument("--strategy", default="internal", choices=STRATEGIES, help="placement strategy")
    p.add_argument("--planner", default="best", choices=PLANNERS, help="arena planner of the internal strategy")
    p.add_argument("--dma", choices=DMA_BACKENDS, default=None,
                   help="DMA back end (default: pl081 on qemu-m33, deferred elsewhere, when the plan has transfers)")
    p.add_argument("--inputs", type=int, default=4, metavar="N", help="seeded random inputs (default 4)")
    p.add_argument("--seed", type=int, default=0, help="seed of the inputs (default 0)")
    p.add_argument("--counting", choices=("auto", "plugin", "systick"), default="auto",
                   help="per-op instruction counts: the QEMU plugin (also bytes per memory), or -icount + SysTick "
                        "(instructions only, 40-50 instruction resolution); auto: plugin, else SysTick")
    p.add_argument("--keep", metavar="DIR", help="keep the generated project in DIR (replaced if it exists)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from tinyops.backends.c.driver import verify
    from tinyops.frontends import load_model
    from tinyops.hw.board import load_board

    board = load_board(args.board)
    graph = load_model(args.model)
    result = verify(graph, board, args.target, args.strategy, args.planner, args.inputs, args.seed, args.dma,
                    Path(args.keep) if args.keep else None, counting=args.counting)
    if args.json:
        print_json(result.to_json())
        return 0 if result.bit_exact else 1
    verdict = "bit-exact" if result.bit_exact else f"MISMATCH ({result.mismatches} output bytes differ)"
    print(f"{result.model} on {result.board} ({result.strategy}, {result.planner}) {result.target}: {verdict} "
          f"over {result.inputs} inputs; DMA {result.dma}; {result.wall_s:.2f} s wall")
    print(f"arena {result.arena_bytes} B; ELF: flash {result.flash_bytes} B, RAM {result.ram_bytes} B"
          + "".join(f", {m} {v} B" for m, v in sorted(result.external_bytes.items()))
          + f" (sizes from {result.sizes_from})")
    if result.ops:
        print(f"{'op':>4} {'type':<18} {'MACs':>10} {'instructions':>13} {'instr/MAC':>9}  bytes read / written per memory")
        for o in result.ops:
            per_mac = f"{o.instructions / o.macs:.2f}" if o.macs and o.instructions else "-"
            traffic = "; ".join(f"{m} {o.bytes_read.get(m, 0)}/{o.bytes_written.get(m, 0)}"
                                for m in sorted(set(o.bytes_read) | set(o.bytes_written)))
            print(f"{o.index:>4} {o.type[:18]:<18} {o.macs:>10} {o.instructions:>13} {per_mac:>9}  {traffic}")
        print(f"instructions per inference: {result.instructions} ({result.counted_with}; instructions, not cycles)")
    return 0 if result.bit_exact else 1
