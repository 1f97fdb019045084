"""Seeded synthetic inputs that resemble each shipped model's input domain (no dataset here).

- images (CIFAR-10 ResNet-8): smooth colour fields (random 4x4 colour grids, bilinearly
  upsampled) plus mild texture noise, raw 0..255 pixels as the MLPerf Tiny model expects;
- keyword spotting (DS-CNN): 49 x 10 MFCCs of synthetic "speech": harmonic tones with gliding
  pitch and syllable-like envelopes over background noise, through the real MFCC front end;
- hello_world (sine regressor): x uniform in [0, 2 pi].

    python -m tinyops.quant.synthetic {images,kws,sine} COUNT OUT.npz
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from tinyops.backends.tflite_writer import write_atomically
from tinyops.tasks.features import MLPERF_KWS as KWS_MFCC
from tinyops.tasks.features import mfcc


def smooth_images(count: int, seed: int = 0, size: int = 32) -> np.ndarray:
    """(count, 1, size, size, 3) float32 pixels in [0, 255]."""
    rng = np.random.default_rng(seed)
    grid = rng.uniform(0, 255, size=(count, 4, 4, 3))
    position = np.linspace(0, 3, size)
    low = np.minimum(np.floor(position).astype(int), 2)
    frac = position - low
    rows = grid[:, low] * (1 - frac)[None, :, None, None] + grid[:, low + 1] * frac[None, :, None, None]
    images = rows[:, :, low] * (1 - frac)[None, None, :, None] + rows[:, :, low + 1] * frac[None, None, :, None]
    images = images + rng.normal(0, 8.0, size=images.shape)
    return np.clip(images, 0, 255).astype(np.float32)[:, None]


def speech_like_audio(seed: int, samples: int = KWS_MFCC.clip_samples, rate_hz: int = KWS_MFCC.sample_rate_hz) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(samples) / rate_hz
    audio = rng.normal(0, 10 ** rng.uniform(-3.5, -2.0), samples)  # background noise
    for _ in range(rng.integers(1, 4)):  # a few syllables
        start, length = rng.uniform(0.0, 0.7), rng.uniform(0.1, 0.35)
        envelope = np.exp(-0.5 * ((t - start - length / 2) / (length / 4)) ** 2)
        pitch = rng.uniform(90, 300) * (1 + rng.uniform(-0.3, 0.3) * (t - start))
        phase = 2 * np.pi * np.cumsum(pitch) / rate_hz
        voice = sum(np.sin(h * phase) / h for h in range(1, 12))
        audio += 10 ** rng.uniform(-1.5, -0.5) * envelope * voice
    return np.clip(audio, -1, 1).astype(np.float32)


def kws_mfccs(count: int, seed: int = 0) -> np.ndarray:
    """(count, 1, 49, 10, 1) MFCC features of synthetic speech-like clips."""
    features = [mfcc(speech_like_audio(seed * 100003 + i)) for i in range(count)]
    return np.stack(features).reshape(count, 1, KWS_MFCC.num_frames, KWS_MFCC.num_coefficients, 1)


def sine_inputs(count: int, seed: int = 0) -> np.ndarray:
    """(count, 1, 1) x uniform in [0, 2 pi]."""
    return np.random.default_rng(seed).uniform(0, 2 * np.pi, size=(count, 1, 1)).astype(np.float32)


GENERATORS = {"images": smooth_images, "kws": kws_mfccs, "sine": sine_inputs}


def main(argv: list[str]) -> int:
    if len(argv) != 3 or argv[0] not in GENERATORS:
        sys.stderr.write(f"usage: python -m tinyops.quant.synthetic {{{','.join(GENERATORS)}}} COUNT OUT.npz\n")
        return 2
    data = GENERATORS[argv[0]](int(argv[1]), seed=0)
    import io

    buffer = io.BytesIO()
    np.savez(buffer, input=data)
    write_atomically(Path(argv[2]), buffer.getvalue())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
