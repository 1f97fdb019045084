"""Pieces the commands share: the bundled default model, JSON output, atomic writes."""

from __future__ import annotations

import json
import sys
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

from tinyops import files
from tinyops.backends.tflite_writer import write_atomically  # noqa: F401 (commands import it from here)

DEFAULT_BOARD = "stm32f746g-disco"
DEFAULT_MODEL_NAME = "vww_mobilenetv1_96_int8.tflite"


def default_model_path() -> Path:
    """The bundled default model (MLPerf Tiny VWW MobileNetV1 0.25/96, int8; Apache-2.0)."""
    return Path(str(resources.files("tinyops") / "data" / DEFAULT_MODEL_NAME))


def print_json(payload: Any) -> None:
    json.dump(payload, sys.stdout, indent=2)
    sys.stdout.write("\n")


def save_figure(figure: Any, path: str) -> None:
    """Save a matplotlib figure atomically (the format follows the file extension)."""
    files.save_figure(figure, path)


def make_console() -> "Console":
    """A rich console; when output is piped (CI logs, files) use a wide fixed width, not 80."""
    from rich.console import Console

    return Console() if sys.stdout.isatty() else Console(width=160)
