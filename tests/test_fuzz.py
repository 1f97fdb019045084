"""Never a traceback, never a hang: the fuzzer's findings as regression tests, and a seeded budget.

Each recipe below is a (mutator, seed) of the bundled VWW model that ended in a traceback or a
hang before the validator and the guards (the comment names the place it failed). The seeded
budget runs the same fuzzer CI runs longer in ``benchmarks/fuzz.py``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tinyops.commands.common import default_model_path
from tinyops.testing.fuzz import (
    FAILURES,
    board_cases,
    format_summary,
    model_cases,
    option_cases,
    replay,
    run_cases,
)

from conftest import SHARED_MODELS

BOARDS = sorted((Path(__file__).resolve().parents[1] / "src" / "tinyops" / "hw" / "boards").glob("*.toml"))

# (mutator, seed) of the bundled VWW model; found by `benchmarks/fuzz.py` before the fixes.
REGRESSIONS: list[tuple[str, int]] = [
    ('tensor_type', 594674888),  # run: ir/dtypes.py:47 TypeError
    ('cycle', 973206040),  # memory: memory/reorder.py:168 ValueError
    ('stride', 54762749),  # run: ops/common.py:14 ZeroDivisionError
    ('tensor_index', 98505684),  # analyze: ops/common.py:34 ValueError
    ('arity', 265862673),  # analyze: ops/conv.py:33 ValueError
    ('tensor_index', 884355563),  # analyze: ops/conv.py:34 IndexError
    ('shape', 118972933),  # analyze: ops/conv.py:34 ValueError
    ('tensor_index', 59994414),  # plan: ops/conv.py:43 IndexError
    ('output_is_constant', 512037765),  # plan: ops/conv.py:43 ValueError
    ('arity', 265862673),  # plan: ops/conv.py:53 ValueError
    ('arity', 662459676),  # analyze: ops/conv.py:72 ValueError
    ('tensor_index', 59994414),  # analyze: ops/conv.py:73 IndexError
    ('duplicate_producer', 258420910),  # analyze: ops/conv.py:73 ValueError
    ('cycle', 29205937),  # analyze: ops/conv.py:81 ValueError
    ('arity', 662459676),  # plan: ops/conv.py:82 ValueError
    ('opcode_kind', 798885123),  # analyze: ops/fully_connected.py:22 ValueError
    ('arity', 567860973),  # analyze: ops/fully_connected.py:23 IndexError
    ('tensor_index', 1048074594),  # analyze: ops/pooling.py:21 IndexError
    ('opcode_kind', 899680759),  # analyze: ops/pooling.py:21 KeyError
    ('empty', 326066157),  # plan: planning/activations.py:97 IndexError
    ('shape', 332411379),  # plan: planning/plan.py:273 IndexError
    ('scale', 860463131),  # run: runtime/fixedpoint.py:53 OverflowError
    ('scale', 331525068),  # run: runtime/fixedpoint.py:53 ValueError
    ('tensor_type', 306355809),  # run: runtime/kernels/base.py:106 ValueError
    ('opcode_kind', 774613397),  # run: runtime/kernels/base.py:159 ValueError
    ('enum', 746362613),  # run: runtime/kernels/conv.py:101 ValueError
    ('stride', 776802182),  # run: runtime/kernels/conv.py:136 _Timeout
    ('buffer_data', 442292975),  # run: runtime/kernels/conv.py:161 ValueError
    ('tensor_index', 884355563),  # run: runtime/kernels/conv.py:182 IndexError
    ('arity', 265862673),  # run: runtime/kernels/conv.py:184 ValueError
    ('shape', 577751935),  # run: runtime/kernels/conv.py:185 IndexError
    ('channel_count', 799437185),  # run: runtime/kernels/conv.py:215 ValueError
    ('byte_flip', 378562555),  # run: runtime/kernels/conv.py:235 RuntimeWarning
    ('tensor_index', 59994414),  # run: runtime/kernels/conv.py:267 IndexError
    ('arity', 662459676),  # run: runtime/kernels/conv.py:269 ValueError
    ('shape', 279119405),  # run: runtime/kernels/conv.py:270 IndexError
    ('channel_count', 963864093),  # run: runtime/kernels/conv.py:303 ValueError
    ('duplicate_producer', 859944003),  # run: runtime/kernels/conv.py:320 AttributeError
    ('stride', 851172778),  # run: runtime/kernels/conv.py:326 ValueError
    ('stride', 783049602),  # run: runtime/kernels/conv.py:328 ValueError
    ('zero_point', 899822595),  # run: runtime/kernels/conv.py:335 OverflowError
    ('output_is_constant', 897911924),  # run: runtime/kernels/conv.py:81 AttributeError
    ('empty', 673767654),  # run: runtime/kernels/conv.py:84 AttributeError
    ('stride', 807681802),  # run: runtime/kernels/conv.py:88 MemoryError
    ('opcode_kind', 72765571),  # run: runtime/kernels/data_movement.py:102 ValueError
    ('arity', 313952321),  # run: runtime/kernels/data_movement.py:30 IndexError
    ('opcode_kind', 999339855),  # run: runtime/kernels/data_movement.py:36 ValueError
    ('opcode_kind', 178208277),  # run: runtime/kernels/data_movement.py:38 BatchNotSupported
    ('arity', 567860973),  # run: runtime/kernels/fully_connected.py:35 IndexError
    ('channel_count', 112905262),  # run: runtime/kernels/fully_connected.py:66 ValueError
    ('tensor_index', 1048074594),  # run: runtime/kernels/pooling.py:32 IndexError
    ('opcode_kind', 899680759),  # run: runtime/kernels/pooling.py:35 KeyError
    ('duplicate_producer', 485302973),  # run: runtime/kernels/pooling.py:60 AttributeError
    ('scale', 695682722),  # run: runtime/kernels/requant.py:128 ZeroDivisionError
    ('tensor_type', 786482663),  # run: runtime/kernels/requant.py:134 OverflowError
    ('buffer_data', 684213370),  # run: runtime/kernels/requant.py:163 ValueError
    ('shape', 364909666),  # run: runtime/kernels/requant.py:210 MemoryError
    ('shape', 964622593),  # run: runtime/kernels/requant.py:210 ValueError
    ('stride', 478443795),  # run: runtime/kernels/requant.py:214 ValueError
    ('arity', 574808103),  # run: runtime/kernels/softmax.py:25 IndexError
    ('output_is_constant', 677748797),  # run: runtime/kernels/softmax.py:50 AttributeError
]


@pytest.mark.parametrize("mutator, seed", REGRESSIONS, ids=[f"{m}-{s}" for m, s in REGRESSIONS])
def test_former_crasher_is_a_clean_outcome(mutator: str, seed: int) -> None:
    results = replay(default_model_path(), mutator, seed, timeout_s=60)
    bad = [f"{r.command}: {r.outcome} at {r.place} ({r.detail})" for r in results if r.outcome in FAILURES]
    assert not bad, bad


# (shared model, mutator, seed): findings on the shared models after the first round of fixes.
SHARED_REGRESSIONS: list[tuple[str, str, int]] = [
    ("sww_ref_model", "arity", 970382147),  # run: RESHAPE of 2 elements into 32
    ("sww_ref_model", "tensor_type", 467381894),  # run: int8 CONV_2D writing complex128
    ("ad_fc_autoencoder_int8", "tensor_type", 642858400),  # run: int8 FULLY_CONNECTED writing float32
    ("mcunet_detection", "byte_flip", 741002888),  # run: weights without quantization (assert)
    ("person_detect_vela", "buffer_data", 718878435),  # memory/plan: OfflineMemoryAllocation of odd size
    ("kws_dscnn_float32", "stride", 376575776),  # run: MemoryError padding for a huge stride
    ("ic_resnet8_float32", "byte_flip", 215303134),  # run: RuntimeWarning overflow leaked to stderr
    ("seanet_conv10", "opcode_kind", 178248038),  # run: CONV_2D filter read as a depthwise filter
    ("micro_speech_quantized", "shape", 823163025),  # run: rank-2 bias of a FULLY_CONNECTED
    ("kws_dscnn_int8", "tensor_type", 541249936),  # analyze: dead-channel count of a non-filter
    ("audio_preprocessor_int8", "opcode_kind", 417098533),  # analyze: SVDF scratch of a scalar feature
]


@pytest.mark.parametrize("stem, mutator, seed", SHARED_REGRESSIONS, ids=[f"{s}-{m}-{n}" for s, m, n in SHARED_REGRESSIONS])
def test_former_shared_model_crasher_is_a_clean_outcome(stem: str, mutator: str, seed: int) -> None:
    source = next((p for p in SHARED_MODELS if p.stem == stem), None)
    if source is None:
        pytest.skip(f"shared model {stem} is not in this checkout")
    results = replay(source, mutator, seed, timeout_s=60)
    bad = [f"{r.command}: {r.outcome} at {r.place} ({r.detail})" for r in results if r.outcome in FAILURES]
    assert not bad, bad


MODEL_CASES = 2000
BOARD_CASES = 200


@pytest.mark.slow
def test_seeded_fuzz_budget(tmp_path: Path) -> None:
    """The issue's CI budget: 2,000 mutated small models x 4 commands, 200 board files x 2, and every
    option case (seeded, so a failure replays)."""
    small = [p for p in SHARED_MODELS if p.stat().st_size <= 120_000] or [default_model_path()]
    cases = model_cases(small, MODEL_CASES, seed=2026)
    cases += board_cases(BOARDS, min(small, key=lambda p: p.stat().st_size), BOARD_CASES, seed=2026)
    cases += option_cases(tmp_path, min(small, key=lambda p: p.stat().st_size), BOARDS[0])
    summary = run_cases(cases, workers=2, timeout_s=30)
    print(format_summary(summary))
    assert len(summary.results) == MODEL_CASES * 4 + BOARD_CASES * 2 + len(cases) - MODEL_CASES - BOARD_CASES
    assert not summary.failures(), format_summary(summary)
