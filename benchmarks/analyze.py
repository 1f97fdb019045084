"""Analysis time per shared model (load + analyze), against the 0.3 s-per-100-ops target.

Run: python benchmarks/analyze.py [--models DIR] [--json]
The anchor is the target itself scaled to the model's op count; "load" is the TFLite parse,
"analyze" is `tinyops.analysis.analyze` (per-op MACs/bytes, liveness, serialized size known).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rich.console import Console
from rich.table import Table

from timing import best_of
from tinyops.analysis import analyze
from tinyops.frontends import load_model

TARGET_S_PER_100_OPS = 0.3
REPEATS = 5



def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=str(Path(__file__).resolve().parents[2] / "shared" / "models"))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rows = []
    models = sorted(Path(args.models).glob("*/*.tflite"))
    try:  # a 100+-op graph from the zoo, when the zoo is installed
        from tinyops.zoo import build_model

        zoo_graph = build_model("mobilenetv2", width=1.0, resolution=224)
    except ImportError:
        zoo_graph = None
    for path in models:
        size = path.stat().st_size
        load_s = best_of(REPEATS, lambda: load_model(path))
        graph = load_model(path)
        analyze_s = best_of(REPEATS, lambda: analyze(graph, flash_bytes=size))
        rows.append((path.stem, sum(len(s.ops) for s in graph.subgraphs), load_s, analyze_s))
    if zoo_graph is not None:
        analyze_s = best_of(REPEATS, lambda: analyze(zoo_graph, flash_bytes=1))
        rows.append(("zoo mobilenetv2 1.0/224", len(zoo_graph.main.ops), 0.0, analyze_s))
    if args.json:
        print(json.dumps([{"model": m, "ops": n, "load_s": l, "analyze_s": a,
                           "target_s": TARGET_S_PER_100_OPS * max(n, 1) / 100} for m, n, l, a in rows], indent=2))
        return
    table = Table(title=f"tinyops analyze: time per model (best of {REPEATS}); target {TARGET_S_PER_100_OPS} s per 100 ops")
    for column in ("model", "ops", "load ms", "analyze ms", "total ms", "target ms", "total / target"):
        table.add_column(column, justify="left" if column == "model" else "right")
    for model, ops, load_s, analyze_s in rows:
        target_s = TARGET_S_PER_100_OPS * max(ops, 1) / 100
        total = load_s + analyze_s
        table.add_row(model, str(ops), f"{load_s * 1e3:.1f}", f"{analyze_s * 1e3:.1f}", f"{total * 1e3:.1f}",
                      f"{target_s * 1e3:.0f}", f"{total / target_s:.3f}")
    Console(width=140).print(table)


if __name__ == "__main__":
    main()
