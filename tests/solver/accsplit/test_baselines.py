"""The baselines: the seed's gradient descent, one device, the unpruned best split; exact is
never worse than any of them, and strictly better than the gradient descent somewhere."""

from __future__ import annotations

from solver.accsplit.baselines import (
    best_restricted,
    feasible_variants,
    progressive_pruning,
    seed_gradient_descent,
)
from solver.accsplit.instance import build_instance
from solver.accsplit.problem import GradientSpec
from solver.profiles import ProfileSet
from tests.factory.accsplit import acc_problem, brute_force
from tests.solver.accsplit.conftest import loaded


def test_exact_is_never_worse_than_gradient_descent() -> None:
    strictly = 0
    total = 0
    for seed in range(4):
        profiles = loaded(seed=seed, n_layers=8, n_domains=3)
        for eps in (0.01, 0.03):
            inst = build_instance(acc_problem(epsilon=eps), profiles)
            for d in inst.domains:
                best, _ = brute_force(inst, d)
                gd, v = seed_gradient_descent(inst, d, GradientSpec(steps=200))
                assert gd is not None and v is not None
                assert inst.variants[gd.variant].accuracy[d].value >= inst.bound(d) - 1e-12
                assert best <= inst.value(gd) * (1 + 1e-12)
                total += 1
                strictly += best < inst.value(gd) * (1 - 1e-9)
    assert total == 24 and strictly >= 1


def test_progressive_pruning_picks_the_fewest_macs_meeting_the_bound(family: ProfileSet) -> None:
    inst = build_instance(acc_problem(epsilon=0.03), family)
    for d in inst.domains:
        feas = feasible_variants(inst, d)
        v = progressive_pruning(inst, feas)
        assert v is not None
        assert inst.variants[v].info.macs == min(inst.variants[u].info.macs for u in feas)


def test_gradient_descent_is_repeatable(family: ProfileSet) -> None:
    inst = build_instance(acc_problem(epsilon=0.03), family)
    a = seed_gradient_descent(inst, "d0", GradientSpec(steps=100))
    b = seed_gradient_descent(inst, "d0", GradientSpec(steps=100))
    assert a == b


def test_one_device_baselines_are_restrictions(family: ProfileSet) -> None:
    inst = build_instance(acc_problem(epsilon=0.03), family)
    d = "d1"
    feas = feasible_variants(inst, d)
    best, _ = brute_force(inst, d)
    edge = best_restricted(inst, feas, lambda p: p.server is None)
    srv = best_restricted(inst, feas, lambda p: p.cut == 0)
    assert edge is not None and edge.cut == inst.variants[edge.variant].n_layers
    assert srv is not None and srv.cut == 0 and srv.server is not None
    assert best <= min(inst.value(edge), inst.value(srv))


def test_gradient_descent_relaxes_branch_configurations_too() -> None:
    """Two variants with the same ratios and different branches are the seed's gamma: the
    descent may round to either, and picks the one whose server stage is far cheaper."""
    variants = (("ref", (0.0, 0.0)), ("g1", (0.5, 0.5)), ("g2", (0.5, 0.5)))
    profiles = loaded(
        variants=variants,
        branches={"g1": (["3x3", "1x1"], 1.0), "g2": (["3x3", "id"], 0.2)},
        devices=(("edge", 1.0, (None,)), ("server", 0.6, (None,))),
        n_domains=1,
    )
    inst = build_instance(acc_problem(epsilon=0.5, bandwidth_mbps=1000.0), profiles)
    gd, v = seed_gradient_descent(inst, "d0", GradientSpec())
    assert gd is not None and v is not None
    best, bp = brute_force(inst, "d0")
    assert bp is not None and inst.variants[bp.variant].id == "g2"
    assert inst.variants[gd.variant].id == "g2"
