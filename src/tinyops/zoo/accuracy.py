"""Published accuracies of zoo configurations, with sources, mergeable with the user's own CSV.

The bundled table (``zoo/data/accuracy.csv``) holds only figures the seeds or the architectures'
own papers report. A user CSV with the same columns is read first, so its rows take precedence.
"""

from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Iterable

from tinyops.errors import TinyOpsError
from tinyops.zoo.scaling import family_resolution, format_resolution, parse_resolution

COLUMNS = ("family", "width", "resolution", "input_channels", "classes", "dataset", "metric", "value",
           "precision", "source", "notes")
REQUIRED = ("family", "width", "resolution", "dataset", "metric", "value", "source")
WIDTH_TOLERANCE = 1e-6
BUNDLED = "built-in"


@dataclass(frozen=True)
class AccuracyRecord:
    family: str
    width: float
    resolution: tuple[int, int]
    dataset: str
    metric: str  # top1 (percent), auc (percent)...
    value: float
    source: str
    precision: str = "float32"  # float32 | int8 (quantized model's accuracy)
    input_channels: int | None = None
    classes: int | None = None
    notes: str = ""
    origin: str = BUNDLED  # the CSV file the row came from

    def as_dict(self) -> dict[str, object]:
        return {"family": self.family, "width": self.width, "resolution": format_resolution(self.resolution),
                "input_channels": self.input_channels, "classes": self.classes, "dataset": self.dataset,
                "metric": self.metric, "value": self.value, "precision": self.precision, "source": self.source,
                "notes": self.notes, "origin": self.origin}


def _optional_int(text: str | None) -> int | None:
    return int(text) if text not in (None, "") else None


def _row_resolution(family: str, text: str) -> tuple[int, int]:
    from tinyops.zoo.registry import FAMILIES

    spec = FAMILIES.get(family)
    return family_resolution(family, spec.input_kind, text) if spec is not None else parse_resolution(text)


def parse_accuracy_csv(text: str, origin: str) -> list[AccuracyRecord]:
    """Parse rows; a malformed file is one TinyOpsError naming the file and line."""
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in REQUIRED if c not in (reader.fieldnames or [])]
    if missing:
        raise TinyOpsError(f"{origin}: accuracy CSV lacks column(s) {', '.join(missing)}; "
                           f"expected {','.join(COLUMNS)}")
    records = []
    for line, row in enumerate(reader, start=2):
        try:
            records.append(AccuracyRecord(
                family=row["family"].strip().lower(), width=float(row["width"]),
                resolution=_row_resolution(row["family"].strip().lower(), row["resolution"].strip()),
                dataset=row["dataset"].strip(),
                metric=row["metric"].strip(), value=float(row["value"]), source=row["source"].strip(),
                precision=(row.get("precision") or "float32").strip(),
                input_channels=_optional_int(row.get("input_channels")), classes=_optional_int(row.get("classes")),
                notes=(row.get("notes") or "").strip(), origin=origin))
        except (ValueError, TypeError, AttributeError, TinyOpsError) as exc:
            raise TinyOpsError(f"{origin}:{line}: bad accuracy row ({exc})") from None
    return records


def _bundled() -> list[AccuracyRecord]:
    text = (resources.files("tinyops.zoo") / "data" / "accuracy.csv").read_text(encoding="utf-8")
    return parse_accuracy_csv(text, BUNDLED)


def load_accuracy_csv(path: str | os.PathLike[str]) -> list[AccuracyRecord]:
    file_path = Path(path)
    try:
        text = file_path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise TinyOpsError(f"{file_path}: no such accuracy CSV; check the path") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise TinyOpsError(f"{file_path}: cannot read accuracy CSV ({exc})") from None
    return parse_accuracy_csv(text, str(file_path))


def accuracy_table(extra_csv: Iterable[str | os.PathLike[str]] = ()) -> list[AccuracyRecord]:
    """User rows (in the order given) followed by the bundled rows."""
    rows: list[AccuracyRecord] = []
    for path in extra_csv:
        rows.extend(load_accuracy_csv(path))
    return rows + _bundled()


def published_accuracy(family: str, width: float = 1.0, resolution: int | tuple[int, int] | str | None = None,
                       dataset: str | None = None, input_channels: int | None = None,
                       extra_csv: Iterable[str | os.PathLike[str]] = ()) -> AccuracyRecord | None:
    """The reported accuracy of one configuration, or None when nobody published it.

    Preference: user rows first; then a quantized (int8) figure over a float one, since tinyops
    deploys int8. resolution None is the family's default input size.
    """
    from tinyops.zoo.registry import get_family

    spec = get_family(family)
    size = spec.default_resolution if resolution is None else family_resolution(spec.name, spec.input_kind,
                                                                                   resolution)

    def same_input(recorded: tuple[int, int]) -> bool:
        # A feature vector is the same input however it is folded (640 = 5 x 128).
        if spec.input_kind == "vector":
            return recorded[0] * recorded[1] == size[0] * size[1]
        return recorded == size

    matches = [r for r in accuracy_table(extra_csv)
               if r.family == spec.name and abs(r.width - float(width)) < WIDTH_TOLERANCE and same_input(r.resolution)
               and (dataset is None or r.dataset == dataset)
               and (input_channels is None or r.input_channels in (None, input_channels))]
    if not matches:
        return None
    user = [r for r in matches if r.origin != BUNDLED]
    if user:
        return user[0]
    return sorted(matches, key=lambda r: r.precision != "int8")[0]
