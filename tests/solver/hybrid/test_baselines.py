"""The baselines: greedy LPT to the earliest finish, and its one-device restrictions."""

from __future__ import annotations

import pytest

from solver.hybrid.baselines import (
    baselines,
    device_only,
    greedy,
    lower_bound,
    schedule_from_assignment,
)
from solver.hybrid.check import check_schedule


def test_greedy_is_lpt_to_the_earliest_finish():
    p = [[3.0, 6.0], [3.0, 6.0], [2.0, 2.0]]
    g = greedy(p)
    # LPT order: jobs 0, 1 (3 s), then 2; job 0 -> w0 (3), job 1 -> w0 (6) ties w1 (6): w0
    assert g.assignment(3) == [0, 0, 1]
    assert g.makespan == pytest.approx(6.0)


def test_one_device_baselines_use_only_that_device_and_none_is_no_schedule():
    p = [[3.0, 1.0], [2.0, 1.0]]
    res = baselines(p, ["cpu", "cuda"])
    assert res["cpu-only"].assignment(2) == [0, 0] and res["cpu-only"].makespan == 5.0
    assert res["gpu-only"].assignment(2) == [1, 1] and res["gpu-only"].makespan == 2.0
    assert res["greedy"].makespan == pytest.approx(2.0)
    for s in res.values():
        assert check_schedule(s.model_dump(), p) == []
    assert [s.method for s in res.values()] == list(res)
    none = device_only(p, ["cpu", "cpu"], "cuda", "gpu-only")
    assert none.makespan is None and none.status == "infeasible" and not none.entries


def test_schedule_from_assignment_runs_each_workers_jobs_longest_first():
    p = [[1.0, 9.0], [3.0, 9.0], [2.0, 9.0]]
    s = schedule_from_assignment("x", [0, 0, 0], p)
    assert [(e.job, e.start, e.end) for e in s.entries] == [(1, 0, 3), (2, 3, 5), (0, 5, 6)]
    assert s.makespan == 6.0


def test_lower_bound_is_the_larger_of_the_longest_job_and_the_average_load():
    assert lower_bound([[5.0, 8.0], [1.0, 1.0]]) == 5.0
    assert lower_bound([[2.0, 2.0]] * 4) == 4.0
