"""`tinyops run`: .npy/.npz in and out, --trace, and one-line errors that overwrite nothing."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tinyops.cli import main
from tinyops.frontends import load_model
from tinyops.runtime import run_graph

from conftest import model_path


@pytest.fixture()
def kws_input(tmp_path: Path) -> Path:
    path = tmp_path / "x.npy"
    np.save(path, np.random.default_rng(0).integers(-128, 128, (1, 49, 10, 1)).astype(np.int8))
    return path


def test_run_npy_matches_python_api_and_traces(tmp_path: Path, kws_input: Path) -> None:
    model = model_path("kws_dscnn_int8")
    out, trace = tmp_path / "y.npy", tmp_path / "trace"
    assert main(["run", str(model), "--input", str(kws_input), "--output", str(out), "--trace", str(trace)]) == 0
    expected = run_graph(load_model(model), [np.load(kws_input)])[0]
    assert np.array_equal(np.load(out), expected)
    index = json.loads((trace / "index.json").read_text())["tensors"]
    assert len(index) == 14  # the input and the 13 op outputs
    last = index[-1]
    assert (trace / last["file"]).name.startswith(f"{last['index']}_")
    assert any(np.array_equal(np.load(trace / e["file"]), expected) for e in index)


def test_run_npz_with_several_inputs_and_a_batch(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    a, b = (rng.integers(-128, 128, (3, 128, 128, 1)).astype(np.int8) for _ in range(2))
    np.savez(tmp_path / "x.npz", in0=a, in1=b)
    out = tmp_path / "y.npz"
    assert main(["run", str(model_path("simple_add_model")), "--input", str(tmp_path / "x.npz"),
                 "--output", str(out)]) == 0
    with np.load(out) as stored:
        assert stored["out0"].shape == (3, 128, 128, 1)


def test_errors_are_one_line_and_overwrite_nothing(tmp_path: Path, kws_input: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "y.npy"
    out.write_bytes(b"keep me")
    # An existing output is refused (README "Output files"); with --force a failing run still keeps it.
    assert main(["run", str(model_path("keyword_scrambled")), "--input", str(kws_input), "--output", str(out)]) == 2
    assert "already exists" in capsys.readouterr().err
    assert main(["run", str(model_path("keyword_scrambled")), "--input", str(kws_input), "--output", str(out),
                 "--force"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "SVDF (op 1)" in err
    assert out.read_bytes() == b"keep me"
    assert main(["run", str(model_path("kws_dscnn_int8")), "--input", str(tmp_path / "missing.npy"),
                 "--output", str(out)]) == 2
    assert main(["run", str(model_path("kws_dscnn_int8")), "--input", str(kws_input), "--output", str(kws_input)]) == 2
    bad_shape = tmp_path / "bad.npy"
    np.save(bad_shape, np.zeros((1, 5), np.int8))
    assert main(["run", str(model_path("kws_dscnn_int8")), "--input", str(bad_shape), "--output", str(out)]) == 2
    assert out.read_bytes() == b"keep me"
    trace = tmp_path / "full"
    trace.mkdir()
    (trace / "other.txt").write_text("x")
    assert main(["run", str(model_path("kws_dscnn_int8")), "--input", str(kws_input), "--output",
                 str(tmp_path / "z.npy"), "--trace", str(trace)]) == 2
