"""The bounded dynamic programme: equal to brute force and to SCIP; honest when stopped."""

from __future__ import annotations

import random

import numpy as np
import pytest

from solver.pipeline.check import check_schedule, makespan_of, simulate
from solver.pipeline.dp import _pareto_keep, solve_bdp
from solver.pipeline.exact import solve_exact
from solver.pipeline.jobs import Job, nondominated
from solver.pipeline.sample import sample_jobs
from tests.factory.pipeline import brute_force, random_jobs


def _fifo_start(jobs: list[Job], options: list[list[int]]) -> tuple[list[int], list[int]]:
    return list(range(len(jobs))), [o[-1] for o in options]


def test_bdp_equals_brute_force_on_random_instances() -> None:
    rng = random.Random(21)
    for trial in range(10):
        n = rng.choice([2, 3, 4, 5])
        jobs = random_jobs(rng, n, rng.choice([1, 2, 3]))
        if trial % 3 == 0:  # identical jobs: the symmetry breaking must keep the optimum
            jobs = [*jobs, *(Job(f"twin{i}", jobs[0].options) for i in range(2))]
        options = [nondominated(j) for j in jobs]
        r = solve_bdp(jobs, options, _fifo_start(jobs, options))
        assert r.optimal and r.status == "optimal" and r.lower_bound == r.makespan
        assert r.makespan == pytest.approx(brute_force(jobs), rel=1e-9)
        assert makespan_of(jobs, r.order, r.splits) == pytest.approx(r.makespan)
        assert check_schedule(jobs, simulate(jobs, r.order, r.splits)) == []


def test_bdp_with_fixed_splits_equals_brute_force() -> None:
    rng = random.Random(5)
    for _ in range(4):
        jobs = random_jobs(rng, 6, 3)
        splits = [rng.randrange(3) for _ in jobs]
        r = solve_bdp(jobs, [[s] for s in splits], (list(range(6)), splits))
        assert r.optimal and r.splits == splits
        assert r.makespan == pytest.approx(brute_force(jobs, splits), rel=1e-9)


def test_bdp_equals_scip_position_model() -> None:
    rng = random.Random(13)
    for n in (5, 6):
        jobs = random_jobs(rng, n, 3)
        d = solve_exact(jobs, method="bdp")
        s = solve_exact(jobs, method="scip", formulation="position")
        assert d.method == "bdp" and s.method == "scip-position"
        assert d.optimal and s.optimal
        assert d.makespan == pytest.approx(s.makespan, rel=1e-7)


def test_auto_proves_sampled_n8_with_the_dp() -> None:
    jobs = sample_jobs(num_jobs=8, seed=2)
    r = solve_exact(jobs, time_limit=60)
    assert r.optimal and r.method == "bdp" and r.gap == 0
    assert check_schedule(jobs, simulate(jobs, r.order, r.splits)) == []


def test_stopped_bdp_reports_a_valid_bound_and_gap() -> None:
    jobs = sample_jobs(num_jobs=10, seed=1)
    options = [nondominated(j) for j in jobs]
    start = _fifo_start(jobs, options)
    r = solve_bdp(jobs, options, start, max_states=200)
    assert r.status == "statelimit" and not r.optimal
    assert r.makespan <= makespan_of(jobs, *start) + 1e-12
    # the bound must stay below the optimum, which the DP proves with more room
    full = solve_bdp(jobs, options, (r.order, r.splits), time_limit=120)
    assert full.optimal
    assert r.lower_bound <= full.makespan + 1e-12
    e = solve_exact(jobs, method="bdp", time_limit=0.05)
    if not e.optimal:
        assert e.status in ("timelimit", "statelimit") and e.method == "bdp"
        assert e.lower_bound <= full.makespan + 1e-12
        assert e.gap == pytest.approx((e.makespan - e.lower_bound) / e.makespan)


def test_pareto_filter_keeps_exactly_the_nondominated_rows() -> None:
    rng = random.Random(2)
    rows = [(rng.randint(0, 4), rng.randint(0, 4), rng.randint(0, 4)) for _ in range(60)]
    keep = _pareto_keep(np.asarray(rows, dtype=float))
    kept = {rows[i] for i in range(len(rows)) if keep[i]}
    want = {
        r
        for r in rows
        if not any(o != r and all(a <= b for a, b in zip(o, r, strict=True)) for o in rows)
    }
    assert kept == want
    assert int(keep.sum()) == len(kept)  # duplicates kept once
