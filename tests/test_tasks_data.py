"""Loaders on tiny folder trees the tests write (real .wav and .png files), and the task metrics."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tinyops.errors import TinyOpsError
from tinyops.tasks import synthetic
from tinyops.tasks.datasets import KWS_LABELS, SILENCE, UNKNOWN, AnomalyClips, find_ad_clips, open_split
from tinyops.tasks.features import get_preset
from tinyops.tasks.metrics import accuracy, confusion_matrix, roc_auc, scores_per_machine
from tinyops.tasks.wav import write_wav


@pytest.fixture(scope="module")
def kws_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return synthetic.write_kws_tree(tmp_path_factory.mktemp("kws"), per_class=5)


def test_speech_commands_splits_and_labels(kws_tree: Path) -> None:
    train = open_split("kws", kws_tree, "train", augment=True)
    validation = open_split("kws", kws_tree, "validation")
    test = open_split("kws", kws_tree, "test")
    assert len(KWS_LABELS) == 12 and KWS_LABELS[SILENCE] == "silence" and KWS_LABELS[UNKNOWN] == "unknown"
    # 5 clips per word: 3 train, 1 validation, 1 test; unknown and silence about 10% each.
    labels = [label for _, label in train.items]  # type: ignore[union-attr]
    assert labels.count(0) == 3 and labels.count(SILENCE) == 4 and labels.count(UNKNOWN) == 4
    assert len(validation) == len(test) == 10 + 1 + 1
    train_paths = {p for p, _ in train.items if p is not None}  # type: ignore[union-attr]
    assert not train_paths & {p for p, _ in validation.items}  # type: ignore[union-attr]
    features, label = train[0]
    assert features.shape == (1, 49, 10) and features.dtype == np.float32 and int(label) == 0


def test_background_noise_augmentation_is_seeded(kws_tree: Path) -> None:
    train = open_split("kws", kws_tree, "train", augment=True)
    silence = [i for i, (_, label) in enumerate(train.items) if label == SILENCE][0]  # type: ignore[union-attr]
    clean = open_split("kws", kws_tree, "train")[silence][0]
    draws = []
    for _ in range(2):
        train.reseed(3)
        draws.append(np.stack([train[silence][0] for _ in range(5)]))
    np.testing.assert_array_equal(draws[0], draws[1])
    assert any(np.abs(d - clean).max() > 1.0 for d in draws[0])  # noise was added to some draws


def test_time_shift_moves_the_clip(kws_tree: Path) -> None:
    from tinyops.tasks.datasets import KwsAugmentation, SpeechCommands

    plain = open_split("kws", kws_tree, "train")
    assert isinstance(plain, SpeechCommands)
    shifted = SpeechCommands(kws_tree, "train", plain.preset, KwsAugmentation(background_probability=0.0,
                                                                              time_shift_ms=100.0))
    clip = plain.clip(0)
    moved = shifted._augment(clip.copy(), shifted.augmentation)  # type: ignore[arg-type]
    offsets = [k for k in range(-1600, 1601) if np.allclose(np.roll(clip, k)[1600:-1600], moved[1600:-1600])]
    assert offsets and abs(offsets[0]) <= 1600


def test_24_bit_wav_is_one_line(tmp_path: Path) -> None:
    import wave

    from tinyops.tasks.wav import read_wav

    path = tmp_path / "deep.wav"
    with wave.open(str(path), "wb") as stream:
        stream.setnchannels(1)
        stream.setsampwidth(3)
        stream.setframerate(16000)
        stream.writeframes(b"\0" * 300)
    with pytest.raises(TinyOpsError, match="24-bit samples are not supported"):
        read_wav(path)


def test_kws_layout_errors(tmp_path: Path) -> None:
    (tmp_path / "yes").mkdir()
    with pytest.raises(TinyOpsError, match="validation_list.txt"):
        open_split("kws", tmp_path, "train")
    tree = synthetic.write_kws_tree(tmp_path / "tree", per_class=1)
    write_wav(tree / "down" / "0000_nohash_0.wav", np.zeros(8000), rate_hz=8000)
    with pytest.raises(TinyOpsError, match="8000 Hz; resample to 16000"):
        open_split("kws", tree, "train")[0]


def test_vww_folders(tmp_path: Path) -> None:
    tree = synthetic.write_vww_tree(tmp_path, per_class=10, size=40)
    train = open_split("vww", tree, "train", input_shape=(3, 32, 32), augment=True)
    validation = open_split("vww", tree, "validation", input_shape=(1, 24, 24))
    assert len(train) == 18 and len(validation) == 2
    image, label = validation[0]
    assert image.shape == (1, 24, 24) and 0.0 <= image.min() and image.max() <= 1.0 and int(label) in (0, 1)
    assert train[0][0].shape == (3, 32, 32)
    (tmp_path / "non_person").rename(tmp_path / "other")
    with pytest.raises(TinyOpsError, match="person/\\*.png"):
        open_split("vww", tree, "train")


def test_dcase_and_mimii_layouts(tmp_path: Path) -> None:
    root = synthetic.write_ad_tree(tmp_path / "dcase", machine_ids=2, train_per_id=1, test_per_id=1, seconds=3.0)
    test = find_ad_clips(root, "test")
    assert [(c.machine_id, c.anomalous) for c in test] == [("id_00", True), ("id_01", True), ("id_00", False),
                                                           ("id_01", False)]
    clips = AnomalyClips(root, "train", get_preset("micronets-ad"), target="machine_id")  # type: ignore[arg-type]
    assert clips.machine_ids == ["id_00", "id_01"] and clips[0][0].shape == (1, 32, 32)
    mimii = tmp_path / "mimii"
    for kind, count in (("normal", 4), ("abnormal", 1)):
        (mimii / "id_02" / kind).mkdir(parents=True)
        for index in range(count):
            write_wav(mimii / "id_02" / kind / f"{index:08d}.wav", np.zeros(32000))
    assert len(find_ad_clips(mimii, "train")) == 3
    assert [c.anomalous for c in find_ad_clips(mimii, "test")] == [False, True]
    with pytest.raises(TinyOpsError, match="DCASE 2020 Task 2 layout"):
        find_ad_clips(tmp_path / "mimii" / "id_02", "train")
    (root / "ToyCar" / "test" / "oops.wav").write_bytes(b"")
    with pytest.raises(TinyOpsError, match="normal\\|anomaly"):
        find_ad_clips(root, "test")


def test_auc_and_pauc_match_scikit_learn() -> None:
    rng = np.random.default_rng(7)
    labels = rng.integers(0, 2, 200)
    scores = np.round(rng.normal(0, 1, 200) + 0.8 * labels, 1)  # ties on purpose
    # scikit-learn 1.9.1: roc_auc_score(labels, scores) and roc_auc_score(..., max_fpr=0.1)
    assert roc_auc(labels, scores) == pytest.approx(0.7235087719298245, abs=1e-12)
    assert roc_auc(labels, scores, 0.1) == pytest.approx(0.5888075451787363, abs=1e-12)
    per_machine = scores_per_machine(["a"] * 100 + ["b"] * 100, labels, scores)
    assert [m.machine_id for m in per_machine] == ["a", "b"]
    assert roc_auc(np.array([0, 0, 1, 1]), np.array([0.1, 0.2, 0.8, 0.9])) == 1.0
    with pytest.raises(TinyOpsError, match="both normal and anomalous"):
        roc_auc(np.zeros(3), np.ones(3))


def test_accuracy_and_confusion() -> None:
    assert accuracy(np.array([0, 1, 1]), np.array([0, 1, 0])) == pytest.approx(2 / 3)
    assert confusion_matrix(np.array([0, 1, 1]), np.array([0, 1, 0]), 2).tolist() == [[1, 0], [1, 1]]
