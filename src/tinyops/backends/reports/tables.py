"""Tables that fit the terminal: key columns always, secondary ones while there is room.

Every command's table goes through :func:`print_table`. The width is the terminal's (or
``COLUMNS`` when set, as shells export it; 160 when output is piped and ``COLUMNS`` is unset).
When the table would be wider, secondary columns are left out, least important first, and a line
under the table names them and says how to see them (a wider terminal, ``--json``, ``--csv``).
Key columns never wrap or get cut: numbers stay whole.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import Any, Literal, Sequence

PIPED_WIDTH = 160  # piped output (files, CI logs) without COLUMNS: the full table
MIN_WIDTH = 40
# Rich's default box: one border character before every column and one after the last, and one
# space of padding on each side of every cell.
_BORDER_PER_COLUMN = 3
_BORDER_END = 1


@dataclass(frozen=True)
class Column:
    header: str
    justify: Literal["left", "right", "center"] = "right"
    key: bool = False  # never left out
    drop_rank: int = 0  # secondary columns: the highest rank is left out first


def report_width() -> int:
    """The width tables must fit: ``COLUMNS`` if set, else the terminal's, else PIPED_WIDTH."""
    value = os.environ.get("COLUMNS", "")
    if value.isdigit() and int(value) > 0:
        return max(int(value), MIN_WIDTH)
    if sys.stdout.isatty():
        try:
            return max(os.get_terminal_size(sys.stdout.fileno()).columns, MIN_WIDTH)
        except OSError:
            pass
    return PIPED_WIDTH


def make_report_console(width: int | None = None) -> Any:
    """A rich console that renders at ``report_width()`` whether or not stdout is a terminal."""
    from rich.console import Console

    return Console(width=width or report_width())


def _header_width(header: str) -> int:
    # Rich wraps headers at spaces; the longest word is what a header needs at least.
    return max((len(word) for word in header.split()), default=0)


def _cell_width(cell: str) -> int:
    from rich.text import Text

    return max((Text.from_markup(line).cell_len for line in cell.splitlines()), default=0)


def _column_width(column: Column, cells: Sequence[str]) -> int:
    widest_cell = max((_cell_width(c) for c in cells), default=0)
    return max(widest_cell, _header_width(column.header))


def fit_columns(columns: Sequence[Column], rows: Sequence[Sequence[str]], width: int) -> list[int]:
    """Indices of the columns that fit ``width``: every key column, then secondary ones by rank."""
    widths = [_column_width(c, [row[i] for row in rows]) for i, c in enumerate(columns)]
    kept = list(range(len(columns)))

    def total(indices: list[int]) -> int:
        return sum(widths[i] + _BORDER_PER_COLUMN for i in indices) + _BORDER_END

    def empty(i: int) -> bool:  # a column of zeros says nothing: it goes first
        return all(row[i].strip() in ("0", "-", "") for row in rows)

    droppable = sorted((i for i, c in enumerate(columns) if not c.key),
                       key=lambda i: (not empty(i), -columns[i].drop_rank, -i))
    for index in droppable:
        if total(kept) <= width:
            break
        kept.remove(index)
    return kept


def print_table(console: Any, columns: Sequence[Column], rows: Sequence[Sequence[str]], *, title: str | None = None,
                caption: str | None = None, more: str = "--json") -> list[str]:
    """Print the table at the console's width; returns the headers left out (also named under it)."""
    from rich.table import Table

    kept = fit_columns(columns, rows, console.width)
    widths = [_column_width(c, [row[i] for row in rows]) for i, c in enumerate(columns)]
    table = Table(title=title, caption=caption, title_justify="left", header_style="bold")
    for i in kept:
        # Each column exactly as wide as its widest cell (headers wrap at spaces): nothing is cut.
        table.add_column(columns[i].header, justify=columns[i].justify, width=widths[i], overflow="fold")
    for row in rows:
        table.add_row(*[row[i] for i in kept])
    console.print(table)
    dropped = [columns[i].header for i in range(len(columns)) if i not in kept]
    if dropped:
        console.print(f"[dim]{len(dropped)} column(s) left out at {console.width} columns: {', '.join(dropped)} "
                      f"(a terminal of {required_width(columns, rows)}+ columns or {more} shows them)[/dim]")
    return dropped


def required_width(columns: Sequence[Column], rows: Sequence[Sequence[str]]) -> int:
    """Columns the full table needs."""
    widths = [_column_width(c, [row[i] for row in rows]) for i, c in enumerate(columns)]
    return sum(w + _BORDER_PER_COLUMN for w in widths) + _BORDER_END


__all__ = ["Column", "PIPED_WIDTH", "fit_columns", "make_report_console", "print_table", "report_width",
           "required_width"]
