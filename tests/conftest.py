"""Shared test fixtures: the third-party models in ../shared/models.

Without those models (a fresh clone outside the workspace), every test module that uses them is
reported as one skipped test naming the folder, and the rest of the suite runs.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
MODELS_DIR = Path(os.environ.get("TINYOPS_SHARED_MODELS", REPO_ROOT.parent / "shared" / "models"))
SHARED_MODELS = sorted(MODELS_DIR.glob("*/*.tflite"))
MISSING_MODELS_REASON = (f"needs the shared third-party models: none found in {MODELS_DIR} "
                         "(set TINYOPS_SHARED_MODELS to their folder)")
# What marks a test module as using the shared models.
_USES_SHARED_MODELS = ("from conftest import", "shared_model")


def _uses_shared_models(path: Path) -> bool:
    text = path.read_text(encoding="utf-8", errors="replace")
    return any(marker in text for marker in _USES_SHARED_MODELS)


class _SkippedForMissingModels(pytest.Item):
    def runtest(self) -> None:
        pytest.skip(MISSING_MODELS_REASON)

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, 0, f"{self.path.name}: {MISSING_MODELS_REASON}"


class _ModuleNeedingModels(pytest.File):
    """Stands in for a test module that would fail to import without the models."""

    def collect(self) -> Iterator[pytest.Item]:
        yield _SkippedForMissingModels.from_parent(self, name="shared_models_missing")


def pytest_pycollect_makemodule(module_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if SHARED_MODELS or not _uses_shared_models(module_path):
        return None
    return _ModuleNeedingModels.from_parent(parent, path=module_path)


def pytest_report_header() -> str | None:
    return None if SHARED_MODELS else f"tinyops: {MISSING_MODELS_REASON}"


def model_path(name: str) -> Path:
    """Path of a shared model by file stem, e.g. model_path('vww_mobilenetv1_96_int8')."""
    matches = [p for p in SHARED_MODELS if p.stem == name]
    if not matches:
        raise KeyError(name)
    return matches[0]


@pytest.fixture(params=SHARED_MODELS, ids=[p.stem for p in SHARED_MODELS])
def shared_model(request: pytest.FixtureRequest) -> Path:
    return request.param
