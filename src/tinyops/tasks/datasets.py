"""Data sets of the TinyMLPerf tasks, read from their published folder layouts.

Every data set is a map-style data set (``len`` and ``[i]`` -> ``(features, target)`` as NumPy
arrays), which ``torch.utils.data.DataLoader`` takes as it is; nothing here downloads anything.

- Speech Commands v2 (KWS): ``DIR/<word>/*.wav``, ``DIR/validation_list.txt``,
  ``DIR/testing_list.txt`` (paths relative to DIR), optional ``DIR/_background_noise_/*.wav``.
  12 labels: the 10 command words, silence, unknown (the other words, down-sampled to the
  silence share); training adds background noise (probability 0.8, volume uniform [0, 0.1)) and
  an optional time shift, as the MLPerf Tiny reference does.
- Visual Wake Words: ``DIR/person/*`` and ``DIR/non_person/*`` images (png/jpg/bmp); a seeded 10%
  is held out for validation; RGB or grayscale, resized to the model input, pixels / 255;
  training flips horizontally and shifts by up to 5%.
- Anomaly detection: DCASE 2020 Task 2 (ToyADMOS ToyCar/ToyConveyor and MIMII machines):
  ``DIR/<machine>/{train,test}/{normal,anomaly}_id_XX_*.wav`` (or DIR is the machine folder), or
  the raw MIMII layout ``DIR/id_XX/{normal,abnormal}/*.wav``, where a seeded quarter of the normal
  files is kept for testing as DCASE does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Sequence

import numpy as np

from tinyops.errors import TinyOpsError
from tinyops.tasks.features import FeaturePreset, LogMelPreset, MfccPreset, fit_clip, get_preset, log_mel_vectors, mfcc, normalise
from tinyops.tasks.wav import read_wav

Split = Literal["train", "validation", "test"]
SPLITS: tuple[Split, ...] = ("train", "validation", "test")

KWS_WORDS = ("down", "go", "left", "no", "off", "on", "right", "stop", "up", "yes")
KWS_LABELS = KWS_WORDS + ("silence", "unknown")
SILENCE, UNKNOWN = KWS_LABELS.index("silence"), KWS_LABELS.index("unknown")
BACKGROUND = "_background_noise_"
KWS_LAYOUT = ("Speech Commands v2 layout: DIR/<word>/*.wav for the words, DIR/validation_list.txt and "
              "DIR/testing_list.txt, optional DIR/_background_noise_/*.wav")
VWW_LAYOUT = "Visual Wake Words layout: DIR/person/*.png|jpg and DIR/non_person/*.png|jpg"
AD_LAYOUT = ("DCASE 2020 Task 2 layout DIR/[<machine>/]{train,test}/{normal,anomaly}_id_XX_*.wav "
             "or MIMII layout DIR/id_XX/{normal,abnormal}/*.wav")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")
# Decoded clips / images kept in memory per data set (the first ones read); the rest are read from
# disk each time, so the full Speech Commands (85,511 clips) or VWW sets do not need tens of GB.
CACHE_ITEMS = 8192


@dataclass(frozen=True)
class KwsAugmentation:
    """MLPerf Tiny training augmentation (the reference's time shift is effectively none)."""

    background_probability: float = 0.8
    background_volume: float = 0.1
    time_shift_ms: float = 0.0


@dataclass
class SpeechCommands:
    """One split of Speech Commands v2 as (MFCC [1, frames, coefficients], label) items."""

    root: Path
    split: Split
    preset: MfccPreset
    augmentation: KwsAugmentation | None = None
    silence_share: float = 0.1
    unknown_share: float = 0.1
    seed: int = 0
    labels: tuple[str, ...] = KWS_LABELS
    items: list[tuple[Path | None, int]] = field(default_factory=list)
    _audio: dict[Path, np.ndarray] = field(default_factory=dict)  # float32 clips
    _noise: list[np.ndarray] = field(default_factory=list)
    _rng: np.random.Generator = field(default_factory=np.random.default_rng)

    def __post_init__(self) -> None:
        self.root = Path(self.root)
        lists = {name: self.root / f"{name}_list.txt" for name in ("validation", "testing")}
        words = [d for d in sorted(self.root.iterdir()) if d.is_dir() and d.name != BACKGROUND] \
            if self.root.is_dir() else []
        if not words or not all(p.is_file() for p in lists.values()):
            raise TinyOpsError(f"{self.root}: not a Speech Commands folder; expected the {KWS_LAYOUT}")
        held_out = {name: {line.strip() for line in p.read_text().splitlines() if line.strip()}
                    for name, p in lists.items()}
        known: list[tuple[Path, int]] = []
        unknown: list[tuple[Path, int]] = []
        for folder in words:
            for path in sorted(folder.glob("*.wav")):
                relative = f"{folder.name}/{path.name}"
                split: Split = ("validation" if relative in held_out["validation"] else
                                "test" if relative in held_out["testing"] else "train")
                if split != self.split:
                    continue
                if folder.name in KWS_WORDS:
                    known.append((path, KWS_WORDS.index(folder.name)))
                else:
                    unknown.append((path, UNKNOWN))
        rng = np.random.default_rng(self.seed)
        share = max(0.0, 1.0 - self.silence_share - self.unknown_share)
        target = int(round(len(known) * self.unknown_share / share)) if share else len(unknown)
        chosen = [unknown[i] for i in sorted(rng.permutation(len(unknown))[:target])]
        silences = int(round(len(known) * self.silence_share / share)) if share else 0
        self.items = known + chosen + [(None, SILENCE)] * silences
        if not self.items:
            raise TinyOpsError(f"{self.root}: no .wav files in the {self.split} split; expected the {KWS_LAYOUT}")
        background = self.root / BACKGROUND
        if background.is_dir():
            self._noise = [read_wav(p, self.preset.sample_rate_hz) for p in sorted(background.glob("*.wav"))]
        self._rng = np.random.default_rng(self.seed + 1)

    def __len__(self) -> int:
        return len(self.items)

    def reseed(self, epoch: int) -> None:
        """Augmentation draws depend on (seed, epoch) only: training is reproducible and resumable."""
        self._rng = np.random.default_rng([self.seed, epoch])

    def clip(self, index: int) -> np.ndarray:
        """The normalised, padded clip of item ``index`` (silence: zeros), before augmentation."""
        path, _ = self.items[index]
        if path is None:
            return np.zeros(self.preset.clip_samples)
        cached = self._audio.get(path)
        if cached is not None:
            return cached.astype(np.float64)
        # Held as float32 whether cached or not, so a clip reads the same on every access.
        audio = fit_clip(normalise(read_wav(path, self.preset.sample_rate_hz), self.preset.normalisation),
                         self.preset.clip_samples).astype(np.float32)
        if len(self._audio) < CACHE_ITEMS:
            self._audio[path] = audio
        return audio.astype(np.float64)

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.int64]:
        audio = self.clip(index)
        augmentation = self.augmentation
        if augmentation is not None:
            audio = self._augment(audio, augmentation)
        return mfcc(audio, self.preset, normalised=True)[None], np.int64(self.items[index][1])

    def _augment(self, audio: np.ndarray, augmentation: KwsAugmentation) -> np.ndarray:
        rng = self._rng
        shift = int(augmentation.time_shift_ms * self.preset.sample_rate_hz / 1000.0)
        if shift:
            offset = int(rng.integers(-shift, shift + 1))
            audio = np.roll(audio, offset)
            if offset > 0:
                audio[:offset] = 0.0
            elif offset < 0:
                audio[offset:] = 0.0
        if self._noise and rng.random() < augmentation.background_probability:
            noise = self._noise[int(rng.integers(len(self._noise)))]
            start = int(rng.integers(0, max(1, noise.size - audio.size + 1)))
            piece = fit_clip(noise[start:start + audio.size], audio.size)
            audio = np.clip(audio + rng.uniform(0.0, augmentation.background_volume) * piece, -1.0, 1.0)
        return audio


@dataclass
class VisualWakeWords:
    """One split of a VWW folder as (image [C, H, W] in [0, 1], label) items; label 1 = person."""

    root: Path
    split: Split
    size: tuple[int, int] = (96, 96)
    channels: int = 3
    augment: bool = False
    validation_share: float = 0.1
    seed: int = 0
    labels: tuple[str, ...] = ("non_person", "person")
    items: list[tuple[Path, int]] = field(default_factory=list)
    _rng: np.random.Generator = field(default_factory=np.random.default_rng)
    _cache: dict[int, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.root = Path(self.root)
        folders = [self.root / name for name in self.labels]
        if not all(f.is_dir() for f in folders):
            raise TinyOpsError(f"{self.root}: not a Visual Wake Words folder; expected the {VWW_LAYOUT}")
        every = [(p, label) for label, f in enumerate(folders) for p in sorted(f.iterdir())
                 if p.suffix.lower() in IMAGE_SUFFIXES]
        if not every:
            raise TinyOpsError(f"{self.root}: holds no images; expected the {VWW_LAYOUT}")
        order = np.random.default_rng(self.seed).permutation(len(every))
        held = max(1, int(round(len(every) * self.validation_share)))
        picked = order[:held] if self.split != "train" else order[held:]
        self.items = [every[i] for i in sorted(picked)]
        self._rng = np.random.default_rng(self.seed + 1)

    def __len__(self) -> int:
        return len(self.items)

    def reseed(self, epoch: int) -> None:
        self._rng = np.random.default_rng([self.seed, epoch])

    def _load(self, index: int) -> np.ndarray:
        cached = self._cache.get(index)
        if cached is not None:
            return cached
        from PIL import Image, UnidentifiedImageError

        path = self.items[index][0]
        try:
            with Image.open(path) as picture:
                converted = picture.convert("L" if self.channels == 1 else "RGB")
                resized = converted.resize((self.size[1], self.size[0]), Image.Resampling.BILINEAR)
                pixels = np.asarray(resized, np.float32).reshape(self.size[0], self.size[1], self.channels)
        except (UnidentifiedImageError, OSError) as exc:
            raise TinyOpsError(f"{path}: cannot read the image ({exc}); remove it or convert it to PNG") from None
        array = np.transpose(pixels, (2, 0, 1)) / 255.0
        if len(self._cache) < CACHE_ITEMS:
            self._cache[index] = array
        return array

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.int64]:
        image = self._load(index)
        if self.augment:
            rng = self._rng
            if rng.random() < 0.5:
                image = image[:, :, ::-1]
            dy, dx = (int(rng.integers(-s // 20, s // 20 + 1)) for s in self.size)
            image = np.roll(image, (dy, dx), axis=(1, 2))
        return np.ascontiguousarray(image, np.float32), np.int64(self.items[index][1])


@dataclass(frozen=True)
class AdClip:
    path: Path
    machine_id: str
    anomalous: bool


_DCASE_NAME = re.compile(r"^(normal|anomaly)_(id_\d+)_.*\.wav$")


def find_ad_clips(root: Path, split: Literal["train", "test"], seed: int = 0) -> list[AdClip]:
    """The clips of one split, from a DCASE 2020 Task 2 or MIMII folder."""
    root = Path(root)
    machines = [root] if (root / "train").is_dir() else sorted(d for d in root.iterdir() if (d / "train").is_dir()) \
        if root.is_dir() else []
    clips: list[AdClip] = []
    for machine in machines:
        for path in sorted((machine / split).glob("*.wav")):
            match = _DCASE_NAME.match(path.name)
            if match is None:
                raise TinyOpsError(f"{path}: file name is not <normal|anomaly>_id_XX_*.wav; expected the {AD_LAYOUT}")
            name = match.group(2) if len(machines) == 1 else f"{machine.name}/{match.group(2)}"
            clips.append(AdClip(path, name, match.group(1) == "anomaly"))
    if not machines and root.is_dir():
        for id_folder in sorted(d for d in root.iterdir() if d.is_dir() and re.match(r"^id_\d+$", d.name)):
            normal = sorted((id_folder / "normal").glob("*.wav"))
            order = np.random.default_rng(seed).permutation(len(normal))
            test_count = len(normal) // 4
            held = {normal[i] for i in order[:test_count]}
            if split == "train":
                clips += [AdClip(p, id_folder.name, False) for p in normal if p not in held]
            else:
                clips += [AdClip(p, id_folder.name, False) for p in normal if p in held]
                clips += [AdClip(p, id_folder.name, True) for p in sorted((id_folder / "abnormal").glob("*.wav"))]
    if not clips:
        raise TinyOpsError(f"{root}: no {split} clips found; expected the {AD_LAYOUT}")
    return clips


@dataclass
class AnomalyClips:
    """AD clips of one split with their model inputs: log-mel vectors (autoencoder) or images
    (machine-ID classifier). Items: (one input, target) with target = the input itself for the
    autoencoder, the machine-ID index for the classifier."""

    root: Path
    split: Literal["train", "test"]
    preset: LogMelPreset
    target: Literal["reconstruction", "machine_id"] = "reconstruction"
    seed: int = 0
    clips: list[AdClip] = field(default_factory=list)
    machine_ids: list[str] = field(default_factory=list)
    inputs: list[np.ndarray] = field(default_factory=list)  # per clip: (count, *input shape)
    _index: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), np.int64))

    def __post_init__(self) -> None:
        self.root = Path(self.root)
        self.clips = find_ad_clips(self.root, self.split, self.seed)
        if not self.machine_ids:
            self.machine_ids = sorted({c.machine_id for c in self.clips})
        self.inputs = [log_mel_vectors(read_wav(c.path, self.preset.sample_rate_hz), self.preset) for c in self.clips]
        self._index = np.array([(c, i) for c, block in enumerate(self.inputs) for i in range(block.shape[0])],
                               np.int64).reshape(-1, 2)

    def __len__(self) -> int:
        return int(self._index.shape[0])

    def reseed(self, epoch: int) -> None:
        """No random augmentation at the data-set level (mixup is done on batches)."""

    def label_of(self, clip: AdClip) -> int:
        if clip.machine_id not in self.machine_ids:
            raise TinyOpsError(f"{clip.path}: machine {clip.machine_id} was not in the training data")
        return self.machine_ids.index(clip.machine_id)

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray | np.int64]:
        clip_index, row = self._index[index]
        sample = self.inputs[clip_index][row]
        if self.target == "reconstruction":
            return sample, sample
        return sample[None], np.int64(self.label_of(self.clips[clip_index]))


TaskName = Literal["kws", "vww", "ad"]


def open_split(task: TaskName, root: str | Path, split: Split, preset: FeaturePreset | None = None,
               input_shape: Sequence[int] | None = None, ad_target: Literal["reconstruction", "machine_id"] =
               "reconstruction", augment: bool = False, seed: int = 0, machine_ids: list[str] | None = None,
               time_shift_ms: float = 0.0) -> SpeechCommands | VisualWakeWords | AnomalyClips:
    """The data set of ``task`` for one split (AD has train and test only: validation is test)."""
    folder = Path(root)
    if not folder.is_dir():
        raise TinyOpsError(f"{folder}: data folder not found")
    if task == "kws":
        mfcc_preset = preset if isinstance(preset, MfccPreset) else get_preset("mlperf-kws")
        assert isinstance(mfcc_preset, MfccPreset)
        augmentation = KwsAugmentation(time_shift_ms=time_shift_ms) if augment else None
        return SpeechCommands(folder, split, mfcc_preset, augmentation, seed=seed)
    if task == "vww":
        shape = tuple(input_shape) if input_shape is not None else (3, 96, 96)
        return VisualWakeWords(folder, split, (shape[1], shape[2]), shape[0], augment, seed=seed)
    if task == "ad":
        ad_preset = preset if isinstance(preset, LogMelPreset) else get_preset(
            "mlperf-ad" if ad_target == "reconstruction" else "micronets-ad")
        assert isinstance(ad_preset, LogMelPreset)
        return AnomalyClips(folder, "train" if split == "train" else "test", ad_preset, ad_target, seed,
                            machine_ids=list(machine_ids or []))
    raise TinyOpsError(f"unknown task {task!r}; choose kws, vww or ad")
