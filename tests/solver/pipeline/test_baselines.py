"""Heuristics: never below the optimum, schedules always valid, Johnson exact where it claims."""

from __future__ import annotations

import random

import numpy as np

from solver.pipeline.baselines import (
    _insertion_costs,
    dopart_splits,
    fifo_order,
    johnson_exact_condition,
    johnson_order,
    neh_order,
    reinsertion,
    split_aware_greedy,
)
from solver.pipeline.check import check_schedule, makespan_of, makespan_times, simulate
from solver.pipeline.jobs import Job, SplitOption
from tests.factory.pipeline import brute_force, random_jobs


def test_dopart_takes_each_jobs_least_end_to_end_time() -> None:
    rng = random.Random(1)
    jobs = random_jobs(rng, 6, 4)
    for j, s in zip(jobs, dopart_splits(jobs), strict=True):
        assert j.options[s].total == min(o.total for o in j.options)


def test_every_heuristic_is_valid_and_not_below_the_optimum() -> None:
    rng = random.Random(7)
    for trial in range(6):
        jobs = random_jobs(rng, 5, 3)
        opt = brute_force(jobs)
        dp = dopart_splits(jobs)
        times = [jobs[j].options[dp[j]].times for j in range(5)]
        dp_opt = brute_force(jobs, dp)
        for order in (fifo_order(5), johnson_order(times)[0], neh_order(times)):
            assert sorted(order) == list(range(5))
            assert check_schedule(jobs, simulate(jobs, order, dp)) == []
            assert makespan_of(jobs, order, dp) >= dp_opt - 1e-9
        g_order, g_splits = split_aware_greedy(jobs, seed=trial, iterations=30, time_limit=1.0)
        assert check_schedule(jobs, simulate(jobs, g_order, g_splits)) == []
        g = makespan_of(jobs, g_order, g_splits)
        assert g >= opt - 1e-9
        assert g <= makespan_of(jobs, fifo_order(5), dp) + 1e-9  # never worse than DOPart FIFO


def test_split_aware_greedy_finds_the_optimum_of_small_instances_mostly() -> None:
    rng = random.Random(11)
    hits = 0
    for trial in range(6):
        jobs = random_jobs(rng, 5, 3)
        o, s = split_aware_greedy(jobs, seed=trial, iterations=30, time_limit=0.5)
        hits += abs(makespan_of(jobs, o, s) - brute_force(jobs)) < 1e-9
    assert hits >= 4


def test_johnson_is_exact_when_its_condition_holds() -> None:
    rng = random.Random(5)
    for _ in range(10):
        # middle machine dominated by the first one: min local >= max comm
        times = [(rng.uniform(5, 9), rng.uniform(0, 5), rng.uniform(0, 9)) for _ in range(6)]
        assert johnson_exact_condition(times)
        order, exact = johnson_order(times)
        assert exact
        jobs = [Job(f"j{i}", (SplitOption(0, *t),)) for i, t in enumerate(times)]
        assert abs(makespan_times([times[j] for j in order]) - brute_force(jobs)) < 1e-9


def test_johnson_two_machine_case_is_exact() -> None:
    rng = random.Random(9)
    times = [(0.0, rng.uniform(0, 9), rng.uniform(0, 9)) for _ in range(6)]
    order, exact = johnson_order(times)
    jobs = [Job(f"j{i}", (SplitOption(0, *t),)) for i, t in enumerate(times)]
    assert exact
    assert abs(makespan_times([times[j] for j in order]) - brute_force(jobs)) < 1e-9


def test_accelerated_insertion_equals_simulation() -> None:
    rng = np.random.default_rng(0)
    seq = rng.uniform(0, 5, size=(7, 3))
    cand = rng.uniform(0, 5, size=(3, 3))
    costs = _insertion_costs(seq, cand)
    for k in range(3):
        for pos in range(8):
            rows = [tuple(r) for r in seq[:pos]] + [tuple(cand[k])] + [tuple(r) for r in seq[pos:]]
            assert abs(costs[k, pos] - makespan_times(rows)) < 1e-9


def test_reinsertion_never_lengthens_and_ends_where_no_move_helps() -> None:
    """From FIFO on random batches: a permutation, no longer, and a local optimum (no single
    job moved elsewhere shortens it) when it stopped before its pass bound."""
    rng = random.Random(3)
    for _ in range(20):
        jobs = random_jobs(rng, 9, 1)
        times = [j.options[0].times for j in jobs]
        start = list(range(len(times)))
        out = reinsertion(times, start, passes=50)
        assert sorted(out) == start
        after = makespan_times([times[j] for j in out])
        assert after <= makespan_times([times[j] for j in start]) + 1e-12
        for j in out:
            rest = [x for x in out if x != j]
            for p in range(len(out)):
                moved = rest[:p] + [j] + rest[p:]
                assert makespan_times([times[k] for k in moved]) >= after * (1 - 1e-9)
