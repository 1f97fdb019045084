"""Training, QAT, export and evaluation on synthetic data sets written in the real layouts."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from tinyops.analysis.analyze import analyze
from tinyops.backends.tflite_writer import to_tflite_bytes
from tinyops.cli import main
from tinyops.quant.qat import agreement
from tinyops.tasks import synthetic
from tinyops.tasks.architectures import build_arch, published
from tinyops.tasks.datasets import open_split
from tinyops.tasks.evaluate import evaluate, graph_predictor, torch_predictor
from tinyops.tasks.recipes import get_recipe, with_overrides
from tinyops.tasks.train import load_task_data, model_for, train

KWS_RECIPE = with_overrides(get_recipe("mlperf-kws"), epochs=8, batch_size=16, learning_rate=0.01)


@pytest.fixture(scope="module")
def kws_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return synthetic.write_kws_tree(tmp_path_factory.mktemp("kws"), per_class=30)


@pytest.fixture(scope="module")
def small_kws_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return synthetic.write_kws_tree(tmp_path_factory.mktemp("kws_small"), per_class=5)


@pytest.mark.slow
def test_qat_dscnn_trains_exports_and_agrees_with_fake_quant(kws_tree: Path) -> None:
    started = time.perf_counter()
    data = load_task_data("kws", kws_tree, KWS_RECIPE)
    graph = model_for("kws", data, family="dscnn-s", width=0.5)
    result = train("kws", graph, data, KWS_RECIPE, qat=True)
    seconds = time.perf_counter() - started
    test = open_split("kws", kws_tree, "test")
    int8 = evaluate("kws", test, graph_predictor(result.int8_graph), "runtime", data.labels)
    assert int8.accuracy is not None and int8.accuracy >= 0.9, (int8.accuracy, seconds)
    # Agreement of the exported model (tinyops.runtime) with the fake-quant forward. Layer by layer
    # (each op fed the runtime's input codes) it is within one LSB everywhere; end to end, TFLM's
    # double rounding flips a few per mille of each layer's outputs and the flips compound, so the
    # logits are held to 95% within one LSB (measured 97.4-100% over seeds) and top-1 to every input.
    model = result.model
    inputs = np.stack([test[i][0] for i in range(len(test))])
    report = agreement(model, result.int8_graph, inputs)
    assert report.layer_within_one_lsb >= 0.99 and report.layer_exact >= 0.99, report
    assert report.top1_equal == 1.0 and report.end_to_end_within_one_lsb >= 0.95, report
    # LiteRT and TFLM run the exported file and agree with the runtime's accuracy.
    payload = to_tflite_bytes(result.int8_graph)
    for engine in ("litert", "tflm"):
        other = evaluate("kws", test, graph_predictor(result.int8_graph, engine, payload), engine,  # type: ignore[arg-type]
                         data.labels)
        assert other.accuracy == pytest.approx(int8.accuracy, abs=1.5 / len(test))
    if shutil.which("gcc"):  # the generated C, built for this machine, is bit-exact with the runtime
        generated = evaluate("kws", test, graph_predictor(result.int8_graph, "c"), "c", data.labels)
        assert generated.accuracy == int8.accuracy
        assert np.array_equal(graph_predictor(result.int8_graph, "c")(inputs[:4]),
                              graph_predictor(result.int8_graph)(inputs[:4]))
    fake_quant = evaluate("kws", test, torch_predictor(model), "torch", data.labels)
    assert fake_quant.accuracy == pytest.approx(int8.accuracy, abs=1.5 / len(test))


@pytest.mark.slow
@pytest.mark.parametrize("recipe,family,width", [("mlperf-ad", "fc-autoencoder", 0.25),
                                                  ("micronets-ad", "dscnn-s", 0.25)])
def test_anomaly_detection_both_forms(tmp_path_factory: pytest.TempPathFactory, recipe: str, family: str,
                                      width: float) -> None:
    root = tmp_path_factory.getbasetemp() / "ad_tree"
    if not root.exists():
        synthetic.write_ad_tree(root, machine_ids=2, train_per_id=3, test_per_id=2)
    autoencoder = family == "fc-autoencoder"
    chosen = with_overrides(get_recipe(recipe), epochs=3 if autoencoder else 8, batch_size=32 if autoencoder else 8)
    data = load_task_data("ad", root, chosen)
    result = train("ad", model_for("ad", data, family=family, width=width), data, chosen, qat=True)
    scored = evaluate("ad", data.validation, graph_predictor(result.int8_graph), "runtime")
    assert scored.mean_auc is not None and scored.mean_auc >= 0.9, scored.as_dict()
    assert [m.machine_id for m in scored.machines] == ["id_00", "id_01"]


@pytest.mark.slow
def test_training_is_deterministic_and_resumes_after_an_interruption(small_kws_tree: Path, tmp_path: Path) -> None:
    recipe = with_overrides(get_recipe("mlperf-kws"), epochs=3, batch_size=16, learning_rate=0.01)
    data = load_task_data("kws", small_kws_tree, recipe)
    graph = model_for("kws", data, family="dscnn-s", width=0.25)
    straight = train("kws", graph, data, recipe, qat=True)
    again = train("kws", graph, data, recipe, qat=True)
    checkpoint = tmp_path / "run.ckpt"

    def interrupt(epoch: int, epochs: int, batch: int, batches: int) -> None:
        if epoch == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train("kws", graph, data, recipe, qat=True, checkpoint=checkpoint, progress=interrupt)
    resumed = train("kws", graph, data, recipe, qat=True, checkpoint=checkpoint, resume=True)
    for other in (again, resumed):
        for key, value in straight.model.state_dict().items():
            assert torch.equal(value, other.model.state_dict()[key]), key
    assert [h.mode for h in resumed.history] == ["float", "float", "qat"]
    assert to_tflite_bytes(straight.int8_graph) == to_tflite_bytes(resumed.int8_graph)


def test_cli_train_and_eval(small_kws_tree: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    output = tmp_path / "kws.tflite"
    args = ["train", "--task", "kws", "--family", "dscnn-s", "--width", "0.25", "--data", str(small_kws_tree),
            "--epochs", "2", "--batch-size", "16", "--qat", "--output", str(output), "--torch",
            str(tmp_path / "kws.pt"), "--json"]
    assert main(args) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["qat"] and summary["file_bytes"] == output.stat().st_size and summary["feature_preset"] == "mlperf-kws"
    assert (tmp_path / "kws.pt").stat().st_size > 0 and not (tmp_path / "kws.ckpt").exists()
    assert main(["eval", "--task", "kws", str(output), "--data", str(small_kws_tree), "--json"]) == 0
    scored = json.loads(capsys.readouterr().out)
    assert scored["samples"] == 12 and len(scored["confusion"]) == 12 and 0.0 <= scored["accuracy"] <= 1.0
    if shutil.which("gcc"):  # the generated C scores the same samples identically
        assert main(["eval", "--task", "kws", str(output), "--data", str(small_kws_tree), "--engine", "c",
                     "--json"]) == 0
        by_c = json.loads(capsys.readouterr().out)
        assert by_c["engine"] == "c" and by_c["accuracy"] == scored["accuracy"]
        assert by_c["confusion"] == scored["confusion"]
    assert main(["eval", "--task", "kws", str(output), "--data", str(small_kws_tree), "--float",
                 str(tmp_path / "kws.pt"), "--json"]) == 0
    float_score = json.loads(capsys.readouterr().out)["float"]
    assert float_score["engine"] == "torch (float)" and float_score["samples"] == 12
    student = ["train", "--task", "kws", "--family", "dscnn-s", "--width", "0.25", "--data", str(small_kws_tree),
               "--epochs", "1", "--batch-size", "16", "--teacher", str(tmp_path / "kws.pt"), "--output",
               str(tmp_path / "student.tflite"), "--json"]
    assert main(student) == 0 and json.loads(capsys.readouterr().out)["epochs"] == 1
    # Bad input: one line, exit 2, nothing overwritten.
    before = output.read_bytes()
    assert main(args) == 2
    assert main(args[:-1] + ["--force", "--data", str(tmp_path)]) == 2
    bad_arch = tmp_path / "arch.json"
    bad_arch.write_text("{not json")
    assert main(["train", "--task", "kws", "--arch", str(bad_arch), "--data", str(small_kws_tree), "--output",
                 str(tmp_path / "other.tflite")]) == 2
    assert main(["eval", "--task", "vww", str(output), "--data", str(small_kws_tree)]) == 2
    errors = capsys.readouterr().err.strip().splitlines()
    assert len(errors) == 4 and all(line.startswith("tinyops ") for line in errors)
    assert "Speech Commands" in errors[1] and "JSON" in errors[2] and "trained for kws" in errors[3]
    assert output.read_bytes() == before


@pytest.mark.parametrize("name,mops,flash_kb", [("micronet-kws-s", 16.4, 102), ("micronet-kws-m", 30.6, 163),
                                                ("micronet-kws-l", 129, 612), ("micronet-ad-s", 37.5, 253),
                                                ("micronet-ad-m", 124.7, 464)])
def test_micronets_rebuilt_from_published_architectures(name: str, mops: float, flash_kb: float) -> None:
    """MicroNets v6 Table 4: ops (2 x MACs) within 3%, .tflite size within 10%."""
    graph = build_arch(published(name))
    assert 2 * analyze(graph).totals.macs / 1e6 == pytest.approx(mops, rel=0.03)
    assert len(to_tflite_bytes(graph)) / 1000 == pytest.approx(flash_kb, rel=0.10)


def test_four_bit_weights_and_distillation(small_kws_tree: Path) -> None:
    from tinyops.quant.qat import QatConfig

    recipe = with_overrides(get_recipe("mlperf-kws"), epochs=2, batch_size=16, learning_rate=0.01)
    data = load_task_data("kws", small_kws_tree, recipe)
    graph = model_for("kws", data, family="dscnn-s", width=0.25)
    teacher = train("kws", graph, data, recipe).model
    student = train("kws", graph, data, recipe, qat=True, qat_config=QatConfig(weight_bits=4), teacher=teacher)
    weights = [op.inputs[1].data for op in student.int8_graph.main.ops if op.kind in ("CONV_2D", "DEPTHWISE_CONV_2D")]
    assert weights and all(np.abs(w).max() <= 7 for w in weights)  # 4-bit values in int8 tensors
    # The exported 4-bit model still computes what the fake-quant forward computes.
    model = student.model
    inputs = np.stack([data.validation[i][0] for i in range(len(data.validation))])
    with torch.no_grad():
        fake = torch.softmax(model(torch.from_numpy(inputs)), dim=1).numpy()
    ours = graph_predictor(student.int8_graph)(inputs)
    assert np.abs(ours - fake).max() <= 4 / 256  # softmax outputs: a few 1/256 LSBs


def test_vww_pipeline_runs_end_to_end(tmp_path: Path) -> None:
    tree = synthetic.write_vww_tree(tmp_path / "vww", per_class=6, size=24)
    recipe = with_overrides(get_recipe("mlperf-vww"), epochs=1, batch_size=8)
    data = load_task_data("vww", tree, recipe, image_size=24, image_channels=1)
    result = train("vww", model_for("vww", data, family="mobilenetv1", width=0.25), data, recipe, qat=True)
    assert tuple(result.int8_graph.main.inputs[0].shape) == (1, 24, 24, 1)
    scored = evaluate("vww", data.validation, graph_predictor(result.int8_graph), "runtime", data.labels)
    assert scored.samples == 1 and scored.labels == ["non_person", "person"]


def test_resume_from_a_checkpoint_of_another_model_is_one_line(small_kws_tree: Path, tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    checkpoint = tmp_path / "m.ckpt"
    base = ["train", "--task", "kws", "--data", str(small_kws_tree), "--epochs", "1", "--batch-size", "32",
            "--checkpoint", str(checkpoint), "--json"]
    recipe = with_overrides(get_recipe("mlperf-kws"), epochs=1, batch_size=32)
    data = load_task_data("kws", small_kws_tree, recipe)
    train("kws", model_for("kws", data, family="dscnn-s", width=0.25), data, recipe, checkpoint=checkpoint)
    assert checkpoint.exists()
    assert main(base + ["--family", "dscnn-s", "--width", "0.5", "--resume", "--output", str(tmp_path / "m.tflite")]) == 2
    assert "another model" in capsys.readouterr().err


def test_learned_activation_ranges_train_and_export(small_kws_tree: Path) -> None:
    from tinyops.quant.qat import QatConfig

    recipe = with_overrides(get_recipe("mlperf-kws"), epochs=3, batch_size=16, learning_rate=0.01)
    data = load_task_data("kws", small_kws_tree, recipe)
    graph = model_for("kws", data, family="dscnn-s", width=0.25)
    result = train("kws", graph, data, recipe, qat=True, qat_config=QatConfig(ranges="learned"))
    model = result.model
    assert bool(model.learned_ready) and not torch.equal(model.learned.detach(), model.ranges)
    inputs = np.stack([data.validation[i][0] for i in range(len(data.validation))])
    report = agreement(model, result.int8_graph, inputs)
    assert report.layer_within_one_lsb >= 0.99 and report.top1_equal == 1.0, report
