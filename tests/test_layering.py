"""The pipeline's layering (docs/architecture in DESIGN.md): no module imports a stage above its own.

Every import in src/tinyops (module level, inside functions and under TYPE_CHECKING alike) is read
with ``ast``; a module may import its own stage and the stages below it, never one above.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "tinyops"

# Bottom-up. A stage is a package (or a single module) of tinyops; stages in one tuple share a tier.
TIERS: tuple[tuple[str, ...], ...] = (
    ("tinyops", "errors", "files", "ir"),
    ("ops",),
    ("hw",),
    ("kernels",),
    # The TFLite writer serializes the IR (the frontends' inverse): analysis sizes flash with it and
    # the zoo and quantizer write models with it, so it sits with the frontends, not with the backends.
    ("frontends", "backends.tflite_writer", "oracles"),
    ("memory",),
    # Analysis reports the arena TFLM's planner gives (memory/) beside the live-bytes bound.
    ("analysis",),
    ("runtime",),
    ("cost",),
    ("zoo",),
    ("planning",),
    ("sim",),
    ("backends",),
    ("deploy",),
    ("search", "tasks", "quant"),
    # Reports present every stage's results (plans, sweeps, analyses) to the commands: they sit on
    # top of the stages they render, just below the commands.
    ("backends.reports",),
    ("commands", "cli", "__main__"),
    # The fuzzer drives the real command line (cli.main) with damaged inputs: tooling above it.
    ("testing",),
)
# Known debts, each with its reason; an entry that no longer occurs fails the test (keep it short).
ALLOWED: dict[tuple[str, str], str] = {
    ("frontends.loader", "quant.container"):
        "the loader reads tinyops' code-book containers; their reader belongs in frontends/ "
        "(it needs quant.huffman and quant.codebook's decoder)",
}


def stage_of(module: str) -> str:
    """The stage of a dotted module path relative to tinyops ("planning.overlay" -> "planning")."""
    parts = module.split(".")
    for n in range(len(parts), 0, -1):
        candidate = ".".join(parts[:n])
        if any(candidate in tier for tier in TIERS):
            return candidate
    raise AssertionError(f"module tinyops.{module} belongs to no stage: add its package to TIERS")


def tier_of(stage: str) -> int:
    return next(i for i, tier in enumerate(TIERS) if stage in tier)


def module_name(path: Path) -> str:
    rel = path.relative_to(SRC).with_suffix("")
    parts = [p for p in rel.parts if p != "__init__"]
    return ".".join(parts) or "tinyops"


def _is_module(name: str) -> bool:
    return (SRC / name).is_dir() or (SRC / f"{name}.py").is_file()


def imports_of(path: Path) -> set[str]:
    """tinyops modules imported by ``path``, relative to tinyops (``from tinyops import x`` -> x)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] if node.module != "tinyops" else [
                f"tinyops.{a.name}" if _is_module(a.name) else "tinyops" for a in node.names]
        else:
            continue
        for name in names:
            if name == "tinyops":
                out.add("tinyops")
            elif name.startswith("tinyops."):
                out.add(name[len("tinyops."):])
    return out


def violations() -> tuple[list[str], set[tuple[str, str]]]:
    found: list[str] = []
    allowed_seen: set[tuple[str, str]] = set()
    for path in sorted(SRC.rglob("*.py")):
        module = module_name(path)
        own = tier_of(stage_of(module)) if module != "tinyops" else 0
        for target in sorted(imports_of(path)):
            stage = stage_of(target)
            if tier_of(stage) > own:
                if (module, target) in ALLOWED:
                    allowed_seen.add((module, target))
                    continue
                found.append(f"tinyops.{module} (stage {stage_of(module)}) imports tinyops.{target} "
                             f"(stage {stage}, above it)")
    return found, allowed_seen


def test_no_import_runs_up_the_pipeline() -> None:
    found, allowed_seen = violations()
    assert not found, "imports that run up the pipeline:\n" + "\n".join(found)
    assert allowed_seen == set(ALLOWED), f"stale ALLOWED entries: {set(ALLOWED) - allowed_seen}"


def test_the_checker_sees_a_violation(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from tinyops.sim.simulator import simulate\n    from tinyops import deploy\n")
    assert imports_of(bad) == {"sim.simulator", "deploy"}
    assert tier_of(stage_of("sim.simulator")) > tier_of(stage_of("planning.overlay"))
    assert stage_of("backends.tflite_writer") == "backends.tflite_writer"
    assert stage_of("backends.c.emit") == "backends"
    assert tier_of(stage_of("backends.reports.plan")) > tier_of(stage_of("search.explore"))
