"""solve_exact against brute force: both SCIP models, fixed splits, classes, pruning, limits."""

from __future__ import annotations

import random

import pytest

from solver.pipeline.baselines import dopart_splits, split_aware_greedy
from solver.pipeline.bounds import fixed_lower_bound, joint_lower_bound
from solver.pipeline.check import makespan_of
from solver.pipeline.exact import solve_exact
from solver.pipeline.jobs import Job, SplitOption, job_times, nondominated
from solver.pipeline.sample import sample_jobs
from tests.factory.pipeline import brute_force, random_jobs


@pytest.mark.parametrize("formulation", ["position", "disjunctive"])
def test_joint_milp_equals_brute_force(formulation: str) -> None:
    """Where the warm start meets the balance bound the bound proves it and SCIP is not run;
    the others (here two of four) SCIP proves."""
    rng = random.Random(42)
    by = []
    for n, s in ((4, 3), (5, 3), (5, 3), (5, 4)):
        jobs = random_jobs(rng, n, s)
        warm = split_aware_greedy(jobs, seed=0, iterations=20, time_limit=0.2)
        r = solve_exact(
            jobs,
            formulation=formulation,  # type: ignore[arg-type]
            warm=warm,
            method="scip",
        )
        assert r.optimal and r.gap == 0 and r.method in (f"scip-{formulation}", "bound")
        assert r.makespan == pytest.approx(brute_force(jobs), rel=1e-7)
        assert makespan_of(jobs, r.order, r.splits) == pytest.approx(r.makespan)
        by.append(r.method)
    assert by.count(f"scip-{formulation}") >= 2, by


def test_order_only_milp_equals_brute_force_and_bounds_hold() -> None:
    rng = random.Random(8)
    for _ in range(4):
        jobs = random_jobs(rng, 5, 3)
        splits = [rng.randrange(3) for _ in jobs]
        best = brute_force(jobs, splits)
        r = solve_exact(jobs, fixed_splits=splits, method="scip")
        assert r.makespan == pytest.approx(best, rel=1e-7)
        assert solve_exact(jobs, fixed_splits=splits).makespan == pytest.approx(best, rel=1e-7)
        assert r.splits == splits
        assert fixed_lower_bound(job_times(jobs, splits)) <= best + 1e-9
        assert joint_lower_bound(jobs, [nondominated(j) for j in jobs]) <= brute_force(jobs) + 1e-9


def test_identical_jobs_become_one_class_and_stay_exact() -> None:
    opts = (SplitOption(0, 0, 4, 2), SplitOption(1, 3, 1, 1), SplitOption(2, 5, 0, 0))
    jobs = [Job(f"same-{i}", opts) for i in range(5)]
    r = solve_exact(jobs)
    assert r.classes == 1
    assert r.makespan == pytest.approx(brute_force(jobs))


def test_dominated_options_are_pruned_without_losing_the_optimum() -> None:
    job = Job("j", (SplitOption(0, 1, 2, 3), SplitOption(1, 2, 2, 3), SplitOption(2, 1, 2, 3)))
    assert nondominated(job) == [0]
    rng = random.Random(3)
    jobs = [*random_jobs(rng, 3, 3), job]
    assert solve_exact(jobs).makespan == pytest.approx(brute_force(jobs))


def test_time_limit_keeps_best_schedule_bound_and_gap() -> None:
    # N = 30 is past the bounded DP (BDP_MAX_N = 14): SCIP's position model alone, which cannot
    # prove 30 jobs in 0.3 s (it does not finish its root LP), so it stops for certain
    jobs = sample_jobs(num_jobs=30, seed=3)
    dp = dopart_splits(jobs)
    fifo = makespan_of(jobs, list(range(30)), dp)
    r = solve_exact(jobs, time_limit=0.3, warm=(list(range(30)), dp))
    assert not r.optimal and r.status == "timelimit" and r.method == "scip-position"
    assert r.makespan <= fifo + 1e-12  # the best schedule found is kept, never lost
    assert makespan_of(jobs, r.order, r.splits) == pytest.approx(r.makespan)
    assert 0 < r.lower_bound < r.makespan
    assert r.lower_bound >= joint_lower_bound(jobs, [nondominated(j) for j in jobs]) - 1e-12
    assert r.gap > 0
    assert r.gap == pytest.approx((r.makespan - r.lower_bound) / r.makespan)


def test_an_empty_batch_is_optimal_at_zero() -> None:
    r = solve_exact([])
    assert r.optimal and r.makespan == 0 and r.order == [] and r.method == "-"


def test_the_final_search_goes_on_with_the_balance_relaxation_its_node_limit_left_open(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """From BALANCE_SEARCH_MIN_N jobs (here lowered to reach a small batch) the final search
    continues the balance relaxation: sampled N = 15, seed 3, left open after 2 nodes, is then
    proven optimal by it (its splits' schedule meets its bound), where one SCIP node of the
    position model from the same start proves nothing."""
    from solver.pipeline import exact
    from solver.pipeline.bounds import Balance, balance_relaxation

    jobs = sample_jobs(num_jobs=15, seed=3)
    options = [nondominated(j) for j in jobs]
    whole = balance_relaxation(jobs, options, subset_nodes=-1)

    def open_balance() -> Balance:
        b = balance_relaxation(jobs, options, subset_nodes=2)
        assert b.search is not None and b.bound < whole.bound - 1e-6
        return b

    r = solve_exact(jobs, method="scip", balance=open_balance(), node_limit=1)
    assert r.method == "scip-position" and not r.optimal
    monkeypatch.setattr(exact, "BALANCE_SEARCH_MIN_N", 2)
    r = solve_exact(jobs, method="scip", balance=open_balance(), node_limit=1)
    assert r.method == "balance" and r.optimal and r.status == "optimal"
    assert r.makespan == pytest.approx(whole.bound, rel=1e-6)
    assert makespan_of(jobs, r.order, r.splits) == pytest.approx(r.makespan)
