"""Bring a float graph into the canonical form PTQ expects, without changing what it computes.

- Hybrid (dynamic-range) models keep some weights in int8 with a scale (kws_dscnn_float32 does);
  DEQUANTIZE ops may turn float16 constants into float32. Both become plain float32 constants.
- BatchNorm that was not folded by the exporter appears as a per-channel MUL and/or ADD right
  after a CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED (the ONNX frontend emits it that way):
  it is folded into the weights and bias, as the Svoboda paper's pipeline does before export.
- A standalone RELU / RELU6 / RELU_N1_TO_1 after an op that can fuse it becomes the op's
  fused activation, so the int8 kernel clamps for free and no extra requantization is added.
"""

from __future__ import annotations

import copy

import numpy as np

from tinyops.ir.dtypes import DType
from tinyops.ir.graph import Graph, Op, Subgraph, Tensor

# Output-channel axis of the weight tensor, per op kind (TFLite layouts OHWI, 1HWC, OI).
WEIGHT_CHANNEL_AXIS = {"CONV_2D": 0, "DEPTHWISE_CONV_2D": 3, "FULLY_CONNECTED": 0}
FUSABLE_ACTIVATIONS = {"RELU": "RELU", "RELU6": "RELU6", "RELU_N1_TO_1": "RELU_N1_TO_1"}
OPS_WITH_FUSED_ACTIVATION = {"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "ADD", "SUB", "MUL"}


def prepare_float_graph(graph: Graph) -> Graph:
    """A canonical float copy of ``graph`` (the caller's graph is left untouched)."""
    prepared = copy.deepcopy(graph)
    subgraph = prepared.main
    subgraph.link()
    _dequantize_constants(subgraph)
    while _fold_one_affine(subgraph) or _fuse_one_activation(subgraph):
        pass
    prune_unused_tensors(subgraph)
    return prepared


def _dequantize_constants(subgraph: Subgraph) -> None:
    for tensor in subgraph.tensors:
        if not tensor.is_constant or tensor.dtype is DType.FLOAT32:
            continue
        consumers_are_float = any(_has_float_activation(op) for op in tensor.consumers)
        if tensor.dtype is DType.FLOAT16:
            tensor.data = np.asarray(tensor.data, dtype=np.float32)
            tensor.dtype = DType.FLOAT32
        elif tensor.quantization is not None and consumers_are_float and tensor.dtype in (DType.INT8, DType.UINT8):
            quant = tensor.quantization
            shape = [1] * len(tensor.shape)
            if quant.per_channel:
                shape[quant.axis] = quant.num_channels
            scale = quant.scale.astype(np.float32).reshape(shape)
            zero_point = quant.zero_point.astype(np.float32).reshape(shape)
            tensor.data = ((np.asarray(tensor.data).astype(np.float32) - zero_point) * scale).astype(np.float32)
            tensor.dtype = DType.FLOAT32
            tensor.quantization = None
    # DEQUANTIZE of a constant is now an identity on a float constant: bypass it.
    for op in list(subgraph.ops):
        source = op.inputs[0] if op.inputs else None
        if op.kind == "DEQUANTIZE" and source is not None and source.is_constant and source.dtype is DType.FLOAT32:
            _bypass(subgraph, op, source)


def _has_float_activation(op: Op) -> bool:
    return any(t.dtype is DType.FLOAT32 for t in op.activation_inputs) or any(
        t.dtype is DType.FLOAT32 for t in op.outputs)


def _bypass(subgraph: Subgraph, op: Op, replacement: Tensor) -> None:
    """Remove ``op`` (one output) and let its consumers read ``replacement`` instead."""
    produced = op.outputs[0]
    for consumer in list(produced.consumers):
        consumer.inputs = [replacement if t is produced else t for t in consumer.inputs]
    subgraph.outputs = [replacement if t is produced else t for t in subgraph.outputs]
    subgraph.ops.remove(op)
    subgraph.link()


def _single_consumer(subgraph: Subgraph, tensor: Tensor) -> Op | None:
    if len(tensor.consumers) != 1 or any(t is tensor for t in subgraph.outputs):
        return None
    return tensor.consumers[0]


def _per_channel_constant(op: Op, produced: Tensor, channels: int) -> np.ndarray | None:
    """The constant operand of a binary op as a per-channel vector, if it is one."""
    others = [t for t in op.inputs if t is not None and t is not produced]
    if len(others) != 1 or not others[0].is_constant or others[0].dtype is not DType.FLOAT32:
        return None
    values = np.asarray(others[0].data, dtype=np.float32)
    if values.size not in (1, channels) or (values.size == channels and values.shape[-1] != channels):
        return None
    return np.broadcast_to(values.reshape(-1), (channels,)).astype(np.float32)


def _fold_one_affine(subgraph: Subgraph) -> bool:
    """Fold one MUL/ADD/SUB-by-constant into the producing conv/FC; True when something changed."""
    for op in subgraph.ops:
        if op.kind not in WEIGHT_CHANNEL_AXIS or op.attrs.get("fused_activation_function", "NONE") != "NONE":
            continue
        weights = op.inputs[1]
        if weights is None or not weights.is_constant or weights.dtype is not DType.FLOAT32:
            continue
        produced = op.outputs[0]
        follower = _single_consumer(subgraph, produced)
        if follower is None or follower.kind not in ("MUL", "ADD", "SUB"):
            continue
        if follower.attrs.get("fused_activation_function", "NONE") != "NONE":
            continue
        axis = WEIGHT_CHANNEL_AXIS[op.kind]
        channels = weights.shape[axis]
        vector = _per_channel_constant(follower, produced, channels)
        if vector is None or (follower.kind == "SUB" and follower.inputs[0] is not produced):
            continue
        bias = _ensure_bias(subgraph, op, channels)
        if follower.kind == "MUL":
            shape = [1] * len(weights.shape)
            shape[axis] = channels
            weights.data = (weights.data * vector.reshape(shape)).astype(np.float32)
            bias.data = (bias.data * vector).astype(np.float32)
        else:
            bias.data = (bias.data + (vector if follower.kind == "ADD" else -vector)).astype(np.float32)
        # The conv now writes the follower's output (which may be a graph output) directly.
        op.outputs = [follower.outputs[0]]
        subgraph.ops.remove(follower)
        subgraph.link()
        return True
    return False


def _ensure_bias(subgraph: Subgraph, op: Op, channels: int) -> Tensor:
    """The op's own float bias tensor (a private copy if shared, a zero tensor if absent)."""
    bias = op.input(2)
    if bias is not None and len(bias.consumers) == 1:
        bias.data = np.asarray(bias.data, dtype=np.float32).copy()
        return bias
    data = np.zeros(channels, np.float32) if bias is None else np.asarray(bias.data, np.float32).copy()
    fresh = Tensor(name=f"{op.outputs[0].name}/bias", shape=(channels,), dtype=DType.FLOAT32, data=data)
    subgraph.tensors.append(fresh)
    while len(op.inputs) < 3:
        op.inputs.append(None)
    op.inputs[2] = fresh
    return fresh


def _fuse_one_activation(subgraph: Subgraph) -> bool:
    for op in subgraph.ops:
        if op.kind not in OPS_WITH_FUSED_ACTIVATION or op.attrs.get("fused_activation_function", "NONE") != "NONE":
            continue
        follower = _single_consumer(subgraph, op.outputs[0])
        if follower is None or follower.kind not in FUSABLE_ACTIVATIONS:
            continue
        op.attrs["fused_activation_function"] = FUSABLE_ACTIVATIONS[follower.kind]
        op.outputs = [follower.outputs[0]]
        subgraph.ops.remove(follower)
        subgraph.link()
        return True
    return False


def prune_unused_tensors(subgraph: Subgraph) -> None:
    """Drop tensors no op reads or writes and that are not graph inputs/outputs."""
    used: set[int] = {id(t) for t in subgraph.inputs} | {id(t) for t in subgraph.outputs}
    for op in subgraph.ops:
        used.update(id(t) for t in op.inputs if t is not None)
        used.update(id(t) for t in op.outputs)
    subgraph.tensors = [t for t in subgraph.tensors if id(t) in used]
    subgraph.link()
