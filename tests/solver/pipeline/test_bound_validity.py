"""Every reported lower bound is valid: below the brute-force optimum on small instances of every
family, never below the cheap bounds on large ones (however early the time limit stops the
phases), and the phases before the final search give the same answer whatever time they have."""

from __future__ import annotations

import random

import pytest

from solver.pipeline.baselines import saig_run
from solver.pipeline.bounds import balance_relaxation, count_relaxation
from solver.pipeline.compare import compare_methods
from solver.pipeline.exact import solve_exact
from solver.pipeline.families import FAMILIES
from solver.pipeline.jobs import Job, nondominated
from solver.pipeline.quick_bounds import quick_lower_bound
from tests.factory.pipeline import brute_force, random_jobs

TOL = 1e-9


def _small(family: str, seed: int) -> list[Job]:
    """A brute-forceable instance: 3 jobs of the many-option family, 4 of the others (options
    cut to the 4 first, keeping the family's shape)."""
    n = 3 if family == "dominated" else 4
    jobs = FAMILIES[family](n, seed)
    return [Job(j.name, j.options[:4]) if family != "dominated" else j for j in jobs]


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_every_bound_is_below_the_brute_force_optimum(family: str) -> None:
    for seed in (1, 2):
        jobs = _small(family, seed)
        opt = brute_force(jobs)
        options = [nondominated(j) for j in jobs]
        quick = quick_lower_bound(jobs, options)
        assert all(v <= opt + TOL for v in quick.parts.values()), (family, seed, quick.parts)
        assert balance_relaxation(jobs, options).bound <= opt + TOL
        assert count_relaxation(jobs, options).bound <= opt + TOL
        for method in ("bdp", "scip"):
            r = solve_exact(jobs, method=method)  # type: ignore[arg-type]
            assert r.lower_bound <= opt + TOL <= r.makespan + 2 * TOL
            assert r.optimal and abs(r.makespan - opt) <= 1e-7 * max(1.0, opt)
    opt_run = compare_methods(jobs, time_limit=None, seed=1)[-1]
    assert opt_run.lower_bound is not None and opt_run.lower_bound <= opt + TOL


def test_bounds_of_random_jobs_with_zero_times_are_valid() -> None:
    rng = random.Random(7)
    for _ in range(10):
        jobs = random_jobs(rng, 5, 3)
        for j in jobs[:2]:  # an all-local and an all-remote option
            object.__setattr__(j, "options", (*j.options[:2], type(j.options[0])(9, 4.0, 0, 0)))
        opt = brute_force(jobs)
        q = quick_lower_bound(jobs, [nondominated(j) for j in jobs])
        assert q.value <= opt + TOL
        r = solve_exact(jobs, time_limit=0.0)  # the cap spent at once: the floor remains
        assert q.value - TOL <= r.lower_bound <= opt + TOL


@pytest.mark.parametrize("family", ["sampled", "local-remote", "near-equal", "random-b"])
def test_a_large_batch_never_reports_less_than_the_cheap_bounds(family: str) -> None:
    jobs = FAMILIES[family](200, 3)
    q = quick_lower_bound(jobs, [nondominated(j) for j in jobs])
    assert q.value > 0
    for time_limit in (0.0, 2.0):
        r = solve_exact(jobs, time_limit=time_limit, method="scip")
        assert q.value - TOL <= r.lower_bound <= r.makespan + TOL


def test_a_phase_cut_short_by_the_time_limit_is_named() -> None:
    jobs = FAMILIES["sampled"](60, 1)
    runs = compare_methods(jobs, time_limit=0.3, seed=1)
    notes = " ".join(r.note or "" for r in runs)
    assert "time limit cut" in notes
    opt = runs[-1]
    q = quick_lower_bound(jobs, [nondominated(j) for j in jobs])
    assert opt.lower_bound is not None and opt.lower_bound >= q.value - TOL


def test_work_bounded_phases_give_the_same_answer_whatever_time_they_have() -> None:
    # the same bound and splits, the same SAIG schedule: with no cap, and with a generous one
    jobs = FAMILIES["bandwidth-10x"](30, 4)
    options = [nondominated(j) for j in jobs]
    a, b = balance_relaxation(jobs, options), balance_relaxation(jobs, options, 600.0)
    assert (a.bound, a.splits) == (b.bound, b.splits) and not b.cut_by_time
    s1 = saig_run(jobs, seed=2, work=200_000)
    s2 = saig_run(jobs, seed=2, work=200_000, time_limit=600.0)
    assert s1 == s2 and not s2[2]


def test_the_balance_bound_is_below_the_brute_force_optimum_on_random_jobs() -> None:
    """The subset bounds count every job outside the subset (the lesser of its two times);
    random stage times, some of them zero, try them where no family's shape helps."""
    rng = random.Random(11)
    gaps = []
    for i in range(40):
        jobs = random_jobs(rng, 4 + i % 2, 3)
        if i % 3 == 0:  # a zero stage on some options: all-local, all-remote, no link
            for j in jobs[::2]:
                a, b, c = j.options[0].times
                zeroed = (
                    type(j.options[0])(9, a, 0.0, 0.0)
                    if i % 2
                    else type(j.options[0])(9, 0.0, b, c)
                )
                object.__setattr__(j, "options", (*j.options[1:], zeroed))
        opt = brute_force(jobs)
        bound = balance_relaxation(jobs, [nondominated(j) for j in jobs]).bound
        assert bound <= opt + TOL, (i, bound, opt)
        gaps.append((opt - bound) / opt)
    assert min(gaps) <= 1e-9  # it is tight somewhere: a bound of 0 would pass the rest
