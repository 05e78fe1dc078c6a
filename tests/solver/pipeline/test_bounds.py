"""The balance relaxation: a valid bound (zero stage times included) that closes big gaps."""

from __future__ import annotations

import random

import pytest

from solver.pipeline.baselines import order_for_splits
from solver.pipeline.bounds import (
    balance_bound_and_splits,
    balance_lower_bound,
    balance_relaxation,
    count_relaxation,
    joint_lower_bound,
    resume_balance,
)
from solver.pipeline.check import makespan_of
from solver.pipeline.jobs import Job, SplitOption, nondominated
from solver.pipeline.sample import sample_jobs
from tests.factory.pipeline import brute_force


def test_balance_bound_never_exceeds_brute_force_even_with_zero_stage_times() -> None:
    # Zero stage times are what the subset bounds are for (an all-local option has no tail):
    # they must stay valid there.
    rng = random.Random(3)
    for _ in range(12):
        jobs = [
            Job(
                f"j{i}",
                tuple(
                    SplitOption(
                        k, *(0.0 if rng.random() < 0.3 else rng.uniform(0, 10) for _ in range(3))
                    )
                    for k in range(3)
                ),
            )
            for i in range(5)
        ]
        options = [nondominated(j) for j in jobs]
        opt = brute_force(jobs)
        assert balance_lower_bound(jobs, options) <= opt + 1e-9
        assert count_relaxation(jobs, options).bound <= opt + 1e-9


def test_balance_bound_closes_the_gap_on_a_sampled_batch_of_50() -> None:
    # Sampled N = 50, seed 1: the plain head + load + tail bound stopped 1.3% below every
    # schedule found, because an all-local job could end the batch with no tail and hide the
    # long remote tail of the job before it. The subset bounds see it.
    jobs = sample_jobs(num_jobs=50, seed=1)
    options = [nondominated(j) for j in jobs]
    lb, splits = balance_bound_and_splits(jobs, options, time_limit=30.0)
    assert splits is not None
    ms = makespan_of(jobs, order_for_splits(jobs, splits), splits)
    assert lb <= ms + 1e-9
    assert (ms - lb) / ms < 0.01


def test_a_balance_relaxation_stopped_by_its_node_limit_goes_on_where_it_stopped() -> None:
    """resume_balance continues SCIP's search to the optimum an unlimited solve reaches (sampled
    N = 15, seed 3: about 150 nodes), from a bound the node limit left lower; its splits
    schedule at or above that bound."""
    jobs = sample_jobs(num_jobs=15, seed=3)
    options = [nondominated(j) for j in jobs]
    stopped = balance_relaxation(jobs, options, subset_nodes=2, count_nodes=0)
    assert stopped.search is not None  # left open by its node limit
    whole = balance_relaxation(jobs, options, subset_nodes=-1, count_nodes=0)
    assert whole.search is None and whole.bound > stopped.bound + 1e-6
    gone_on = resume_balance(stopped, None)
    assert gone_on.search is None and not gone_on.cut_by_time
    assert gone_on.nodes > 2 and gone_on.bound == pytest.approx(whole.bound, rel=1e-6)
    assert gone_on.splits is not None
    ms = makespan_of(jobs, order_for_splits(jobs, gone_on.splits), gone_on.splits)
    assert gone_on.bound <= ms + 1e-9
    assert resume_balance(gone_on, None) is gone_on  # nothing left to go on with


def test_counting_the_jobs_per_cut_closes_what_the_subset_model_leaves_open() -> None:
    """Sampled N = 100, seed 4 (one network, so the jobs share their cuts): the subset model's
    dual creeps (2.7645 after 50 nodes, 2.7649 after a minute) because its LP splits two jobs
    between cuts and so balances the machines no schedule can; with the number of jobs per cut
    an integer, the relaxation solves in a few nodes to a bound its own splits' schedule meets
    to 0.001%."""
    jobs = sample_jobs(num_jobs=100, seed=4)
    options = [nondominated(j) for j in jobs]
    counted = count_relaxation(jobs, options)
    assert counted.splits is not None and counted.nodes <= 100
    ms = makespan_of(jobs, order_for_splits(jobs, counted.splits), counted.splits)
    assert counted.bound <= ms + 1e-9 and (ms - counted.bound) / ms < 1e-5
    subset = balance_relaxation(jobs, options, count_nodes=0, subset_nodes=50)
    assert counted.bound > subset.bound * 1.001
    both = balance_relaxation(jobs, options, subset_nodes=0)  # the count step is in it
    assert both.bound >= counted.bound - 1e-9 and both.count_splits == counted.splits


def test_past_the_split_models_key_limits_the_count_relaxation_still_bounds() -> None:
    """A batch too big for the plain and subset models (N = 500 at 8 cuts each) keeps the count
    relaxation, whose only integers are its counts: here all three limits are set low."""
    jobs = sample_jobs(num_jobs=20, seed=4)
    options = [nondominated(j) for j in jobs]
    alone = count_relaxation(jobs, options)
    bal = balance_relaxation(jobs, options, plain_max_keys=10, subset_max_keys=10)
    assert bal.splits is None and bal.search is None  # neither split model was built
    assert bal.count_splits == alone.splits and bal.bound == pytest.approx(alone.bound)
    none = balance_relaxation(
        jobs, options, plain_max_keys=10, subset_max_keys=10, count_max_keys=10
    )
    assert none.count_splits is None and none.bound < alone.bound


def test_a_count_relaxation_the_time_limit_stops_while_building_says_so() -> None:
    """Its build is not SCIP's (N = 400: about 0.4 s in Python here, and 12 s with its solve):
    the limit stops it too, within the budget's promise, and what is left is the joint bound,
    marked cut by time, with no node searched. The promise is what is checked, not a tighter
    figure: a loaded CI process once took 0.84 s for this 0.2 s limit."""
    import time

    from solver.budget import OVERRUN_S

    jobs = sample_jobs(num_jobs=400, seed=1)
    options = [nondominated(j) for j in jobs]
    t0 = time.perf_counter()
    stopped = count_relaxation(jobs, options, time_limit=0.2)
    assert time.perf_counter() - t0 < 0.2 + OVERRUN_S
    assert stopped.cut_by_time and stopped.splits is None and stopped.nodes == 0
    assert stopped.bound == pytest.approx(joint_lower_bound(jobs, options))
