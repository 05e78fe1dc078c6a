"""`solver.hybrid.solve`: priced jobs, baselines and SCIP, every schedule checked."""

from __future__ import annotations

import pytest

from solver.hybrid import KIND, solve
from solver.hybrid.check import check_schedule
from solver.hybrid.problem import HybridProblem
from solver.kinds import get_kind
from solver.problem import ProblemError, SolveOptions
from solver.profiles import ProfileSet
from tests.factory.hybrid import cpu_profiles, problem, with_step_s


def test_the_kind_record_is_the_packages_face():
    assert get_kind("hybrid") is KIND
    assert KIND.problem is HybridProblem and KIND.solve is solve and KIND.per_model is None


def test_solve_with_profiles_runs_every_method_and_scip_is_best(tmp_path):
    given = ProfileSet.from_paths(cpu_profiles(tmp_path))
    sol = solve(HybridProblem.model_validate(problem()), given, SolveOptions(time_limit=10))
    assert set(sol.methods) == {"cpu-only", "gpu-only", "greedy", "scip"}
    spans = {k: v.span for k, v in sol.methods.items()}
    assert spans["scip"] <= min(spans.values()) + 1e-6 and sol.best == "scip"
    for v in sol.methods.values():
        assert check_schedule(v.model_dump(), sol.times_s) == []
    assert sol.check_errors == []
    e = sol.answer.entries[0]
    assert e.job_name == sol.problem.jobs[e.job].name
    assert e.worker_name == sol.problem.workers[e.worker].name
    s = sol.summary()
    assert s.ok and s.status == "optimal" and s.subjects == ["j0", "j1", "j2", "j3"]
    assert s.best_baseline in ("cpu-only", "gpu-only", "greedy") and s.gain is not None
    assert s.gain >= 0 and any("speed-up model" in n for n in s.notes)


def test_given_step_times_need_no_cost_model():
    prob = HybridProblem.model_validate(with_step_s(problem(), {"cpu": 1.0, "cuda": 0.1}))
    sol = solve(prob, ProfileSet(), SolveOptions(time_limit=5))
    assert sol.times_s[0] == [100.0, 100.0, pytest.approx(10.0)]
    assert sol.notes == ["times given in the problem file"] and sol.summary().ok


def test_what_cannot_be_priced_is_a_problem_error_naming_why(tmp_path):
    with pytest.raises(ProblemError, match="no cost model"):
        solve(HybridProblem.model_validate(problem()), ProfileSet(), SolveOptions())
    missing = HybridProblem.model_validate(dict(problem(), cost_model="nowhere.json"))
    with pytest.raises(ProblemError, match="nowhere.json"):
        solve(missing, ProfileSet(base_dir=tmp_path), SolveOptions())


def test_the_default_problem_solves(tmp_path):
    given = ProfileSet.from_paths(cpu_profiles(tmp_path))
    assert KIND.default_problem is not None
    sol = solve(KIND.default_problem(given), given, SolveOptions(time_limit=10))
    assert sol.name == "hybrid" and sol.summary().ok
    assert [w.name for w in sol.problem.workers] == ["cpu0", "gpu0"]


def test_importing_the_package_stays_light():
    import subprocess
    import sys

    code = (
        "import sys, solver.hybrid, solver.hybrid.costmodel; "
        "print(sorted(m for m in ('numpy', 'pyscipopt', 'sklearn', 'matplotlib', 'rich') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
