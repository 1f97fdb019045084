"""Activation memory planning: lifetimes, operator order, in-place execution, arena offsets, export.

`plan_memory(graph)` returns a `MemoryPlan` (per tensor offset / size / lifetime / in-place source,
the op order and the arena size) that the reference runtime, the code generator and the placement
planner consume; `verify_plan` checks one; `export_plan` hands one to stock TFLM.
"""

from tinyops.memory.export import ExportedPlan, export_plan
from tinyops.memory.inplace import Alias
from tinyops.memory.plan import MemoryPlan, PlannedBuffer, plan_memory, tflm_arena_bytes
from tinyops.memory.verify import PlanVerificationError, verify_plan

__all__ = ["Alias", "ExportedPlan", "MemoryPlan", "PlanVerificationError", "PlannedBuffer", "export_plan",
           "plan_memory", "tflm_arena_bytes", "verify_plan"]
