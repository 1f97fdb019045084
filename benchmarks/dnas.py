"""DNAS figures: supernet step time, proxy-vs-analyzer error, a search for the F446RE budget.

Run: python benchmarks/dnas.py [--samples 100] [--synthetic 600] [--epochs 2] [--threads 1] [--json]

1. Step time of the full MicroNets KWS supernet (276 channels, 9 DS blocks, batch 64; one weight
   step + one architecture step), against the anchor measured in the same run: one training step
   of the plain largest network of the space (the same layers without masks, gates or proxies).
2. The proxies against tinyops' analyzer, cost model and simulated plan on N sampled
   architectures of the KWS space (F446RE, cmsis-nn, internal): max and mean error per cost.
3. A search on synthetic KWS data for the F446RE's flash and SRAM with MicroNet-KWS-S's
   published target (10 FPS on the F746ZG), its verified costs beside MicroNet-KWS-S's own
   (rebuilt from Table 5), both checked by the same verification.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from timing import best_of
from tinyops.hw.board import load_board
from tinyops.search.budgets import make_budgets
from tinyops.search.dnas import SearchConfig, materialize, search
from tinyops.search.dnas_data import open_data
from tinyops.search.proxy import fit_proxy, graph_for, measure, sample_architectures
from tinyops.search.space import Architecture, architecture_from_record, kws_space
from tinyops.search.verify import verify

KWS_S = {"stem": {"channels": 84}, "blocks": [{"channels": 112, "stride": 2}] + [{"channels": c} for c in
                                                                                    (84, 84, 84, 196)],
         "name": "MicroNet-KWS-S"}


def step_times(threads: int, repeats: int = 3) -> dict[str, float]:
    import torch

    from tinyops.search.dnas import penalty
    from tinyops.search.supernet import build_supernet

    torch.set_num_threads(threads)
    space = kws_space()
    board = load_board("nucleo-f446re")
    proxy = fit_proxy(space, board, "cmsis-nn", "internal", 8, samples=4)
    net = build_supernet(space, 0)
    inputs, labels = torch.randn(64, 1, 49, 10), torch.randint(0, 12, (64,))
    weights = torch.optim.Adam(net.weight_parameters(), 1e-3)
    arch = torch.optim.Adam(net.arch_parameters(), 1e-2)
    generator = torch.Generator().manual_seed(0)
    limits: dict[str, float | int | None] = {"flash_bytes": 400_000, "sram_bytes": 100_000, "latency_ms": 100.0}

    def supernet_step() -> None:
        widths, keeps = net.sample(5.0, generator)
        loss = torch.nn.functional.cross_entropy(net(inputs, [w.detach() for w in widths],
                                                     [k.detach() for k in keeps]), labels)
        weights.zero_grad()
        loss.backward()
        weights.step()
        widths, keeps = net.sample(5.0, generator)
        loss = torch.nn.functional.cross_entropy(net(inputs, widths, keeps), labels)
        loss = loss + penalty(proxy, proxy, widths, keeps, limits, 2.0)
        arch.zero_grad()
        weights.zero_grad()
        loss.backward()
        arch.step()

    plain = _plain_network(space)
    plain_optimizer = torch.optim.Adam(plain.parameters(), 1e-3)

    def plain_step() -> None:
        loss = torch.nn.functional.cross_entropy(plain(inputs), labels)
        plain_optimizer.zero_grad()
        loss.backward()
        plain_optimizer.step()

    return {"supernet_step_s": best_of(repeats, supernet_step, warm_up=True),
            "plain_step_s": best_of(repeats, plain_step, warm_up=True)}


def _plain_network(space: Any) -> Any:
    import torch

    nn = torch.nn
    layers: list[Any] = [nn.Conv2d(1, 276, (10, 4), padding="same"), nn.BatchNorm2d(276), nn.ReLU()]
    for block in space.blocks:
        layers += [nn.Conv2d(276, 276, 3, block.stride, padding=1, groups=276), nn.BatchNorm2d(276), nn.ReLU(),
                   nn.Conv2d(276, 276, 1), nn.BatchNorm2d(276), nn.ReLU()]
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(276, 12)]
    return nn.Sequential(*layers)



def proxy_errors(samples: int) -> dict[str, dict[str, float]]:
    space = kws_space()
    board = load_board("nucleo-f446re")
    proxy = fit_proxy(space, board, "cmsis-nn", "internal", 8, samples=10, seed=0)
    errors: dict[str, list[float]] = {k: [] for k in ("ops", "flash", "working memory", "cycles", "latency")}
    for arch in sample_architectures(space, samples, seed=1234):
        m = measure(graph_for(arch, 8), board, "cmsis-nn", "internal")
        h = proxy.hard_costs(arch)
        pairs = {"ops": (h.ops, m.ops), "flash": (h.flash_bytes, m.flash_bytes),
                 "working memory": (h.sram_bytes, m.working_memory_bytes), "cycles": (h.cycles, m.compute_cycles)}
        if m.latency_ms is not None:
            pairs["latency"] = (h.latency_ms, m.latency_ms)
        for name, (got, want) in pairs.items():
            errors[name].append(abs(got - want) / want * 100)
    return {k: {"max_pct": float(np.max(v)), "mean_pct": float(np.mean(v)), "n": len(v)} for k, v in errors.items() if v}


def f446_search(synthetic: int, epochs: int, threads: int, seed: int) -> dict[str, Any]:
    board, latency_board = load_board("nucleo-f446re"), load_board("nucleo-f746zg")
    budgets = make_budgets(board, latency_board, "internal", "cmsis-nn", None, None, None, 10.0)
    data = open_data("kws", None, synthetic, seed)
    space = kws_space()
    started = time.perf_counter()
    result = search(space, materialize(data.train), materialize(data.validation), budgets, board, latency_board,
                    SearchConfig(epochs=epochs, seed=seed, threads=threads))
    seconds = time.perf_counter() - started
    published = architecture_from_record(space, KWS_S)
    published_check = verify(published, budgets, board, latency_board, 8)
    return {"budgets": budgets.to_json(), "seconds": seconds, "train_samples": len(data.train),
            "searched": {"widths": list(result.architecture.widths), "status": result.status,
                         "repairs": len(result.repairs), **result.verification.to_json()},
            "micronet_kws_s": {"widths": list(published.widths), **published_check.to_json()},
            "trace_accuracy": [t.validation_accuracy for t in result.trace]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=100)
    parser.add_argument("--synthetic", type=int, default=600)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    steps = step_times(args.threads)
    errors = proxy_errors(args.samples)
    found = f446_search(args.synthetic, args.epochs, args.threads, args.seed)
    if args.json:
        print(json.dumps({"steps": steps, "proxy_errors": errors, "f446re_search": found}, indent=1))
        return
    console = Console(width=100)
    table = Table(title=f"KWS supernet step, batch 64, {args.threads} thread(s)")
    for column in ("step", "seconds", "x plain"):
        table.add_column(column, justify="right")
    for name, value in steps.items():
        table.add_row(name, f"{value:.3f}", f"{value / steps['plain_step_s']:.2f}")
    console.print(table)
    table = Table(title=f"proxy vs analyzer/cost model/simulated plan, {args.samples} KWS architectures, F446RE")
    for column in ("cost", "max error %", "mean error %", "n"):
        table.add_column(column, justify="right")
    for name, e in errors.items():
        table.add_row(name, f"{e['max_pct']:.3f}", f"{e['mean_pct']:.3f}", str(e["n"]))
    console.print(table)
    table = Table(title=f"F446RE flash/SRAM, 10 FPS on F746ZG: search on {found['train_samples']} synthetic clips, "
                        f"{args.epochs} epochs, {found['seconds']:.0f} s")
    for column in ("model", "Mops", "flash B", "SRAM B", "F746 ms", "fits", "widths"):
        table.add_column(column, justify="right")
    for name, row in (("searched", found["searched"]), ("MicroNet-KWS-S", found["micronet_kws_s"])):
        latency = "-" if row["latency_ms"] is None else f"{row['latency_ms']:.1f}"
        table.add_row(name, f"{row['ops'] / 1e6:.2f}", str(row["flash_bytes"]), str(row["sram_bytes"]), latency,
                      str(row["fits"]), " ".join(str(w) for w in row["widths"]))
    console.print(table)
    b = found["budgets"]
    console.print(f"budgets: flash {b['flash_bytes']} B, SRAM {b['sram_bytes']} B (arena + runtime), latency "
                  f"{b['latency_ms']:.1f} ms; searched status {found['searched']['status']} after "
                  f"{found['searched']['repairs']} repair steps; supernet accuracy per epoch "
                  f"{found['trace_accuracy']} (synthetic data, not Speech Commands)")


if __name__ == "__main__":
    main()
