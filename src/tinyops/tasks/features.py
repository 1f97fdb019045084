"""Audio front ends of the TinyMLPerf tasks, as named presets, in NumPy and (batched) in torch.

Each preset reproduces one published pipeline; a model trained on one preset is wrong on the
other, so the preset name is stored with every model ``tinyops train`` writes.

- ``mlperf-kws``: MLPerf Tiny KWS (``tf.signal``): 30 ms periodic-Hann window, 20 ms stride,
  512-point FFT, magnitude, 40 HTK mel bins 20-4000 Hz, ``log(mel + 1e-6)``, DCT-II (scaled as
  ``tf.signal.mfccs_from_log_mel_spectrograms``), 10 coefficients: 49 x 10 for 1 s at 16 kHz. The
  wav is normalised by the clip's maximum (``x / max(x)``), as the reference reads it.
- ``micronets-kws``: the Hello Edge / MicroNets window: 40 ms, 20 ms stride, 1024-point FFT, the
  same mel/log/DCT stages: also 49 x 10.
- ``mlperf-ad``: the DCASE 2020 Task 2 baseline used by MLPerf Tiny AD: STFT 1024 / hop 512 with
  centred (reflect) padding, power 2, 128 Slaney mel bins with area normalisation,
  ``10 log10(mel + eps)``, frames 50:250, 5 consecutive frames stacked: (196, 640) per 10 s clip.
- ``micronets-ad``: MicroNets AD: 64 mels, 64 ms window, 32 ms hop, 64-frame images every 20
  frames, bilinear down-sampling to 32 x 32.

Matrices (window, mel filters, DCT basis) are computed once per preset from their definitions and
shared by the NumPy and torch paths.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Literal

import numpy as np

from tinyops.errors import TinyOpsError

if TYPE_CHECKING:  # pragma: no cover - typing only
    import torch

MelScale = Literal["htk", "slaney"]
Normalisation = Literal["max", "none"]


@dataclass(frozen=True)
class MfccPreset:
    """An MFCC front end (keyword spotting); frames x coefficients per clip."""

    name: str
    window_samples: int
    hop_samples: int
    fft_length: int
    sample_rate_hz: int = 16000
    clip_samples: int = 16000  # shorter clips are zero-padded, longer ones cut
    num_mel_bins: int = 40
    lower_edge_hz: float = 20.0
    upper_edge_hz: float = 4000.0
    num_coefficients: int = 10
    log_offset: float = 1e-6
    normalisation: Normalisation = "max"

    @property
    def num_frames(self) -> int:
        return 1 + (self.clip_samples - self.window_samples) // self.hop_samples

    @property
    def shape(self) -> tuple[int, int]:
        return (self.num_frames, self.num_coefficients)


@dataclass(frozen=True)
class LogMelPreset:
    """A log-mel front end (anomaly detection); a clip gives many model inputs (vectors or images)."""

    name: str
    fft_length: int
    hop_samples: int
    num_mel_bins: int
    sample_rate_hz: int = 16000
    power: float = 2.0
    first_frame: int = 0  # crop of the log-mel frames before stacking
    last_frame: int | None = None
    stack_frames: int = 5  # consecutive frames per model input
    stack_hop: int = 1  # frames between successive model inputs
    image_size: tuple[int, int] | None = None  # bilinear resize of each stacked block (MicroNets AD)
    log_floor: float = sys.float_info.epsilon

    @property
    def shape(self) -> tuple[int, int]:
        """One model input: (frames, mel bins), or the resized image."""
        return self.image_size if self.image_size is not None else (self.stack_frames, self.num_mel_bins)


FeaturePreset = MfccPreset | LogMelPreset

MLPERF_KWS = MfccPreset("mlperf-kws", window_samples=480, hop_samples=320, fft_length=512)
PRESETS: dict[str, FeaturePreset] = {p.name: p for p in (
    MLPERF_KWS,
    MfccPreset("micronets-kws", window_samples=640, hop_samples=320, fft_length=1024),
    LogMelPreset("mlperf-ad", fft_length=1024, hop_samples=512, num_mel_bins=128, first_frame=50, last_frame=250),
    LogMelPreset("micronets-ad", fft_length=1024, hop_samples=512, num_mel_bins=64, stack_frames=64, stack_hop=20,
                 image_size=(32, 32)),
)}


def get_preset(name: str) -> FeaturePreset:
    preset = PRESETS.get(name)
    if preset is None:
        raise TinyOpsError(f"unknown feature preset {name!r}; choose one of: {', '.join(PRESETS)}")
    return preset


# ------------------------------------------------------------------------------------------ matrices
def periodic_hann(length: int) -> np.ndarray:
    return 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(length) / length)


def _hz_to_mel_htk(hz: np.ndarray | float) -> np.ndarray:
    return 1127.0 * np.log1p(np.asarray(hz, dtype=np.float64) / 700.0)


def htk_mel_matrix(preset: MfccPreset) -> np.ndarray:
    """(fft_length // 2 + 1, mel bins): tf.signal's triangles on the HTK mel scale, DC bin zeroed."""
    bins = preset.fft_length // 2 + 1
    bin_mel = _hz_to_mel_htk(np.linspace(0.0, preset.sample_rate_hz / 2.0, bins))
    edges = np.linspace(_hz_to_mel_htk(preset.lower_edge_hz), _hz_to_mel_htk(preset.upper_edge_hz),
                        preset.num_mel_bins + 2)
    lower, center, upper = edges[:-2], edges[1:-1], edges[2:]
    rising = (bin_mel[:, None] - lower) / (center - lower)
    falling = (upper - bin_mel[:, None]) / (upper - center)
    weights = np.maximum(0.0, np.minimum(rising, falling))
    weights[0, :] = 0.0  # tf.signal drops the DC bin
    return weights


def _slaney_hz_to_mel(hz: np.ndarray) -> np.ndarray:
    """Slaney's scale: linear below 1 kHz (200/3 Hz per mel), logarithmic above."""
    hz = np.asarray(hz, dtype=np.float64)
    linear = hz / (200.0 / 3.0)
    knee_mel, log_step = 1000.0 / (200.0 / 3.0), np.log(6.4) / 27.0
    return np.where(hz >= 1000.0, knee_mel + np.log(np.maximum(hz, 1e-10) / 1000.0) / log_step, linear)


def _slaney_mel_to_hz(mel: np.ndarray) -> np.ndarray:
    mel = np.asarray(mel, dtype=np.float64)
    knee_mel, log_step = 1000.0 / (200.0 / 3.0), np.log(6.4) / 27.0
    return np.where(mel >= knee_mel, 1000.0 * np.exp(log_step * (mel - knee_mel)), mel * (200.0 / 3.0))


def slaney_mel_matrix(preset: LogMelPreset) -> np.ndarray:
    """(fft_length // 2 + 1, mel bins): triangles in Hz on the Slaney scale, area-normalised."""
    fft_hz = np.linspace(0.0, preset.sample_rate_hz / 2.0, preset.fft_length // 2 + 1)
    mel_points = np.linspace(_slaney_hz_to_mel(np.array(0.0)), _slaney_hz_to_mel(np.array(preset.sample_rate_hz / 2.0)),
                             preset.num_mel_bins + 2)
    hz_points = _slaney_mel_to_hz(mel_points)
    widths = np.diff(hz_points)
    offsets = hz_points[:, None] - fft_hz[None, :]
    rising = -offsets[:-2] / widths[:-1, None]
    falling = offsets[2:] / widths[1:, None]
    weights = np.maximum(0.0, np.minimum(rising, falling))
    weights *= (2.0 / (hz_points[2:] - hz_points[:-2]))[:, None]
    return weights.T


def dct_matrix(num_mel_bins: int, num_coefficients: int) -> np.ndarray:
    """(mel bins, coefficients): unnormalised DCT-II scaled by 1/sqrt(2 N), as tf.signal's MFCC."""
    k = np.arange(num_coefficients)[None, :]
    n = np.arange(num_mel_bins)[:, None]
    return 2.0 * np.cos(np.pi * k * (2 * n + 1) / (2 * num_mel_bins)) / np.sqrt(2.0 * num_mel_bins)


@lru_cache(maxsize=None)
def _mfcc_matrices(preset: MfccPreset) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return periodic_hann(preset.window_samples), htk_mel_matrix(preset), dct_matrix(preset.num_mel_bins,
                                                                                    preset.num_coefficients)


@lru_cache(maxsize=None)
def _log_mel_matrices(preset: LogMelPreset) -> tuple[np.ndarray, np.ndarray]:
    return periodic_hann(preset.fft_length), slaney_mel_matrix(preset)


# ------------------------------------------------------------------------------------------ NumPy
def normalise(audio: np.ndarray, how: Normalisation = "max") -> np.ndarray:
    """MLPerf KWS reads a clip as ``x / max(x)`` (the maximum, not max |x| nor 32768). A clip whose
    maximum is not positive (digital silence) is left as it is rather than divided by zero."""
    samples = np.asarray(audio, dtype=np.float64)
    if how == "none" or samples.size == 0:
        return samples
    peak = float(samples.max())
    return samples / peak if peak > 0.0 else samples


def fit_clip(audio: np.ndarray, samples: int) -> np.ndarray:
    """Zero-pad or cut to ``samples`` (leading axes are a batch)."""
    audio = np.asarray(audio, dtype=np.float64)
    if audio.shape[-1] >= samples:
        return audio[..., :samples]
    return np.pad(audio, [(0, 0)] * (audio.ndim - 1) + [(0, samples - audio.shape[-1])])


def mfcc(audio: np.ndarray, preset: MfccPreset | str = "mlperf-kws", normalised: bool = False) -> np.ndarray:
    """(frames, coefficients) MFCCs of one clip; ``normalised``: the clip is already x / max(x)."""
    config = get_preset(preset) if isinstance(preset, str) else preset
    if not isinstance(config, MfccPreset):
        raise TinyOpsError(f"{config.name} is a log-mel preset; use log_mel_vectors")
    clip = np.asarray(audio, np.float64).reshape(-1)
    if not normalised:
        clip = normalise(clip, config.normalisation)
    clip = fit_clip(clip, config.clip_samples)
    window, mel, dct = _mfcc_matrices(config)
    starts = np.arange(config.num_frames) * config.hop_samples
    frames = clip[starts[:, None] + np.arange(config.window_samples)[None, :]] * window
    magnitude = np.abs(np.fft.rfft(frames, n=config.fft_length, axis=1))
    log_mel = np.log(magnitude @ mel + config.log_offset)
    return (log_mel @ dct).astype(np.float32)


def log_mel_spectrogram(audio: np.ndarray, preset: LogMelPreset | str = "mlperf-ad") -> np.ndarray:
    """(frames, mel bins) of 10 log10(mel power + eps): centred frames with reflect padding (librosa 0.6)."""
    config = get_preset(preset) if isinstance(preset, str) else preset
    if not isinstance(config, LogMelPreset):
        raise TinyOpsError(f"{config.name} is an MFCC preset; use mfcc")
    clip = np.asarray(audio, np.float64).reshape(-1)
    half = config.fft_length // 2
    if clip.size <= half:
        raise TinyOpsError(f"clip of {clip.size} samples is shorter than half an FFT ({half}); too short for "
                           f"{config.name}")
    padded = np.pad(clip, (half, half), mode="reflect")
    count = 1 + (padded.size - config.fft_length) // config.hop_samples
    window, mel = _log_mel_matrices(config)
    index = (np.arange(count) * config.hop_samples)[:, None] + np.arange(config.fft_length)[None, :]
    spectrum = np.abs(np.fft.rfft(padded[index] * window, axis=1)) ** config.power
    return (10.0 / (config.power / 2.0) * np.log10(spectrum @ mel + config.log_floor)).astype(np.float32)


def stack_frames(log_mel: np.ndarray, preset: LogMelPreset) -> np.ndarray:
    """Model inputs of one clip: (count, stack_frames * mel bins) vectors, or (count, H, W) images."""
    frames = log_mel[preset.first_frame:preset.last_frame]
    count = 1 + (frames.shape[0] - preset.stack_frames) // preset.stack_hop
    if count < 1:
        raise TinyOpsError(f"clip gives {frames.shape[0]} frames, fewer than the {preset.stack_frames} "
                           f"{preset.name} stacks; use longer clips")
    starts = np.arange(count) * preset.stack_hop
    blocks = frames[starts[:, None] + np.arange(preset.stack_frames)[None, :]]  # (count, frames, mels)
    if preset.image_size is None:
        return blocks.reshape(count, -1).astype(np.float32)
    return np.stack([bilinear_resize(b, preset.image_size) for b in blocks]).astype(np.float32)


def bilinear_resize(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Bilinear resize with half-pixel centres (tf.image.resize / PIL BILINEAR without antialias)."""
    out_h, out_w = size
    in_h, in_w = image.shape

    def axis(out: int, inp: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        pos = np.clip((np.arange(out) + 0.5) * inp / out - 0.5, 0.0, inp - 1)
        low = np.floor(pos).astype(np.int64)
        high = np.minimum(low + 1, inp - 1)
        return low, high, pos - low

    r0, r1, fr = axis(out_h, in_h)
    c0, c1, fc = axis(out_w, in_w)
    rows = image[r0] * (1.0 - fr)[:, None] + image[r1] * fr[:, None]
    return rows[:, c0] * (1.0 - fc)[None, :] + rows[:, c1] * fc[None, :]


def log_mel_vectors(audio: np.ndarray, preset: LogMelPreset | str = "mlperf-ad") -> np.ndarray:
    """All model inputs of one clip for an AD preset."""
    config = get_preset(preset) if isinstance(preset, str) else preset
    assert isinstance(config, LogMelPreset)
    return stack_frames(log_mel_spectrogram(audio, config), config)


def features(audio: np.ndarray, preset: FeaturePreset | str) -> np.ndarray:
    """One clip through a preset: (frames, coefficients) for KWS, a stack of inputs for AD."""
    config = get_preset(preset) if isinstance(preset, str) else preset
    return mfcc(audio, config) if isinstance(config, MfccPreset) else log_mel_vectors(audio, config)


# ------------------------------------------------------------------------------------------ torch
def mfcc_torch(audio: "torch.Tensor", preset: MfccPreset | str = "mlperf-kws", normalised: bool = False
               ) -> "torch.Tensor":
    """Batched MFCCs: (batch, samples) float -> (batch, frames, coefficients), in float64 internally
    so the result equals ``mfcc`` to float32 rounding; differentiable (for augmentation in the loop)."""
    import torch

    config = get_preset(preset) if isinstance(preset, str) else preset
    assert isinstance(config, MfccPreset)
    window, mel, dct = (torch.from_numpy(m) for m in _mfcc_matrices(config))
    x = audio.to(torch.float64)
    if not normalised and config.normalisation == "max":
        peak = x.max(dim=1, keepdim=True).values
        x = torch.where(peak > 0, x / torch.where(peak > 0, peak, torch.ones_like(peak)), x)
    if x.shape[1] < config.clip_samples:
        x = torch.nn.functional.pad(x, (0, config.clip_samples - x.shape[1]))
    x = x[:, :config.clip_samples]
    frames = x.unfold(1, config.window_samples, config.hop_samples)[:, :config.num_frames] * window
    magnitude = torch.fft.rfft(frames, n=config.fft_length, dim=-1).abs()
    return (torch.log(magnitude @ mel + config.log_offset) @ dct).to(torch.float32)


def log_mel_torch(audio: "torch.Tensor", preset: LogMelPreset | str = "mlperf-ad") -> "torch.Tensor":
    """Batched log-mel spectrogram: (batch, samples) -> (batch, frames, mel bins)."""
    import torch

    config = get_preset(preset) if isinstance(preset, str) else preset
    assert isinstance(config, LogMelPreset)
    window, mel = (torch.from_numpy(m) for m in _log_mel_matrices(config))
    half = config.fft_length // 2
    x = torch.nn.functional.pad(audio.to(torch.float64)[:, None, :], (half, half), mode="reflect")[:, 0]
    frames = x.unfold(1, config.fft_length, config.hop_samples) * window
    spectrum = torch.fft.rfft(frames, dim=-1).abs() ** config.power
    return (10.0 / (config.power / 2.0) * torch.log10(spectrum @ mel + config.log_floor)).to(torch.float32)
