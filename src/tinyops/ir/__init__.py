"""The tinyops intermediate representation."""

from tinyops.ir.dtypes import DType
from tinyops.ir.graph import Graph, Op, Quantization, Subgraph, Tensor

__all__ = ["DType", "Graph", "Op", "Quantization", "Subgraph", "Tensor"]
