"""DNAS (issue 14): proxies against the analyzer, gradients, a toy search verified, bad input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")

from tinyops.cli import main  # noqa: E402
from tinyops.hw.board import load_board  # noqa: E402
from tinyops.search.budgets import make_budgets  # noqa: E402
from tinyops.search.dnas import SearchConfig, search  # noqa: E402
from tinyops.search.proxy import fit_proxy, graph_for, measure, sample_architectures  # noqa: E402
from tinyops.search.space import (Architecture, ad_space, imagenet_space, kws_space, toy_ibn_space,  # noqa: E402
                                  toy_space, vww_space)
from tinyops.search.supernet import build_supernet  # noqa: E402

BOARD = "nucleo-f446re"


@pytest.fixture(scope="module")
def board():  # type: ignore[no-untyped-def]
    return load_board(BOARD)


@pytest.fixture(scope="module")
def toy_proxy(board):  # type: ignore[no-untyped-def]
    return fit_proxy(toy_space(32, 4), board, "cmsis-nn", "internal", 8, samples=8)


def synthetic_tensors(count: int, seed: int, classes: int = 12) -> tuple[Any, Any]:
    """Per-class patterns (a bright band at a class-dependent frame/coefficient) over noise."""
    generator = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, classes, (count,), generator=generator)
    inputs = torch.randn(count, 1, 49, 10, generator=generator) * 0.3
    for index, label in enumerate(labels.tolist()):
        inputs[index, 0, 4 * label:4 * label + 4, label % 10] += 2.0
    return inputs, labels


@pytest.mark.parametrize("space", [toy_space(32, 4), kws_space(), ad_space()], ids=["toy", "kws", "ad"])
def test_hard_proxies_equal_the_analyzer(space, board) -> None:  # type: ignore[no-untyped-def]
    proxy = fit_proxy(space, board, "cmsis-nn", "internal", 8, samples=6, seed=1)
    for arch in sample_architectures(space, 5, seed=11):
        measured = measure(graph_for(arch, 8), board, "cmsis-nn", "internal")
        hard = proxy.hard_costs(arch)
        assert hard.ops == measured.ops  # exactly 2 x MACs
        assert hard.sram_bytes == measured.working_memory_bytes  # SpArSe working memory, sequential net
        assert hard.cycles == pytest.approx(measured.compute_cycles, rel=1e-9)  # the cost model's cycles
        assert hard.flash_bytes == pytest.approx(measured.flash_bytes, rel=0.03)
        if measured.latency_ms is not None:
            assert hard.latency_ms == pytest.approx(measured.latency_ms, rel=0.05)


def test_four_bit_flash_proxy_matches_packed_model(board) -> None:  # type: ignore[no-untyped-def]
    space = toy_space(32, 4)
    proxy = fit_proxy(space, board, "cmsis-nn", "internal", 4, samples=6)
    arch = space.largest()
    measured = measure(graph_for(arch, 4), board, "cmsis-nn", "internal")
    assert proxy.hard_costs(arch).flash_bytes == pytest.approx(measured.flash_bytes, rel=0.03)
    eight = fit_proxy(space, board, "cmsis-nn", "internal", 8, samples=6)
    assert proxy.hard_costs(arch).flash_bytes < eight.hard_costs(arch).flash_bytes


def test_every_proxy_is_monotonic_in_every_width(toy_proxy) -> None:  # type: ignore[no-untyped-def]
    space = toy_proxy.space
    base = Architecture(space, (16, 16, 16, 16, 16))
    costs = toy_proxy.hard_costs(base)
    for layer in range(len(base.widths)):
        widths = list(base.widths)
        widths[layer] += 4
        wider = toy_proxy.hard_costs(Architecture(space, tuple(widths)))
        for name in ("ops", "flash_bytes", "sram_bytes", "latency_ms"):
            assert getattr(wider, name) >= getattr(costs, name), (layer, name)
        assert wider.ops > costs.ops and wider.flash_bytes > costs.flash_bytes


def test_gradients_reach_every_architecture_parameter(toy_proxy) -> None:  # type: ignore[no-untyped-def]
    from tinyops.search.dnas import penalty

    net = build_supernet(toy_proxy.space, seed=0)
    inputs, labels = synthetic_tensors(16, 0)
    widths, keeps = net.sample(5.0, torch.Generator().manual_seed(0))
    loss = torch.nn.functional.cross_entropy(net(inputs, widths, keeps), labels)
    loss = loss + penalty(toy_proxy, toy_proxy, widths, keeps,
                          {"flash_bytes": 1000, "sram_bytes": 1000, "latency_ms": 0.1}, 1.0)
    loss.backward()
    for parameter in net.arch_parameters():
        assert parameter.grad is not None and float(parameter.grad.abs().sum()) > 0


def _toy_budgets(board, proxy, share: float = 0.5):  # type: ignore[no-untyped-def]
    largest = proxy.hard_costs(proxy.space.largest())
    return make_budgets(board, board, "internal", "cmsis-nn", largest.flash_bytes * share / 1024,
                        None, largest.latency_ms * share, None)


def _search_twice(board, proxy, train, validation):  # type: ignore[no-untyped-def]
    """A 3-epoch search run twice with one seed: verified, and the same both times. (How fast it
    runs is benchmarks/dnas.py's to measure.)"""
    budgets = _toy_budgets(board, proxy)
    config = SearchConfig(epochs=3, batch_size=64, seed=3, calibration_samples=6, threads=1)
    first = search(proxy.space, train, validation, budgets, board, board, config)
    second = search(proxy.space, train, validation, budgets, board, board, config)
    assert first.status == "verified" and first.verification.fits
    assert first.architecture.widths == second.architecture.widths
    assert [t.hard for t in first.trace] == [t.hard for t in second.trace]
    return first, budgets


def test_toy_search_is_deterministic_and_verified(board, toy_proxy) -> None:  # type: ignore[no-untyped-def]
    first, budgets = _search_twice(board, toy_proxy, synthetic_tensors(512, 0), synthetic_tensors(128, 1))
    check = first.verification
    assert budgets.flash_bytes is not None and budgets.latency_ms is not None
    assert check.flash_bytes <= budgets.flash_bytes and check.latency_ms is not None
    assert check.latency_ms <= budgets.latency_ms
    record = first.to_json()
    assert len(record["trace"]) == 3 and {"soft", "hard"} <= set(record["trace"][0])
    assert all(w % 4 == 0 for w in record["widths"])


def test_repair_makes_a_large_network_fit(board, toy_proxy) -> None:  # type: ignore[no-untyped-def]
    from tinyops.search.verify import repair

    budgets = _toy_budgets(board, toy_proxy, share=0.3)
    fixed, check, repairs = repair(toy_proxy.space.largest(), budgets, board, board, toy_proxy, toy_proxy, 8)
    assert check.fits and repairs
    assert all(r.to_width < r.from_width and r.to_width % 4 == 0 for r in repairs)


def test_budget_below_the_smallest_network_is_infeasible(board, toy_proxy) -> None:  # type: ignore[no-untyped-def]
    budgets = make_budgets(board, board, "internal", "cmsis-nn", 1.0, None, None, None)  # 1 KiB of flash
    result = search(toy_proxy.space, synthetic_tensors(64, 0), synthetic_tensors(16, 1), budgets, board, board,
                    SearchConfig(epochs=1, calibration_samples=4, threads=1))
    assert result.status == "infeasible" and "smallest" in (result.reason or "")
    assert not result.verification.checks["flash"]


def test_cli_search_writes_a_train_arch_file(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    output = tmp_path / "arch.json"
    code = main(["search", "dnas", "--task", "kws", "--board", BOARD, "--synthetic", "120", "--max-channels", "16",
                 "--blocks", "3", "--epochs", "1", "--flash-kb", "8", "--threads", "1", "--output", str(output), "--json",
                 "--plot", str(tmp_path / "trace.png")])
    assert code == 0
    record = json.loads(capsys.readouterr().out)
    assert record["status"] == "verified" and record["verification"]["fits"]
    written = json.loads(output.read_text())
    assert written["stem"]["channels"] == record["widths"][0] and "dnas" in written
    assert (tmp_path / "trace.png").stat().st_size > 0


def test_cli_infeasible_budget_exits_1_with_reason(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    code = main(["search", "dnas", "--task", "kws", "--board", BOARD, "--synthetic", "60", "--max-channels", "8",
                 "--blocks", "2", "--epochs", "1", "--flash-kb", "0.5", "--threads", "1", "--output", str(tmp_path / "a.json"),
                 "--json"])
    assert code == 1
    assert json.loads(capsys.readouterr().out)["status"] == "infeasible"


@pytest.mark.parametrize("argv, message", [
    (["--bits", "3"], "--bits"),
    (["--latency-ms", "5", "--fps", "10"], "not both"),
    (["--output", "arch.txt"], "*.json"),
    (["--task", "vww", "--resolution", "4"], "--resolution"),
    (["--resolution", "96"], "--task vww"),
    (["--task", "vww", "--board", "stm32f746g-disco@paper", "--strategy", "overlay-v2", "--export", "m.tflite"],
     "ImageNet"),
    (["--board", "no-such-board"], "no-such-board"),
    (["--warmup-epochs", "3"], "--warmup-epochs"),
])
def test_cli_bad_input_is_one_line_exit_2(tmp_path: Path, capsys, argv, message) -> None:  # type: ignore[no-untyped-def]
    base = {"--task": "kws", "--board": BOARD, "--synthetic": "60", "--output": str(tmp_path / "a.json")}
    for flag, value in zip(argv[::2], argv[1::2]):
        base[flag] = value
    args = ["search", "dnas"] + [part for pair in base.items() for part in pair]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1


def test_refuses_to_overwrite_without_force(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    output = tmp_path / "arch.json"
    output.write_text("{}")
    assert main(["search", "dnas", "--task", "kws", "--board", BOARD, "--synthetic", "60",
                 "--output", str(output)]) == 2
    assert output.read_text() == "{}"


# Table 4 of MicroNets v6: Mops (= 2 x MACs) and .tflite KB of the published models.
PUBLISHED = {"micronet-kws-s": (16.4, 102), "micronet-kws-m": (30.6, 163), "micronet-kws-l": (129, 612),
             "micronet-ad-s": (37.5, 253), "micronet-ad-m": (124.7, 464)}


@pytest.mark.parametrize("family", sorted(PUBLISHED))
def test_zoo_micronets_match_table_4(family: str) -> None:
    from tinyops.analysis.analyze import analyze
    from tinyops.zoo import build_model

    totals = analyze(build_model(family, 1.0)).totals
    mops, kilobytes = PUBLISHED[family]
    assert 2 * totals.macs / 1e6 == pytest.approx(mops, rel=0.03)
    assert totals.flash_bytes / 1000 == pytest.approx(kilobytes, rel=0.10)


def test_search_space_builds_the_published_kws_s() -> None:
    from tinyops.search.space import architecture_from_record
    from tinyops.zoo import build_model

    record = {"stem": {"channels": 84}, "blocks": [{"channels": 112, "stride": 2}] + [
        {"channels": c} for c in (84, 84, 84, 196)]}
    arch = architecture_from_record(kws_space(), record)
    assert arch.widths == (84, 112, 84, 84, 84, 196, 0, 0, 0, 0)
    ours, zoo = arch.build_graph(), build_model("micronet-kws-s", 1.0)
    assert [(op.kind, [t.shape for t in op.outputs]) for op in ours.main.ops] == [
        (op.kind, [t.shape for t in op.outputs]) for op in zoo.main.ops]


@pytest.mark.slow
def test_cli_export_trains_writes_and_verifies_the_file(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    from tinyops.frontends.loader import load_model
    from tinyops.tasks.architectures import build_arch

    output, model = tmp_path / "arch.json", tmp_path / "model.tflite"
    code = main(["search", "dnas", "--task", "kws", "--board", BOARD, "--synthetic", "120", "--max-channels", "16",
                 "--blocks", "3", "--epochs", "1", "--export-epochs", "2", "--threads", "1", "--bits", "8,4",
                 "--output", str(output), "--export", str(model), "--json"])
    assert code == 0
    searches = json.loads(capsys.readouterr().out)["searches"]
    assert [s["search"]["weight_bits"] for s in searches] == [8, 4]
    for bits, record in zip((8, 4), searches):
        exported = record["exported"]
        assert exported["verification"]["fits"] and Path(exported["path"]).name == f"model-w{bits}.tflite"
        graph = load_model(exported["path"])
        assert [op.kind for op in graph.main.ops][:2] == ["CONV_2D", "DEPTHWISE_CONV_2D"]
        # The architecture file is one `tinyops train --arch` reads.
        built = build_arch(tmp_path / f"arch-w{bits}.json")
        assert len(built.main.ops) == len(graph.main.ops)
    four, eight = (Path(s["exported"]["path"]).stat().st_size for s in searches[::-1])
    assert searches[0]["widths"] != searches[1]["widths"] or four < eight


def test_cli_data_folder_in_the_wrong_layout_is_one_line_exit_2(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "readme.txt").write_text("not speech commands")
    assert main(["search", "dnas", "--task", "kws", "--board", BOARD, "--data", str(tmp_path / "data"),
                 "--output", str(tmp_path / "a.json")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and not (tmp_path / "a.json").exists()


def test_latency_board_and_external_strategy(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    """Flash/SRAM from one board, latency from another; then the TinyOps space (weights external)."""
    output = tmp_path / "a.json"
    assert main(["search", "dnas", "--task", "kws", "--board", BOARD, "--latency-board", "nucleo-f746zg",
                 "--fps", "200", "--synthetic", "60", "--max-channels", "8", "--blocks", "2", "--epochs", "1",
                 "--threads", "1", "--output", str(output), "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["budgets"]["latency_board"] == "nucleo-f746zg" and record["budgets"]["latency_ms"] == 5.0
    assert set(record["proxy_fits"]) == {"board", "latency_board"}
    assert record["verification"]["latency_ms"] <= 5.0
    assert main(["search", "dnas", "--task", "kws", "--board", "stm32f746g-disco@paper", "--strategy", "overlay-v2",
                 "--synthetic", "60", "--max-channels", "8", "--blocks", "2", "--epochs", "1", "--threads", "1",
                 "--output", str(output), "--force", "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["budgets"]["flash_bytes"] == 8 * 1024 * 1024  # the board's external memory
    assert "overlay-v2" in record["verification"]["assumptions"]["latency"]


def test_derivation_rules_on_known_logits() -> None:
    from tinyops.search.dnas import derive

    space = toy_space(32, 4)
    net = build_supernet(space, seed=0)
    with torch.no_grad():
        net.keep_logits[1][1] = 1.0  # block 3 (the second skippable one): skip beats keep
        net.width_logits[0][-1] = 5.0  # stem: almost surely 32
    argmax = derive(net, space, "argmax")
    expected = derive(net, space, "expected")
    assert argmax.widths == (32, 4, 4, 0, 4)  # untouched logits tie: the first (narrowest) option
    assert expected.widths[0] in (28, 32) and expected.widths[1:] == (16, 16, 0, 16)  # mean of 4..32 is 18


# ---------------------------------------------------------------- the VWW (MobileNetV2, IBN) space
def image_tensors(count: int, seed: int, size: int = 16) -> tuple[Any, Any]:
    """Two classes: a bright vertical bar (label 1) or none, over noise."""
    generator = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 2, (count,), generator=generator)
    inputs = torch.rand(count, 1, size, size, generator=generator) * 0.5
    inputs[labels == 1, 0, :, size // 2 - 2:size // 2 + 2] += 0.5
    return inputs, labels


@pytest.fixture(scope="module")
def ibn_proxy(board):  # type: ignore[no-untyped-def]
    return fit_proxy(toy_ibn_space(16, 3), board, "cmsis-nn", "internal", 8, samples=8)


@pytest.mark.parametrize("space, board_id, strategy", [
    (toy_ibn_space(16, 3), BOARD, "internal"),
    (vww_space(50), BOARD, "internal"),
    (imagenet_space(64), "stm32f746g-disco@paper", "overlay-v2"),
], ids=["toy-vww", "vww-50", "imagenet-external"])
def test_hard_ibn_proxies_equal_the_analyzer(space, board_id, strategy) -> None:  # type: ignore[no-untyped-def]
    """One-hot IBN architectures (expansion, depthwise, projection, residual add, skipped blocks)."""
    target = load_board(board_id)
    proxy = fit_proxy(space, target, "cmsis-nn", strategy, 8, samples=6, seed=1)
    archs = sample_architectures(space, 5, seed=11)
    assert any(w == 0 for a in archs for w in a.widths)  # a skipped residual block is among them
    for arch in archs:
        measured = measure(graph_for(arch, 8), target, "cmsis-nn", strategy)
        hard = proxy.hard_costs(arch)
        assert hard.ops == measured.ops  # exactly 2 x MACs
        assert hard.flash_bytes == pytest.approx(measured.flash_bytes, rel=0.03)
        # The residual input stays live through its block: the analyzer's live-tensor peak.
        assert hard.sram_bytes == measured.working_memory_bytes
        assert hard.cycles == pytest.approx(measured.compute_cycles, rel=1e-9)


def test_vww_space_is_mobilenetv2_at_10_to_100_percent() -> None:
    from tinyops.search.proxy import measure as measured_costs
    from tinyops.zoo import build_model

    space = vww_space(160)
    assert space.input_shape == (1, 160, 160) and space.classes == 2
    expand = next(layer for layer in space.layers if layer.name == "b2/expand")
    assert expand.width_options() == (8, 20, 28, 40, 48, 56, 68, 76, 88, 96)  # 10%..100% of 6 x 16
    assert all(w % 4 == 0 for layer in space.layers for w in layer.width_options())
    assert [layer.skippable for layer in space.layers] == [layer.residual for layer in space.layers]
    # The largest network is MobileNetV2 1.0 (grayscale): the same MACs as the zoo's.
    board = load_board(BOARD)
    zoo = measured_costs(build_model("mobilenetv2", width=1.0, resolution=160, input_channels=1, classes=2), board,
                         "cmsis-nn", "internal")
    assert measured_costs(space.largest().build_graph(), board, "cmsis-nn", "internal").ops == zoo.ops


def test_ibn_gradients_reach_every_architecture_parameter_and_costs_grow(ibn_proxy) -> None:  # type: ignore[no-untyped-def]
    from tinyops.search.dnas import penalty

    space = ibn_proxy.space
    net = build_supernet(space, seed=0)
    inputs, labels = image_tensors(8, 0)
    widths, keeps = net.sample(5.0, torch.Generator().manual_seed(0))
    loss = torch.nn.functional.cross_entropy(net(inputs, widths, keeps), labels)
    loss = loss + penalty(ibn_proxy, ibn_proxy, widths, keeps,
                          {"flash_bytes": 1000, "sram_bytes": 100, "latency_ms": 0.1}, 1.0)
    loss.backward()
    for parameter in net.arch_parameters():
        assert parameter.grad is not None and float(parameter.grad.abs().sum()) > 0
    base = Architecture(space, tuple(layer.width_options()[1] for layer in space.layers))
    costs = ibn_proxy.hard_costs(base)
    for layer in range(len(base.widths)):
        widths_list = list(base.widths)
        widths_list[layer] = space.layers[layer].width_options()[2]
        wider = ibn_proxy.hard_costs(Architecture(space, tuple(widths_list)))
        for name in ("ops", "flash_bytes", "sram_bytes", "latency_ms"):
            assert getattr(wider, name) >= getattr(costs, name), (layer, name)
        assert wider.ops > costs.ops and wider.flash_bytes > costs.flash_bytes


def test_toy_vww_search_is_deterministic_and_verified(board, ibn_proxy) -> None:  # type: ignore[no-untyped-def]
    first, budgets = _search_twice(board, ibn_proxy, image_tensors(256, 0), image_tensors(64, 1))
    assert budgets.flash_bytes is not None and first.verification.flash_bytes <= budgets.flash_bytes
    record = first.architecture.record()
    assert record["family"] == "mobilenetv2-ibn" and record["widths"] == list(first.architecture.widths)


def test_repair_makes_the_largest_ibn_network_fit(board, ibn_proxy) -> None:  # type: ignore[no-untyped-def]
    from tinyops.search.verify import repair

    space = ibn_proxy.space
    largest, smallest = ibn_proxy.hard_costs(space.largest()), ibn_proxy.hard_costs(space.smallest())
    flash_kb = (smallest.flash_bytes + 0.3 * (largest.flash_bytes - smallest.flash_bytes)) / 1024
    budgets = make_budgets(board, board, "internal", "cmsis-nn", flash_kb, None, None, None)
    fixed, check, repairs = repair(space.largest(), budgets, board, board, ibn_proxy, ibn_proxy, 8)
    assert check.fits and repairs
    for step in repairs:
        options = next(layer for layer in space.layers if layer.name == step.layer).width_options()
        assert step.to_width < step.from_width and (step.to_width in options or step.to_width == 0)


def test_cli_vww_search_end_to_end(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    from tinyops.frontends.loader import load_model
    from tinyops.search.space import architecture_from_record

    output, model = tmp_path / "vww.json", tmp_path / "vww.tflite"
    assert main(["search", "dnas", "--task", "vww", "--board", BOARD, "--resolution", "16", "--max-channels", "16",
                 "--blocks", "3", "--synthetic", "48", "--epochs", "2", "--batch-size", "16", "--threads", "1",
                 "--output", str(output), "--export", str(model), "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["status"] == "verified" and record["space"]["family"] == "ibn"
    assert record["exported"]["verification"]["fits"]
    assert load_model(model).main.inputs[0].shape == (1, 16, 16, 1)
    written = json.loads(output.read_text())
    arch = architecture_from_record(toy_ibn_space(16, 3, (1, 16, 16)), written)
    assert list(arch.widths) == record["widths"]


def test_cli_vww_external_memory_space(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    """--strategy overlay-v2: the ImageNet-shaped space, flash = external memory, SRAM = the plan's."""
    assert main(["search", "dnas", "--task", "vww", "--board", "stm32f469i-disco@paper", "--strategy", "overlay-v2",
                 "--resolution", "32", "--max-channels", "8", "--blocks", "2", "--synthetic", "24", "--epochs", "1",
                 "--batch-size", "8", "--threads", "1", "--sram-kb", "256", "--output", str(tmp_path / "e.json"),
                 "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["space"]["classes"] == 1000 and record["space"]["input"] == [3, 32, 32]
    assert record["budgets"]["flash_bytes"] == 8 * 1024 * 1024
    check = record["verification"]
    assert check["fits"] and check["sram_bytes"] <= 256 * 1024
    assert "overlay-v2" in check["assumptions"]["latency"] and "plan" in check["assumptions"]["sram"]
