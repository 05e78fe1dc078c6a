"""The independent checker: every reported choice passes it, and each kind of wrong answer
is caught from the profiles alone."""

from __future__ import annotations

import pytest

from solver.accsplit import solve
from solver.accsplit.check import check_choice
from solver.accsplit.instance import variant_profiles
from solver.accsplit.solution import AccSplitSolution, ChoiceOut
from solver.problem import SolveOptions
from solver.profiles import ProfileSet
from tests.factory.accsplit import acc_problem


@pytest.fixture
def solved(family: ProfileSet) -> tuple[AccSplitSolution, ProfileSet]:
    return solve(acc_problem(epsilon=0.03), family, SolveOptions()), family


def _check(sol: AccSplitSolution, family: ProfileSet, choice: ChoiceOut, d: str) -> list[str]:
    _, items = variant_profiles(family, sol.family)
    return check_choice(sol.problem, items, d, choice)


def test_every_reported_choice_passes(solved: tuple[AccSplitSolution, ProfileSet]) -> None:
    sol, family = solved
    for d in sol.domains:
        assert d.choice is not None and d.violations == []
        for b in d.baselines:
            if b.choice is not None:
                found = _check(sol, family, b.choice, d.domain)
                # a baseline may miss the bound (the unpruned one never does) but not the sums
                assert [v for v in found if "below the bound" not in v] == []


def test_wrong_answers_are_caught(solved: tuple[AccSplitSolution, ProfileSet]) -> None:
    sol, family = solved
    d = sol.domains[0]
    c = d.choice
    assert c is not None
    faster = c.model_copy(update={"throughput_rps": c.throughput_rps * 1.1})
    assert any("throughput" in v for v in _check(sol, family, faster, d.domain))
    better = c.model_copy(update={"accuracy": c.accuracy.model_copy(update={"value": 0.99})})
    assert any("measured" in v for v in _check(sol, family, better, d.domain))
    low = c.model_copy(update={"accuracy": c.accuracy.model_copy(update={"value": 0.1})})
    assert any("below the bound" in v for v in _check(sol, family, low, d.domain))
    steps = list(c.plan.steps)
    first = steps[0].model_copy(update={"latency_s": steps[0].latency_s / 2})
    halved = c.model_copy(update={"plan": c.plan.model_copy(update={"steps": [first, *steps[1:]]})})
    assert any("measured" in v for v in _check(sol, family, halved, d.domain))
    other = c.model_copy(update={"weights_sha256": "0" * 64})
    assert any("sha256" in v for v in _check(sol, family, other, d.domain))
    gap = c.model_copy(update={"plan": c.plan.model_copy(update={"steps": steps[1:]})})
    assert _check(sol, family, gap, d.domain) != []


def test_a_streamed_occupancy_is_checked_against_the_profile_quota() -> None:
    """Under a half-CPU edge every reported choice passes; a step that claims less occupancy
    than its CPU time over the quota (or forgets it) is caught."""
    from tests.solver.accsplit.conftest import loaded

    family = loaded(quotas={"edge": 0.5})
    sol = solve(acc_problem(epsilon=0.03, bandwidth_mbps=5.0), family, SolveOptions())
    for d in sol.domains:
        assert d.choice is not None and d.violations == []
    dom = next(d for d in sol.domains if d.choice is not None and d.choice.stages.edge_s > 0)
    c = dom.choice
    assert c is not None
    steps = list(c.plan.steps)
    i = next(k for k, s in enumerate(steps) if s.kind == "compute" and s.busy_s is not None)
    forgot = steps[:i] + [steps[i].model_copy(update={"busy_s": None})] + steps[i + 1 :]
    wrong = c.model_copy(update={"plan": c.plan.model_copy(update={"steps": forgot})})
    assert any("busy" in v for v in _check(sol, family, wrong, dom.domain))
