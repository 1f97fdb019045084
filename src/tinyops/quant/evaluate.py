"""Accuracy-impact metrics of a quantized model against its float original, on the same inputs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from tinyops.ir.dtypes import DType
from tinyops.ir.graph import Graph


@dataclass(frozen=True)
class Agreement:
    """How closely quantized outputs follow float outputs (first model output)."""

    sqnr_db: float  # 10 log10(signal power / error power); higher is better
    top1_agreement: float  # fraction of samples whose arg-max matches (classifiers)
    samples: int

    def as_dict(self) -> dict[str, float | int]:
        return {"sqnr_db": round(float(self.sqnr_db), 2), "top1_agreement": round(float(self.top1_agreement), 4),
                "samples": self.samples}


def sqnr_db(reference: np.ndarray, approximation: np.ndarray) -> float:
    signal = float(np.sum(np.asarray(reference, np.float64) ** 2))
    noise = float(np.sum((np.asarray(reference, np.float64) - np.asarray(approximation, np.float64)) ** 2))
    return float("inf") if noise == 0.0 else 10.0 * np.log10(max(signal, 1e-30) / noise)


def agreement(reference: np.ndarray, approximation: np.ndarray) -> Agreement:
    """Both arrays stacked over samples on axis 0."""
    ref = np.asarray(reference, np.float64).reshape(reference.shape[0], -1)
    approx = np.asarray(approximation, np.float64).reshape(approximation.shape[0], -1)
    top1 = float(np.mean(ref.argmax(axis=1) == approx.argmax(axis=1))) if ref.shape[1] > 1 else 1.0
    return Agreement(sqnr_db=sqnr_db(ref, approx), top1_agreement=top1, samples=int(ref.shape[0]))


def quantize_inputs(graph: Graph, samples: Sequence[Sequence[np.ndarray]]) -> list[list[np.ndarray]]:
    """Float samples in the dtype each model input takes (int8 inputs: with the input's scale/zero point)."""
    result = []
    for sample in samples:
        converted = []
        for tensor, array in zip(graph.main.inputs, sample):
            if tensor.dtype is DType.FLOAT32 or tensor.quantization is None:
                converted.append(np.asarray(array, np.float32).reshape(tensor.shape))
                continue
            scale, zero_point = float(tensor.quantization.scale[0]), int(tensor.quantization.zero_point[0])
            info = np.iinfo(tensor.dtype.numpy)
            q = np.clip(np.round(np.asarray(array, np.float64) / scale) + zero_point, info.min, info.max)
            converted.append(q.astype(tensor.dtype.numpy).reshape(tensor.shape))
        result.append(converted)
    return result


def dequantize_output(graph: Graph, values: np.ndarray, index: int = 0) -> np.ndarray:
    """Model output values (stacked) in real units."""
    tensor = graph.main.outputs[index]
    if tensor.dtype.is_float or tensor.quantization is None:
        return np.asarray(values, np.float32)
    scale, zero_point = float(tensor.quantization.scale[0]), int(tensor.quantization.zero_point[0])
    return ((np.asarray(values, np.float64) - zero_point) * scale).astype(np.float32)


@dataclass(frozen=True)
class QuantizationError:
    """A quantized model against its float original on the same evaluation inputs."""

    agreement: Agreement
    source: str  # where the evaluation inputs came from, and what that implies
    float_accuracy: float | None = None  # top-1 against labels, when labels were given
    quantized_accuracy: float | None = None

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {**self.agreement.as_dict(), "source": self.source}
        if self.float_accuracy is not None and self.quantized_accuracy is not None:
            out["float_accuracy"] = round(self.float_accuracy, 4)
            out["quantized_accuracy"] = round(self.quantized_accuracy, 4)
        return out


def compare_to_float(float_graph: Graph, quantized_graph: Graph, samples: Sequence[Sequence[np.ndarray]],
                     source: str, labels: np.ndarray | None = None) -> QuantizationError:
    """Run both models with tinyops' reference runtime (bit-exact to TFLM for int8) on ``samples``
    (float inputs); SQNR and top-1 agreement of the first output, and accuracy given labels."""
    from tinyops.errors import TinyOpsError
    from tinyops.runtime.formats import run_formats

    if labels is not None and len(labels) != len(samples):
        raise TinyOpsError(f"{len(labels)} labels for {len(samples)} evaluation samples; give one label per sample")
    reference = np.stack([run_formats(float_graph, [np.asarray(a, np.float32) for a in sample])[0]
                          for sample in samples])
    quantized = np.stack([dequantize_output(quantized_graph, run_formats(quantized_graph, inputs)[0])
                          for inputs in quantize_inputs(quantized_graph, samples)])
    result = agreement(reference, quantized)
    if labels is None:
        return QuantizationError(result, source)
    truth = np.asarray(labels).reshape(-1)
    float_top1 = float(np.mean(reference.reshape(len(samples), -1).argmax(axis=1) == truth))
    quant_top1 = float(np.mean(quantized.reshape(len(samples), -1).argmax(axis=1) == truth))
    return QuantizationError(result, source, float_top1, quant_top1)
