"""The assignment MILP: SCIP's optimum against brute force, every schedule checked."""

from __future__ import annotations

import math
import random

import pytest

from solver.hybrid.check import check_schedule
from solver.hybrid.model import build_model, solve_all, solve_scip
from tests.factory.hybrid import brute_force, random_instance


@pytest.mark.parametrize("seed", range(8))
def test_scip_optimum_equals_brute_force_and_every_schedule_passes_the_checker(seed):
    rng = random.Random(seed)
    n, cpus, gpus = rng.randint(3, 7), rng.randint(1, 2), rng.randint(1, 2)
    p = random_instance(rng, n, cpus, gpus)
    devices = ["cpu"] * cpus + ["cuda"] * gpus
    res = solve_all(p, devices, time_limit=30)
    opt = brute_force(p)
    assert res["scip"].status == "optimal"
    assert res["scip"].makespan == pytest.approx(opt, rel=1e-6)
    assert res["scip"].dual_bound == pytest.approx(opt, rel=1e-6)
    for name, s in res.items():
        assert check_schedule(s.model_dump(), p) == [], name
        assert s.span >= opt - 1e-9, name
    assert res["greedy"].span >= res["scip"].span - 1e-9


def test_identical_workers_and_forbidden_pairs():
    """Jobs that cannot run on a worker (inf) are never put there; brute force agrees."""
    p = [[4.0, 4.0, math.inf], [3.0, 3.0, 1.0], [2.0, 2.0, 1.5], [5.0, 5.0, math.inf], [1.0, 1, 9]]
    res = solve_all(p, ["cpu", "cpu", "cuda"], 30)
    assert res["scip"].makespan == pytest.approx(brute_force(p))
    for s in res.values():
        if s.entries:
            assert check_schedule(s.model_dump(), p) == []
    assert res["gpu-only"].makespan is None and res["gpu-only"].status == "infeasible"
    assert math.isinf(res["gpu-only"].span)


def test_medium_instance_scip_is_no_worse_than_greedy_and_bounds_hold():
    rng = random.Random(7)
    p = random_instance(rng, 30, 3, 2)
    res = solve_all(p, ["cpu"] * 3 + ["cuda"] * 2, time_limit=5)
    s = res["scip"]
    assert check_schedule(s.model_dump(), p) == []
    assert s.span <= res["greedy"].span + 1e-9
    assert s.dual_bound is not None and s.dual_bound <= s.span + 1e-6
    assert min(res["cpu-only"].span, res["gpu-only"].span) >= s.dual_bound - 1e-6


def test_schedule_on_one_worker_is_sequential_from_zero():
    p = [[1.0], [2.0], [3.0]]
    s = solve_scip(p, 10)
    assert s.makespan == pytest.approx(6.0)
    assert sorted((e.start, e.end) for e in s.entries) == [(0.0, 3.0), (3.0, 5.0), (5.0, 6.0)]


def test_the_model_has_one_variable_per_allowed_pair_and_the_bounds_on_cmax():
    p = [[4.0, math.inf], [2.0, 1.0]]
    model = build_model(p)
    assert set(model.data["x"]) == {(0, 0), (1, 0), (1, 1)}
    assert model.data["cmax"].getLbOriginal() == pytest.approx(4.0)  # job 0's only time
