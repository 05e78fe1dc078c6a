"""The decision against brute force over variants x cuts x servers x clocks, per domain."""

from __future__ import annotations

import itertools
import math

import pytest

from solver.accsplit.baselines import feasible_variants, seed_gradient_descent
from solver.accsplit.instance import build_instance
from solver.accsplit.model import build, solve
from solver.accsplit.problem import GradientSpec
from tests.factory.accsplit import acc_problem, brute_force
from tests.solver.accsplit.conftest import loaded

CASES = list(
    itertools.product(
        (0, 1, 2),  # seed
        (0.0, 0.01, 0.03, 0.08),  # epsilon
        ("throughput", "latency", "energy"),
    )
)


@pytest.mark.parametrize(("seed", "epsilon", "objective"), CASES)
def test_scip_matches_brute_force(seed: int, epsilon: float, objective: str) -> None:
    profiles = loaded(seed=seed, n_layers=5, n_domains=3)
    inst = build_instance(acc_problem(epsilon=epsilon, objective=objective), profiles)
    for d in inst.domains:
        best, _ = brute_force(inst, d)
        start, _ = seed_gradient_descent(inst, d, GradientSpec(steps=50))
        dm = build(inst, feasible_variants(inst, d), inst.bound(d), d)
        stats, point = solve(dm, None, start if seed % 2 else None)
        assert point is not None and stats.status == "optimal" and stats.gap == 0.0
        assert inst.value(point) == pytest.approx(best, rel=1e-9)
        assert inst.variants[point.variant].accuracy[d].value >= inst.bound(d) - 1e-12


def test_two_servers_and_limits_match_brute_force() -> None:
    profiles = loaded(
        seed=3,
        n_layers=5,
        n_domains=2,
        devices=(("edge", 1.0, (600.0, 1200.0)), ("gpu", 8.0, (None,)), ("cpu", 3.0, (1.0, 2.0))),
    )
    free = build_instance(acc_problem(servers=("gpu", "cpu"), bandwidth_mbps=5.0), profiles)
    d = free.domains[0]
    _, p = brute_force(free, d)
    assert p is not None
    for lat_max in (p.latency * 0.9, p.latency * 0.7, p.latency * 0.5):
        inst = build_instance(
            acc_problem(
                servers=("gpu", "cpu"),
                bandwidth_mbps=5.0,
                constraints={"latency_max_s": lat_max},
            ),
            profiles,
        )
        best, bp = brute_force(inst, d)
        stats, point = solve(build(inst, feasible_variants(inst, d), inst.bound(d), d), None)
        if bp is None:
            assert point is None and stats.status == "infeasible"
            continue
        assert point is not None and inst.value(point) == pytest.approx(best, rel=1e-9)
        assert point.latency <= lat_max * (1 + 1e-9)


def test_throughput_ties_go_to_the_quickest_plan(family: object) -> None:
    """Lexicographic: among plans at the optimal rate, the least latency."""
    inst = build_instance(acc_problem(epsilon=0.03), family)  # type: ignore[arg-type]
    d = inst.domains[0]
    _, point = solve(build(inst, feasible_variants(inst, d), inst.bound(d), d), None)
    assert point is not None
    feas = feasible_variants(inst, d)
    same_rate = [
        p
        for v in feas
        for p in inst.points(v)
        if math.isclose(p.bottleneck_s, point.bottleneck_s, rel_tol=1e-9)
    ]
    assert point.latency == pytest.approx(min(p.latency for p in same_rate), rel=1e-9)


def test_no_variant_gives_an_empty_model(family: object) -> None:
    inst = build_instance(acc_problem(), family)  # type: ignore[arg-type]
    stats, point = solve(build(inst, [], inst.bound("d0"), "d0"), None)
    assert point is None and stats.status == "infeasible"
