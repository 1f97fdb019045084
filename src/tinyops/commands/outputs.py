"""The one output policy, as every command applies it: ``--force`` and the checks before work starts.

See :mod:`tinyops.files` for the policy itself (refuse to replace an existing file without
``--force``, never write over an input, write to a temporary file and rename).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, Sequence

from tinyops.files import check_output_path


def add_force_option(parser: Any) -> None:
    parser.add_argument("--force", action="store_true",
                        help="replace output files that already exist (default: refuse)")


def checked_output(args: argparse.Namespace, option: str, value: str | None, *,
                   inputs: Sequence[str | Path | None] = (), figure: bool = False) -> Path | None:
    """``value`` checked against the output policy (None when the option was not given)."""
    if value is None:
        return None
    sources = [str(p) for p in inputs if p is not None]
    return check_output_path(value, option, force=bool(getattr(args, "force", False)), inputs=sources,
                             figure=figure)
