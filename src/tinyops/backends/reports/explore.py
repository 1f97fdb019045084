"""The report of `tinyops explore`: per board and strategy the most accurate deployable
configuration, and the Pareto-front findings."""

from __future__ import annotations

from typing import Any


def _pct(text: str | None) -> float | None:
    return float(text) if text else None


def summarize(rows: list[dict[str, str]], boards: tuple[str, ...]) -> dict[str, Any]:
    from tinyops.search.pareto import board_finding

    out: dict[str, Any] = {}
    for board in boards:
        on_board = [r for r in rows if r["board"] == board]
        per_strategy: dict[str, Any] = {}
        for strategy in dict.fromkeys(r["strategy"] for r in on_board):
            mine = [r for r in on_board if r["strategy"] == strategy]
            feasible = [r for r in mine if r["feasible"] == "true" and r["latency_ms"]]
            best = max(feasible, key=lambda r: float(r["accuracy"] or "-1"), default=None)
            per_strategy[strategy] = {
                "configurations": len(mine), "feasible": len(feasible),
                "most_accurate": None if best is None else {
                    "config": f"{best['family']}-w{best['width']}-r{best['resolution']}",
                    "accuracy": float(best["accuracy"]) if best["accuracy"] else None,
                    "accuracy_source": best["accuracy_source"], "latency_ms": float(best["latency_ms"]),
                    "energy_mj": float(best["energy_mj"]),
                    "latency_error_pct": _pct(best.get("latency_error_pct")),
                    "energy_error_pct": _pct(best.get("energy_error_pct"))}}
        out[board] = {"strategies": per_strategy, "latency": board_finding(rows, board, "latency_ms").as_dict(),
                      "energy": board_finding(rows, board, "energy_mj").as_dict()}
    return out


def render(summary: dict[str, Any], console: Any) -> None:
    from tinyops.backends.reports.bands import pm
    from tinyops.backends.reports.tables import Column, print_table

    columns = [Column("board", "left", key=True), Column("strategy", "left", key=True),
               Column("feasible", drop_rank=2), Column("most accurate deployable", "left", key=True),
               Column("top-1 %", key=True), Column("ms", key=True), Column("mJ", drop_rank=1)]
    rows = []
    for board, data in summary["boards"].items():
        for strategy, s in data["strategies"].items():
            best = s["most_accurate"]
            rows.append([board, strategy, f"{s['feasible']}/{s['configurations']}",
                         best["config"] if best else "-",
                         f"{best['accuracy']:.2f}{'*' if best['accuracy_source'] == 'estimated' else ''}"
                         if best and best["accuracy"] is not None else "-",
                         f"{best['latency_ms']:.1f}{pm(best.get('latency_error_pct'))}" if best else "-",
                         f"{best['energy_mj']:.1f}{pm(best.get('energy_error_pct'))}" if best else "-"])
    print_table(console, columns, rows, title=f"tinyops explore: {summary['output']}",
                caption="latency/energy: cost model simulating each plan (board at its default clock, "
                        f"{summary['kernels']} kernels; ± the kernel profile's cross-validated error); accuracy: published or estimated (see CSV)",
                more="--json or the CSV")
    for board, data in summary["boards"].items():
        lat = data["latency"]
        if lat["front"]:
            console.print(f"{board}: latency-accuracy front has {len(lat['front'])} points, "
                          f"{lat['external_only_on_front']} of them configurations the internal strategy cannot "
                          f"deploy; best accuracy {lat['best_accuracy']} vs "
                          f"{lat['best_internal_accuracy'] if lat['best_internal_accuracy'] is not None else 'nothing'}"
                          " with internal")
    console.print(f"{summary['new_rows']} new rows, {summary['reused_rows']} reused, {summary['configurations']} "
                  f"configurations in {summary['elapsed_s']:.1f} s ({summary['workers']} workers, {summary['cluster']})"
                  + ("; plots: " + ", ".join(summary["plots"]) if summary["plots"] else ""))
    console.print("* estimated accuracy (zoo-wide fit, see docs/explore.md)")


__all__ = ["render", "summarize"]
