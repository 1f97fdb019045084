"""The `best` planner on the shared models, the verifier, scratch requests and the CLI."""

from __future__ import annotations

import dataclasses
import json
import statistics

import pytest

from conftest import SHARED_MODELS, model_path
from tinyops.cli import main
from tinyops.frontends import load_model
from tinyops.memory import PlanVerificationError, plan_memory, verify_plan
from tinyops.kernels import scratch_requests

INT8_CNNS = ["ic_resnet8_int8", "ic_resnet_large_int8", "kws_dscnn_int8", "vww_mobilenetv1_96_int8",
             "sww_ref_model", "person_detect", "micro_speech_quantized", "mcunet_vww", "mcunet_detection"]
# Vela's own offline plan overlaps buffers its NPU op manages; only TFLM's reproduction honours it.
PLANNABLE = [p for p in SHARED_MODELS if p.stem != "person_detect_vela"]


@pytest.mark.parametrize("path", PLANNABLE, ids=[p.stem for p in PLANNABLE])
def test_best_is_verified_and_never_above_tflm(path) -> None:
    graph = load_model(path)
    for reorder in (True, False):
        for inplace in (True, False):
            plan = plan_memory(graph, reorder=reorder, inplace=inplace)
            verify_plan(plan, graph.main)
            assert plan.lower_bound_bytes <= plan.arena_bytes <= plan.tflm_arena_bytes
            assert max(plan.live_bytes_per_step()) == plan.lower_bound_bytes


def test_median_int8_cnn_reduction_and_mcunet_below_tinyengine() -> None:
    reductions = {}
    for stem in INT8_CNNS:
        plan = plan_memory(load_model(model_path(stem)))
        reductions[stem] = 1 - plan.arena_bytes / plan.tflm_arena_bytes
        if stem == "mcunet_vww":
            assert plan.arena_bytes < 92 * 1000  # TinyEngine reports 92 kB for this model
        if stem == "vww_mobilenetv1_96_int8":
            assert plan.arena_bytes <= 55296
    assert statistics.median(reductions.values()) >= 0.20, reductions


def test_tflm_scratch_requests() -> None:
    audio = load_model(model_path("audio_preprocessor_int8"))
    rfft = next(op for op in audio.main.ops if op.custom_code == "SignalRfft")
    assert scratch_requests(rfft) == [512 * 2]  # fft_length int16 values
    mcunet = load_model(model_path("mcunet_vww"))
    mean = next(op for op in mcunet.main.ops if op.kind == "MEAN")
    assert scratch_requests(mean) == [160 * 3 * 4, 4 * 4, 1 * 4]  # accumulators, iterators, axes
    # CMSIS-NN has no MEAN kernel: a CMSIS-NN build of TFLM runs the reference one, with its scratch.
    assert scratch_requests(mean, "cmsis-nn") == scratch_requests(mean)


def test_analysis_and_planner_take_scratch_from_the_kernel_library() -> None:
    """mcunet_vww under tflm-reference: analysis once said 0 B of scratch, the planner 1,920 B."""
    from tinyops.analysis import analyze
    from tinyops.memory import plan_memory

    mcunet = load_model(model_path("mcunet_vww"))
    for kernels in ("tflm-reference", "cmsis-nn"):
        analysis = analyze(mcunet, kernels=kernels, flash_bytes=1)
        plan = plan_memory(mcunet, planner="tflm", kernels=kernels)
        planned: dict[int, int] = {}
        for buffer in plan.scratch:
            assert buffer.op_index is not None
            planned[buffer.op_index] = planned.get(buffer.op_index, 0) + buffer.size_bytes
        per_op = {op.index: op.scratch_bytes for op in analysis.ops if op.scratch_bytes}
        assert per_op == planned, kernels
    means = [op for op in analyze(mcunet, kernels="tflm-reference", flash_bytes=1).ops if op.type == "MEAN"]
    assert means and all(op.scratch_bytes == 160 * 3 * 4 + 4 * 4 + 1 * 4 for op in means[:1])


def test_verifier_rejects_overlap_and_bad_alias() -> None:
    graph = load_model(model_path("vww_mobilenetv1_96_int8"))
    plan = plan_memory(graph)
    verify_plan(plan, graph.main)
    tensors = plan.tensors
    # Put the first arena tensor on top of a tensor live at the same time.
    victim = tensors[0]
    rival = next(b for b in plan.buffers if b is not victim and b.first_time <= victim.last_time
                 and victim.first_time <= b.last_time and b.inplace_of is None and victim.inplace_of is None)
    moved = [dataclasses.replace(b, offset=rival.offset) if b is victim else b for b in plan.buffers]
    with pytest.raises(PlanVerificationError):
        verify_plan(dataclasses.replace(plan, buffers=moved), graph.main)
    # Claim an in-place choice the op does not allow.
    alias = plan.aliases[0]
    bogus = dataclasses.replace(alias, kind="pad", relative_offset_bytes=16)
    with pytest.raises(PlanVerificationError):
        verify_plan(dataclasses.replace(plan, aliases=[bogus] + plan.aliases[1:]), graph.main)
    # An order that runs an op before its producer.
    with pytest.raises(PlanVerificationError):
        verify_plan(dataclasses.replace(plan, order=list(reversed(plan.order))), graph.main)


def test_cli_json_plot_and_write(tmp_path, capsys) -> None:
    out = tmp_path / "planned.tflite"
    png = tmp_path / "plan.png"
    assert main(["memory", str(model_path("mcunet_vww")), "--json", "--plot", str(png), "--write", str(out)]) == 0
    payload = json.loads(capsys.readouterr().out)
    for key, kind in (("planner", str), ("arena_bytes", int), ("lower_bound_bytes", int),
                      ("tflm_arena_bytes", int), ("order", list), ("tensors", list)):
        assert isinstance(payload[key], kind)
    assert payload["tflm_arena_bytes"] == 161472
    for entry in payload["tensors"]:
        assert set(entry) >= {"name", "size_bytes", "offset", "first_op", "last_op", "inplace_of"}
    assert payload["exported"]["left_out_inplace"]  # depthwise / pointwise / pad stay out of TFLM's plan
    assert png.read_bytes()[:4] == b"\x89PNG" and out.read_bytes()[4:8] == b"TFL3"
    assert main(["memory", str(model_path("mcunet_vww")), "--write", str(out)]) == 2  # exists: needs --force
    assert "already exists" in capsys.readouterr().err
    assert main(["memory", str(model_path("mcunet_vww")), "--write", str(out), "--force"]) == 0
    assert "leaves out in-place ops" in capsys.readouterr().out


def test_cli_errors_are_one_line(tmp_path, capsys) -> None:
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(b"not a model at all")
    assert main(["memory", str(bad)]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
    source = tmp_path / "m.tflite"
    source.write_bytes(model_path("hello_world_int8").read_bytes())
    assert main(["memory", str(source), "--write", str(source)]) == 2
    assert source.read_bytes() == model_path("hello_world_int8").read_bytes()
