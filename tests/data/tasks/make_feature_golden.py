"""Generate tests/data/tasks/feature_golden.npz with the reference libraries (run once, by hand).

Needs TensorFlow and librosa, which tinyops does not depend on:
    python -m venv /tmp/tfvenv && /tmp/tfvenv/bin/pip install tensorflow-cpu librosa
    /tmp/tfvenv/bin/python tests/data/tasks/make_feature_golden.py

KWS: the MLPerf Tiny ``tf.signal`` pipeline (stft, abs, linear_to_mel_weight_matrix(40, bins,
16000, 20, 4000), log(x + 1e-6), mfccs_from_log_mel_spectrograms, first 10) on clips normalised
as x / max(x); once with the MLPerf window (480/320/512) and once with the MicroNets / Hello Edge
window (640/320/1024). AD: librosa.feature.melspectrogram (1024/512/128 mels, power 2, Slaney,
centre with reflect padding as librosa 0.6 did) then 10 log10(x + eps), as the DCASE baseline.
"""

import sys
from pathlib import Path

import librosa
import numpy as np
import tensorflow as tf


def clips(seconds: float, count: int) -> np.ndarray:
    """Deterministic int16 test clips: tones, a chirp and seeded noise at different levels."""
    rng = np.random.default_rng(1234)
    t = np.arange(int(16000 * seconds)) / 16000.0
    out = []
    for i in range(count):
        tone = 0.3 * np.sin(2 * np.pi * (300 + 250 * i) * t) + 0.2 * np.sin(2 * np.pi * (200 + 1800 * t / seconds) * t)
        noise = rng.normal(0.0, 0.02 * (i + 1), t.size)
        envelope = np.clip(np.sin(np.pi * t / seconds) * 2, 0, 1)
        out.append(np.clip(np.round((tone * envelope + noise) * 12000), -32768, 32767).astype(np.int16))
    return np.stack(out)


def tf_mfcc(audio: np.ndarray, window: int, hop: int, fft: int) -> np.ndarray:
    x = tf.constant(audio.astype(np.float32) / 32768.0)
    x = x / tf.reduce_max(x, axis=1, keepdims=True)
    x = tf.pad(x, [[0, 0], [0, max(0, 16000 - x.shape[1])]])[:, :16000]
    stft = tf.signal.stft(x, frame_length=window, frame_step=hop, fft_length=fft)
    spectrogram = tf.abs(stft)
    matrix = tf.signal.linear_to_mel_weight_matrix(40, stft.shape[-1], 16000, 20.0, 4000.0)
    log_mel = tf.math.log(tf.tensordot(spectrogram, matrix, 1) + 1e-6)
    return tf.signal.mfccs_from_log_mel_spectrograms(log_mel)[..., :10].numpy()


def librosa_log_mel(audio: np.ndarray) -> np.ndarray:
    out = []
    for clip in audio.astype(np.float32) / 32768.0:
        mel = librosa.feature.melspectrogram(y=clip, sr=16000, n_fft=1024, hop_length=512, n_mels=128, power=2.0,
                                             pad_mode="reflect")
        out.append((10.0 * np.log10(mel + sys.float_info.epsilon)).T)
    return np.stack(out)


def main() -> None:
    kws = clips(1.0, 2)
    ad = clips(1.0, 1)
    target = Path(__file__).with_name("feature_golden.npz")
    np.savez_compressed(target, kws_audio=kws, mlperf_kws=tf_mfcc(kws, 480, 320, 512),
                        micronets_kws=tf_mfcc(kws, 640, 320, 1024), ad_audio=ad, mlperf_ad_log_mel=librosa_log_mel(ad),
                        versions=np.array([tf.__version__, librosa.__version__]))
    print(target, target.stat().st_size, "bytes")


if __name__ == "__main__":
    main()
