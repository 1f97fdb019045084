"""Tiny synthetic data sets in the real folder layouts (real .wav / .png files), for tests and demos.

    python -m tinyops.tasks.synthetic {kws,vww,ad} DIR [--per-class N] [--seed S]

- KWS: each word is a pair of tones (its own frequencies) at a random onset and level over noise;
  "unknown" words use other frequencies; Speech Commands v2 layout with validation/testing lists
  and a background-noise folder.
- VWW: "person" images hold a bright vertical ellipse on a textured background, "non_person" ones
  the background only.
- AD: DCASE 2020 Task 2 layout, one machine type with per-ID base tones; anomalies add an extra
  harmonic. 10 s clips (the mlperf-ad preset crops frames 50:250).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from tinyops.tasks.datasets import KWS_WORDS
from tinyops.tasks.wav import write_wav

RATE_HZ = 16000
UNKNOWN_WORDS = ("bed", "cat")


def _tone_clip(rng: np.random.Generator, freqs: tuple[float, ...], seconds: float = 1.0,
               noise: float = 0.05) -> np.ndarray:
    t = np.arange(int(RATE_HZ * seconds)) / RATE_HZ
    onset = rng.uniform(0.05, 0.35) * seconds
    length = rng.uniform(0.4, 0.55) * seconds
    envelope = ((t >= onset) & (t < onset + length)).astype(np.float64)
    signal = sum(np.sin(2 * np.pi * f * (1 + rng.normal(0, 0.01)) * t) for f in freqs)
    return rng.uniform(0.3, 0.8) * envelope * signal / len(freqs) + rng.normal(0, noise, t.size)


def write_kws_tree(root: str | Path, per_class: int = 12, seed: int = 0) -> Path:
    """Speech Commands v2 layout; a fifth of each word's clips in each held-out list."""
    folder = Path(root)
    rng = np.random.default_rng(seed)
    validation, testing = [], []
    words = list(KWS_WORDS) + list(UNKNOWN_WORDS)
    for index, word in enumerate(words):
        (folder / word).mkdir(parents=True, exist_ok=True)
        freqs = (300.0 + 170.0 * index, 900.0 + 230.0 * index)
        for clip in range(per_class):
            name = f"{word}/{clip:04x}_nohash_0.wav"
            write_wav(folder / name, _tone_clip(rng, freqs))
            position = clip % 5
            if position == 3:
                validation.append(name)
            elif position == 4:
                testing.append(name)
    (folder / "_background_noise_").mkdir(exist_ok=True)
    write_wav(folder / "_background_noise_" / "white_noise.wav", rng.normal(0, 0.3, RATE_HZ * 3).clip(-1, 1))
    (folder / "validation_list.txt").write_text("\n".join(validation) + "\n")
    (folder / "testing_list.txt").write_text("\n".join(testing) + "\n")
    return folder


def write_vww_tree(root: str | Path, per_class: int = 20, size: int = 32, seed: int = 0) -> Path:
    from PIL import Image

    folder = Path(root)
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size]
    for label in ("person", "non_person"):
        (folder / label).mkdir(parents=True, exist_ok=True)
        for index in range(per_class):
            image = rng.uniform(0, 120, (size, size, 3)) + rng.uniform(0, 60, 3)
            if label == "person":
                cy, cx = rng.uniform(0.3, 0.7) * size, rng.uniform(0.25, 0.75) * size
                inside = ((yy - cy) / (0.3 * size)) ** 2 + ((xx - cx) / (0.12 * size)) ** 2 <= 1.0
                image[inside] = rng.uniform(200, 255, 3)
            Image.fromarray(image.clip(0, 255).astype(np.uint8)).save(folder / label / f"{index:04d}.png")
    return folder


def write_ad_tree(root: str | Path, machine_ids: int = 2, train_per_id: int = 6, test_per_id: int = 3,
                  seconds: float = 10.0, seed: int = 0) -> Path:
    """DCASE 2020 Task 2 layout under root/ToyCar: normal train clips, normal + anomaly test clips."""
    folder = Path(root) / "ToyCar"
    rng = np.random.default_rng(seed)
    for split in ("train", "test"):
        (folder / split).mkdir(parents=True, exist_ok=True)
    t = np.arange(int(RATE_HZ * seconds)) / RATE_HZ

    def clip(machine: int, anomalous: bool) -> np.ndarray:
        base = 400.0 + 700.0 * machine
        wobble = 1.0 + 0.02 * np.sin(2 * np.pi * rng.uniform(0.2, 0.5) * t)
        signal = 0.3 * np.sin(2 * np.pi * base * wobble * t) + 0.15 * np.sin(2 * np.pi * 2 * base * t)
        if anomalous:
            signal += 0.12 * np.sin(2 * np.pi * 3.5 * base * t)
        return signal + rng.normal(0, 0.03, t.size)

    count = 0
    for machine in range(machine_ids):
        for _ in range(train_per_id):
            write_wav(folder / "train" / f"normal_id_{machine:02d}_{count:08d}.wav", clip(machine, False))
            count += 1
        for kind in ("normal", "anomaly"):
            for _ in range(test_per_id):
                write_wav(folder / "test" / f"{kind}_id_{machine:02d}_{count:08d}.wav", clip(machine, kind == "anomaly"))
                count += 1
    return Path(root)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tinyops.tasks.synthetic", description=__doc__.splitlines()[0])
    parser.add_argument("task", choices=("kws", "vww", "ad"))
    parser.add_argument("folder")
    parser.add_argument("--per-class", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.task == "kws":
        write_kws_tree(args.folder, args.per_class or 12, args.seed)
    elif args.task == "vww":
        write_vww_tree(args.folder, args.per_class or 20, seed=args.seed)
    else:
        write_ad_tree(args.folder, train_per_id=args.per_class or 6, seed=args.seed)
    print(args.folder)
    return 0


if __name__ == "__main__":
    sys.exit(main())
