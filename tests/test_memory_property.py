"""Property tests on random DAGs: every plan verifies, reordering is exact and keeps dependencies."""

from __future__ import annotations

import itertools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tinyops.ir.dtypes import DType
from tinyops.ir.graph import Op, Subgraph, Tensor
from tinyops.memory import plan_memory, verify_plan
from tinyops.memory.lifetimes import check_order
from tinyops.memory.reorder import best_order, order_peak

SIZES = (16, 48, 64, 100, 256, 1000)


@st.composite
def random_dags(draw: st.DrawFn, max_ops: int = 9) -> Subgraph:
    """Ops reading earlier tensors: same-shape ADDs (in-place candidates), RESHAPEs (views), opaque ops."""
    inputs = [Tensor(f"in{i}", (1, draw(st.sampled_from(SIZES))), DType.INT8)
              for i in range(draw(st.integers(1, 2)))]
    tensors = list(inputs)
    ops: list[Op] = []
    for number in range(draw(st.integers(1, max_ops))):
        kind = draw(st.sampled_from(["ADD", "RESHAPE", "CUSTOM", "CUSTOM"]))
        first = draw(st.sampled_from(tensors))
        if kind == "ADD":
            same = [t for t in tensors if t.shape == first.shape]
            second = draw(st.sampled_from(same))
            out = Tensor(f"t{number}", first.shape, DType.INT8)
            ops.append(Op("ADD", [first, second], [out]))
        elif kind == "RESHAPE":
            out = Tensor(f"t{number}", (first.num_elements,), DType.INT8)
            ops.append(Op("RESHAPE", [first], [out]))
        else:
            extra = draw(st.lists(st.sampled_from(tensors), max_size=2))
            out = Tensor(f"t{number}", (1, draw(st.sampled_from(SIZES))), DType.INT8)
            ops.append(Op("CUSTOM", [first] + extra, [out], custom_code="Opaque"))
        tensors.append(out)
    used = {id(t) for op in ops for t in op.inputs}
    outputs = [t for t in tensors[len(inputs):] if id(t) not in used] or [tensors[-1]]
    subgraph = Subgraph("random", tensors, ops, inputs, outputs)
    subgraph.link()
    return subgraph


def _topological_orders(subgraph: Subgraph):
    for order in itertools.permutations(range(len(subgraph.ops))):
        try:
            check_order(subgraph, order)
        except ValueError:
            continue
        yield list(order)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_dags())
def test_every_plan_verifies(subgraph: Subgraph) -> None:
    tflm = plan_memory(subgraph, planner="tflm")
    verify_plan(tflm, subgraph)
    for reorder in (True, False):
        for inplace in (True, False):
            plan = plan_memory(subgraph, reorder=reorder, inplace=inplace)
            verify_plan(plan, subgraph)
            assert plan.lower_bound_bytes <= plan.arena_bytes <= tflm.arena_bytes


@settings(max_examples=40, deadline=None)
@given(random_dags(max_ops=6))
def test_reordering_is_exact_on_small_graphs(subgraph: Subgraph) -> None:
    for kinds in ((), ("view", "elementwise")):
        found = best_order(subgraph, inplace_kinds=kinds)
        check_order(subgraph, found.order)
        assert found.exact
        brute = min(order_peak(subgraph, order, inplace_kinds=kinds) for order in _topological_orders(subgraph))
        assert found.peak_bytes == order_peak(subgraph, found.order, inplace_kinds=kinds) == brute


def test_reordering_runs_the_memory_hungry_branch_first() -> None:
    """Liberis & Lane's example shape: two branches; finishing the big one first lowers the peak."""
    x = Tensor("x", (1, 64), DType.INT8)
    a1 = Tensor("a1", (1, 4096), DType.INT8)  # branch A: big intermediate, small result
    a2 = Tensor("a2", (1, 16), DType.INT8)
    b1 = Tensor("b1", (1, 2048), DType.INT8)  # branch B: medium result kept until the end
    out = Tensor("out", (1, 16), DType.INT8)
    ops = [Op("CUSTOM", [x], [b1], custom_code="B"), Op("CUSTOM", [x], [a1], custom_code="A1"),
           Op("CUSTOM", [a1], [a2], custom_code="A2"), Op("CUSTOM", [a2, b1], [out], custom_code="J")]
    subgraph = Subgraph("branches", [x, a1, a2, b1, out], ops, [x], [out])
    subgraph.link()
    plan = plan_memory(subgraph)
    verify_plan(plan, subgraph)
    assert plan.order == [1, 2, 0, 3]
    assert plan.arena_bytes < plan.tflm_arena_bytes
