"""Shared test fixtures: the third-party models in ../shared/models."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
MODELS_DIR = Path(os.environ.get("TINYOPS_SHARED_MODELS", REPO_ROOT.parent / "shared" / "models"))
SHARED_MODELS = sorted(MODELS_DIR.glob("*/*.tflite"))

if not SHARED_MODELS:
    raise RuntimeError(f"no shared models found in {MODELS_DIR}; set TINYOPS_SHARED_MODELS")


def model_path(name: str) -> Path:
    """Path of a shared model by file stem, e.g. model_path('vww_mobilenetv1_96_int8')."""
    matches = [p for p in SHARED_MODELS if p.stem == name]
    if not matches:
        raise KeyError(name)
    return matches[0]


@pytest.fixture(params=SHARED_MODELS, ids=[p.stem for p in SHARED_MODELS])
def shared_model(request: pytest.FixtureRequest) -> Path:
    return request.param
