"""One output policy for every command (README "Output files"): an existing file is replaced only
with --force, an input is never an output, and bad output paths are refused before any work."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from tinyops.cli import main
from tinyops.commands.common import default_model_path

VWW = str(default_model_path())
KEEP = b"the user's file"


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    err = capsys.readouterr().err
    return code, err


def _input(tmp_path: Path) -> str:
    path = tmp_path / "x.npy"
    np.save(path, np.zeros((1, 96, 96, 3), np.int8))
    return str(path)


# (command line with {out} for the output path, suffix of the output)
COMMANDS: list[tuple[str, list[str], str]] = [
    ("analyze --plot", ["analyze", VWW, "--json", "--plot", "{out}"], ".png"),
    ("memory --plot", ["memory", VWW, "--json", "--plot", "{out}"], ".png"),
    ("memory --write", ["memory", VWW, "--json", "--planner", "tflm", "--write", "{out}"], ".tflite"),
    ("plan --csv", ["plan", VWW, "--json", "--csv", "{out}"], ".csv"),
    ("plan --timeline", ["plan", VWW, "--json", "--timeline", "{out}"], ".png"),
    ("run --output", ["run", VWW, "--input", "{input}", "--output", "{out}"], ".npy"),
    ("zoo build --output", ["zoo", "build", "dscnn-s", "--width", "0.25", "--json", "--output", "{out}"], ".tflite"),
]


def _argv(template: list[str], out: Path, tmp_path: Path) -> list[str]:
    inputs = _input(tmp_path) if "{input}" in template else ""
    return [a.replace("{out}", str(out)).replace("{input}", inputs) for a in template]


@pytest.mark.parametrize("template, suffix", [(t, s) for _, t, s in COMMANDS], ids=[c[0] for c in COMMANDS])
def test_existing_output_is_kept_without_force_and_replaced_with_it(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, template: list[str], suffix: str) -> None:
    out = tmp_path / f"result{suffix}"
    out.write_bytes(KEEP)
    code, err = cli(capsys, *_argv(template, out, tmp_path))
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and "already exists" in err and "--force" in err
    assert out.read_bytes() == KEEP
    code, err = cli(capsys, *_argv(template, out, tmp_path), "--force")
    assert code == 0, err
    assert out.read_bytes() != KEEP
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary left


@pytest.mark.parametrize("template, suffix", [(t, s) for _, t, s in COMMANDS], ids=[c[0] for c in COMMANDS])
def test_unwritable_output_paths_are_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                              template: list[str], suffix: str) -> None:
    regular = tmp_path / "file.txt"
    regular.write_text("x")
    for out, expected in [(tmp_path, "directory" if suffix in (".tflite", ".csv") else "format"),
                          (regular / f"y{suffix}", "is a file, not a folder"),
                          (tmp_path / "missing" / f"y{suffix}", "does not exist"),
                          (tmp_path / ("n" * 300 + suffix), "file name is")]:
        code, err = cli(capsys, *_argv(template, out, tmp_path))
        assert code == 2, (out, err)
        assert len(err.strip().splitlines()) == 1, err
        assert expected in err or "must end in" in err, err


def test_an_input_is_never_an_output_hard_links_included(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    model = tmp_path / "model.tflite"
    model.write_bytes(Path(VWW).read_bytes())
    link = tmp_path / "link.tflite"
    os.link(model, link)
    before = model.read_bytes()
    for argv in (["memory", str(model), "--write", str(link), "--force"],
                 ["plan", str(model), "--csv", str(link), "--force"],
                 ["memory", str(model), "--write", str(model), "--force"]):
        code, err = cli(capsys, *argv)
        assert code == 2 and "input" in err, err
    assert model.read_bytes() == before


def test_unknown_figure_suffix_is_refused_before_work(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, err = cli(capsys, "analyze", VWW, "--plot", str(tmp_path / "plot.tflite"))
    assert code == 2 and "unknown figure format '.tflite'" in err
    code, err = cli(capsys, "plan", VWW, "--compare", "--timeline", str(tmp_path / "timeline"))
    assert code == 2 and "no figure format suffix" in err


def test_quantize_and_explore_follow_the_policy(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out = tmp_path / "q.tflite"
    out.write_bytes(KEEP)
    code, err = cli(capsys, "quantize", VWW, "--calibration", _input(tmp_path), "--output", str(out))
    assert code == 2 and "already exists" in err
    csv = tmp_path / "sweep.csv"
    csv.write_bytes(KEEP)
    code, err = cli(capsys, "explore", "--family", "dscnn-s", "--output", str(csv))
    assert code == 2 and "exists" in err and "--resume" in err and csv.read_bytes() == KEEP


def test_no_command_prints_help_and_one_error_line(capsys: pytest.CaptureFixture[str]) -> None:
    code = main([])
    captured = capsys.readouterr()
    assert code == 2
    assert "analyze" in captured.out and "plan" in captured.out
    assert len(captured.err.strip().splitlines()) == 1


@pytest.mark.parametrize("argv", [["analyze", ""], ["analyze", VWW, "--board", ""], ["plan", VWW, "--board", ""],
                                  ["memory", ""]])
def test_empty_model_path_or_board_is_an_error(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    code, err = cli(capsys, *argv)
    assert code == 2 and "empty" in err
