"""MicroNets-style differentiable NAS: supernet search, derivation, verification and repair.

    space = space_for("kws")
    result = search(space, data, SearchConfig(board="nucleo-f446re", ...))
    result.architecture.record()   # a `tinyops train --arch` file, verified on the board

Each epoch alternates, batch by batch, a step of the supernet's weights on 80% of the training
data (cross-entropy under a Gumbel-softmax sample of the architecture) and a step of the
architecture logits on the other 20% (cross-entropy + budget penalties on the expected costs of
the same sample), as FBNetV2 does. The temperature starts at 5.0 and decays by exp(-0.045) per
epoch. The derived architecture is the argmax of every decision; it is then verified with
tinyops' analyzer, memory planner and simulated plan, and repaired if it misses a budget.
All the choices and their reasons are in docs/dnas.md.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Mapping

import numpy as np

from tinyops.errors import TinyOpsError
from tinyops.search.budgets import Budgets
from tinyops.search.proxy import CostProxy, fit_proxy
from tinyops.search.space import Architecture, SearchSpace
from tinyops.search.verify import Repair, Verification, repair, verify

if TYPE_CHECKING:  # pragma: no cover - typing only
    import torch

    from tinyops.hw.board import Board

INITIAL_TEMPERATURE = 5.0
TEMPERATURE_DECAY = 0.045  # per epoch: tau_e = 5.0 * exp(-0.045 e) (FBNetV2)
ARCH_SHARE = 0.2  # share of the training data that trains the architecture logits


@dataclass(frozen=True)
class SearchConfig:
    epochs: int = 3
    batch_size: int = 64
    seed: int = 0
    weight_bits: int = 8
    weight_learning_rate: float = 0.01  # Adam, cosine to 1% (MicroNets KWS: 0.01 -> 1e-5 cosine)
    weight_decay: float = 1e-3  # MicroNets KWS search
    arch_learning_rate: float = 0.05  # Adam on the logits
    penalty_weight: float = 2.0  # lambda of each budget hinge
    warmup_epochs: int = 0  # epochs that train weights only
    calibration_samples: int = 10  # architectures sampled to fit the proxies against the real tools
    threads: int | None = None  # torch intra-op threads (None: torch's default)
    derive: str = "argmax"  # argmax (FBNetV2) | expected (each width rounded from its expectation)


@dataclass
class EpochTrace:
    epoch: int
    temperature: float
    weight_loss: float
    arch_loss: float
    validation_accuracy: float  # the supernet at the currently derived architecture
    soft: dict[str, float]  # expected costs under softmax(logits)
    hard: dict[str, float]  # proxy costs of the derived architecture (equal to the tools' on ops/memory)
    widths: list[int]
    seconds: float


@dataclass
class SearchResult:
    space: SearchSpace
    budgets: Budgets
    config: SearchConfig
    status: str  # verified | infeasible
    derived: Architecture  # argmax of the supernet
    architecture: Architecture  # after repair
    verification: Verification
    repairs: list[Repair]
    trace: list[EpochTrace]
    fits: dict[str, Any]
    seconds: float
    reason: str | None = None
    smallest: Verification | None = None
    exported: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "reason": self.reason,
            "architecture": self.architecture.record(),
            "widths": list(self.architecture.widths),
            "derived_widths": list(self.derived.widths),
            "repaired": bool(self.repairs),
            "repairs": [asdict(r) for r in self.repairs],
            "verification": self.verification.to_json(),
            "budgets": self.budgets.to_json(),
            "space": self.space.to_json(),
            "search": {**asdict(self.config), "initial_temperature": INITIAL_TEMPERATURE,
                       "temperature_decay_per_epoch": TEMPERATURE_DECAY, "relaxation": "gumbel-softmax channel masks",
                       "weight_runtime": _runtime_note(self.config.weight_bits)},
            "proxy_fits": self.fits,
            "trace": [asdict(t) for t in self.trace],
            "smallest": None if self.smallest is None else self.smallest.to_json(),
            "exported": self.exported,
            "seconds": round(self.seconds, 3),
        }


def _runtime_note(weight_bits: int) -> str:
    if weight_bits == 4:
        return ("TFLite INT4 weights (packed two per byte in flash) unpacked by TFLM into an int8 scratch copy "
                "per op; activations int8 (TFLite/TFLM have no 4-bit activation kernels); the unpack time is not "
                "in the cost model")
    return "int8 weights and activations, TFLM with the named kernel library"


ProgressCallback = Callable[[int, int, int, int], None]


def _tensors(data: Any) -> tuple["torch.Tensor", "torch.Tensor"]:
    return data[0], data[1]


def search(space: SearchSpace, train_data: tuple["torch.Tensor", "torch.Tensor"],
           validation_data: tuple["torch.Tensor", "torch.Tensor"], budgets: Budgets, board: "Board",
           latency_board: "Board", config: SearchConfig = SearchConfig(),
           progress: ProgressCallback | None = None) -> SearchResult:
    import torch

    from tinyops.search.supernet import build_supernet

    started = time.perf_counter()
    torch.manual_seed(config.seed)
    torch.use_deterministic_algorithms(True)
    if config.threads is not None:
        torch.set_num_threads(config.threads)
    limit = budgets.plan_sram_limit_bytes
    proxy = fit_proxy(space, board, budgets.kernels, budgets.strategy, config.weight_bits,
                      config.calibration_samples, config.seed, limit)
    latency_proxy = proxy if latency_board.id == board.id else fit_proxy(
        space, latency_board, budgets.kernels, budgets.strategy, config.weight_bits, config.calibration_samples,
        config.seed, limit)
    fits = {"board": proxy.fit.to_json()}
    if latency_proxy is not proxy:
        fits["latency_board"] = latency_proxy.fit.to_json()
    # Is anything feasible at all? The smallest network of the space, checked with the real tools.
    smallest = verify(space.smallest(), budgets, board, latency_board, config.weight_bits)
    overhead = smallest.runtime_overhead_bytes
    if not smallest.fits:
        arch = space.smallest()
        return SearchResult(space, budgets, config, "infeasible", arch, arch, smallest, [], [], fits,
                            time.perf_counter() - started,
                            "even the smallest network of the space misses: " + "; ".join(smallest.misses), smallest)

    inputs, labels = train_data
    count = inputs.shape[0]
    order = torch.randperm(count, generator=torch.Generator().manual_seed(config.seed))
    arch_count = max(1, int(round(count * ARCH_SHARE)))
    arch_index, weight_index = order[:arch_count], order[arch_count:]
    net = build_supernet(space, config.seed)
    weight_optimizer = torch.optim.Adam(net.weight_parameters(), lr=config.weight_learning_rate,
                                        weight_decay=config.weight_decay)
    arch_optimizer = torch.optim.Adam(net.arch_parameters(), lr=config.arch_learning_rate)
    sampler = torch.Generator().manual_seed(config.seed + 1)
    limits: dict[str, float | int | None] = {"flash_bytes": budgets.flash_bytes,
              # External strategies: the TinyOps plan may put activations in external RAM, so working
              # memory is no SRAM bound there; the verified plan is (verify.py).
              "sram_bytes": None if budgets.sram_bytes is None or budgets.strategy != "internal"
              else budgets.sram_bytes - overhead,
              "latency_ms": budgets.latency_ms}
    trace: list[EpochTrace] = []
    batches = max(1, math.ceil(weight_index.numel() / config.batch_size))
    total_steps = config.epochs * batches
    for epoch in range(config.epochs):
        epoch_started = time.perf_counter()
        temperature = INITIAL_TEMPERATURE * math.exp(-TEMPERATURE_DECAY * epoch)
        shuffled = weight_index[torch.randperm(weight_index.numel(), generator=sampler)]
        arch_shuffled = arch_index[torch.randperm(arch_index.numel(), generator=sampler)]
        net.train()
        weight_total = arch_total = 0.0
        arch_steps = 0
        for batch in range(batches):
            step = epoch * batches + batch
            for group in weight_optimizer.param_groups:
                group["lr"] = config.weight_learning_rate * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * step / total_steps)))
            chosen = shuffled[batch * config.batch_size:(batch + 1) * config.batch_size]
            widths, keeps = net.sample(temperature, sampler)
            loss = torch.nn.functional.cross_entropy(net(inputs[chosen], [w.detach() for w in widths],
                                                         [k.detach() for k in keeps]), labels[chosen])
            weight_optimizer.zero_grad()
            loss.backward()
            weight_optimizer.step()
            weight_total += float(loss.detach()) * chosen.numel()
            if progress is not None:
                progress(epoch, config.epochs, batch + 1, batches)
            if epoch < config.warmup_epochs:
                continue
            start = (batch * config.batch_size) % arch_index.numel()
            arch_batch = arch_shuffled[start:start + config.batch_size]
            widths, keeps = net.sample(temperature, sampler)
            logits = net(inputs[arch_batch], widths, keeps)
            arch_loss = torch.nn.functional.cross_entropy(logits, labels[arch_batch])
            arch_loss = arch_loss + penalty(proxy, latency_proxy, widths, keeps, limits, config.penalty_weight)
            arch_optimizer.zero_grad()
            weight_optimizer.zero_grad()
            arch_loss.backward()
            arch_optimizer.step()
            arch_total += float(arch_loss.detach())
            arch_steps += 1
        trace.append(_epoch_trace(net, proxy, latency_proxy, epoch, temperature, weight_total / max(1, weight_index.numel()),
                                  arch_total / max(1, arch_steps), validation_data,
                                  time.perf_counter() - epoch_started, config.derive))
    derived = derive(net, space, config.derive)
    fixed, check, repairs = repair(derived, budgets, board, latency_board, proxy, latency_proxy, config.weight_bits)
    status = "verified" if check.fits else "infeasible"
    reason = None if check.fits else "repair could not meet the budgets: " + "; ".join(check.misses)
    return SearchResult(space, budgets, config, status, derived, fixed, check, repairs, trace, fits,
                        time.perf_counter() - started, reason, smallest)


def penalty(proxy: CostProxy, latency_proxy: CostProxy, widths: list[Any], keeps: list[Any],
            limits: Mapping[str, float | int | None], weight: float) -> "torch.Tensor":
    """lambda * sum over budgets of max(0, expected cost / budget - 1)."""
    import torch

    costs = proxy.costs(widths, keeps)
    total = torch.zeros((), dtype=torch.float64)
    for name in ("flash_bytes", "sram_bytes"):
        limit = limits[name]
        if limit is not None:
            total = total + torch.relu(costs[name] / float(limit) - 1.0)
    if limits["latency_ms"] is not None:
        latency = latency_proxy.costs(widths, keeps)["latency_ms"] if latency_proxy is not proxy else costs["latency_ms"]
        total = total + torch.relu(latency / float(limits["latency_ms"]) - 1.0)
    return (weight * total).float()


def derive(net: Any, space: SearchSpace, rule: str = "argmax") -> Architecture:
    """The derived architecture; a block is kept iff its keep probability is at least 1/2.

    ``argmax``: the most probable width of each layer (FBNetV2). ``expected``: the expected width
    rounded to a multiple of 4, which tracks the expected costs the penalties act on when the
    distributions are still flat (a short search).
    """
    if rule not in ("argmax", "expected"):
        raise TinyOpsError(f"unknown derivation {rule!r}; choose argmax or expected")
    hard_widths, keeps = net.sample(1.0, None, hard=True)
    soft_widths, _ = net.probabilities()
    result = []
    for index, layer in enumerate(space.layers):
        options = layer.width_options()
        if rule == "argmax":
            width = options[int(hard_widths[index].argmax())]
        else:
            mean = float((soft_widths[index].detach().double() * torch_tensor(options)).sum())
            width = min(options, key=lambda w: (abs(w - mean), w))
        if index > 0 and float(keeps[index - 1]) < 0.5:
            width = 0
        result.append(width)
    return Architecture(space, tuple(result), f"dnas-{space.name}")


def _one_hot(net: Any, arch: Architecture) -> tuple[list[Any], list[Any]]:
    """Supernet weights that select exactly ``arch`` (for validating the derived network)."""
    import torch

    widths, keeps = [], []
    for layer, width in zip(arch.space.layers, arch.widths):
        options = layer.width_options()
        one = torch.zeros(len(options))
        one[options.index(width) if width else 0] = 1.0
        widths.append(one)
    for width in arch.widths[1:]:
        keeps.append(torch.tensor(1.0 if width else 0.0))
    return widths, keeps


def torch_tensor(values: tuple[int, ...]) -> Any:
    import torch

    return torch.tensor(values, dtype=torch.float64)


def _epoch_trace(net: Any, proxy: CostProxy, latency_proxy: CostProxy, epoch: int, temperature: float,
                 weight_loss: float, arch_loss: float, validation: tuple[Any, Any], seconds: float,
                 rule: str = "argmax") -> EpochTrace:
    import torch

    with torch.no_grad():
        soft_w, soft_k = net.probabilities()
        soft = {k: float(v) for k, v in proxy.costs(soft_w, soft_k).items()}
        soft["latency_ms"] = float(latency_proxy.costs(soft_w, soft_k)["latency_ms"])
        arch = derive(net, proxy.space, rule)
        hard_costs = proxy.hard_costs(arch)
        hard = hard_costs.to_json()
        hard["latency_ms"] = round(latency_proxy.hard_costs(arch).latency_ms, 3)
        net.eval()
        widths, keeps = _one_hot(net, arch)
        inputs, labels = validation
        right = 0
        for start in range(0, inputs.shape[0], 256):
            logits = net(inputs[start:start + 256], widths, keeps)
            right += int((logits.argmax(1) == labels[start:start + 256]).sum())
        accuracy = right / max(1, inputs.shape[0])
    return EpochTrace(epoch + 1, round(temperature, 4), round(weight_loss, 5), round(arch_loss, 5),
                      round(accuracy, 4), {k: round(v, 3) for k, v in soft.items()}, hard, list(arch.widths),
                      round(seconds, 3))


def materialize(dataset: Any) -> tuple["torch.Tensor", "torch.Tensor"]:
    """Every sample of a task data set as one float tensor (features computed once) and labels."""
    import torch

    if len(dataset) == 0:
        raise TinyOpsError("the data set is empty")
    dataset.reseed(0)
    features, labels = zip(*(dataset[i] for i in range(len(dataset))))
    return torch.from_numpy(np.stack(features).astype(np.float32)), torch.from_numpy(np.array(labels, np.int64))
