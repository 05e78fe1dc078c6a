"""Pricing: the DP's patterns are feasible and improving, its bound holds against SCIP's exact
knapsack, and both agree when nothing improves."""

from __future__ import annotations

import pytest

from solver.packing.baselines import admit, greedy_parts, proportional_parts
from solver.packing.master import TOL, Master, build_master, columns_from_parts
from solver.packing.model import master_lp
from solver.packing.pricing import candidates, price_dp, price_scip
from tests.factory.packing import factory_instance


def _first_duals(n_jobs: int, n_servers: int, seed: int) -> tuple[Master, list[float], float]:
    inst = factory_instance(n_jobs, n_servers, seed=seed)
    admitted, witness = admit(inst)
    m, job_row = build_master(inst, admitted)
    columns_from_parts(inst, m, job_row, proportional_parts(inst, witness))
    columns_from_parts(inst, m, job_row, greedy_parts(inst, admitted))
    _, pi, mu, _ = master_lp(m)
    return m, pi, mu[0]


def _rc(m: Master, pi: list[float], mu: float, pat: dict[int, int]) -> float:
    return sum((m.items[i].value - pi[m.items[i].row]) * n for i, n in pat.items()) - mu


def _feasible(m: Master, pat: dict[int, int]) -> bool:
    _, g, c, mem = m.kinds[0]
    per_row: dict[int, int] = {}
    for i, n in pat.items():
        per_row[m.items[i].row] = per_row.get(m.items[i].row, 0) + n
    return (
        sum(m.items[i].gpus * n for i, n in pat.items()) <= g
        and sum(m.items[i].cpus * n for i, n in pat.items()) <= c + TOL
        and sum(m.items[i].memory_gb * n for i, n in pat.items()) <= mem + TOL
        and all(n <= m.rhs[r] for r, n in per_row.items())
    )


@pytest.mark.parametrize(("n_jobs", "n_servers", "seed"), [(12, 2, 0), (40, 5, 1), (120, 16, 2)])
def test_dp_against_the_exact_knapsack(n_jobs: int, n_servers: int, seed: int) -> None:
    m, pi, mu = _first_duals(n_jobs, n_servers, seed)
    cand = candidates(m, 0, pi)
    assert cand
    got = price_dp(m, 0, cand, mu, max_cols=8)
    assert got is not None  # whole CPUs: the DP applies
    pats, ub = got
    exact, _ = price_scip(m, 0, cand, mu, time_limit=20, max_cols=8)
    best = max((_rc(m, pi, mu, p) for p in exact), default=0.0)
    assert ub >= best - 1e-6  # the DP's bound holds
    for p in pats:
        assert _feasible(m, p)
        assert 1e-6 < _rc(m, pi, mu, p) <= best + 1e-6
    if ub <= 1e-6:
        assert best <= 1e-6
    # on these instances the DP's best pattern fits in memory: it is the exact optimum
    assert pats and max(_rc(m, pi, mu, p) for p in pats) == pytest.approx(best, abs=1e-6)
