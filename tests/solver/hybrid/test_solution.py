"""The hybrid solution: a JSON round trip and the plan row it gives."""

from __future__ import annotations

import json

import pytest

from solver.hybrid.baselines import schedule_from_assignment
from solver.hybrid.problem import HybridProblem
from solver.hybrid.solution import HybridSolution, Schedule
from tests.factory.hybrid import problem, with_step_s


def test_a_schedule_with_no_worker_of_its_kind_round_trips_as_null():
    s = Schedule(method="x", makespan=None, status="infeasible")
    doc = json.loads(s.model_dump_json())
    assert doc["makespan"] is None
    assert Schedule.model_validate(doc) == s


def _solution(scip_assign: list[int]) -> HybridSolution:
    prob = HybridProblem.model_validate(with_step_s(problem(), {"cpu": 1.0, "cuda": 0.5}))
    p = [[j.num_batches * (0.5 if w.device == "cuda" else 1.0) for w in prob.workers]
         for j in prob.jobs]  # fmt: skip
    methods = {
        "cpu-only": schedule_from_assignment("cpu-only", [0, 1, 0, 1], p),
        "gpu-only": schedule_from_assignment("gpu-only", [2] * 4, p),
        "greedy": schedule_from_assignment("greedy", [2, 0, 1, 2], p),
        "scip": schedule_from_assignment("scip", scip_assign, p, status="optimal", gap=0.0),
    }
    best = min(methods.values(), key=lambda s: s.span).method
    return HybridSolution(
        name="mix", problem=prob, notes=["times given in the problem file"], times_s=p,
        time_sources=[["given"] * 3] * 4, methods=methods, best=best,
    )  # fmt: skip


def test_summary_names_the_jobs_the_makespan_and_the_gain_over_the_best_baseline():
    # times: cpu 100, 50, 20, 10 s; gpu half. cpu-only 120, gpu-only 90, greedy 55, scip 50
    sol = _solution([2, 0, 1, 1])
    s = sol.summary()
    assert s.kind == "hybrid" and s.name == "mix" and s.subjects == ["j0", "j1", "j2", "j3"]
    assert s.objective == "makespan" and s.status == "optimal" and s.gap == 0.0
    assert s.value == sol.methods["scip"].makespan == 50.0
    assert [sol.methods[m].makespan for m in ("cpu-only", "gpu-only", "greedy")] == [120, 90, 55]
    assert s.best_baseline == "greedy" and s.gain == pytest.approx(5 / 55)
    assert s.ok and s.notes == ["times given in the problem file"]
    back = HybridSolution.model_validate_json(sol.model_dump_json())
    assert back == sol


def test_a_checker_finding_makes_the_answer_not_ok():
    sol = _solution([2, 0, 1, 1])
    sol.check_errors = ["scip: job 0 scheduled 2 times, expected once"]
    s = sol.summary()
    assert not s.ok and s.notes[-1] == "checker: scip: job 0 scheduled 2 times, expected once"
