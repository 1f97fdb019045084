"""The `tinyops` command line: a thin dispatcher over one module per command in tinyops.commands.

Every user error (bad model, unknown board, bad option) ends as one line on stderr and exit
status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Sequence

from tinyops.errors import TinyOpsError

# Command name -> module in tinyops.commands providing `add_parser(subparsers)` and `run(args) -> int`.
COMMANDS: dict[str, str] = {
    "analyze": "analyze",
    "boards": "boards",
    "memory": "memory",
    "run": "run",
    "quantize": "quantize",
    "plan": "plan",
    "zoo": "zoo",
    "explore": "explore",
    "train": "train",
    "eval": "eval",
    "search": "search",
    "generate": "generate",
    "verify": "verify",
}
EXIT_USAGE = 2


class OneLineParser(argparse.ArgumentParser):
    """argparse that reports a usage error in one line (and exit status 2)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"{self.prog}: error: {message} (see '{self.prog} --help')\n")
        sys.exit(EXIT_USAGE)


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="tinyops", description=__doc__.splitlines()[0] if __doc__ else None)
    from tinyops import __version__

    parser.add_argument("--version", action="version", version=f"tinyops {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=OneLineParser)
    for module_name in COMMANDS.values():
        try:
            module = importlib.import_module(f"tinyops.commands.{module_name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"tinyops.commands.{module_name}":
                continue  # command not built yet
            raise
        module.add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        sys.stderr.write("tinyops: error: no command given; pick one of the commands above "
                         "('tinyops COMMAND --help' explains each)\n")
        return EXIT_USAGE
    try:
        return int(args.handler(args) or 0)
    except TinyOpsError as exc:
        sys.stderr.write(f"tinyops {args.command}: error: {exc}\n")
        return EXIT_USAGE
    except KeyboardInterrupt:
        sys.stderr.write("tinyops: interrupted\n")
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
