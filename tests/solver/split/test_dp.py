"""The DP side of the check: hand-worked answers, and the Pareto labels against brute force."""

from __future__ import annotations

import itertools
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from solver.split.check import check_path
from solver.split.dp import (
    FastGraph,
    LabelLimit,
    distances,
    lagrangian,
    pareto_labels,
    pareto_plans,
    path_of,
    shortest_path,
    through,
)
from solver.split.model import SplitModel
from solver.split.pareto import pareto_front
from tests.factory.infer_profiles import random_instance
from tests.factory.split import all_paths, hand_instance


def test_hand_instance_latency_optimum_is_the_split_after_layer_0() -> None:
    p = shortest_path(hand_instance())
    assert p is not None
    assert math.isclose(p.latency, 0.0175, rel_tol=1e-12)
    assert [(o.device, o.start, o.end) for o in p.options] == [(0, 0, 1), (1, 1, 3)]
    assert [(t.cut, t.src, t.dst) for t in p.transfers] == [(1, 0, 1), (3, 1, 0)]


def test_hand_instance_energy_optimum_is_all_on_server() -> None:
    p = shortest_path(hand_instance(), 0.0, 1.0)
    assert p is not None
    assert math.isclose(p.energy, 0.022, rel_tol=1e-12)
    assert {o.device for o in p.options} == {1}


def test_hand_instance_front_has_exactly_two_points() -> None:
    front = pareto_labels(hand_instance())
    assert len(front) == 2
    assert math.isclose(front[0][0], 0.0175) and math.isclose(front[0][1], 0.056)
    assert math.isclose(front[1][0], 0.0245) and math.isclose(front[1][1], 0.022)


def test_unreachable_sink_gives_none() -> None:
    inst = hand_instance().restricted(lambda o: o.device == 1, lambda t: t.src == 0)
    assert shortest_path(inst) is None


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(1, 5),
    freqs=st.integers(1, 3),
    max_len=st.integers(1, 3),
    seed=st.integers(0, 10**6),
)
def test_dp_matches_brute_force(n: int, freqs: int, max_len: int, seed: int) -> None:
    inst = random_instance(n, 2, freqs, max_len, seed)
    plans = all_paths(inst)
    p = shortest_path(inst)
    assert p is not None
    assert math.isclose(p.latency, min(lat for lat, _ in plans), rel_tol=1e-12)
    e = shortest_path(inst, 0.0, 1.0)
    assert e is not None
    assert math.isclose(e.energy, min(en for _, en in plans), rel_tol=1e-12)
    front = pareto_labels(inst)
    for lat, en in plans:  # every plan is weakly dominated by a front point
        assert any(a <= lat * (1 + 1e-12) and b <= en * (1 + 1e-12) for a, b in front)
    for a, b in front:  # every front point is a plan
        assert any(math.isclose(a, lat, rel_tol=1e-9) and math.isclose(b, en, rel_tol=1e-9)
                   for lat, en in plans)  # fmt: skip


def test_distances_agree_forward_and_backward() -> None:
    inst = random_instance(12, 3, 2, 4, seed=3)
    fwd = distances(inst, 1.0, 0.0)
    bwd = distances(inst, 1.0, 0.0, to_sink=True)
    assert math.isclose(fwd[inst.n_layers][inst.sink], bwd[0][inst.source], rel_tol=1e-12)
    steps = list(inst.options) + list(inst.transfers)
    values, best = through(inst, steps, 1.0, 0.0)
    p = shortest_path(inst)
    assert p is not None
    for s in p.steps:  # edges of an optimal path price at the optimum
        assert math.isclose(values[steps.index(s)], best, rel_tol=1e-9)
    assert min(values) >= best * (1 - 1e-12)


def test_lagrangian_bound_is_below_the_constrained_optimum() -> None:
    inst = random_instance(6, 2, 3, 3, seed=11)
    fast = shortest_path(inst)
    assert fast is not None
    bound = fast.latency * 1.1
    lg = lagrangian(inst, "energy", bound)
    best = min(en for lat, en in all_paths(inst) if lat <= bound)
    assert lg.incumbent is not None and lg.incumbent.latency <= bound
    assert lg.lower_bound <= best * (1 + 1e-9) <= lg.incumbent.energy * (1 + 1e-9)
    assert lagrangian(inst, "energy", fast.latency * 0.5).infeasible


@settings(max_examples=20, deadline=None)
@given(n=st.integers(1, 9), devices=st.integers(1, 3), freqs=st.integers(1, 3),
       seed=st.integers(0, 10**6), w=st.floats(0.0, 10.0))  # fmt: skip
def test_fast_graph_matches_plain_dp(n: int, devices: int, freqs: int, seed: int, w: float) -> None:
    inst = random_instance(n, devices, freqs, 3, seed)
    g = FastGraph(inst)
    plain = shortest_path(inst, 1.0, w)
    fast = g.shortest_path(1.0, w)
    assert plain is not None and fast is not None
    assert math.isclose(plain.latency + w * plain.energy, fast.latency + w * fast.energy,
                        rel_tol=1e-12)  # fmt: skip
    steps = list(inst.options) + list(inst.transfers)
    a, best_a = through(inst, steps, 1.0, w)
    b, best_b = g.through(steps, 1.0, w)
    assert math.isclose(best_a, best_b, rel_tol=1e-12)
    assert all(math.isclose(x, y, rel_tol=1e-12) for x, y in zip(a, b, strict=True))


def test_hand_instance_plans() -> None:
    inst = hand_instance()
    plans = pareto_plans(inst)
    assert [(round(p.latency, 12), round(p.energy, 12)) for p in plans] == [
        (0.0175, 0.056),
        (0.0245, 0.022),
    ]
    assert [(o.device, o.start, o.end) for o in plans[0].options] == [(0, 0, 1), (1, 1, 3)]
    assert {o.device for o in plans[1].options} == {1}
    assert all(not check_path(inst, p.steps) for p in plans)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 9), devices=st.integers(1, 4), freqs=st.integers(1, 4),
       max_len=st.integers(1, 4), seed=st.integers(0, 10**6), pins=st.integers(0, 15))  # fmt: skip
def test_pareto_plans_equal_labels(
    n: int, devices: int, freqs: int, max_len: int, seed: int, pins: int
) -> None:
    inst = random_instance(n, devices, freqs, max_len, seed)
    inst.source, inst.sink = pins % devices, pins // 4 % devices
    labels = pareto_labels(inst)
    plans = pareto_plans(inst)
    assert len(plans) == len(labels)
    for p, (lat, en) in zip(plans, labels, strict=True):
        assert math.isclose(p.latency, lat, rel_tol=1e-9)
        assert math.isclose(p.energy, en, rel_tol=1e-9)
        assert not check_path(inst, p.steps)
        again = path_of(list(p.steps))
        assert (again.latency, again.energy) == (p.latency, p.energy)
    for a, b in itertools.pairwise(plans):  # fastest first, strictly non-dominated
        assert a.latency < b.latency and a.energy > b.energy


def test_pareto_plans_relay_between_devices() -> None:
    """Only relays a -> b -> c at one cut connect the devices: the plans must use them."""
    inst = random_instance(6, 3, 2, 3, seed=5)
    inst = inst.restricted(
        keep_transfer=lambda t: (t.src, t.dst) in ((0, 1), (1, 2), (2, 1), (1, 0))
    )
    inst.options = [o for o in inst.options if o.device != 1]
    labels = pareto_labels(inst)
    plans = pareto_plans(inst)
    assert len(labels) > 1 and len(plans) == len(labels)
    assert all(not check_path(inst, p.steps) for p in plans)
    assert any(len(p.transfers) >= 4 for p in plans)


def test_pareto_plans_brute_force() -> None:
    inst = random_instance(5, 2, 3, 3, seed=9)
    plans = pareto_plans(inst)
    every = all_paths(inst)
    for lat, en in every:
        assert any(p.latency <= lat * (1 + 1e-12) and p.energy <= en * (1 + 1e-12) for p in plans)


def test_pareto_plans_no_path() -> None:
    inst = hand_instance().restricted(lambda o: o.device == 1, lambda t: t.src == 0)
    assert pareto_plans(inst) == []


def test_pareto_plans_needs_energy() -> None:
    inst = hand_instance()
    inst.energy_known = False
    with pytest.raises(ValueError, match="energy unknown"):
        pareto_plans(inst)


def test_pareto_plans_stop_at_their_label_bound_and_the_front_says_so(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import solver.split.pareto

    inst = random_instance(12, 2, 3, 3, seed=4)
    assert pareto_plans(inst, max_labels=10**9)  # the work bound is wide enough: the front
    with pytest.raises(LabelLimit, match="labels by cut"):
        pareto_plans(inst, max_labels=3)
    monkeypatch.setattr(
        solver.split.pareto, "pareto_plans", lambda i, **kw: pareto_plans(i, max_labels=3, **kw)
    )
    front = pareto_front(SplitModel(inst), method="dp")
    assert not front.complete and "label bound" in (front.reason or "")
