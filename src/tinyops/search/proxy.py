"""Differentiable cost proxies of a MicroNets supernet, tied to tinyops' own models.

Every proxy is the *expected* cost of the architecture distribution (per-layer width
probabilities, per-block keep probabilities). The widths of different layers are independent
under that distribution and each op's count is linear in its input width, its output width or
their product, so the expectations are exact, and on a one-hot (hard) architecture each proxy
equals the figure tinyops computes on the built graph:

- ops = 2 x MACs (exact, the op registry's MAC counts);
- flash = the analyzer's weight bytes (int8 or packed int4 weights, int32 bias, 12 B of
  quantization parameters per channel: exact) + the serialized model's overhead, a linear fit in
  the number of kept blocks against ``analyze`` on sampled architectures;
- SRAM = SpArSe working memory, max over ops of the expected input + output bytes (exact for
  these sequential nets: the analyzer's peak of live activations), plus, for 4-bit weights,
  the int8 copy TFLM unpacks each op's filter into;
- latency = the cost model's cycles (per kernel class: 1x1 conv, im2col conv, depthwise 3x3,
  fully connected, other ops; from ``kernels/profiles`` for the board's core and the kernel library),
  mapped to milliseconds by a linear fit against ``simulate`` of the plan on sampled
  architectures (which adds the memory stalls of where the plan puts weights and activations).
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from tinyops.search.space import Architecture, SearchSpace

if TYPE_CHECKING:  # pragma: no cover - typing only
    import torch

    from tinyops.hw.board import Board
    from tinyops.kernels.profile import CoreParams

BIAS_BYTES = 4
QUANT_PARAM_BYTES = 12  # per channel, per weight and per bias tensor (float32 scale + int64 zero point)


@dataclass
class Costs:
    """One architecture's costs, as the proxies compute them (floats: expectations)."""

    ops: float
    flash_bytes: float
    sram_bytes: float  # working memory (+ int4 unpack copies), runtime overhead not included
    latency_ms: float
    cycles: float

    def to_json(self) -> dict[str, float]:
        return {k: round(float(v), 3) for k, v in asdict(self).items()}


@dataclass
class ProxyFit:
    """What was fitted against tinyops' own tools for one space, board, strategy and bit width."""

    flash_intercept_bytes: float
    flash_per_block_bytes: float
    latency_ms_per_mcycle: float
    latency_intercept_ms: float
    tail_cycles_per_channel: float  # pool + reshape + FC + softmax, linear in the last width
    tail_cycles_intercept: float
    samples: int
    flash_max_error_pct: float
    latency_max_error_pct: float
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _expect(probabilities: "torch.Tensor", values: "torch.Tensor") -> "torch.Tensor":
    return (probabilities * values).sum()


class CostProxy:
    """Expected costs of ``space`` on a board: ``costs(width_probs, keep_probs)`` (torch, differentiable)."""

    def __init__(self, space: SearchSpace, params: "CoreParams", clock_mhz: float, weight_bits: int,
                 fit: ProxyFit | None = None) -> None:
        self.space = space
        self.params = params
        self.clock_mhz = clock_mhz
        self.weight_bits = weight_bits
        self.shapes = space.spatial_shapes()
        self.fit = fit or ProxyFit(0.0, 0.0, 1000.0 / clock_mhz / 1000.0, 0.0, 0.0, 0.0, 0, 0.0, 0.0,
                                   ["not fitted"])

    # ------------------------------------------------------------------ expected costs
    def costs(self, width_probs: list["torch.Tensor"], keep_probs: list["torch.Tensor"]) -> dict[str, "torch.Tensor"]:
        """Expected ops, flash bytes, working memory bytes, cycles and milliseconds.

        ``width_probs[l]`` is over ``space.layers[l].width_options()``; ``keep_probs[b]`` is the
        probability that block b is kept (1 for blocks that cannot be skipped).
        """
        import torch

        if self.space.family == "ibn":
            return self._ibn_costs(width_probs, keep_probs)
        space, c = self.space, self.params.c
        weight_byte = self.weight_bits / 8.0
        options = [torch.tensor(layer.width_options(), dtype=torch.float64) for layer in space.layers]
        widths = [_expect(p.double(), o) for p, o in zip(width_probs, options)]
        in_channels, in_h, in_w = space.input_shape
        stem = space.stem
        out_h, out_w = self.shapes[0]
        kh, kw = stem.kernel
        zero = torch.zeros((), dtype=torch.float64)
        # Stem conv: input channels fixed, output width c0.
        stem_params = kh * kw * in_channels * widths[0]
        macs = out_h * out_w * stem_params
        weight_elements = stem_params
        channel_bytes = (BIAS_BYTES + 2 * QUANT_PARAM_BYTES) * widths[0]
        unaligned = (self.params.unaligned_channel_factor
                     if in_channels % self.params.channel_alignment else 1.0)
        cycles = (unaligned * c("conv_cycles_per_mac") * macs + c("cycles_per_output") * out_h * out_w * widths[0]
                  + (c("im2col_cycles_per_element") * out_h * out_w * kh * kw * in_channels
                     if (kh, kw) != (1, 1) else zero) + c("cycles_per_op"))
        node_memory = [in_h * in_w * in_channels + out_h * out_w * widths[0]
                       + (self._unpack(stem_params) if self.weight_bits < 8 else zero)]
        incoming = widths[0]  # expected width arriving at the next block
        kept_blocks = zero
        h, w = out_h, out_w
        for index, layer in enumerate(space.blocks):
            keep = keep_probs[index].double()
            out = widths[index + 1]
            oh, ow = self.shapes[index + 1]
            k = layer.kernel[0] * layer.kernel[1]
            dw_macs = oh * ow * k * incoming
            pw_macs = oh * ow * incoming * out
            macs = macs + keep * (dw_macs + pw_macs)
            weight_elements = weight_elements + keep * (k * incoming + incoming * out)
            channel_bytes = channel_bytes + keep * (BIAS_BYTES + 2 * QUANT_PARAM_BYTES) * (incoming + out)
            dw_class = "dw3x3_cycles_per_mac" if layer.kernel == (3, 3) else "dw_cycles_per_mac"
            block_cycles = (c(dw_class) * dw_macs + c("cycles_per_output") * oh * ow * incoming + c("cycles_per_op")
                            + c("conv_cycles_per_mac") * pw_macs + c("cycles_per_output") * oh * ow * out
                            + c("cycles_per_op"))
            cycles = cycles + keep * block_cycles
            dw_memory = h * w * incoming + oh * ow * incoming
            pw_memory = oh * ow * incoming + oh * ow * out
            if self.weight_bits < 8:
                dw_memory = dw_memory + self._unpack(k * incoming)
                pw_memory = pw_memory + self._unpack(incoming * out)
            node_memory += [keep * dw_memory, keep * pw_memory]
            kept_blocks = kept_blocks + keep
            incoming = keep * out + (1 - keep) * incoming
            h, w = oh, ow
        return self._with_classifier(space.classes, h, w, incoming, macs, weight_elements, channel_bytes, cycles,
                                     node_memory, kept_blocks, weight_byte, zero)

    def _ibn_costs(self, width_probs: list["torch.Tensor"], keep_probs: list["torch.Tensor"]
                   ) -> dict[str, "torch.Tensor"]:
        """The MobileNetV2 space: stem, IBN blocks (expansion 1x1, depthwise, projection 1x1, residual
        add), 1x1 head, classifier. A residual block's input stays live until its add, so it counts
        in the working memory of the block's three convs (what the analyzer's live-tensor peak sees)."""
        import torch

        space, c = self.space, self.params.c
        layers = space.layers
        weight_byte = self.weight_bits / 8.0
        per_channel = BIAS_BYTES + 2 * QUANT_PARAM_BYTES
        options = [torch.tensor(layer.width_options(), dtype=torch.float64) for layer in layers]
        widths = [_expect(p.double(), o) for p, o in zip(width_probs, options)]
        zero = torch.zeros((), dtype=torch.float64)
        in_channels, in_h, in_w = space.input_shape
        totals = {"macs": zero, "weights": zero, "channel_bytes": zero, "cycles": zero}
        node_memory: list[Any] = []

        def conv(h: int, w: int, oh: int, ow: int, kernel: tuple[int, int], cin: Any, cout: Any, depthwise: bool,
                 keep: Any, unaligned: float = 1.0) -> None:
            k = kernel[0] * kernel[1]
            macs = oh * ow * k * cout * (1 if depthwise else cin)
            cycles = c("cycles_per_output") * oh * ow * cout + c("cycles_per_op")
            if depthwise:
                cycles = cycles + c("dw3x3_cycles_per_mac" if kernel == (3, 3) else "dw_cycles_per_mac") * macs
            else:
                cycles = cycles + unaligned * c("conv_cycles_per_mac") * macs
                if k > 1:
                    cycles = cycles + c("im2col_cycles_per_element") * oh * ow * k * cin
            elements = k * cout * (1 if depthwise else cin)
            totals["macs"] = totals["macs"] + keep * macs
            totals["weights"] = totals["weights"] + keep * elements
            totals["channel_bytes"] = totals["channel_bytes"] + keep * per_channel * cout
            totals["cycles"] = totals["cycles"] + keep * cycles

        def live(keep: Any, *sizes: Any) -> None:
            node_memory.append(keep * sum(sizes))

        one = torch.ones((), dtype=torch.float64)
        unpack = (lambda elements: self._unpack(elements)) if self.weight_bits < 8 else (lambda elements: zero)
        h, w = self.shapes[0]
        unaligned = self.params.unaligned_channel_factor if in_channels % self.params.channel_alignment else 1.0
        conv(in_h, in_w, h, w, space.stem.kernel, in_channels, widths[0], False, one, unaligned)
        live(one, in_h * in_w * in_channels, h * w * widths[0], unpack(9 * in_channels * widths[0]))
        incoming = widths[0]
        kept_blocks = zero
        index = 1
        while index < len(layers):
            layer = layers[index]
            oh, ow = self.shapes[index]
            if layer.kind == "ds":
                out = widths[index]
                conv(h, w, oh, ow, layer.kernel, incoming, incoming, True, one)
                conv(oh, ow, oh, ow, (1, 1), incoming, out, False, one)
                live(one, h * w * incoming, oh * ow * incoming, unpack(9 * incoming))
                live(one, oh * ow * incoming, oh * ow * out, unpack(incoming * out))
                incoming = out
                kept_blocks = kept_blocks + 1
            elif layer.kind == "ibn":
                keep = keep_probs[index - 1].double()
                expanded = widths[index]
                out = incoming if layer.residual else widths[index + 1]
                skip = h * w * incoming if layer.residual else zero  # the add's other operand
                conv(h, w, h, w, (1, 1), incoming, expanded, False, keep)
                conv(h, w, oh, ow, layer.kernel, expanded, expanded, True, keep)
                conv(oh, ow, oh, ow, (1, 1), expanded, out, False, keep)
                live(keep, h * w * incoming, h * w * expanded, unpack(incoming * expanded))
                live(keep, skip, h * w * expanded, oh * ow * expanded, unpack(9 * expanded))
                live(keep, skip, oh * ow * expanded, oh * ow * out, unpack(expanded * out))
                if layer.residual:
                    totals["cycles"] = totals["cycles"] + keep * (c("cycles_per_element") * oh * ow * out
                                                                  + c("cycles_per_op"))
                    live(keep, 3 * oh * ow * out)
                else:
                    incoming = out
                    index += 1
                kept_blocks = kept_blocks + keep
            elif layer.kind == "head":
                conv(h, w, oh, ow, (1, 1), incoming, widths[index], False, one)
                live(one, h * w * incoming, oh * ow * widths[index], unpack(incoming * widths[index]))
                incoming = widths[index]
            h, w = oh, ow
            index += 1
        return self._with_classifier(space.classes, h, w, incoming, totals["macs"], totals["weights"],
                                     totals["channel_bytes"], totals["cycles"], node_memory, kept_blocks,
                                     weight_byte, zero)

    def _with_classifier(self, classes: int, h: int, w: int, incoming: Any, macs: Any, weight_elements: Any,
                         channel_bytes: Any, cycles: Any, node_memory: list[Any], kept_blocks: Any,
                         weight_byte: float, zero: Any) -> dict[str, "torch.Tensor"]:
        """Both spaces end alike: global average pool, reshape, FC (per-tensor), softmax. Adds them to
        the body's running totals and turns those into the hard-cost estimates."""
        import torch

        macs = macs + incoming * classes
        weight_elements = weight_elements + incoming * classes
        channel_bytes = channel_bytes + BIAS_BYTES * classes + 2 * QUANT_PARAM_BYTES
        cycles = cycles + self.fit.tail_cycles_per_channel * incoming + self.fit.tail_cycles_intercept
        node_memory = node_memory + [h * w * incoming + incoming, 2 * incoming, incoming + classes,
                                     2.0 * classes + zero]
        weight_bytes = weight_elements * weight_byte + channel_bytes
        flash = weight_bytes + self.fit.flash_intercept_bytes + self.fit.flash_per_block_bytes * kept_blocks
        sram = torch.stack([torch.as_tensor(m, dtype=torch.float64) for m in node_memory]).max()
        latency = self.fit.latency_ms_per_mcycle * cycles / 1e6 + self.fit.latency_intercept_ms
        return {"ops": 2 * macs, "flash_bytes": flash, "sram_bytes": sram, "cycles": cycles, "latency_ms": latency,
                "weight_bytes": weight_bytes, "kept_blocks": kept_blocks}

    def _unpack(self, elements: Any) -> Any:
        """TFLM unpacks a packed int4 filter into an int8 scratch copy while the op runs."""
        return elements

    # ------------------------------------------------------------------ hard architectures
    def one_hot(self, arch: Architecture) -> tuple[list["torch.Tensor"], list["torch.Tensor"]]:
        import torch

        width_probs, keep_probs = [], []
        for layer, width in zip(arch.space.layers, arch.widths):
            options = layer.width_options()
            probs = torch.zeros(len(options), dtype=torch.float64)
            probs[options.index(width) if width else 0] = 1.0
            width_probs.append(probs)
        for width in arch.widths[1:]:
            keep_probs.append(torch.tensor(1.0 if width else 0.0, dtype=torch.float64))
        return width_probs, keep_probs

    def hard_costs(self, arch: Architecture) -> Costs:
        values = self.costs(*self.one_hot(arch))
        return Costs(float(values["ops"]), float(values["flash_bytes"]), float(values["sram_bytes"]),
                     float(values["latency_ms"]), float(values["cycles"]))


def sample_architectures(space: SearchSpace, count: int, seed: int) -> list[Architecture]:
    """The largest and smallest networks, then ``count - 2`` uniform draws (widths and skips)."""
    rng = random.Random(seed)
    archs = [space.largest(), space.smallest()]
    while len(archs) < count:
        widths = []
        for layer in space.layers:
            if layer.skippable and rng.random() < 0.3:
                widths.append(0)
            else:
                widths.append(rng.choice(layer.width_options()))
        archs.append(Architecture(space, tuple(widths), f"sample{len(archs)}"))
    return archs[:count]


@dataclass
class Measured:
    """An architecture's figures from tinyops' analyzer, memory planner and simulated plan."""

    ops: int
    flash_bytes: int
    weight_bytes: int
    working_memory_bytes: int  # analyzer: peak of live activations (model order)
    sram_lower_bound_bytes: int  # + the op's scratch
    arena_bytes: int  # the memory planner's arena for the target runtime (TFLM's greedy planner)
    compute_cycles: float  # cost model, operands in SRAM
    latency_ms: float | None  # simulated plan; None if the strategy found no feasible plan
    plan_sram_bytes: int | None
    plan_flash_bytes: int | None
    feasible: bool
    reason: str | None
    assumptions: str


def measure(graph: Any, board: "Board", kernels: str, strategy: str, sram_limit_bytes: int | None = None
            ) -> Measured:
    """Run the real tools on ``graph``: analyze, plan memory (TFLM's planner), plan and simulate.
    ``sram_limit_bytes``: the SRAM an external strategy's plan may use (internal plans ignore it)."""
    from tinyops.analysis.analyze import analyze
    from tinyops.memory.plan import plan_memory
    from tinyops.search.explore import evaluate_strategy
    from tinyops.cost.cost_model import compute_cycles
    from tinyops.kernels.profile import load_params

    analysis = analyze(graph, board, kernels=kernels)
    params = load_params(board.core, kernels)
    cycles = sum(compute_cycles(op, params) for op in graph.main.ops)
    arena = plan_memory(graph, planner="tflm", kernels=kernels).arena_bytes
    if strategy == "auto":
        from tinyops.search.explore import choose_auto, strategy_names
        from tinyops.planning import planners as strategies

        outcomes = [evaluate_strategy(graph, board, s, kernels, analysis, sram_limit_bytes) for s in strategy_names()
                    if s in strategies.applicable(board)]
        outcome = choose_auto(outcomes)
    else:
        outcome = evaluate_strategy(graph, board, strategy, kernels, analysis, sram_limit_bytes)
    totals = analysis.totals
    return Measured(2 * totals.macs, totals.flash_bytes, totals.weight_bytes, totals.peak_activation_bytes,
                    totals.sram_lower_bound_bytes, arena, cycles, outcome.latency_ms, outcome.sram_bytes,
                    outcome.flash_bytes, outcome.feasible, outcome.reason, outcome.assumptions)


def graph_for(arch: Architecture, weight_bits: int) -> Any:
    graph = arch.build_graph()
    if weight_bits == 4:
        from tinyops.quant.int4 import to_int4_weights
        from tinyops.quant.codebook import weight_tensors

        for _, tensor in weight_tensors(graph):  # random weights: only their sizes matter here
            if tensor.data is not None and tensor.data.dtype == np.int8:
                tensor.data = np.clip(tensor.data, -7, 7).astype(np.int8)
        graph = to_int4_weights(graph)
    return graph


def fit_proxy(space: SearchSpace, board: "Board", kernels: str, strategy: str, weight_bits: int,
              samples: int = 10, seed: int = 0, sram_limit_bytes: int | None = None) -> CostProxy:
    """Build the proxy for a board and fit its flash overhead and latency scale on sampled networks."""
    from tinyops.kernels.profile import load_params

    params = load_params(board.core, kernels)
    clock = float(board.max_clock_mhz)  # the plans run at the board's maximum clock too
    proxy = CostProxy(space, params, clock, weight_bits)
    archs = sample_architectures(space, max(samples, 3), seed)
    rows = []
    for arch in archs:
        graph = graph_for(arch, weight_bits)
        rows.append((arch, graph, measure(graph, board, kernels, strategy, sram_limit_bytes)))
    # Tail ops (pool, reshape, FC, softmax): linear in the last width; read from the cost model.
    from tinyops.cost.cost_model import compute_cycles

    tail_points = []
    for arch, graph, _ in rows[:3]:
        ops = graph.main.ops
        tail = sum(compute_cycles(op, params) for op in ops[-4:])
        tail_points.append((float(ops[-4].inputs[0].shape[-1]), tail))
    xs = np.array([[1.0, p[0]] for p in tail_points])
    tail_fit = np.linalg.lstsq(xs, np.array([p[1] for p in tail_points]), rcond=None)[0]
    proxy.fit = ProxyFit(0.0, 0.0, 0.0, 0.0, float(tail_fit[1]), float(tail_fit[0]), len(rows), 0.0, 0.0)
    hard = [proxy.hard_costs(arch) for arch, _, _ in rows]
    # Serialized overhead = flash - weight bytes, linear in the number of kept blocks.
    overhead = np.array([m.flash_bytes - h.flash_bytes for (_, _, m), h in zip(rows, hard)])
    kept = np.array([[1.0, float(proxy.costs(*proxy.one_hot(arch))["kept_blocks"])] for arch, _, _ in rows])
    flash_fit = np.linalg.lstsq(kept, overhead, rcond=None)[0]
    notes = [f"fitted on {len(rows)} sampled architectures of the {space.name} space with analyze/plan/simulate "
             f"on {board.id} ({strategy}, {kernels}, {weight_bits}-bit weights)"]
    timed = [(h.cycles, m.latency_ms) for (_, _, m), h in zip(rows, hard) if m.latency_ms is not None]
    if len(timed) >= 2:
        # Least squares on relative errors: small and large networks count alike.
        weight = np.array([1.0 / t[1] for t in timed])
        cyc = np.array([[t[0] / 1e6, 1.0] for t in timed]) * weight[:, None]
        lat_fit = np.linalg.lstsq(cyc, np.array([t[1] for t in timed]) * weight, rcond=None)[0]
        slope, intercept = float(lat_fit[0]), float(lat_fit[1])
    else:
        # No feasible plan to simulate (everything misses the board): compute time only.
        slope, intercept = 1000.0 / clock, 0.0
        notes.append("latency not fitted (fewer than 2 feasible plans): cycles at the board clock, no stalls")
    proxy.fit = ProxyFit(float(flash_fit[0]), float(flash_fit[1]), slope, intercept, float(tail_fit[1]),
                         float(tail_fit[0]), len(rows), 0.0, 0.0, notes)
    flash_err, lat_err = [], []
    for (arch, _, m) in rows:
        h = proxy.hard_costs(arch)
        flash_err.append(abs(h.flash_bytes - m.flash_bytes) / m.flash_bytes * 100)
        if m.latency_ms:
            lat_err.append(abs(h.latency_ms - m.latency_ms) / m.latency_ms * 100)
    proxy.fit.flash_max_error_pct = round(max(flash_err), 3)
    proxy.fit.latency_max_error_pct = round(max(lat_err), 3) if lat_err else 0.0
    return proxy
