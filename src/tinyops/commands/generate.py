"""`tinyops generate MODEL --board ID|FILE --output DIR`: a self-contained C99 project for the board."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from tinyops.commands.common import print_json


def add_parser(subparsers: Any) -> None:
    from tinyops.backends.c.plan_view import PLANNERS
    from tinyops.backends.c.targets import DMA_BACKENDS
    from tinyops.planning.plan import STRATEGIES

    p = subparsers.add_parser("generate", help="generate C code (no interpreter) for a board",
                              description=__doc__.splitlines()[0])
    p.add_argument("model", help="the .tflite model (int8)")
    p.add_argument("--board", required=True, metavar="ID|FILE", help="board id or board .toml file")
    p.add_argument("--strategy", default="internal", choices=STRATEGIES,
                   help="placement strategy whose plan the code follows (default: internal)")
    p.add_argument("--planner", default="best", choices=PLANNERS,
                   help="arena planner of the internal strategy: best (in-place ops) or tflm (default: best)")
    p.add_argument("--kernels", default="tinyops", choices=("tinyops",),
                   help="kernel library of the generated code (tinyops' own int8 kernels)")
    p.add_argument("--dma", choices=DMA_BACKENDS, default=None,
                   help="DMA back end for overlay transfers (default: stm32 when the plan has transfers)")
    p.add_argument("--inputs", type=int, default=1, metavar="N",
                   help="seeded test vectors embedded for main.c's self-check (default 1; they sit in flash: "
                        "0 embeds none and main.c runs one inference on zeros)")
    p.add_argument("--seed", type=int, default=0, help="seed of the test vectors (default 0)")
    p.add_argument("--no-build", action="store_true",
                   help="do not build the firmware (memory_map then lists the plan's figures only)")
    p.add_argument("--output", required=True, metavar="DIR", help="folder to create")
    p.add_argument("--force", action="store_true", help="replace DIR if it exists")
    p.add_argument("--json", action="store_true", help="print the files written and the memory map as JSON")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from tinyops.backends.c.driver import generate
    from tinyops.frontends import load_model
    from tinyops.hw.board import load_board

    board = load_board(args.board)
    graph = load_model(args.model)
    result = generate(graph, board, Path(args.output), args.strategy, args.planner, args.force, args.inputs,
                      args.seed, args.dma, build=False if args.no_build else None)
    files = sorted(result.project.files) + ["memory_map.json", "memory_map.md"]
    if args.json:
        print_json({"output": str(result.output), "files": files, "built": result.built,
                    "memory_map": result.memory_map})
        return 0
    data = result.memory_map
    print(f"wrote {len(files)} files to {result.output} ({data['strategy']}, planner {data['planner']}, "
          f"arena {data['prediction']['arena_bytes']} B, DMA {data['dma']})")
    if result.built:
        elf = data["elf_bytes_by_memory"]
        print("built firmware.elf: " + ", ".join(f"{m} {v} B" for m, v in sorted(elf.items()))
              + " (ELF sections per board memory; see memory_map.md)")
    else:
        print("not built (arm-none-eabi-gcc missing or --no-build); run `make` in the folder")
    return 0
