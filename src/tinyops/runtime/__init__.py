"""The bit-exact reference runtime: TFLite int8/int16/float32 semantics in vectorized NumPy.

    from tinyops.runtime import Interpreter, run_graph
    outputs = Interpreter(graph).run([x])            # one inference, subgraph order
    outputs = Interpreter(graph).run_batch(batches)  # many, stacked on axis 0
"""

from tinyops.runtime.fixedpoint import multiply_by_quantized_multiplier, quantize_multiplier
from tinyops.runtime.interpreter import Interpreter, run_graph, supported_kinds

__all__ = ["Interpreter", "multiply_by_quantized_multiplier", "quantize_multiplier", "run_graph", "supported_kinds"]
