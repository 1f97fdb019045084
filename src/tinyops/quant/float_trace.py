"""Every intermediate tensor of a float graph on calibration inputs, for the observers.

LiteRT's reference kernels run the float graph (in this process, one thread,
``experimental_preserve_all_tensors`` so intermediates are not overwritten by arena reuse).
Tensor indices in the serialized model equal positions in ``subgraph.tensors`` because the
tinyops writer keeps tensor order.
"""

from __future__ import annotations

from typing import Iterable, Iterator, Sequence

import numpy as np

from tinyops.backends.tflite_writer import to_tflite_bytes
from tinyops.errors import TinyOpsError
from tinyops.ir.graph import Graph


def float_traces(graph: Graph, batches: Iterable[Sequence[np.ndarray]]) -> Iterator[dict[int, np.ndarray]]:
    """Yield, per input batch, {tensor index in graph.main.tensors: value} for activation tensors."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    interpreter = Interpreter(model_content=to_tflite_bytes(graph), num_threads=1,
                              experimental_op_resolver_type=OpResolverType.BUILTIN_REF,
                              experimental_preserve_all_tensors=True)
    interpreter.allocate_tensors()
    input_details = interpreter.get_input_details()
    wanted = [i for i, t in enumerate(graph.main.tensors) if not t.is_constant]
    for batch in batches:
        if len(batch) != len(input_details):
            raise TinyOpsError(f"calibration sample has {len(batch)} arrays, the model takes "
                               f"{len(input_details)} inputs; give one array per model input")
        for detail, array in zip(input_details, batch):
            expected = tuple(detail["shape"])
            if array.size != int(np.prod(expected)):
                raise TinyOpsError(f"calibration sample shape {array.shape} does not fit model input "
                                   f"{expected}; preprocess the data to the model's input shape")
            interpreter.set_tensor(detail["index"], array.reshape(expected).astype(detail["dtype"]))
        interpreter.invoke()
        yield {index: interpreter.get_tensor(index).copy() for index in wanted}
