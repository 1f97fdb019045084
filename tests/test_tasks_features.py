"""Feature presets against golden arrays (TensorFlow 2.21 tf.signal, librosa) and CMSIS-DSP's MFCC."""

from __future__ import annotations

from pathlib import Path

import cmsisdsp as dsp
import numpy as np
import pytest
import torch

from tinyops.errors import TinyOpsError
from tinyops.tasks import features as F

GOLDEN = np.load(Path(__file__).parent / "data" / "tasks" / "feature_golden.npz")
# Input quantization of the MLPerf Tiny KWS int8 reference model (scale, zero point).
KWS_INPUT_SCALE, KWS_INPUT_ZERO_POINT = 0.5847029089927673, 83


def _codes(values: np.ndarray) -> np.ndarray:
    return np.clip(np.round(values / KWS_INPUT_SCALE) + KWS_INPUT_ZERO_POINT, -128, 127)


@pytest.mark.parametrize("preset,key", [("mlperf-kws", "mlperf_kws"), ("micronets-kws", "micronets_kws")])
def test_mfcc_presets_match_tensorflow(preset: str, key: str) -> None:
    ours = np.stack([F.mfcc(clip / 32768.0, preset) for clip in GOLDEN["kws_audio"]])
    assert ours.shape == GOLDEN[key].shape == (2, 49, 10)
    assert np.abs(ours - GOLDEN[key]).max() < 1e-4
    assert np.array_equal(_codes(ours), _codes(GOLDEN[key]))  # not one int8 input code differs


def test_the_two_kws_presets_differ() -> None:
    assert np.abs(GOLDEN["mlperf_kws"] - GOLDEN["micronets_kws"]).max() > 1.0


def test_log_mel_matches_librosa() -> None:
    ours = np.stack([F.log_mel_spectrogram(clip / 32768.0, "mlperf-ad") for clip in GOLDEN["ad_audio"]])
    assert ours.shape == GOLDEN["mlperf_ad_log_mel"].shape
    assert np.abs(ours - GOLDEN["mlperf_ad_log_mel"]).max() < 1e-4  # dB


def test_mfcc_matches_cmsis_dsp_arm_mfcc_f32() -> None:
    """The MCU routine, fed the preset's window, mel and DCT matrices, gives the same coefficients."""
    preset = F.get_preset("mlperf-kws")
    assert isinstance(preset, F.MfccPreset)
    mel, dct = F.htk_mel_matrix(preset), F.dct_matrix(40, 10)
    starts, lengths, coefs = [], [], []
    for column in mel.T:
        nonzero = np.nonzero(column)[0]
        starts.append(nonzero[0])
        lengths.append(nonzero[-1] + 1 - nonzero[0])
        coefs.extend(column[nonzero[0]:nonzero[-1] + 1])
    window = np.zeros(preset.fft_length, np.float32)
    window[:preset.window_samples] = F.periodic_hann(preset.window_samples)  # 480 taps in a 512 frame
    instance = dsp.arm_mfcc_instance_f32()
    status = dsp.arm_mfcc_init_f32(instance, preset.fft_length, 40, 10, dct.T.reshape(-1).astype(np.float32),
                                   np.array(starts, np.uint32), np.array(lengths, np.uint32),
                                   np.array(coefs, np.float32), window)
    assert status == 0
    clip = F.normalise(GOLDEN["kws_audio"][0] / 32768.0)
    scratch = np.zeros(preset.fft_length + 2, np.float32)
    frames = []
    for index in range(preset.num_frames):
        frame = np.zeros(preset.fft_length, np.float32)
        piece = clip[index * preset.hop_samples:index * preset.hop_samples + preset.fft_length]
        frame[:piece.size] = piece
        frames.append(dsp.arm_mfcc_f32(instance, frame, scratch))
    ours = F.mfcc(clip, preset, normalised=True)
    assert np.abs(np.array(frames) - ours).max() < 1e-3
    assert np.array_equal(_codes(np.array(frames)), _codes(ours))


def test_clip_is_normalised_by_its_maximum() -> None:
    clip = GOLDEN["kws_audio"][1] / 32768.0
    np.testing.assert_allclose(F.mfcc(clip * 0.25), F.mfcc(clip), atol=1e-4)
    assert np.abs(F.mfcc(clip * 0.25, normalised=True) - F.mfcc(clip)).max() > 1.0
    assert np.array_equal(F.normalise(np.zeros(10)), np.zeros(10))  # digital silence is left alone


def test_torch_batches_equal_numpy() -> None:
    clips = GOLDEN["kws_audio"] / 32768.0
    for preset in ("mlperf-kws", "micronets-kws"):
        batched = F.mfcc_torch(torch.from_numpy(clips), preset).numpy()
        np.testing.assert_allclose(batched, np.stack([F.mfcc(c, preset) for c in clips]), atol=1e-5)
    ad = GOLDEN["ad_audio"] / 32768.0
    np.testing.assert_allclose(F.log_mel_torch(torch.from_numpy(ad)).numpy(),
                               np.stack([F.log_mel_spectrogram(c) for c in ad]), atol=1e-4)


def test_ad_stacking_shapes() -> None:
    ten_seconds = np.sin(np.arange(160000) * 0.05) * 0.5
    vectors = F.log_mel_vectors(ten_seconds, "mlperf-ad")
    assert vectors.shape == (196, 640)
    spectrogram = F.log_mel_spectrogram(ten_seconds)
    np.testing.assert_array_equal(vectors[3].reshape(5, 128), spectrogram[53:58])
    images = F.log_mel_vectors(ten_seconds, "micronets-ad")
    assert images.shape == (13, 32, 32)
    with pytest.raises(TinyOpsError, match="fewer than"):
        F.log_mel_vectors(ten_seconds[:16000], "mlperf-ad")


def test_bilinear_resize_of_a_ramp_is_a_ramp() -> None:
    ramp = np.tile(np.arange(64, dtype=np.float64), (64, 1))
    small = F.bilinear_resize(ramp, (32, 32))
    np.testing.assert_allclose(small[0], np.arange(32) * 2 + 0.5)


def test_unknown_preset_is_one_line() -> None:
    with pytest.raises(TinyOpsError, match="mlperf-kws"):
        F.get_preset("hello-edge")
