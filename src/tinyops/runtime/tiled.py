"""Executing one op tile by tile along output rows: the reference for row-tiled plans.

Each tile gets only its input rows ``[i0, i1)`` (its own rows plus the halo, as
:meth:`tinyops.ops.rows.RowWindow.input_rows` gives them), padded with the rows the map's edge
adds (the input zero point for convolutions: real 0; the int8 minimum for max pooling: never the
maximum of a window with a real tap) and left/right columns as the op's SAME padding puts them,
then runs the op's own reference kernel with VALID padding on that slice. The output rows are
written at ``[r0, r1)``. The C code generator executes a tile the same way (pointer to row i0,
explicit edge padding), so a test comparing this with the untiled kernel checks the geometry the
generated code will use.
"""

from __future__ import annotations

import copy
from typing import Sequence

import numpy as np

import tinyops.runtime.kernels  # noqa: F401  (registers the kernels)
from tinyops.errors import TinyOpsError
from tinyops.ir.graph import Op
from tinyops.ops.common import same_padding
from tinyops.ops.rows import ELEMENTWISE_KINDS, PAD_KINDS, row_window
from tinyops.runtime.kernels.base import KernelOptions, kernel_factory


def _pad_value(op: Op) -> int:
    source = op.inputs[0]
    assert source is not None
    if op.kind == "MAX_POOL_2D":
        return int(np.iinfo(source.dtype.numpy).min)
    quant = source.quantization
    return int(quant.zero_point[0]) if quant is not None and quant.zero_point.size else 0


def _columns(op: Op) -> tuple[int, int]:
    """(left, right) zero columns of the op's SAME padding (tiles keep whole rows)."""
    if op.kind in ELEMENTWISE_KINDS or op.kind in PAD_KINDS or str(op.attrs.get("padding", "VALID")) != "SAME":
        return 0, 0
    source = op.inputs[0]
    assert source is not None
    if op.kind in ("CONV_2D", "DEPTHWISE_CONV_2D"):
        weights = op.inputs[1]
        assert weights is not None
        kernel_w = weights.shape[2]
        dilation = int(op.attrs.get("dilation_w_factor", 1))
    else:
        kernel_w, dilation = int(op.attrs["filter_width"]), 1
    return same_padding(source.shape[2], kernel_w, int(op.attrs.get("stride_w", 1)), dilation,
                        op.outputs[0].shape[2])


def _tile_op(op: Op, tile_shape: tuple[int, ...], out_shape: tuple[int, ...]) -> Op:
    """A copy of ``op`` reading a tile of ``tile_shape`` with VALID padding, writing ``out_shape``."""
    tile = copy.copy(op)
    tile.attrs = dict(op.attrs)
    if "padding" in tile.attrs:
        tile.attrs["padding"] = "VALID"
    inputs = list(op.inputs)
    source = copy.copy(inputs[0])
    assert source is not None
    source.shape = tile_shape
    inputs[0] = source
    for i in range(1, len(inputs)):
        other = inputs[i]
        if other is not None and not other.is_constant:
            resized = copy.copy(other)
            resized.shape = tile_shape
            inputs[i] = resized
    if op.kind in PAD_KINDS:
        # The tile's own edge rows come with it (see run_row_tiled): the PAD adds only columns.
        paddings = copy.copy(inputs[1])
        assert paddings is not None and paddings.data is not None
        data = np.array(paddings.data, copy=True).reshape(-1, 2)
        data[1] = 0
        paddings.data = data.astype(paddings.data.dtype)
        inputs[1] = paddings
    tile.inputs = inputs
    output = copy.copy(op.outputs[0])
    output.shape = out_shape
    tile.outputs = [output]
    return tile


def run_tile(op: Op, parts: Sequence[tuple[int, np.ndarray]], r0: int, r1: int,
             options: KernelOptions | None = None) -> np.ndarray:
    """Output rows [r0, r1) of ``op`` from only the input rows the tile reads.

    ``parts``: per non-constant input, (index of its first row, those rows). They must cover
    :meth:`RowWindow.input_rows` of the tile; a missing row is an error, so a fused group whose
    tiles do not carry enough halo fails here instead of reading garbage."""
    window = row_window(op)
    if window is None:
        raise TinyOpsError(f"{op.label} cannot be split along output rows")
    if op.kind == "PADV2":
        raise TinyOpsError(f"{op.label}: row tiles of PADV2 (explicit pad value) are not executed here")
    factory = kernel_factory(op)
    if factory is None:
        raise TinyOpsError(f"no reference kernel for {op.label}")
    out_shape = op.outputs[0].shape
    i0, i1 = window.input_rows(r0, r1)
    top, bottom = window.tile_padding(r0, r1)
    left, right = _columns(op)
    fill = _pad_value(op)
    tile_inputs = []
    for first, rows in parts:
        if i0 < first or i1 > first + rows.shape[1]:
            raise TinyOpsError(f"{op.label}: tile rows {r0}:{r1} read input rows {i0}:{i1}, "
                               f"given {first}:{first + rows.shape[1]}")
        sliced = rows[:, i0 - first:i1 - first]
        if top or bottom or left or right:
            sliced = np.pad(sliced, ((0, 0), (top, bottom), (left, right), (0, 0)), constant_values=fill)
        tile_inputs.append(np.ascontiguousarray(sliced))
    tile_out = (out_shape[0], r1 - r0, out_shape[2], out_shape[3])
    kernel = factory(_tile_op(op, tile_inputs[0].shape, tile_out), options or KernelOptions())
    (result,) = kernel(tile_inputs)
    return result.reshape(tile_out)


def run_row_tiled(op: Op, inputs: Sequence[np.ndarray], tiles: Sequence[tuple[int, int]],
                  options: KernelOptions | None = None) -> np.ndarray:
    """Output of ``op`` computed tile by tile; ``tiles`` are output row ranges [r0, r1) covering the map.

    ``inputs`` are the op's non-constant inputs in order (batch 1, NHWC)."""
    out = np.empty(op.outputs[0].shape, dtype=op.outputs[0].dtype.numpy)
    covered = np.zeros(op.outputs[0].shape[1], dtype=bool)
    for r0, r1 in tiles:
        out[:, r0:r1] = run_tile(op, [(0, x) for x in inputs], r0, r1, options)
        covered[r0:r1] = True
    if not covered.all():
        raise TinyOpsError(f"row tiles of {op.label} leave output rows uncovered")
    return out


__all__ = ["run_row_tiled", "run_tile"]
