"""Training of the TinyMLPerf task models, with optional QAT, ending in an int8 TFLite graph.

    from tinyops.tasks.train import load_task_data, model_for, train
    from tinyops.tasks.recipes import get_recipe
    data = load_task_data("kws", "speech_commands_v2/", get_recipe("mlperf-kws"))
    graph = model_for("kws", data, family="dscnn-s", width=0.5)
    result = train("kws", graph, data, get_recipe("mlperf-kws"), qat=True)
    result.int8_graph   # IR graph, write it with backends.tflite_writer.write_tflite

Determinism: a fixed seed gives the same weights on the same CPU and torch build (data order,
augmentation draws and initialisation are seeded per epoch, so a resumed run continues exactly).
"""

from __future__ import annotations

import io
import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Literal

import numpy as np

from tinyops.errors import TinyOpsError
from tinyops.ir import Graph
from tinyops.quant.qat import QatConfig, build_qat_model, export_int8
from tinyops.tasks.datasets import AnomalyClips, SpeechCommands, TaskName, VisualWakeWords, open_split
from tinyops.tasks.features import PRESETS, get_preset
from tinyops.tasks.recipes import Recipe

if TYPE_CHECKING:  # pragma: no cover - typing only
    import torch

TASK_METADATA_KEY = "tinyops_task"  # TFLite metadata: task, labels, feature preset, recipe, scores
CALIBRATION_BATCHES = 8
CALIBRATION_EPOCH = 1_000_000  # augmentation seed of the calibration pass
DataSet = SpeechCommands | VisualWakeWords | AnomalyClips


@dataclass
class TaskData:
    """Training and validation data of one task, and what a model needs to know about them."""

    task: TaskName
    train: DataSet
    validation: DataSet
    labels: tuple[str, ...]  # class names (KWS, VWW) or machine IDs (AD machine-id form); () for the autoencoder
    input_shape: tuple[int, ...]  # one sample, torch layout: (C, H, W) or (features,)
    preset: str  # feature preset ("none" for images)
    ad_form: Literal["autoencoder", "machine-id"] | None = None

    @property
    def classes(self) -> int | None:
        return len(self.labels) if self.labels else None


def load_task_data(task: TaskName, root: str | Path, recipe: Recipe, image_size: int = 96, image_channels: int = 3,
                   seed: int = 0, time_shift_ms: float = 0.0) -> TaskData:
    """Open the training and validation splits of ``root`` for ``task`` with the recipe's features.
    ``time_shift_ms``: KWS training shifts clips by up to this much (Hello Edge: 100; MLPerf: 0)."""
    if task == "kws":
        preset = get_preset(recipe.feature_preset)
        train_set = open_split("kws", root, "train", preset, augment=True, seed=seed, time_shift_ms=time_shift_ms)
        validation = open_split("kws", root, "validation", preset, seed=seed)
        assert isinstance(train_set, SpeechCommands)
        return TaskData("kws", train_set, validation, train_set.labels, (1,) + PRESETS[preset.name].shape,
                        preset.name)
    if task == "vww":
        shape = (image_channels, image_size, image_size)
        train_vww = open_split("vww", root, "train", input_shape=shape, augment=True, seed=seed)
        validation = open_split("vww", root, "validation", input_shape=shape, seed=seed)
        assert isinstance(train_vww, VisualWakeWords)
        return TaskData("vww", train_vww, validation, train_vww.labels, shape, "none")
    if task == "ad":
        target: Literal["reconstruction", "machine_id"] = (
            "reconstruction" if recipe.ad_form == "autoencoder" else "machine_id")
        preset = get_preset(recipe.feature_preset)
        train_ad = open_split("ad", root, "train", preset, ad_target=target, seed=seed)
        assert isinstance(train_ad, AnomalyClips)
        validation = open_split("ad", root, "test", preset, ad_target=target, seed=seed,
                                machine_ids=train_ad.machine_ids)
        if target == "reconstruction":
            ad_shape: tuple[int, ...] = (int(np.prod(preset.shape)),)
            labels: tuple[str, ...] = ()
        else:
            ad_shape = (1,) + preset.shape
            labels = tuple(train_ad.machine_ids)
            if len(labels) < 2:
                raise TinyOpsError(f"{root}: the machine-ID classifier needs at least 2 machine IDs, found "
                                   f"{len(labels)}")
        return TaskData("ad", train_ad, validation, labels, ad_shape, preset.name, recipe.ad_form)
    raise TinyOpsError(f"unknown task {task!r}; choose kws, vww or ad")


def model_for(task: TaskName, data: TaskData, family: str | None = None, width: float = 1.0,
              arch: str | Path | None = None, seed: int = 0) -> Graph:
    """The architecture to train, as a zoo graph sized for ``data`` (input shape, classes)."""
    from tinyops.zoo import build_model, get_family

    if (family is None) == (arch is None):
        raise TinyOpsError("give either a model family (--family F --width W) or an architecture (--arch ARCH.json)")
    if arch is not None:
        from tinyops.tasks.architectures import build_arch

        graph = build_arch(arch, data.input_shape, data.classes, seed=seed)
    else:
        assert family is not None
        spec = get_family(family)
        if task == "ad" and data.ad_form == "autoencoder" and spec.input_kind != "vector":
            raise TinyOpsError(f"the autoencoder form of AD needs a vector model (fc-autoencoder), not {family}")
        if spec.input_kind == "vector":
            if data.classes is not None:
                raise TinyOpsError(f"{family} reconstructs its input; it does not fit a classification task")
            graph = build_model(family, width, data.input_shape[0], seed=seed)
        else:
            if data.classes is None:
                raise TinyOpsError(f"{family} is a classifier; the autoencoder form of AD needs fc-autoencoder")
            graph = build_model(family, width, (data.input_shape[1], data.input_shape[2]), classes=data.classes,
                                input_channels=data.input_shape[0], seed=seed)
    return graph


@dataclass
class EpochRecord:
    epoch: int
    mode: str  # float | qat
    learning_rate: float
    train_loss: float
    validation: float  # accuracy (classifiers) or mean squared error (autoencoder)
    seconds: float


@dataclass
class TrainResult:
    task: TaskName
    model: Any  # the trained QatModel (torch.nn.Module), in the mode it ended in
    architecture: Graph  # the zoo graph it was built from
    int8_graph: Graph  # folded, quantized, ready for write_tflite
    recipe: Recipe
    qat: bool
    history: list[EpochRecord] = field(default_factory=list)
    float_validation: float | None = None  # validation score before quantization
    seconds: float = 0.0
    samples_per_second: float = 0.0

    def metadata(self, data: TaskData) -> dict[str, Any]:
        return {"task": self.task, "labels": list(data.labels), "feature_preset": data.preset,
                "input_shape": list(data.input_shape), "ad_form": data.ad_form, "recipe": self.recipe.name,
                "epochs": self.recipe.epochs, "qat": self.qat, "float_validation": self.float_validation,
                "int8_validation": self.history[-1].validation if self.history else None}


ProgressCallback = Callable[[int, int, int, int], None]  # (epoch, epochs, batch, batches)


def train(task: TaskName, model: Graph, data: TaskData, recipe: Recipe, *, qat: bool = False, seed: int = 0,
          qat_config: QatConfig = QatConfig(), checkpoint: Path | None = None, resume: bool = False,
          teacher: Any = None, progress: ProgressCallback | None = None, threads: int = 1) -> TrainResult:
    """Train ``model`` (a zoo graph's architecture) on ``data`` with ``recipe``; export it to int8.

    With ``qat`` the last ``recipe.qat_fraction`` of the epochs train with fake quantization (after a
    calibration pass); without, the float model is calibrated once and quantized (PTQ of the same
    folded model). ``checkpoint``: saved after every epoch; ``resume`` continues from it.
    ``threads``: torch's intra-op threads while training (restored after). One is the default: the
    layers are small, and on a shared 2-core machine two threads measured up to 20x slower.
    """
    import torch

    previous_threads = torch.get_num_threads()
    torch.set_num_threads(max(1, threads))
    try:
        return _train(task, model, data, recipe, qat, seed, qat_config, checkpoint, resume, teacher, progress)
    finally:
        torch.set_num_threads(previous_threads)


def _train(task: TaskName, model: Graph, data: TaskData, recipe: Recipe, qat: bool, seed: int, qat_config: QatConfig,
           checkpoint: Path | None, resume: bool, teacher: Any, progress: ProgressCallback | None) -> TrainResult:
    import torch

    if data.task != task:
        raise TinyOpsError(f"the data were opened for {data.task}, not {task}")
    torch.manual_seed(seed)
    np.random.seed(seed)
    torch.use_deterministic_algorithms(True)
    net = build_qat_model(model, qat_config)
    optimizer = (torch.optim.Adam(net.parameters(), lr=recipe.learning_rate, weight_decay=recipe.weight_decay)
                 if recipe.optimizer == "adam" else
                 torch.optim.SGD(net.parameters(), lr=recipe.learning_rate, momentum=0.9,
                                 weight_decay=recipe.weight_decay, nesterov=True))
    epochs = recipe.epochs
    qat_start = epochs - max(1, int(round(epochs * recipe.qat_fraction))) if qat else epochs
    history: list[EpochRecord] = []
    first_epoch = 0
    float_validation: float | None = None
    if resume and checkpoint is not None and checkpoint.exists():
        state = _load_checkpoint(checkpoint)
        try:
            net.load_state_dict(state["model"])
            optimizer.load_state_dict(state["optimizer"])
        except (RuntimeError, ValueError, KeyError):
            raise TinyOpsError(f"{checkpoint}: was written for another model or recipe; delete it or drop "
                               "--resume") from None
        net.set_mode(state["mode"])
        history = [EpochRecord(**record) for record in state["history"]]
        float_validation = state["float_validation"]
        first_epoch = int(state["epoch"]) + 1
    started = time.perf_counter()
    samples_seen = 0
    for epoch in range(first_epoch, epochs):
        if qat and epoch == qat_start:
            float_validation = _validate(net, data) if history else None
            _calibrate(net, data, recipe, seed)
            net.set_mode("qat")
        epoch_started = time.perf_counter()
        loss, seen = _train_epoch(net, data, recipe, optimizer, epoch, seed, teacher, progress)
        samples_seen += seen
        score = _validate(net, data)
        history.append(EpochRecord(epoch + 1, net.mode, optimizer.param_groups[0]["lr"], loss, score,
                                   time.perf_counter() - epoch_started))
        if checkpoint is not None:
            _save_checkpoint(checkpoint, {"epoch": epoch, "model": net.state_dict(), "mode": net.mode,
                                          "optimizer": optimizer.state_dict(), "float_validation": float_validation,
                                          "history": [asdict(r) for r in history]})
    if net.mode == "float":
        float_validation = history[-1].validation if history else None
        _calibrate(net, data, recipe, seed)
        net.set_mode("qat")
        history.append(EpochRecord(epochs, "ptq", 0.0, float("nan"), _validate(net, data), 0.0))
    net.eval()
    seconds = time.perf_counter() - started
    int8 = export_int8(net, model)
    return TrainResult(task, net, model, int8, recipe, qat, history, float_validation, seconds,
                       samples_seen / seconds if seconds > 0 else 0.0)


def _loader(dataset: DataSet, batch_size: int, shuffle: bool, seed: int, epoch: int) -> Any:
    import torch

    generator = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    return torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=shuffle,  # type: ignore[arg-type]
                                       generator=generator, num_workers=0)


def _train_epoch(net: Any, data: TaskData, recipe: Recipe, optimizer: Any, epoch: int, seed: int, teacher: Any,
                 progress: ProgressCallback | None) -> tuple[float, int]:
    import torch

    functional = torch.nn.functional
    data.train.reseed(epoch)
    loader = _loader(data.train, recipe.batch_size, True, seed, epoch)
    batches = len(loader)
    rng = np.random.default_rng([seed, epoch, 7])
    net.train()
    total, seen = 0.0, 0
    for index, (inputs, targets) in enumerate(loader):
        for group in optimizer.param_groups:
            group["lr"] = recipe.learning_rate_at((epoch + index / max(batches, 1)) / recipe.epochs)
        inputs = inputs.float()
        if recipe.specaugment and inputs.dim() == 4:
            inputs = _spec_augment(inputs, rng)
        if data.classes is None:
            loss = functional.mse_loss(net(inputs), targets.float())
        else:
            targets = targets.long()
            soft = functional.one_hot(targets, data.classes).float()
            if recipe.mixup > 0:
                lam = float(rng.beta(recipe.mixup, recipe.mixup))
                order = torch.from_numpy(rng.permutation(inputs.shape[0]))
                inputs = lam * inputs + (1 - lam) * inputs[order]
                soft = lam * soft + (1 - lam) * soft[order]
            if recipe.label_smoothing > 0:
                soft = soft * (1 - recipe.label_smoothing) + recipe.label_smoothing / data.classes
            logits = net(inputs)
            loss = -(soft * functional.log_softmax(logits, dim=1)).sum(dim=1).mean()
            if teacher is not None:
                with torch.no_grad():
                    teacher_logits = teacher(inputs)
                temperature = recipe.distillation_temperature
                distill = functional.kl_div(functional.log_softmax(logits / temperature, dim=1),
                                            functional.softmax(teacher_logits / temperature, dim=1),
                                            reduction="batchmean") * temperature ** 2
                loss = (1 - recipe.distillation_weight) * loss + recipe.distillation_weight * distill
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        total += float(loss.detach()) * inputs.shape[0]
        seen += inputs.shape[0]
        if progress is not None:
            progress(epoch, recipe.epochs, index + 1, batches)
    return total / max(seen, 1), seen


def _spec_augment(inputs: "torch.Tensor", rng: np.random.Generator) -> "torch.Tensor":
    """One time mask (up to 10% of frames) and one frequency mask (up to 2 coefficients) per sample."""
    out = inputs.clone()
    _, _, frames, bins = out.shape
    for sample in range(out.shape[0]):
        width = int(rng.integers(0, max(1, frames // 10) + 1))
        start = int(rng.integers(0, frames - width + 1))
        out[sample, :, start:start + width, :] = 0.0
        width = int(rng.integers(0, min(2, bins) + 1))
        start = int(rng.integers(0, bins - width + 1))
        out[sample, :, :, start:start + width] = 0.0
    return out


def _calibrate(net: Any, data: TaskData, recipe: Recipe, seed: int) -> None:
    import torch

    mode = net.mode
    net.eval()
    net.set_mode("calibrate")
    data.train.reseed(CALIBRATION_EPOCH)  # the same draws whether or not the run was resumed
    with torch.no_grad():
        for index, (inputs, _) in enumerate(_loader(data.train, recipe.batch_size, True, seed, CALIBRATION_EPOCH)):
            if index >= CALIBRATION_BATCHES:
                break
            net(inputs.float())
    net.set_mode(mode if mode != "calibrate" else "float")


def _validate(net: Any, data: TaskData) -> float:
    """Validation accuracy (classifiers) or mean squared reconstruction error (autoencoder)."""
    import torch

    net.eval()
    right, total, squared = 0, 0, 0.0
    with torch.no_grad():
        for inputs, targets in _loader(data.validation, 256, False, 0, 0):
            outputs = net(inputs.float())
            if data.classes is None:
                squared += float(((outputs - targets.float()) ** 2).mean(dim=1).sum())
            else:
                right += int((outputs.argmax(dim=1) == targets.long()).sum())
            total += inputs.shape[0]
    net.train()
    if total == 0:
        return math.nan
    return squared / total if data.classes is None else right / total


def _save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    import torch

    from tinyops.backends.tflite_writer import write_atomically

    buffer = io.BytesIO()
    torch.save(state, buffer)
    write_atomically(path, buffer.getvalue())


def _load_checkpoint(path: Path) -> dict[str, Any]:
    import torch

    try:
        state: dict[str, Any] = torch.load(path, weights_only=False)
    except Exception as exc:  # torch raises many kinds for a damaged file
        raise TinyOpsError(f"{path}: not a readable tinyops checkpoint ({type(exc).__name__}); delete it to start "
                           "over") from None
    if not {"epoch", "model", "mode", "optimizer", "history"} <= set(state):
        raise TinyOpsError(f"{path}: not a tinyops training checkpoint; delete it to start over")
    return state


def task_metadata(graph: Graph) -> dict[str, Any] | None:
    """The task record ``tinyops train`` stores in the model, or None."""
    raw = graph.metadata.get(TASK_METADATA_KEY)
    if raw is None:
        return None
    try:
        record: dict[str, Any] = json.loads(bytes(raw).decode())
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise TinyOpsError(f"the model's {TASK_METADATA_KEY} metadata is not JSON") from None
    return record


def attach_metadata(graph: Graph, record: dict[str, Any]) -> None:
    graph.metadata[TASK_METADATA_KEY] = json.dumps(record, sort_keys=True).encode()
