"""Zoo builders: exact MLPerf Tiny layer shapes, published MAC/parameter counts, validation, CLI."""

from __future__ import annotations

import functools
import json

import pytest

from conftest import model_path
from tinyops.cli import main
from tinyops.errors import TinyOpsError
from tinyops.frontends import load_model
from tinyops.ir import Graph
from tinyops.zoo import build_model, family_names, published_accuracy
from tinyops.zoo.scaling import make_divisible
from tinyops.zoo.summary import model_counts


@functools.lru_cache(maxsize=None)
def built(family: str, width: float = 1.0, resolution: int | tuple[int, int] | None = None,
          classes: int | None = None, input_channels: int | None = None, round_to: int = 8) -> Graph:
    return build_model(family, width, resolution, classes, input_channels, round_to)


def layer_signature(graph: Graph) -> list[tuple]:
    """Op kinds with every input/output shape and the attributes that set the arithmetic."""
    keys = ("padding", "stride_h", "stride_w", "fused_activation_function", "filter_height", "filter_width")
    return [(op.kind, tuple(t.shape if t is not None else None for t in op.inputs),
             tuple(t.shape for t in op.outputs), tuple(op.attrs.get(k) for k in keys)) for op in graph.main.ops]


@pytest.mark.parametrize("reference, family, width, resolution, classes, input_channels, macs", [
    ("vww_mobilenetv1_96_int8", "mobilenetv1", 0.25, 96, 2, 3, 7_489_664),
    ("ic_resnet8_int8", "resnet8", 1.0, None, None, None, 12_501_632),
    ("kws_dscnn_int8", "dscnn-s", 1.0, "49x10", None, None, 2_656_768),
    ("ad_fc_autoencoder_int8", "fc-autoencoder", 1.0, None, None, None, 264_192),
])
def test_mlperf_tiny_reference_models_are_rebuilt_exactly(reference, family, width, resolution, classes,
                                                          input_channels, macs):
    ours = built(family, width, resolution, classes, input_channels)
    theirs = load_model(model_path(reference))
    assert layer_signature(ours) == layer_signature(theirs)
    assert model_counts(ours).macs == model_counts(theirs).macs == macs
    assert model_counts(ours).parameters == model_counts(theirs).parameters
    assert {op.kind: op.version for op in ours.main.ops} == {op.kind: op.version for op in theirs.main.ops}


def bn_channels(graph: Graph) -> int:
    """Channels that carry a BatchNorm in the PyTorch reference models (every conv but SE's)."""
    return sum(op.outputs[0].shape[-1] for op in graph.main.ops
               if op.kind in ("CONV_2D", "DEPTHWISE_CONV_2D") and "/se/" not in op.outputs[0].name)


# torchvision / pytorchcv count conv weights + 2 BN parameters per channel; the IR folds BN into
# one bias per channel, so IR parameters + BN channels must equal their figure exactly.
@pytest.mark.parametrize("family, reference_parameters", [
    ("mobilenetv2", 3_504_872),          # torchvision mobilenet_v2
    ("mobilenetv3-large", 5_483_032),    # torchvision mobilenet_v3_large
    ("mobilenetv3-small", 2_542_856),    # torchvision mobilenet_v3_small
    ("mnasnet-b1", 4_383_312),           # torchvision mnasnet1_0 (TinyOpsV2's 4.38M)
    ("proxylessnas-mobile", 4_080_512),  # pytorchcv proxylessnas_mobile
])
def test_parameter_counts_match_reference_implementations_exactly(family, reference_parameters):
    graph = built(family)
    assert model_counts(graph).parameters + bn_channels(graph) == reference_parameters


# Published figures (millions), with the tolerance the paper's rounding allows (docs/zoo.md).
@pytest.mark.parametrize("family, width, resolution, macs_m, params_m, macs_tol, params_tol", [
    ("mobilenetv1", 1.0, 224, 569, 4.2, 0.01, 0.01),
    ("mobilenetv2", 1.0, 224, 300, 3.4, 0.01, 0.03),   # the paper truncates 3.47M to 3.4M
    ("mobilenetv3-large", 1.0, 224, 217, 5.4, 0.01, 0.02),
    ("mobilenetv3-small", 1.0, 224, 56, 2.5, 0.02, 0.02),
    ("mnasnet-a1", 1.0, 224, 312, 3.9, 0.01, 0.01),
    ("proxylessnas-mobile", 1.0, 224, 320, 4.1, 0.01, 0.01),
    ("mnasnet-b1", 1.0, 80, 48.2, 4.38, 0.002, 0.005),  # TinyOpsV2 Table 1
    ("mnasnet-b1", 1.0, 128, 103.5, 4.38, 0.002, 0.005),
    ("mnasnet-b1", 1.0, 144, 142.8, 4.38, 0.002, 0.005),
    ("mnasnet-b1", 1.0, 192, 231.3, 4.38, 0.002, 0.005),
    ("mobilenetv3-large-no-se", 1.0, 160, 111.3, 3.96, 0.005, 0.002),
    ("mobilenetv3-large-no-se", 0.75, 128, None, 2.49, None, 0.006),  # MACs: see docs/zoo.md
    ("mobilenetv3-large-no-se", 0.5, 112, None, 1.33, None, 0.01),
    ("mobilenetv3-large-no-se", 0.55, 128, None, 1.55, None, 0.002),
])
def test_published_counts(family, width, resolution, macs_m, params_m, macs_tol, params_tol):
    counts = model_counts(built(family, width, resolution))
    if macs_m is not None:
        assert counts.macs / 1e6 == pytest.approx(macs_m, rel=macs_tol)
    assert counts.parameters / 1e6 == pytest.approx(params_m, rel=params_tol)


def test_hello_edge_dscnn_sizes():
    # Hello Edge reports ops = 2 x MACs: 5.4M, 19.8M, 56.9M for S, M, L.
    for family, ops_m in (("dscnn-s", 5.4), ("dscnn-m", 19.8), ("dscnn-l", 56.9)):
        assert 2 * model_counts(built(family)).macs / 1e6 == pytest.approx(ops_m, rel=0.02)


def test_width_resolution_classes_and_channels_reach_the_graph():
    graph = built("mobilenetv2", 0.35, (96, 128), 7, 1, 4)
    assert graph.main.inputs[0].shape == (1, 96, 128, 1)
    assert graph.main.outputs[0].shape == (1, 7)
    widths = {op.outputs[0].shape[-1] for op in graph.main.ops if op.kind == "CONV_2D"}
    assert all(w % 4 == 0 for w in widths) and any(w % 8 for w in widths)
    assert graph.extras["zoo"]["round_to"] == 4
    assert make_divisible(32 * 0.35, 8) == 16 and make_divisible(32 * 0.35, 4) == 12


def test_dscnn_m_keeps_its_published_172_channels_at_width_one():
    widths = {op.outputs[0].shape[-1] for op in built("dscnn-m").main.ops if op.kind == "CONV_2D"}
    assert widths == {172}


@pytest.mark.parametrize("kwargs, message", [
    (dict(family="resnet50"), "unknown model family"),
    (dict(family="mobilenetv2", width=0), "width"),
    (dict(family="mobilenetv2", resolution="abc"), "resolution"),
    (dict(family="mobilenetv2", resolution=2), "out of range"),
    (dict(family="mobilenetv2", classes=0), "classes"),
    (dict(family="mobilenetv2", round_to=0), "round_to"),
    (dict(family="fc-autoencoder", classes=10), "no classes"),
])
def test_bad_requests_are_one_line_errors(kwargs, message):
    with pytest.raises(TinyOpsError, match=message) as info:
        build_model(**kwargs)
    assert "\n" not in str(info.value)


def test_published_accuracy_and_user_csv(tmp_path):
    record = published_accuracy("mnasnet-b1", 1.0, 144)
    assert record is not None and record.value == 69.55 and "TinyOpsV2" in record.source
    assert published_accuracy("mobilenetv2", 0.9, 200) is None
    mine = tmp_path / "mine.csv"
    mine.write_text("family,width,resolution,dataset,metric,value,source\n"
                    "mnasnet-b1,1.0,144,imagenet,top1,70.1,my lab run\n")
    assert published_accuracy("mnasnet-b1", 1.0, 144, extra_csv=[mine]).value == 70.1
    bad = tmp_path / "bad.csv"
    bad.write_text("family,width\nx,1\n")
    with pytest.raises(TinyOpsError, match="lacks column"):
        published_accuracy("mnasnet-b1", extra_csv=[bad])


def test_cli_list_build_and_refusals(tmp_path, capsys):
    assert main(["zoo", "list", "--json"]) == 0
    assert [row["family"] for row in json.loads(capsys.readouterr().out)] == family_names()
    output = tmp_path / "kws.tflite"
    assert main(["zoo", "build", "dscnn-m", "--resolution", "49x10", "--width", "0.5", "--output", str(output),
                 "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert model_counts(load_model(output)).macs == summary["macs"]
    before = output.read_bytes()
    assert main(["zoo", "build", "dscnn-m", "--output", str(output)]) == 2
    assert "already exists" in capsys.readouterr().err and output.read_bytes() == before
    assert main(["zoo", "build", "nosuchnet", "--output", str(tmp_path / "x.tflite")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown model family" in err
