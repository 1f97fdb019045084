"""The tinyops container (.tinyops): a TFLite model plus encodings TFLite cannot express.

Layout (all integers little-endian):

    offset 0   8 bytes   magic b"TINYOPS\\0"
    offset 8   u32       container format version (1)
    offset 12  u32       header length H in bytes
    offset 16  H bytes   header, UTF-8 JSON (see below)
    then       payload   the base .tflite model, then one blob per encoded tensor, each blob
                         starting on a 16-byte boundary; offsets are relative to the payload start

Header fields: ``scheme`` (e.g. "codebook"), ``model`` {offset, length} of the base .tflite, and
``tensors``: one entry per encoded tensor with ``index`` (tensor index in subgraph 0), ``name``,
``shape``, ``encoding`` ("codebook-huffman"), ``offset``/``length`` of its blob, ``bits`` (valid
bits in the bitstream), ``centroids`` (int8 code-book) and ``code_lengths`` (canonical Huffman
code length per centroid). In the base model those tensors have no buffer (so the weights are
stored once, encoded); decoding fills them in and yields an ordinary int8 graph.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tinyops.backends.tflite_writer import to_tflite_bytes
from tinyops.errors import ModelFormatError
from tinyops.frontends.tflite_reader import read_tflite
from tinyops.ir.dtypes import DType
from tinyops.ir.graph import Graph
from tinyops.quant import huffman
from tinyops.quant.codebook import EncodedTensor

MAGIC = b"TINYOPS\0"
VERSION = 1
ALIGNMENT = 16
_PREFIX = struct.Struct("<8sII")


@dataclass
class Container:
    graph: Graph  # decoded: every tensor holds its int8 data
    scheme: str
    header: dict[str, Any] = field(default_factory=dict)
    encoded: dict[int, EncodedTensor] = field(default_factory=dict)


def _pad(blob: bytearray) -> None:
    blob.extend(b"\0" * (-len(blob) % ALIGNMENT))


def container_bytes(decoded_graph: Graph, encoded: dict[int, EncodedTensor], scheme: str,
                    extra: dict[str, Any] | None = None) -> bytes:
    """Serialize: the decoded graph with encoded tensors' buffers left out, plus their blobs."""
    import copy

    base = copy.deepcopy(decoded_graph)
    for index in encoded:
        base.main.tensors[index].data = None
    payload = bytearray(to_tflite_bytes(base))
    model_length = len(payload)
    entries = []
    for index, entry in sorted(encoded.items()):
        _pad(payload)
        entries.append({
            "index": index, "name": entry.name, "shape": list(entry.shape), "encoding": "codebook-huffman",
            "offset": len(payload), "length": len(entry.bitstream), "bits": entry.bits,
            "centroids": [int(c) for c in entry.centroids], "code_lengths": [int(n) for n in entry.code.lengths],
        })
        payload.extend(entry.bitstream)
    header = {"scheme": scheme, "model": {"offset": 0, "length": model_length}, "tensors": entries, **(extra or {})}
    text = json.dumps(header, separators=(",", ":")).encode()
    return _PREFIX.pack(MAGIC, VERSION, len(text)) + text + bytes(payload)


def is_container(data: bytes) -> bool:
    return data[:8] == MAGIC


def read_container(data: bytes, source: str = "<bytes>") -> Container:
    """Parse and decode a container; ModelFormatError (one line) when it is malformed."""
    if len(data) < _PREFIX.size or not is_container(data):
        raise ModelFormatError(f"{source}: not a tinyops container (bad magic); expected a .tinyops file")
    _, version, header_length = _PREFIX.unpack_from(data)
    if version != VERSION:
        raise ModelFormatError(f"{source}: container version {version}, this tinyops reads version {VERSION}; upgrade tinyops")
    start = _PREFIX.size + header_length
    try:
        header = json.loads(data[_PREFIX.size:start].decode())
        payload = data[start:]
        model = header["model"]
        graph = read_tflite(bytes(payload[model["offset"]:model["offset"] + model["length"]]), source)
        encoded = {}
        for entry in header["tensors"]:
            lengths = np.asarray(entry["code_lengths"], dtype=np.uint8)
            tensor_entry = EncodedTensor(
                name=entry["name"], shape=tuple(entry["shape"]), centroids=np.asarray(entry["centroids"], np.int8),
                code=huffman.canonical_code(lengths),
                bitstream=bytes(payload[entry["offset"]:entry["offset"] + entry["length"]]), bits=int(entry["bits"]))
            tensor = graph.main.tensors[int(entry["index"])]
            if tensor.name != tensor_entry.name or tuple(tensor.shape) != tensor_entry.shape or tensor.dtype is not DType.INT8:
                raise ValueError(f"tensor {entry['index']} does not match its header entry")
            tensor.data = tensor_entry.decode()
            # What the cost model needs to charge the decode work (ops.weight_formats).
            tensor.extras["encoding"] = {"scheme": "codebook-huffman", "bits": tensor_entry.bits,
                                         "centroids": int(tensor_entry.centroids.size)}
            encoded[int(entry["index"])] = tensor_entry
    except (KeyError, ValueError, TypeError, IndexError, UnicodeDecodeError) as exc:
        raise ModelFormatError(f"{source}: corrupt tinyops container ({exc}); re-create it with tinyops quantize") from None
    graph.main.link()
    return Container(graph=graph, scheme=str(header.get("scheme", "")), header=header, encoded=encoded)
