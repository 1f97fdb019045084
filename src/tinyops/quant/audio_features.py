"""MFCC and log-mel front ends in NumPy, matching the MLPerf Tiny keyword-spotting preprocessing.

The KWS DS-CNN (kws_dscnn_*) was trained on 49 x 10 MFCCs of 1 s of 16 kHz audio computed as:
STFT with a 30 ms (480-sample) periodic Hann window, 20 ms (320-sample) hop, 512-point FFT,
magnitude spectrum; 40 triangular mel filters (HTK mel scale) between 20 Hz and 4 kHz;
log(mel + 1e-6); DCT-II scaled by 1/sqrt(2 * num_mel_bins) (the scaling TensorFlow's
mfccs_from_log_mel_spectrograms documents), keep the first 10 coefficients. The formulas are
implemented here from their definitions; the resulting feature range (coefficient 0 around -120
for near-silence) matches the input quantization of the published int8 model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class MfccConfig:
    sample_rate_hz: int = 16000
    clip_samples: int = 16000  # 1 s clips: shorter ones are zero-padded, longer ones cut
    window_samples: int = 480  # 30 ms
    hop_samples: int = 320  # 20 ms
    fft_length: int = 512
    num_mel_bins: int = 40
    lower_edge_hz: float = 20.0
    upper_edge_hz: float = 4000.0
    num_coefficients: int = 10
    log_offset: float = 1e-6

    @property
    def num_frames(self) -> int:
        return 1 + (self.clip_samples - self.window_samples) // self.hop_samples


KWS_MFCC = MfccConfig()


def _hz_to_mel(hz: np.ndarray | float) -> np.ndarray:
    return 1127.0 * np.log1p(np.asarray(hz, dtype=np.float64) / 700.0)


def mel_filterbank(config: MfccConfig) -> np.ndarray:
    """(fft_length // 2 + 1, num_mel_bins) triangular filters, weights in [0, 1], DC bin unused."""
    bins = config.fft_length // 2 + 1
    bin_mel = _hz_to_mel(np.linspace(0.0, config.sample_rate_hz / 2.0, bins))
    edges = np.linspace(_hz_to_mel(config.lower_edge_hz), _hz_to_mel(config.upper_edge_hz), config.num_mel_bins + 2)
    lower, center, upper = edges[:-2], edges[1:-1], edges[2:]
    rising = (bin_mel[:, None] - lower) / (center - lower)
    falling = (upper - bin_mel[:, None]) / (upper - center)
    weights = np.maximum(0.0, np.minimum(rising, falling))
    weights[0, :] = 0.0  # the DC bin carries no speech information
    return weights.astype(np.float32)


def log_mel_spectrogram(audio: np.ndarray, config: MfccConfig = KWS_MFCC) -> np.ndarray:
    """(num_frames, num_mel_bins) log-mel energies of a mono float clip in [-1, 1]."""
    clip = np.zeros(config.clip_samples, dtype=np.float64)
    samples = np.asarray(audio, dtype=np.float64).reshape(-1)[: config.clip_samples]
    clip[: samples.size] = samples
    window = 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(config.window_samples) / config.window_samples)
    starts = np.arange(config.num_frames) * config.hop_samples
    frames = np.stack([clip[s : s + config.window_samples] for s in starts]) * window
    magnitude = np.abs(np.fft.rfft(frames, n=config.fft_length, axis=1))
    mel = magnitude @ mel_filterbank(config).astype(np.float64)
    return np.log(mel + config.log_offset).astype(np.float32)


def mfcc(audio: np.ndarray, config: MfccConfig = KWS_MFCC) -> np.ndarray:
    """(num_frames, num_coefficients) MFCCs: DCT-II of the log-mel spectrum, first coefficients."""
    log_mel = log_mel_spectrogram(audio, config).astype(np.float64)
    n = config.num_mel_bins
    k = np.arange(config.num_coefficients)[:, None]
    basis = 2.0 * np.cos(np.pi * k * (2 * np.arange(n)[None, :] + 1) / (2 * n))  # unnormalised DCT-II
    return (log_mel @ basis.T / np.sqrt(2.0 * n)).astype(np.float32)
