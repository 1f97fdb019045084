"""Calibration data for PTQ: a .npz of samples, a folder of images, or a folder of .wav files.

Preprocessing (documented in docs/quantization.md):
- ``.npz``: every array is a batch of samples for one model input, in the order of the model's
  inputs (or named like the input tensors); axis 0 is the sample axis. A batch whose per-sample
  shape equals the input shape without its leading 1 is accepted too.
- image folder (.png/.jpg/.jpeg/.bmp): each image is converted to RGB (or L for 1-channel
  inputs), resized to the input's H x W (bilinear), and scaled by ``image_scale`` then shifted by
  ``image_offset``: real = pixel * scale + offset. The defaults (1, 0) give raw 0..255 pixels as
  the MLPerf Tiny ResNet-8 expects; use scale 1/255 for [0, 1] models or 1/127.5, -1 for [-1, 1].
- .wav folder: 16-bit PCM (or 8/32-bit) mono or first channel, 16 kHz expected, first second,
  converted to 49 x 10 MFCCs (the ``mlperf-kws`` preset of tasks/features.py, x / max(x)
  normalisation included) shaped to the model input.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tinyops.errors import TinyOpsError
from tinyops.ir.graph import Graph
from tinyops.tasks.features import mfcc
from tinyops.tasks.wav import read_wav, write_wav

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".ppm"}


@dataclass(frozen=True)
class ImagePreprocessing:
    scale: float = 1.0
    offset: float = 0.0


def load_calibration(path: str | Path, graph: Graph, images: ImagePreprocessing = ImagePreprocessing(),
                     limit: int | None = None) -> list[list[np.ndarray]]:
    """Samples as lists of float32 arrays, one per model input, shaped like the inputs."""
    source = Path(path)
    input_shapes = [tuple(t.shape) for t in graph.main.inputs]
    if not source.exists():
        raise TinyOpsError(f"{source}: calibration data not found; give a .npz file or a folder of images/.wav files")
    if not source.is_dir() and not source.is_file():
        raise TinyOpsError(f"{source}: not a regular file or folder (a device, FIFO or socket)")
    if source.is_file():
        if source.suffix.lower() != ".npz":
            raise TinyOpsError(f"{source}: calibration file must be a .npz; or give a folder of images or .wav files")
        samples = _from_npz(source, graph)
    else:
        files = sorted(p for p in source.iterdir() if p.is_file())
        wavs = [p for p in files if p.suffix.lower() == ".wav"]
        pictures = [p for p in files if p.suffix.lower() in IMAGE_SUFFIXES]
        if len(input_shapes) != 1:
            raise TinyOpsError(f"{source}: folders feed single-input models only; use a .npz for {len(input_shapes)} inputs")
        if wavs and not pictures:
            samples = [[_fit(mfcc(read_wav(p)), input_shapes[0], p)] for p in wavs[:limit]]
        elif pictures:
            samples = [[_image(p, input_shapes[0], images)] for p in pictures[:limit]]
        else:
            raise TinyOpsError(f"{source}: no images ({', '.join(sorted(IMAGE_SUFFIXES))}) or .wav files in the folder")
    if not samples:
        raise TinyOpsError(f"{source}: holds no calibration samples")
    return samples[:limit]


def _from_npz(path: Path, graph: Graph) -> list[list[np.ndarray]]:
    try:
        stored = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise TinyOpsError(f"{path}: not a readable .npz ({exc}); save samples with numpy.savez") from None
    with stored:
        names = [t.name for t in graph.main.inputs]
        keys = [n for n in names if n in stored.files] if all(n in stored.files for n in names) else stored.files
        if len(keys) != len(names):
            raise TinyOpsError(f"{path}: holds {len(keys)} arrays, the model has {len(names)} inputs; "
                               "store one array per input, sample axis first")
        batches = [np.asarray(stored[k], dtype=np.float32) for k in keys]
    shapes = [tuple(t.shape) for t in graph.main.inputs]
    count = batches[0].shape[0]
    if any(b.shape[0] != count for b in batches):
        raise TinyOpsError(f"{path}: arrays hold different numbers of samples; give each input the same count")
    return [[_fit(batch[i], shape, path) for batch, shape in zip(batches, shapes)] for i in range(count)]


def _fit(sample: np.ndarray, shape: tuple[int, ...], source: Path) -> np.ndarray:
    if sample.size != int(np.prod(shape)):
        raise TinyOpsError(f"{source}: a sample of shape {sample.shape} does not fit the model input {shape}; "
                           "preprocess to the input shape")
    return np.asarray(sample, dtype=np.float32).reshape(shape)


def _image(path: Path, shape: tuple[int, ...], prep: ImagePreprocessing) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    if len(shape) != 4 or shape[3] not in (1, 3):
        raise TinyOpsError(f"{path}: images need an NHWC input with 1 or 3 channels, the model takes {shape}")
    try:
        with Image.open(path) as image:
            converted = image.convert("L" if shape[3] == 1 else "RGB").resize((shape[2], shape[1]), Image.Resampling.BILINEAR)
            pixels = np.asarray(converted, dtype=np.float32)
    except (UnidentifiedImageError, OSError) as exc:
        raise TinyOpsError(f"{path}: cannot read the image ({exc}); remove it or convert it to PNG") from None
    return (pixels * prep.scale + prep.offset).reshape(shape).astype(np.float32)


__all__ = ["ImagePreprocessing", "load_calibration", "read_wav", "write_wav"]
