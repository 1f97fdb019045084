"""Scoring a model on a task's test data with an inference engine.

Engines: ``runtime`` (tinyops' NumPy reference kernels), ``litert`` (LiteRT with its reference
kernels) and ``tflm`` (the TFLM interpreter), those two in a child process, and ``c`` (the generated
C built for this machine, :mod:`tinyops.backends.c.host_engine`: the code that ships); ``torch`` scores a
trained QAT module (float or fake-quant) for the figure beside the int8 one.
Classifiers (KWS, VWW, AD machine-ID form) report accuracy and a confusion matrix; AD reports ROC
AUC and pAUC (max FPR 0.1) per machine ID, with the file score = mean reconstruction error
(autoencoder) or minus the mean softmax of the clip's own machine ID (MicroNets).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Sequence

import numpy as np

from tinyops.errors import TinyOpsError
from tinyops.ir import Graph
from tinyops.ir.dtypes import DType
from tinyops.tasks.datasets import AnomalyClips
from tinyops.tasks.metrics import MachineScore, accuracy, confusion_matrix, scores_per_machine

Engine = Literal["runtime", "litert", "tflm", "c"]
ENGINES: tuple[Engine, ...] = ("runtime", "litert", "tflm", "c")


@dataclass
class Evaluation:
    task: str
    engine: str
    samples: int
    accuracy: float | None = None
    labels: list[str] = field(default_factory=list)
    confusion: list[list[int]] = field(default_factory=list)
    machines: list[MachineScore] = field(default_factory=list)

    @property
    def mean_auc(self) -> float | None:
        return float(np.mean([m.auc for m in self.machines])) if self.machines else None

    @property
    def mean_pauc(self) -> float | None:
        return float(np.mean([m.pauc for m in self.machines])) if self.machines else None

    def as_dict(self) -> dict[str, Any]:
        record: dict[str, Any] = {"task": self.task, "engine": self.engine, "samples": self.samples}
        if self.accuracy is not None:
            record.update(accuracy=round(self.accuracy, 6), labels=self.labels, confusion=self.confusion)
        if self.machines:
            record.update(mean_auc=round(self.mean_auc or 0.0, 6), mean_pauc=round(self.mean_pauc or 0.0, 6),
                          machines=[{"machine_id": m.machine_id, "auc": round(m.auc, 6), "pauc": round(m.pauc, 6),
                                     "normal_files": m.normal_files, "anomalous_files": m.anomalous_files}
                                    for m in self.machines])
        return record


def _to_model_layout(batch: np.ndarray, graph: Graph) -> np.ndarray:
    """Samples in torch layout (N, C, H, W) or (N, F) -> the model's NHWC / (N, F) input."""
    shape = tuple(graph.main.inputs[0].shape)
    if len(shape) == 4 and batch.ndim == 4:
        batch = np.transpose(batch, (0, 2, 3, 1))
    if tuple(batch.shape[1:]) != shape[1:]:
        raise TinyOpsError(f"the data give samples of shape {list(batch.shape[1:])}, the model takes "
                           f"{list(shape[1:])}; train and evaluate with the same features and input size")
    return batch


def run_engine(graph: Graph, batch: np.ndarray, engine: Engine = "runtime", payload: bytes | None = None
               ) -> np.ndarray:
    """Real-valued outputs of ``graph`` for float samples in torch layout (quantized on the way in)."""
    from tinyops.quant.evaluate import dequantize_output

    samples = _to_model_layout(np.asarray(batch, np.float32), graph)
    tensor = graph.main.inputs[0]
    if tensor.dtype is not DType.FLOAT32 and tensor.quantization is not None:
        scale, zero_point = float(tensor.quantization.scale[0]), int(tensor.quantization.zero_point[0])
        info = np.iinfo(tensor.dtype.numpy)
        samples = np.clip(np.round(samples / scale) + zero_point, info.min, info.max).astype(tensor.dtype.numpy)
    if engine == "runtime":
        from tinyops.runtime.interpreter import Interpreter

        raw = Interpreter(graph).run_batch([[s[None]] for s in samples])[0]
    elif engine in ("litert", "tflm"):
        from tinyops.backends.tflite_writer import to_tflite_bytes
        from tinyops.oracles.probe import OracleError, litert_run, tflm_run

        model = payload if payload is not None else to_tflite_bytes(graph)
        try:
            result = (litert_run if engine == "litert" else tflm_run)(model, [[s[None]] for s in samples])
        except OracleError as exc:
            raise TinyOpsError(str(exc)) from None
        raw = result.outputs[0]
    elif engine == "c":
        from tinyops.backends.c.host_engine import CEngine

        raw = CEngine(graph).run([samples])[0]  # built once per model, then cached
    else:
        raise TinyOpsError(f"unknown engine {engine!r}; choose one of {', '.join(ENGINES)}")
    return dequantize_output(graph, raw.reshape((samples.shape[0],) + tuple(graph.main.outputs[0].shape[1:])))


Predictor = Any  # callable: float samples in torch layout -> real outputs


def graph_predictor(graph: Graph, engine: Engine = "runtime", payload: bytes | None = None) -> Predictor:
    return lambda batch: run_engine(graph, batch, engine, payload)


def torch_predictor(model: Any, probabilities: bool = True) -> Predictor:
    """A QAT module as a predictor (its current mode: float or fake-quant)."""
    import torch

    def predict(batch: np.ndarray) -> np.ndarray:
        model.eval()
        with torch.no_grad():
            out = model(torch.from_numpy(np.asarray(batch, np.float32)), logits=not probabilities)
        return np.asarray(out.numpy())

    return predict


def load_exported(path: str) -> Any:
    """The module of a ``torch.export`` program file (``tinyops train --torch`` writes them)."""
    import io
    from pathlib import Path

    import torch

    try:
        # From a buffer: torch warns about any file name not ending in .pt2, and ours end in .pt.
        return torch.export.load(io.BytesIO(Path(path).read_bytes())).module()
    except Exception as exc:  # torch raises many kinds for a file that is not a program
        raise TinyOpsError(f"{path}: not a torch.export program ({type(exc).__name__}); write it with "
                           "tinyops train --torch or torch.export.save") from None


def exported_teacher(path: str) -> Any:
    """A distillation teacher from a ``torch.export`` classifier (batch 1, softmax output, as
    ``tinyops train --torch`` writes): a batched callable giving log-probabilities, which serve as
    logits (the tempered softmax of log p equals that of the logits)."""
    import torch

    module = load_exported(path)

    def teacher(batch: "torch.Tensor") -> "torch.Tensor":
        probabilities = torch.cat([module(batch[i:i + 1]) for i in range(batch.shape[0])])
        if probabilities.dim() != 2:
            raise TinyOpsError(f"{path}: the teacher must output class scores (batch, classes)")
        return torch.log(probabilities.clamp_min(1e-12))

    return teacher


def exported_predictor(path: str) -> Predictor:
    """A ``torch.export`` program as a predictor; it takes batch 1, so samples run one at a time."""
    import torch

    module = load_exported(path)

    def predict(batch: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            outputs = [module(torch.from_numpy(np.asarray(sample, np.float32)[None])) for sample in batch]
        return np.concatenate([o.numpy() for o in outputs])

    return predict


def evaluate(task: str, dataset: Any, predict: Predictor, engine: str, labels: Sequence[str] = (),
             batch_size: int = 256) -> Evaluation:
    """Score ``predict`` on every sample (KWS/VWW) or clip (AD) of ``dataset``."""
    if isinstance(dataset, AnomalyClips):
        return _evaluate_ad(task, dataset, predict, engine)
    outputs, targets = [], []
    for start in range(0, len(dataset), batch_size):
        items = [dataset[i] for i in range(start, min(start + batch_size, len(dataset)))]
        outputs.append(predict(np.stack([x for x, _ in items])))
        targets += [int(y) for _, y in items]
    if not targets:
        raise TinyOpsError("the test split holds no samples")
    predictions = np.concatenate(outputs).reshape(len(targets), -1).argmax(axis=1)
    classes = max(len(labels), int(predictions.max()) + 1, max(targets) + 1)
    return Evaluation(task, engine, len(targets), accuracy(np.array(targets), predictions), list(labels),
                      confusion_matrix(np.array(targets), predictions, classes).tolist())


def _evaluate_ad(task: str, dataset: AnomalyClips, predict: Predictor, engine: str) -> Evaluation:
    scores = []
    for clip, inputs in zip(dataset.clips, dataset.inputs):
        if dataset.target == "reconstruction":
            reconstruction = predict(inputs).reshape(inputs.shape[0], -1)
            scores.append(float(np.mean((reconstruction - inputs.reshape(inputs.shape[0], -1)) ** 2)))
        else:
            probabilities = predict(inputs[:, None]).reshape(inputs.shape[0], -1)
            scores.append(-float(np.mean(probabilities[:, dataset.label_of(clip)])))
    machines = scores_per_machine([c.machine_id for c in dataset.clips], np.array([c.anomalous for c in dataset.clips]),
                                  np.array(scores))
    return Evaluation(task, engine, len(dataset.clips), machines=machines)
