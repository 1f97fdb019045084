"""Saving matplotlib figures: every plot a command writes goes through here."""

from __future__ import annotations

from tinyops.files import save_figure

__all__ = ["save_figure"]
