"""`solve(problem, profiles, options)`: SCIP beside both baselines, all checked, one plan row."""

from __future__ import annotations

import pytest

from solver.packing import default_problem, solve
from solver.packing.problem import SYNERGY_NOTE
from solver.packing.solution import PackingSolution
from solver.problem import SolveOptions
from tests.factory.packing import no_throughput_profile, profile_set, small_problem
from tests.factory.train_profiles import make_train_profile, synthetic_profiles

OPTS = SolveOptions(time_limit=10)


def test_solve_packs_three_ways_and_checks_each() -> None:
    prob = small_problem(2)
    sol = solve(prob, profile_set([]), OPTS)
    assert set(sol.placements) == {"proportional", "greedy", "scip"}
    assert all(errs == [] for errs in sol.checks.values())
    scip = sol.placements["scip"]
    assert scip.status == "optimal" and scip.method == "enumerated patterns"
    s = sol.summary()
    assert (s.kind, s.name, s.ok) == ("packing", "packing", True)
    assert s.subjects == [j.name for j in prob.jobs]
    assert s.value == pytest.approx(scip.objective)
    assert s.gap == scip.gap and s.status == "optimal"
    base = max(("proportional", "greedy"), key=lambda k: sol.placements[k].objective)
    assert s.best_baseline == base
    b = sol.placements[base].objective
    assert s.gain == pytest.approx((scip.objective - b) / b)
    assert s.gain is not None and s.gain >= -1e-9
    assert "normalised throughput" in s.objective
    assert not any("Synergy" in n for n in s.notes)  # the problem names its servers


def test_the_solution_is_its_own_json_contract() -> None:
    sol = solve(small_problem(0), profile_set([]), OPTS)
    again = PackingSolution.model_validate_json(sol.model_dump_json())
    assert again == sol
    assert again.summary() == sol.summary()


def test_the_default_problem_says_which_cluster_it_assumed_and_why() -> None:
    profiles = profile_set([*synthetic_profiles()[:2], no_throughput_profile()])
    sol = solve(default_problem(profiles), profiles, OPTS)
    s = sol.summary()
    assert s.ok
    assert SYNERGY_NOTE in s.notes
    assert "Synergy's evaluation cluster, since no cluster was given" in SYNERGY_NOTE
    assert any(n.startswith("empty.json: not used") and "no ok probe" in n for n in s.notes)
    assert sol.placements["scip"].servers[0].server == "synergy-0"


def test_a_checker_violation_means_no_answer() -> None:
    sol = solve(small_problem(1), profile_set([]), OPTS)
    bad = sol.model_copy(update={"checks": {**sol.checks, "greedy": ["s-0: 9 GPUs used of 8"]}})
    s = bad.summary()
    assert not s.ok
    assert s.notes[0] == "check greedy: s-0: 9 GPUs used of 8"


def test_queued_jobs_are_noted() -> None:
    profiles = profile_set([make_train_profile(name="eight", gpus=8)])
    prob = default_problem(profiles, jobs_per_profile=18)  # 144 GPUs asked, 128 there
    s = solve(prob, profiles, OPTS).summary()
    assert s.ok
    assert "2 of 18 jobs queued: no GPUs left for them" in s.notes
