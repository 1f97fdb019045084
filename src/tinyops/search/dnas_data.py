"""Data for a DNAS run (a task folder or a synthetic one) and the export of the searched model.

The search reads the tasks pipeline's loaders and features (``tinyops.tasks``): ``--data DIR``
opens the task's real layout, ``--synthetic N`` writes the tasks' synthetic tree of about N
clips into a temporary folder first, so both go through the same features.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tinyops.errors import TinyOpsError

if TYPE_CHECKING:  # pragma: no cover - typing only
    from tinyops.hw.board import Board
    from tinyops.search.budgets import Budgets
    from tinyops.search.space import Architecture
    from tinyops.tasks.train import TaskData

SEARCH_RECIPES = {"kws": "micronets-kws", "vww": "micronets-vww", "ad": "micronets-ad"}
AD_SYNTHETIC_IDS = 4


def open_data(task: str, data_dir: str | None, synthetic: int | None, seed: int,
              workdir: str | None = None, image_size: int = 50, image_channels: int = 1) -> "TaskData":
    """``image_size``/``image_channels``: the VWW input (MicroNets: grayscale 50x50 or 160x160)."""
    from tinyops.tasks.recipes import get_recipe
    from tinyops.tasks.train import load_task_data

    if task not in SEARCH_RECIPES:
        raise TinyOpsError(f"no DNAS data pipeline for task {task!r}; choose kws, vww or ad")
    if (data_dir is None) == (synthetic is None):
        raise TinyOpsError("give either --data DIR or --synthetic N")
    recipe = get_recipe(SEARCH_RECIPES[task], task)
    if synthetic is not None:
        if synthetic < 24:
            raise TinyOpsError(f"--synthetic needs at least 24 samples, got {synthetic}")
        root = Path(workdir or tempfile.mkdtemp(prefix="tinyops-dnas-"))
        if task == "kws":
            from tinyops.tasks.synthetic import write_kws_tree

            write_kws_tree(root, per_class=max(5, synthetic // 12), seed=seed)
        elif task == "vww":
            from tinyops.tasks.synthetic import write_vww_tree

            # Drawn at most 64 px: the loader resizes to the input resolution, as it does real images.
            write_vww_tree(root, per_class=max(6, synthetic // 2), size=min(image_size, 64), seed=seed)
        else:
            from tinyops.tasks.synthetic import write_ad_tree

            # micronets-ad makes about 13 images of 32x32 from each 10 s clip.
            write_ad_tree(root, machine_ids=AD_SYNTHETIC_IDS, train_per_id=max(2, synthetic // (13 * AD_SYNTHETIC_IDS)),
                          test_per_id=2, seed=seed)
        data_dir = str(root)
    assert data_dir is not None
    if task == "vww":
        return load_task_data("vww", data_dir, recipe, image_size=image_size, image_channels=image_channels, seed=seed)
    return load_task_data(task, data_dir, recipe, seed=seed)  # type: ignore[arg-type]


def export_model(arch: "Architecture", data: "TaskData", epochs: int, weight_bits: int, seed: int, output: Path,
                 budgets: "Budgets", board: "Board", latency_board: "Board") -> dict[str, Any]:
    """Train the searched architecture with QAT, write the int8 .tflite, verify the file itself."""
    from dataclasses import replace

    from tinyops.backends.tflite_writer import to_tflite_bytes, write_atomically
    from tinyops.frontends.loader import load_model
    from tinyops.quant.qat import QatConfig
    from tinyops.search.verify import verify_graph
    from tinyops.tasks.recipes import get_recipe
    from tinyops.tasks.train import attach_metadata, train

    recipe = replace(get_recipe(SEARCH_RECIPES[data.task], data.task), epochs=epochs)
    graph = arch.build_graph(seed)
    result = train(data.task, graph, data, recipe, qat=True, seed=seed, qat_config=QatConfig(weight_bits, 8))
    int8 = result.int8_graph
    if weight_bits == 4:
        from tinyops.quant.int4 import to_int4_weights

        int8 = to_int4_weights(int8)
    attach_metadata(int8, result.metadata(data))
    write_atomically(output, to_tflite_bytes(int8))
    # The final check reads the written file back: the real analyzer, planner and cost model on it.
    check = verify_graph(load_model(output), list(arch.widths), budgets, board, latency_board)
    return {"path": str(output), "epochs": epochs, "qat": True, "weight_bits": weight_bits,
            "validation": result.history[-1].validation if result.history else None,
            "float_validation": result.float_validation, "verification": check.to_json()}
