"""Saving matplotlib figures: every plot a command writes goes through here."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from tinyops.backends.tflite_writer import write_atomically


def save_figure(figure: Any, path: str) -> None:
    """Save a matplotlib figure atomically (the format follows the file extension)."""
    target = Path(path)
    buffer = io.BytesIO()
    figure.savefig(buffer, format=(target.suffix[1:] or "png"), dpi=120, bbox_inches="tight")
    write_atomically(target, buffer.getvalue())
