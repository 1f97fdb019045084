"""Reproducible mutations of model and board files, for the fuzzer and its regression tests.

A mutation is a recipe: ``(mutator name, seed)`` applied to the original bytes always gives the
same damaged file, so a crasher found by the fuzzer becomes a regression test as a one-line
recipe rather than a stored binary. Structure-aware mutators edit the model through the same
flatbuffer schema bindings the reader uses and repack it; byte-level ones flip or cut bytes.
"""

from __future__ import annotations

import random
import re
from typing import Any, Callable

import flatbuffers
import numpy as np

from tinyops.frontends.tflite_schema import BUILTIN_OP_CODES, schema

# Values that broke stages when they appeared where a size, index or scale was expected.
BAD_DIMS = (0, -1, -7, 2**31 - 1, 2**20, 65536, 3)
BAD_SCALES = (0.0, float("nan"), float("inf"), float("-inf"), -1.0, 1e-45, 3.0e38)
BAD_ZERO_POINTS = (128, -129, 255, 1000, -40000, 2**40, -(2**40))
BAD_AXES = (-9, -1, 4, 7, 100)
BAD_STRIDES = (0, -1, -3, 1000, 2**31 - 1)
# Ops the shared models use, for swapping an opcode to another real kind.
SWAP_KINDS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "ADD", "MUL", "RESHAPE", "SOFTMAX",
              "AVERAGE_POOL_2D", "MAX_POOL_2D", "CONCATENATION", "MEAN", "PAD", "QUANTIZE",
              "DEQUANTIZE", "LOGISTIC", "TANH", "STRIDED_SLICE", "TRANSPOSE", "SUB", "RELU",
              "UNIDIRECTIONAL_SEQUENCE_LSTM", "SVDF", "SQUEEZE", "HARD_SWISH", "PACK", "SPLIT")

ModelEdit = Callable[[Any, random.Random], bool]


def _pick(rng: random.Random, items: Any) -> Any:
    return items[rng.randrange(len(items))]


def _subgraph(model: Any, rng: random.Random) -> Any:
    return _pick(rng, model.subgraphs) if model.subgraphs else None


def _op(model: Any, rng: random.Random) -> Any:
    subgraph = _subgraph(model, rng)
    if subgraph is None or not subgraph.operators:
        return None
    return _pick(rng, subgraph.operators)


def _tensor(model: Any, rng: random.Random, quantized: bool = False) -> Any:
    subgraph = _subgraph(model, rng)
    if subgraph is None or not subgraph.tensors:
        return None
    tensors = subgraph.tensors
    if quantized:
        tensors = [t for t in tensors if t.quantization is not None and t.quantization.scale is not None
                   and len(t.quantization.scale)]
        if not tensors:
            return None
    return _pick(rng, tensors)


def _set_list(owner: Any, attribute: str, rng: random.Random, value: int) -> bool:
    items = getattr(owner, attribute)
    if items is None or len(items) == 0:
        return False
    items = [int(v) for v in items]
    items[rng.randrange(len(items))] = value
    setattr(owner, attribute, items)
    return True


def edit_tensor_index(model: Any, rng: random.Random) -> bool:
    subgraph = _subgraph(model, rng)
    if subgraph is None or not subgraph.operators:
        return False
    op = _pick(rng, subgraph.operators)
    count = len(subgraph.tensors or [])
    value = _pick(rng, (count, count + 5, -2, -100, 2**31 - 1))
    return _set_list(op, _pick(rng, ("inputs", "outputs")), rng, value)


def edit_io_index(model: Any, rng: random.Random) -> bool:
    subgraph = _subgraph(model, rng)
    if subgraph is None:
        return False
    count = len(subgraph.tensors or [])
    return _set_list(subgraph, _pick(rng, ("inputs", "outputs")), rng, _pick(rng, (count, count + 3, -5)))


def edit_buffer_index(model: Any, rng: random.Random) -> bool:
    tensor = _tensor(model, rng)
    if tensor is None:
        return False
    tensor.buffer = _pick(rng, (len(model.buffers or []), len(model.buffers or []) + 7, 2**32 - 1))
    return True


def edit_opcode_index(model: Any, rng: random.Random) -> bool:
    op = _op(model, rng)
    if op is None:
        return False
    op.opcodeIndex = _pick(rng, (len(model.operatorCodes or []), 2**32 - 1, 255))
    return True


def edit_opcode_kind(model: Any, rng: random.Random) -> bool:
    if not model.operatorCodes:
        return False
    code = _pick(rng, model.operatorCodes)
    builtin = BUILTIN_OP_CODES[_pick(rng, SWAP_KINDS)] if rng.random() < 0.8 else rng.randrange(0, 250)
    code.builtinCode = builtin
    code.deprecatedBuiltinCode = min(builtin, 127)
    if rng.random() < 0.3:
        code.version = _pick(rng, (0, -1, 99))
    return True


def edit_shape(model: Any, rng: random.Random) -> bool:
    tensor = _tensor(model, rng)
    if tensor is None:
        return False
    shape = [int(d) for d in (tensor.shape if tensor.shape is not None else [])]
    choice = rng.random()
    if choice < 0.6 and shape:
        shape[rng.randrange(len(shape))] = _pick(rng, BAD_DIMS)
    elif choice < 0.75 and shape:
        shape.pop(rng.randrange(len(shape)))
    elif choice < 0.9:
        shape.insert(rng.randrange(len(shape) + 1), _pick(rng, (1, 2, 0, 7)))
    else:
        shape = [_pick(rng, (2**16, 2**20, 2**31 - 1))] * rng.randrange(2, 9)
    tensor.shape = shape
    return True


def edit_tensor_type(model: Any, rng: random.Random) -> bool:
    tensor = _tensor(model, rng)
    if tensor is None:
        return False
    tensor.type = rng.randrange(0, 20)
    return True


def edit_scale(model: Any, rng: random.Random) -> bool:
    tensor = _tensor(model, rng, quantized=True)
    if tensor is None:
        return False
    scales = [float(s) for s in tensor.quantization.scale]
    bad = _pick(rng, BAD_SCALES)
    if rng.random() < 0.3:
        scales = [bad] * len(scales)
    else:
        scales[rng.randrange(len(scales))] = bad
    tensor.quantization.scale = scales
    return True


def edit_zero_point(model: Any, rng: random.Random) -> bool:
    tensor = _tensor(model, rng, quantized=True)
    if tensor is None:
        return False
    count = len(tensor.quantization.scale)
    points = [int(z) for z in tensor.quantization.zeroPoint] if tensor.quantization.zeroPoint is not None else [0] * count
    if not points:
        points = [0] * count
    points[rng.randrange(len(points))] = _pick(rng, BAD_ZERO_POINTS)
    tensor.quantization.zeroPoint = points
    return True


def edit_quantized_dimension(model: Any, rng: random.Random) -> bool:
    tensor = _tensor(model, rng, quantized=True)
    if tensor is None:
        return False
    tensor.quantization.quantizedDimension = _pick(rng, (-1, 4, 7, 100, 2**30))
    return True


def edit_channel_count(model: Any, rng: random.Random) -> bool:
    tensor = _tensor(model, rng, quantized=True)
    if tensor is None:
        return False
    q = tensor.quantization
    scales = [float(s) for s in q.scale]
    points = [int(z) for z in q.zeroPoint] if q.zeroPoint is not None else [0] * len(scales)
    if rng.random() < 0.5 and len(scales) > 1:
        cut = rng.randrange(1, len(scales))
        q.scale, q.zeroPoint = scales[:cut], points[:cut]
    elif rng.random() < 0.5:
        q.scale, q.zeroPoint = scales + [0.5] * 3, points + [0] * 3
    else:
        q.zeroPoint = points[:-1] if len(points) > 1 else points + [0, 0]
    return True


def _options(model: Any, rng: random.Random, fields: tuple[str, ...]) -> Any:
    candidates = []
    for subgraph in model.subgraphs or []:
        for op in subgraph.operators or []:
            options = op.builtinOptions
            if options is not None and any(hasattr(options, f) for f in fields):
                candidates.append(options)
    return _pick(rng, candidates) if candidates else None


def edit_stride(model: Any, rng: random.Random) -> bool:
    fields = ("strideW", "strideH", "dilationWFactor", "dilationHFactor", "filterWidth", "filterHeight",
              "depthMultiplier")
    options = _options(model, rng, fields)
    if options is None:
        return False
    present = [f for f in fields if hasattr(options, f)]
    setattr(options, _pick(rng, present), _pick(rng, BAD_STRIDES))
    return True


def edit_enum(model: Any, rng: random.Random) -> bool:
    options = _options(model, rng, ("padding", "fusedActivationFunction"))
    if options is None:
        return False
    present = [f for f in ("padding", "fusedActivationFunction") if hasattr(options, f)]
    setattr(options, _pick(rng, present), _pick(rng, (2, 7, 42, 127)))
    return True


def edit_axis(model: Any, rng: random.Random) -> bool:
    options = _options(model, rng, ("axis", "beginMask", "keepDims", "newShape", "squeezeDims", "numSplits"))
    if options is None:
        return False
    if hasattr(options, "axis"):
        options.axis = _pick(rng, BAD_AXES)
    elif hasattr(options, "newShape"):
        options.newShape = [_pick(rng, (-1, 0, 7, -5)) for _ in range(rng.randrange(0, 4))]
    elif hasattr(options, "squeezeDims"):
        options.squeezeDims = [_pick(rng, BAD_AXES)]
    elif hasattr(options, "numSplits"):
        options.numSplits = _pick(rng, (0, -1, 7))
    else:
        options.beginMask = _pick(rng, (-1, 2**31 - 1))
    return True


def edit_cycle(model: Any, rng: random.Random) -> bool:
    subgraph = _subgraph(model, rng)
    if subgraph is None or not subgraph.operators:
        return False
    ops = subgraph.operators
    later = rng.randrange(len(ops))
    earlier = rng.randrange(later + 1)  # equal gives an op that reads its own output
    if ops[later].outputs is None or not len(ops[later].outputs):
        return False
    return _set_list(ops[earlier], "inputs", rng, int(ops[later].outputs[0]))


def edit_duplicate_producer(model: Any, rng: random.Random) -> bool:
    subgraph = _subgraph(model, rng)
    if subgraph is None or len(subgraph.operators or []) < 2:
        return False
    first, second = rng.sample(range(len(subgraph.operators)), 2)
    source = subgraph.operators[first].outputs
    if source is None or not len(source):
        return False
    return _set_list(subgraph.operators[second], "outputs", rng, int(source[0]))


def edit_output_is_constant(model: Any, rng: random.Random) -> bool:
    """An op writing into a tensor backed by a constant buffer (or a graph input)."""
    subgraph = _subgraph(model, rng)
    if subgraph is None or not subgraph.operators or not subgraph.tensors:
        return False
    targets = [i for i, t in enumerate(subgraph.tensors) if t.buffer > 0] or list(range(len(subgraph.tensors)))
    return _set_list(_pick(rng, subgraph.operators), "outputs", rng, _pick(rng, targets))


def edit_empty(model: Any, rng: random.Random) -> bool:
    subgraph = _subgraph(model, rng)
    if subgraph is None:
        return False
    what = rng.randrange(5)
    if what == 0:
        subgraph.operators = []
    elif what == 1:
        subgraph.tensors = []
    elif what == 2:
        subgraph.inputs = []
    elif what == 3:
        subgraph.outputs = []
    else:
        model.subgraphs = [subgraph] * rng.randrange(0, 3)
    return True


def edit_arity(model: Any, rng: random.Random) -> bool:
    op = _op(model, rng)
    if op is None:
        return False
    attribute = _pick(rng, ("inputs", "outputs"))
    items = [int(v) for v in (getattr(op, attribute) if getattr(op, attribute) is not None else [])]
    if items and rng.random() < 0.6:
        items.pop(rng.randrange(len(items)))
    else:
        items.append(_pick(rng, items) if items else 0)
    setattr(op, attribute, items)
    return True


def edit_buffer_data(model: Any, rng: random.Random) -> bool:
    filled = [b for b in (model.buffers or []) if b.data is not None and len(b.data)]
    if not filled:
        return False
    buffer = _pick(rng, filled)
    data = bytes(bytearray(buffer.data))
    choice = rng.random()
    if choice < 0.4:
        data = data[: rng.randrange(len(data))]
    elif choice < 0.6:
        data = data + bytes(rng.randrange(1, 64))
    else:  # extreme values: overflow in float paths, saturation in int ones
        fill = _pick(rng, (b"\xff", b"\x7f", b"\x80", b"\x00\x00\x80\x7f", b"\xff\xff\xff\x7f", b"\x00\x00\xc0\x7f"))
        data = (fill * (len(data) // len(fill) + 1))[: len(data)]
    buffer.data = np.frombuffer(data, dtype=np.uint8).copy()
    return True


def edit_buffer_offset(model: Any, rng: random.Random) -> bool:
    if not model.buffers:
        return False
    buffer = _pick(rng, model.buffers)
    buffer.offset = _pick(rng, (2, 10**9, 2**63))
    buffer.size = _pick(rng, (1, 10**9, 2**63))
    return True


MODEL_EDITS: dict[str, ModelEdit] = {
    "tensor_index": edit_tensor_index,
    "io_index": edit_io_index,
    "buffer_index": edit_buffer_index,
    "opcode_index": edit_opcode_index,
    "opcode_kind": edit_opcode_kind,
    "shape": edit_shape,
    "tensor_type": edit_tensor_type,
    "scale": edit_scale,
    "zero_point": edit_zero_point,
    "quantized_dimension": edit_quantized_dimension,
    "channel_count": edit_channel_count,
    "stride": edit_stride,
    "enum": edit_enum,
    "axis": edit_axis,
    "cycle": edit_cycle,
    "duplicate_producer": edit_duplicate_producer,
    "output_is_constant": edit_output_is_constant,
    "empty": edit_empty,
    "arity": edit_arity,
    "buffer_data": edit_buffer_data,
    "buffer_offset": edit_buffer_offset,
}
BYTE_MUTATORS = ("byte_flip", "truncate")
MODEL_MUTATORS: tuple[str, ...] = tuple(MODEL_EDITS) + BYTE_MUTATORS


def pack_model(model: Any) -> bytes:
    builder = flatbuffers.Builder(1 << 16)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def mutate_model(data: bytes, mutator: str, seed: int) -> bytes:
    """The mutated copy of ``data`` for one recipe; the original bytes when the edit does not apply."""
    rng = random.Random(f"{mutator}:{seed}")
    if mutator == "byte_flip":
        damaged = bytearray(data)
        # Half the flips land in the first 4 KB, where the tables (not the weights) usually sit.
        window = len(damaged) if rng.random() < 0.5 else min(len(damaged), 4096)
        for _ in range(rng.randrange(1, 9)):
            damaged[rng.randrange(window)] ^= 1 << rng.randrange(8)
        return bytes(damaged)
    if mutator == "truncate":
        return data[: rng.randrange(len(data))]
    model = schema.ModelT.InitFromPackedBuf(data, 0)
    for _ in range(1 if rng.random() < 0.8 else 2):
        MODEL_EDITS[mutator](model, rng)
    try:
        return pack_model(model)
    except Exception:  # a value the schema cannot store: the unmutated model stands in
        return data


# ---- board files: edits on the TOML text, value by value ----------------------------------------

_ASSIGNMENT = re.compile(r"^(\s*)([A-Za-z_][A-Za-z0-9_]*)(\s*=\s*)(.+)$")
BAD_TOML_VALUES = ("0", "-1", "-65536", "1e308", "nan", "inf", "-inf", "0.0", "2147483648",
                   "18446744073709551616", '"x"', '""', "[]", "true", "[[0, 0]]", "[-1]",
                   '["nowhere"]', "{}", "1.5")


def mutate_board(text: str, seed: int) -> str:
    """One or a few edits of a board TOML: a value replaced, a line or table deleted or doubled."""
    rng = random.Random(f"board:{seed}")
    lines = text.splitlines()
    for _ in range(rng.randrange(1, 4)):
        assignments = [i for i, line in enumerate(lines) if _ASSIGNMENT.match(line)]
        headers = [i for i, line in enumerate(lines) if line.lstrip().startswith("[")]
        choice = rng.random()
        if choice < 0.7 and assignments:
            index = _pick(rng, assignments)
            match = _ASSIGNMENT.match(lines[index])
            assert match is not None
            if match.group(2).endswith("source") and rng.random() < 0.7:
                continue  # sources are free text; values matter more
            lines[index] = match.group(1) + match.group(2) + match.group(3) + _pick(rng, BAD_TOML_VALUES)
        elif choice < 0.85 and assignments:
            lines.pop(_pick(rng, assignments))
        elif headers:
            start = _pick(rng, headers)
            end = next((h for h in headers if h > start), len(lines))
            block = lines[start:end]
            lines[start:end] = block + block if rng.random() < 0.5 else []
    return "\n".join(lines) + "\n"

