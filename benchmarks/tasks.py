"""Task pipeline speeds: features per clip, training throughput per task model, evaluation
throughput per engine.

Run: python benchmarks/tasks.py [--json]
Anchors measured in the same run: the MFCC target (1 ms per 1 s clip in NumPy); training
throughput is reported against the float (non-QAT) epoch of the same model, so the QAT overhead
reads as a ratio; evaluation throughput against the tinyops runtime. One torch thread (the
default of tasks.train). Data are the synthetic trees of tinyops.tasks.synthetic.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from timing import best_of
from tinyops.backends.tflite_writer import to_tflite_bytes
from tinyops.tasks import features, synthetic
from tinyops.tasks.evaluate import graph_predictor
from tinyops.tasks.recipes import get_recipe, with_overrides
from tinyops.tasks.train import load_task_data, model_for, train

MFCC_TARGET_MS = 1.0



def feature_rows() -> list[dict[str, Any]]:
    rng = np.random.default_rng(0)
    one_second, ten_seconds = rng.normal(0, 0.1, 16000), rng.normal(0, 0.1, 160000)
    rows = []
    for preset, clip in (("mlperf-kws", one_second), ("micronets-kws", one_second), ("mlperf-ad", ten_seconds),
                         ("micronets-ad", ten_seconds)):
        seconds = best_of(50 if "kws" in preset else 10, lambda: features.features(clip, preset))
        ms_per_audio_s = seconds * 1e3 / (clip.size / 16000)
        rows.append({"what": f"features {preset} ({clip.size / 16000:.0f} s clip)", "value": round(ms_per_audio_s, 3),
                     "unit": "ms per s of audio", "anchor": f"MFCC target {MFCC_TARGET_MS} ms/s",
                     "ratio": round(ms_per_audio_s / MFCC_TARGET_MS, 3)})
    return rows


def training_rows(folder: Path) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    rows, trained = [], {}
    cases = (("kws", "mlperf-kws", "dscnn-s", 0.5, synthetic.write_kws_tree, {"per_class": 20}),
             ("vww", "mlperf-vww", "mobilenetv1", 0.25, synthetic.write_vww_tree, {"per_class": 40, "size": 32}),
             ("ad", "mlperf-ad", "fc-autoencoder", 1.0, synthetic.write_ad_tree, {"train_per_id": 2}))
    for task, recipe_name, family, width, writer, options in cases:
        root = writer(folder / task, **options)  # type: ignore[operator]
        recipe = with_overrides(get_recipe(recipe_name), epochs=1, batch_size=32)
        data = load_task_data(task, root, recipe, image_size=32)  # type: ignore[arg-type]
        graph = model_for(task, data, family=family, width=width)  # type: ignore[arg-type]
        float_run = train(task, graph, data, recipe)  # type: ignore[arg-type]
        qat_run = train(task, graph, data, with_overrides(recipe, epochs=1), qat=True)  # type: ignore[arg-type]
        trained[task] = (qat_run, data)
        for label, run in (("float", float_run), ("qat", qat_run)):
            rows.append({"what": f"train {task} {family} w{width} {label}", "value": round(run.samples_per_second, 1),
                         "unit": "samples/s", "anchor": "float epoch",
                         "ratio": round(run.samples_per_second / max(float_run.samples_per_second, 1e-9), 3)})
    return rows, trained


def evaluation_rows(trained: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    run, data = trained["kws"]
    batch = np.stack([data.validation[i][0] for i in range(len(data.validation))])
    payload = to_tflite_bytes(run.int8_graph)
    per_engine = {}
    for engine in ("runtime", "litert", "tflm"):
        predict = graph_predictor(run.int8_graph, engine, payload)  # type: ignore[arg-type]
        seconds = best_of(2, lambda: predict(batch))
        per_engine[engine] = batch.shape[0] / seconds
    for engine, rate in per_engine.items():
        rows.append({"what": f"eval kws dscnn-s w0.5 int8, {engine}", "value": round(rate, 1), "unit": "inferences/s",
                     "anchor": "runtime", "ratio": round(rate / per_engine["runtime"], 3)})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tinyops-bench-tasks-") as folder:
        rows = feature_rows()
        train_rows, trained = training_rows(Path(folder))
        rows += train_rows + evaluation_rows(trained)
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    table = Table(title="task pipeline speeds (1 torch thread; engines in child processes include their start)")
    for column in ("what", "value", "unit", "anchor", "ratio"):
        table.add_column(column, justify="left" if column in ("what", "unit", "anchor") else "right")
    for row in rows:
        table.add_row(row["what"], str(row["value"]), row["unit"], row["anchor"], str(row["ratio"]))
    Console(width=100).print(table)


if __name__ == "__main__":
    main()
