"""In-place execution: which op outputs may reuse the bytes of one of their inputs.

Four kinds, each with the exact byte relation our runtime and code generator must follow:

- ``view``: RESHAPE / SQUEEZE / EXPAND_DIMS output *is* its input (same offset, same bytes). Nothing
  is written, so the input may stay live. TFLM follows it (its RESHAPE skips the copy when the
  pointers match).
- ``elementwise``: output[i] depends on input[i] only and is written in increasing i, with output
  elements no wider than input elements; the output starts at the input's offset. Allowed when
  every tensor sharing the input's bytes dies at this op. TFLM's reference elementwise loops follow it.
- ``depthwise`` (TinyEngine): DEPTHWISE_CONV_2D with multiplier 1. With NHWC layout, output channel c
  only lands on bytes at addresses = c (mod channels), which hold input channel c; the kernel first
  copies input channel c into a small buffer (H x W elements, recorded as extra bytes), then writes
  the channel. The output starts at the input's offset. TFLM's kernel does not do this.
- ``pointwise``: CONV_2D with a 1x1 filter and stride 1, or FULLY_CONNECTED over several rows, maps
  pixel p (row p) of the input to pixel p of the output. The kernel copies input pixel p into a
  one-pixel buffer (extra bytes) and writes output pixel p at the input's offset + p x output pixel
  bytes, walking pixels forward when output pixels are no wider than input pixels, else backward;
  either way every write lands on input pixels already read. TFLM's kernel does not do this.
- ``pad``: PAD writes its output forward in row-major order; with the input placed at the *end* of
  the output buffer, every write lands on bytes already read. TFLM's kernel copies with memcpy,
  which does not promise that, so TFLM does not follow it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from tinyops.ir.graph import Op, Subgraph, Tensor
from tinyops.kernels import INPLACE_KINDS, TFLM_INPLACE_KINDS
from tinyops.memory.lifetimes import ALIGNMENT_BYTES, Buffer, needs_arena, op_time
from tinyops.ops import spec_for

ALL_KINDS = INPLACE_KINDS
TFLM_FOLLOWS = TFLM_INPLACE_KINDS  # the kinds stock TFLM follows (defined with the kernel libraries)
VIEW_KINDS = ("RESHAPE", "SQUEEZE", "EXPAND_DIMS")
PAD_KINDS = ("PAD", "PADV2")
# Row-wise ops read a whole row before writing it, or broadcast: not elementwise in our sense.
NOT_ELEMENTWISE = ("SOFTMAX", "LOG_SOFTMAX", "PRELU")


@dataclass(frozen=True)
class Alias:
    """``tensor_index`` (output of ``op_index``) lives inside the bytes of ``source_index``."""

    tensor_index: int
    source_index: int
    op_index: int
    kind: str
    relative_offset_bytes: int  # offset(tensor) - offset(source)
    extra_bytes: int = 0  # depthwise / pointwise: the channel / pixel copy buffer, live during the op
    backward: bool = False  # pointwise: walk pixels from the last one (output pixels wider than input)

    @property
    def writes(self) -> bool:
        return self.kind != "view"

    @property
    def tflm_follows(self) -> bool:
        return self.kind in TFLM_FOLLOWS


@dataclass(frozen=True)
class Candidate:
    input_position: int
    kind: str
    relative_offset_bytes: int
    extra_bytes: int
    saving_bytes: int  # live bytes saved at this op when taken
    backward: bool = False


def _element_bytes(tensor: Tensor) -> float:
    return tensor.dtype.bits / 8


def candidates(op: Op) -> list[Candidate]:
    """In-place options of ``op`` that depend on the op alone (not on the order), best first."""
    if len(op.outputs) != 1 or not needs_arena(op.outputs[0]):
        return []
    out = op.outputs[0]
    found: list[Candidate] = []
    activations = [(i, t) for i, t in enumerate(op.inputs) if t is not None and needs_arena(t)]
    if op.kind in VIEW_KINDS:
        if activations and activations[0][0] == 0 and activations[0][1].size_bytes == out.size_bytes:
            found.append(Candidate(0, "view", 0, 0, out.size_bytes))
    elif op.kind == "DEPTHWISE_CONV_2D":
        data = op.input(0)
        if (data is not None and needs_arena(data) and len(data.shape) == 4 and len(out.shape) == 4
                and data.dtype.bits == out.dtype.bits and data.shape[3] == out.shape[3]
                and out.num_elements <= data.num_elements):
            extra = int(data.shape[1] * data.shape[2] * _element_bytes(data))
            if out.size_bytes > extra:
                found.append(Candidate(0, "depthwise", 0, extra, out.size_bytes - extra))
    elif op.kind in ("CONV_2D", "FULLY_CONNECTED"):
        option = _pointwise(op, out)
        if option is not None:
            found.append(option)
    elif op.kind in PAD_KINDS:
        data = op.input(0)
        growth = out.size_bytes - (data.size_bytes if data is not None else 0)
        if (data is not None and needs_arena(data) and data.dtype is out.dtype and growth >= 0
                and growth % ALIGNMENT_BYTES == 0):
            found.append(Candidate(0, "pad", -growth, 0, data.size_bytes))  # input ends where output ends
    elif spec_for(op).category in ("elementwise", "activation") and op.kind not in NOT_ELEMENTWISE:
        if all(t.num_elements == out.num_elements for _, t in activations):
            for position, tensor in activations:
                if out.size_bytes <= tensor.size_bytes and _element_bytes(out) <= _element_bytes(tensor):
                    found.append(Candidate(position, "elementwise", 0, 0, out.size_bytes))
    found.sort(key=lambda c: -c.saving_bytes)
    return found


def _pointwise(op: Op, out: Tensor) -> Candidate | None:
    data, weights = op.input(0), op.input(1)
    if data is None or weights is None or not needs_arena(data) or not weights.shape:
        return None
    if op.kind == "CONV_2D":
        if len(weights.shape) != 4 or weights.shape[1:3] != (1, 1) or len(data.shape) != 4:
            return None
        if op.attrs.get("stride_h", 1) != 1 or op.attrs.get("stride_w", 1) != 1 or weights.shape[3] != data.shape[3]:
            return None  # strided or grouped: pixel p of the output does not read pixel p only
        depth, units = data.shape[3], weights.shape[0]
    else:
        depth, units = weights.shape[-1], weights.shape[0]
    rows = data.num_elements // depth if depth else 0
    if rows * depth != data.num_elements or rows * units != out.num_elements:
        return None
    in_pixel_bytes = depth * data.dtype.bits // 8
    out_pixel_bytes = units * out.dtype.bits // 8
    saving = min(data.size_bytes, out.size_bytes) - in_pixel_bytes
    if saving <= 0:
        return None
    return Candidate(0, "pointwise", 0, in_pixel_bytes, saving, backward=out_pixel_bytes > in_pixel_bytes)


def choose_aliases(subgraph: Subgraph, order: Sequence[int], buffers: Sequence[Buffer],
                   kinds: Sequence[str] = ALL_KINDS) -> list[Alias]:
    """The in-place choices for ``order``: views always, writes where the input's bytes die here."""
    if not kinds:
        return []
    index_of = {id(t): i for i, t in enumerate(subgraph.tensors)}
    last_time = {b.tensor_index: b.last_time for b in buffers if b.kind == "tensor"}
    graph_inputs = {index_of[id(t)] for t in subgraph.inputs}
    # Alias groups: every tensor in a group shares one base; members carry their offset in the group.
    group_of: dict[int, int] = {}
    members: dict[int, list[int]] = {}
    relative: dict[int, int] = {}

    def group(tensor_index: int) -> int:
        if tensor_index not in group_of:
            group_of[tensor_index] = tensor_index
            members[tensor_index] = [tensor_index]
            relative[tensor_index] = 0
        return group_of[tensor_index]

    aliases: list[Alias] = []
    for step, op_index in enumerate(order):
        op = subgraph.ops[op_index]
        time = op_time(step)
        for option in candidates(op):
            if option.kind not in kinds:
                continue
            out_index = index_of[id(op.outputs[0])]
            source = op.inputs[option.input_position]
            assert source is not None
            source_index = index_of[id(source)]
            if out_index in group_of or out_index not in last_time or source_index not in last_time:
                continue
            if out_index in graph_inputs:
                continue
            source_group = group(source_index)
            if option.kind != "view":
                if any(last_time[m] > time for m in members[source_group]):
                    continue  # someone still needs these bytes after this op
                others = [index_of[id(t)] for i, t in enumerate(op.inputs)
                          if t is not None and i != option.input_position and index_of[id(t)] in group_of]
                if any(group_of[o] == source_group and relative[o] != relative[source_index] for o in others):
                    continue  # another input of this op sits elsewhere in the bytes we would overwrite
            group_of[out_index] = source_group
            members[source_group].append(out_index)
            relative[out_index] = relative[source_index] + option.relative_offset_bytes
            aliases.append(Alias(out_index, source_index, op_index, option.kind,
                                 option.relative_offset_bytes, option.extra_bytes, option.backward))
            break
    return aliases
