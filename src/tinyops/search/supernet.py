"""The weight-sharing supernet of a MicroNets space, FBNetV2-style channel masking.

Every layer is built at its largest width. Its output is multiplied by a channel mask
``sum_k g_k m_k`` where ``m_k`` keeps the first ``w_k`` channels and ``g`` are Gumbel-softmax
weights over the width options (Wu et al., FBNetV2, 2020). A skippable block mixes its output with
its input, ``g_keep * block(x) + g_skip * x`` (MicroNets' identity beside each block). Masked
channels are zero, so one forward pass evaluates the whole mixture at the cost of the largest
network; the architecture parameters get gradients through the Gumbel-softmax weights.

The MobileNetV2 (IBN) space has a physical width per layer: an IBN block's expansion conv and
depthwise carry its expansion mask, its projection the next layer's mask (or, for a residual
block, the mask of the width it is added to); a skippable residual block adds ``g_keep *
block(x)`` to its input, so dropping it leaves the identity.
"""

from __future__ import annotations

from typing import Any

from tinyops.errors import TinyOpsError
from tinyops.search.space import SearchSpace

BN_EPSILON = 1e-3


def _same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TF-SAME padding (before, after) of one dimension."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


class ArchitectureSampling:
    """What both supernets share: their architecture parameters (width logits per layer, keep/skip
    logits per skippable block) and how an architecture is drawn from them. Mixed into an
    ``nn.Module`` that sets ``space``, ``width_logits``, ``keep_logits`` and ``skippable``."""

    space: SearchSpace
    width_logits: Any
    keep_logits: Any
    skippable: list[int]

    def weight_parameters(self) -> list[Any]:
        arch = {id(p) for p in self.arch_parameters()}
        module: Any = self
        return [p for p in module.parameters() if id(p) not in arch]

    def arch_parameters(self) -> list[Any]:
        return list(self.width_logits) + list(self.keep_logits)

    def sample(self, temperature: float, generator: Any | None, hard: bool = False
               ) -> tuple[list[Any], list[Any]]:
        """(width weights per layer, keep weight per block): Gumbel-softmax, or one-hot argmax."""
        widths = [_relax(logits, temperature, generator, hard) for logits in self.width_logits]
        keeps = self._keeps(lambda logits: _relax(logits, temperature, generator, hard)[0])
        return widths, keeps

    def probabilities(self) -> tuple[list[Any], list[Any]]:
        """softmax of the logits: the architecture distribution without sampling noise."""
        import torch

        widths = [torch.softmax(logits, 0) for logits in self.width_logits]
        return widths, self._keeps(lambda logits: torch.softmax(logits, 0)[0])

    def _keeps(self, keep_of: Any) -> list[Any]:
        """Keep weight per block: 1 for a fixed block, ``keep_of(logits)`` for a skippable one."""
        import torch

        keeps = [torch.ones(()) for _ in self.space.blocks]
        for block, logits in zip(self.skippable, self.keep_logits):
            keeps[block] = keep_of(logits)
        return keeps


def _relax(logits: Any, temperature: float, generator: Any | None, hard: bool) -> Any:
    """Gumbel-softmax weights over the options (one-hot argmax when ``hard``)."""
    import torch

    if hard:
        return torch.nn.functional.one_hot(torch.argmax(logits), logits.numel()).float()
    uniform = torch.rand(logits.shape, generator=generator).clamp(1e-9, 1 - 1e-9)
    gumbel = -torch.log(-torch.log(uniform))
    return torch.softmax((logits + gumbel) / temperature, 0)


def build_supernet(space: SearchSpace, seed: int = 0) -> Any:
    import torch

    nn = torch.nn
    functional = nn.functional
    if space.family == "ibn":
        return _build_ibn_supernet(space, seed)
    physical = space.stem.max_channels
    if any(layer.max_channels != physical for layer in space.layers):
        raise TinyOpsError("the supernet needs one maximum width for every layer (skips are identities)")
    torch.manual_seed(seed)

    class Supernet(ArchitectureSampling, nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.space = space
            in_channels, height, width = space.input_shape
            stem = space.stem
            self.stem = nn.Conv2d(in_channels, physical, stem.kernel, stem.stride, bias=False)
            self.stem_norm = nn.BatchNorm2d(physical, eps=BN_EPSILON)
            self.pads: list[tuple[int, int, int, int]] = []
            sizes = [(height, width)] + space.spatial_shapes()
            for layer, (h, w) in zip(space.layers, sizes[:-1]):
                top, bottom = _same_padding(h, layer.kernel[0], layer.stride[0])
                left, right = _same_padding(w, layer.kernel[1], layer.stride[1])
                self.pads.append((left, right, top, bottom))
            self.depthwise = nn.ModuleList()
            self.dw_norms = nn.ModuleList()
            self.pointwise = nn.ModuleList()
            self.pw_norms = nn.ModuleList()
            for layer in space.blocks:
                self.depthwise.append(nn.Conv2d(physical, physical, layer.kernel, layer.stride, groups=physical,
                                                bias=False))
                self.dw_norms.append(nn.BatchNorm2d(physical, eps=BN_EPSILON))
                self.pointwise.append(nn.Conv2d(physical, physical, 1, bias=False))
                self.pw_norms.append(nn.BatchNorm2d(physical, eps=BN_EPSILON))
            self.classifier = nn.Linear(physical, space.classes)
            # Architecture parameters: width logits per layer, (keep, skip) logits per skippable block.
            self.width_logits = nn.ParameterList(
                [nn.Parameter(torch.zeros(len(layer.width_options()))) for layer in space.layers])
            self.skippable = [index for index, layer in enumerate(space.blocks) if layer.skippable]
            self.keep_logits = nn.ParameterList([nn.Parameter(torch.zeros(2)) for _ in self.skippable])
            for layer_index, layer in enumerate(space.layers):
                options = torch.tensor(layer.width_options())
                masks = (torch.arange(physical)[None, :] < options[:, None]).float()
                self.register_buffer(f"masks{layer_index}", masks)

        def forward(self, x: Any, widths: list[Any], keeps: list[Any]) -> Any:
            mask = widths[0] @ getattr(self, "masks0")
            y = functional.relu(self.stem_norm(self.stem(functional.pad(x, self.pads[0]))))
            y = y * mask[None, :, None, None]
            for index in range(len(space.blocks)):
                z = functional.pad(y, self.pads[index + 1])
                z = functional.relu(self.dw_norms[index](self.depthwise[index](z))) * mask[None, :, None, None]
                out_mask = widths[index + 1] @ getattr(self, f"masks{index + 1}")
                z = functional.relu(self.pw_norms[index](self.pointwise[index](z))) * out_mask[None, :, None, None]
                keep = keeps[index]
                if space.blocks[index].skippable:
                    z = keep * z + (1 - keep) * y
                    mask = keep * out_mask + (1 - keep) * mask
                else:
                    mask = out_mask
                y = z
            pooled = y.mean(dim=(2, 3))
            return self.classifier(pooled)

    return Supernet()


def _build_ibn_supernet(space: SearchSpace, seed: int) -> Any:
    import torch

    nn = torch.nn
    functional = nn.functional
    torch.manual_seed(seed)
    layers = space.layers

    def norm(channels: int) -> Any:
        return nn.BatchNorm2d(channels, eps=BN_EPSILON)

    class IbnSupernet(ArchitectureSampling, nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.space = space
            in_channels, height, width = space.input_shape
            sizes = [(height, width)] + space.spatial_shapes()
            self.pads = []
            for layer, (h, w) in zip(layers, sizes[:-1]):
                top, bottom = _same_padding(h, layer.kernel[0], layer.stride[0])
                left, right = _same_padding(w, layer.kernel[1], layer.stride[1])
                self.pads.append((left, right, top, bottom))
            self.convs = nn.ModuleDict()
            self.norms = nn.ModuleDict()
            stem = space.stem
            self._add("stem", nn.Conv2d(in_channels, stem.max_channels, stem.kernel, stem.stride, bias=False),
                      stem.max_channels)
            incoming = stem.max_channels
            for index, layer in enumerate(layers[1:], start=1):
                tag = str(index)
                if layer.kind == "ds":
                    self._add(f"dw{tag}", nn.Conv2d(incoming, incoming, layer.kernel, layer.stride, groups=incoming,
                                                    bias=False), incoming)
                    self._add(f"pw{tag}", nn.Conv2d(incoming, layer.max_channels, 1, bias=False), layer.max_channels)
                    incoming = layer.max_channels
                elif layer.kind == "ibn":
                    expanded = layer.max_channels
                    out = incoming if layer.residual else layers[index + 1].max_channels
                    self._add(f"expand{tag}", nn.Conv2d(incoming, expanded, 1, bias=False), expanded)
                    self._add(f"dw{tag}", nn.Conv2d(expanded, expanded, layer.kernel, layer.stride, groups=expanded,
                                                    bias=False), expanded)
                    self._add(f"project{tag}", nn.Conv2d(expanded, out, 1, bias=False), out)
                    incoming = out
                elif layer.kind == "head":
                    self._add(f"head{tag}", nn.Conv2d(incoming, layer.max_channels, 1, bias=False), layer.max_channels)
                    incoming = layer.max_channels
            self.classifier = nn.Linear(incoming, space.classes)
            self.width_logits = nn.ParameterList(
                [nn.Parameter(torch.zeros(len(layer.width_options()))) for layer in layers])
            self.skippable = [index for index, layer in enumerate(space.blocks) if layer.skippable]
            self.keep_logits = nn.ParameterList([nn.Parameter(torch.zeros(2)) for _ in self.skippable])
            for layer_index, layer in enumerate(layers):
                options = torch.tensor(layer.width_options())
                masks = (torch.arange(layer.max_channels)[None, :] < options[:, None]).float()
                self.register_buffer(f"masks{layer_index}", masks)

        def _add(self, name: str, conv: Any, channels: int) -> None:
            self.convs[name] = conv
            self.norms[name] = norm(channels)

        def _conv(self, name: str, x: Any, pad: tuple[int, int, int, int] | None = None) -> Any:
            if pad is not None:
                x = functional.pad(x, pad)
            return self.norms[name](self.convs[name](x))

        def forward(self, x: Any, widths: list[Any], keeps: list[Any]) -> Any:
            def mask(index: int) -> Any:
                return (widths[index] @ getattr(self, f"masks{index}"))[None, :, None, None]

            y = functional.relu6(self._conv("stem", x, self.pads[0])) * mask(0)
            incoming = mask(0)
            index = 1
            while index < len(layers):
                layer, tag = layers[index], str(index)
                if layer.kind == "ds":
                    z = functional.relu6(self._conv(f"dw{tag}", y, self.pads[index])) * incoming
                    y = self._conv(f"pw{tag}", z) * mask(index)
                    incoming = mask(index)
                elif layer.kind == "ibn":
                    expanded = mask(index)
                    z = functional.relu6(self._conv(f"expand{tag}", y)) * expanded
                    z = functional.relu6(self._conv(f"dw{tag}", z, self.pads[index])) * expanded
                    if layer.residual:
                        y = y + keeps[index - 1] * self._conv(f"project{tag}", z) * incoming
                    else:
                        incoming = mask(index + 1)
                        y = self._conv(f"project{tag}", z) * incoming
                        index += 1
                elif layer.kind == "head":
                    y = functional.relu6(self._conv(f"head{tag}", y)) * mask(index)
                index += 1
            return self.classifier(y.mean(dim=(2, 3)))

    return IbnSupernet()
