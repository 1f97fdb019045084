"""Row geometry of the ops that can be split along output rows (activation partitioning).

An op computing output rows ``[r0, r1)`` of an NHWC map reads input rows ``[i0, i1)``: the rows
its receptive field covers, clipped to the map. The rows past the tile's own stride share are the
*halo* (``k - s`` rows for a k x k window with stride s); zero padding is only ever added at the
map's top and bottom. Planners (tiles in a plan), the reference runtime (executing a tile) and the
code generator read the same numbers from here.

Row-tileable: CONV_2D, DEPTHWISE_CONV_2D, MAX_POOL_2D, AVERAGE_POOL_2D with VALID padding (a SAME
average pool divides by the count of *real* taps at the border, which a padded tile would change),
PAD with constant paddings (a 1-row window whose top/bottom padding is the PAD's own), and the
elementwise ops whose operands all have the output's shape (ADD, MUL..., halo 0).
"""

from __future__ import annotations

from dataclasses import dataclass

from tinyops.ir.graph import Op
from tinyops.ops.common import same_padding

WINDOW_KINDS = ("CONV_2D", "DEPTHWISE_CONV_2D", "MAX_POOL_2D", "AVERAGE_POOL_2D")
PAD_KINDS = ("PAD", "PADV2")
ELEMENTWISE_KINDS = ("ADD", "SUB", "MUL", "RELU", "RELU6", "HARD_SWISH", "LOGISTIC", "QUANTIZE")


@dataclass(frozen=True)
class RowWindow:
    """How output rows map to input rows: out row r reads padded rows [r*s, r*s + (k-1)*d + 1)."""

    kernel: int
    stride: int
    dilation: int
    pad_top: int
    pad_bottom: int
    in_rows: int
    out_rows: int

    @property
    def span(self) -> int:
        return (self.kernel - 1) * self.dilation + 1

    def padded_rows(self, r0: int, r1: int) -> tuple[int, int]:
        """Rows of the zero-padded input that output rows [r0, r1) read (may run past the map)."""
        return r0 * self.stride, (r1 - 1) * self.stride + self.span

    def input_rows(self, r0: int, r1: int) -> tuple[int, int]:
        """Rows of the real input that output rows [r0, r1) read: [i0, i1), clipped to the map."""
        p0, p1 = self.padded_rows(r0, r1)
        clip = lambda row: min(max(row - self.pad_top, 0), self.in_rows)  # noqa: E731
        return clip(p0), clip(p1)

    def tile_padding(self, r0: int, r1: int) -> tuple[int, int]:
        """(top, bottom) zero rows a tile adds around its input rows: only at the map's edges."""
        p0, p1 = self.padded_rows(r0, r1)
        first, last = p0 - self.pad_top, p1 - self.pad_top  # in real-row coordinates
        return max(0, min(last, 0) - first), max(0, last - max(first, self.in_rows))

    def halo_rows(self, r0: int, r1: int) -> int:
        """Input rows a tile reads beyond its own ``(r1 - r0) x stride`` rows (re-read by a neighbour)."""
        i0, i1 = self.input_rows(r0, r1)
        return max(0, (i1 - i0) - (r1 - r0) * self.stride)


def row_window(op: Op) -> RowWindow | None:
    """The op's row geometry, or None when it cannot be split along rows (see module doc)."""
    source = op.input(0)
    if source is None or len(source.shape) != 4 or not op.outputs or len(op.outputs[0].shape) != 4:
        return None
    in_rows, out_rows = source.shape[1], op.outputs[0].shape[1]
    if op.kind in ELEMENTWISE_KINDS:
        if any(t is not None and not t.is_constant and t.shape != op.outputs[0].shape for t in op.inputs):
            return None
        return RowWindow(1, 1, 1, 0, 0, in_rows, out_rows)
    if op.kind in PAD_KINDS:
        paddings = op.input(1)
        if paddings is None or paddings.data is None:
            return None
        top, bottom = (int(v) for v in paddings.data.reshape(-1, 2)[1])
        return RowWindow(1, 1, 1, top, bottom, in_rows, out_rows)
    if op.kind not in WINDOW_KINDS:
        return None
    padding = str(op.attrs.get("padding", "VALID"))
    if op.kind == "AVERAGE_POOL_2D" and padding != "VALID":
        return None
    if op.kind in ("CONV_2D", "DEPTHWISE_CONV_2D"):
        weights = op.input(1)
        if weights is None:
            return None
        kernel = weights.shape[1]
        dilation = int(op.attrs.get("dilation_h_factor", 1))
    else:
        kernel = int(op.attrs["filter_height"])
        dilation = 1
    stride = int(op.attrs.get("stride_h", 1))
    top, bottom = (same_padding(in_rows, kernel, stride, dilation, out_rows) if padding == "SAME" else (0, 0))
    return RowWindow(kernel, stride, dilation, top, bottom, in_rows, out_rows)


def split_rows(out_rows: int, rows_per_tile: int) -> list[tuple[int, int]]:
    """[r0, r1) of each tile of at most ``rows_per_tile`` output rows, top to bottom."""
    step = max(1, rows_per_tile)
    return [(r, min(out_rows, r + step)) for r in range(0, out_rows, step)]


def row_bytes(shape: tuple[int, ...], itemsize: int) -> int:
    """Bytes of one row of an NHWC map (batch 1): W x C elements."""
    return int(shape[2]) * int(shape[3]) * itemsize if len(shape) == 4 else 0


__all__ = ["ELEMENTWISE_KINDS", "PAD_KINDS", "RowWindow", "WINDOW_KINDS", "row_bytes", "row_window", "split_rows"]
