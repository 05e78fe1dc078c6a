"""The independent checker: each kind of violation is found, in a schedule and a solution."""

from __future__ import annotations

import json

from solver.hybrid.baselines import schedule_from_assignment
from solver.hybrid.check import check_schedule, check_solution
from solver.hybrid.problem import HybridProblem
from solver.hybrid.solution import HybridSolution
from tests.factory.hybrid import problem, with_step_s


def test_checker_finds_each_kind_of_violation():
    p = [[2.0, 1.0], [3.0, 1.0]]
    good = schedule_from_assignment("x", [0, 0], p).model_dump()
    assert check_schedule(good, p) == []
    overlap = json.loads(json.dumps(good))
    overlap["entries"][1]["start"] = 1.0
    overlap["entries"][1]["end"] = 1.0 + p[overlap["entries"][1]["job"]][0]
    assert any("before job" in e for e in check_schedule(overlap, p))
    missing = {"makespan": 3.0, "entries": good["entries"][:1]}
    assert any("scheduled 0 times" in e for e in check_schedule(missing, p))
    twice = {"makespan": 5.0, "entries": good["entries"] + good["entries"][:1]}
    assert any("scheduled 2 times" in e for e in check_schedule(twice, p))
    wrong = json.loads(json.dumps(good))
    wrong["entries"][0]["end"] += 0.5
    assert any("lasts" in e for e in check_schedule(wrong, p))
    liar = dict(good, makespan=1.0)
    assert any("makespan" in e for e in check_schedule(liar, p))
    stranger = {"makespan": 1.0, "entries": [{"job": 0, "worker": 5, "start": 0, "end": 1}]}
    assert any("unknown worker" in e for e in check_schedule(stranger, p))


def _solution() -> HybridSolution:
    prob = HybridProblem.model_validate(with_step_s(problem(), {"cpu": 1.0, "cuda": 0.1}))
    p = [[j.num_batches * (0.1 if w.device == "cuda" else 1.0) for w in prob.workers]
         for j in prob.jobs]  # fmt: skip
    n = len(prob.jobs)
    methods = {
        "greedy": schedule_from_assignment("greedy", [2] * n, p),
        "scip": schedule_from_assignment("scip", [2] * n, p, status="optimal"),
    }
    return HybridSolution(
        problem=prob,
        times_s=p,
        time_sources=[["given"] * 3] * n,
        methods=methods,
        best="scip",
    )


def test_solution_checker_checks_every_schedule_against_the_solutions_times():
    sol = _solution()
    assert check_solution(sol) == []
    sol.methods["greedy"].entries[0].end += 1.0
    assert any(e.startswith("greedy: ") and "lasts" in e for e in check_solution(sol))


def test_solution_checker_refuses_a_best_that_is_not_the_least_makespan():
    sol = _solution()
    sol.methods["greedy"] = schedule_from_assignment("greedy", [0] * 4, sol.times_s)
    sol.best = "greedy"
    assert any("not the least makespan" in e for e in check_solution(sol))
