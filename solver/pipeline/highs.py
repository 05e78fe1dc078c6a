"""The seed's kind of model in scipy's HiGHS, for comparison only (bench/pipeline_scale.py).

Big-M disjunctive, every split option kept, a big-M from the sum of the longest options, no
warm start, no bound: what the seed wrote, to show what the exact models here gain over it.
scipy is a dev dependency.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from solver.pipeline.jobs import Job

Row = tuple[dict[int, float], float, float]  # coefficients by variable, lower, upper


@dataclass
class HighsResult:
    makespan: float | None
    lower_bound: float | None
    gap: float | None
    status: str
    solve_s: float
    order: list[int] | None = None
    splits: list[int] | None = None


def _variables(n: int, options: Sequence[Sequence[int]]) -> dict[tuple[Any, ...], int]:
    """Column index of every variable: y (split), S (start per machine), cmax, o (pair order)."""
    idx: dict[tuple[Any, ...], int] = {}
    for j in range(n):
        for s in options[j]:
            idx["y", j, s] = len(idx)
    for m in range(3):
        for j in range(n):
            idx["S", m, j] = len(idx)
    idx[("cmax",)] = len(idx)
    for i in range(n):
        for j in range(i + 1, n):
            idx["o", i, j] = len(idx)
    return idx


def _rows(
    jobs: Sequence[Job],
    options: Sequence[Sequence[int]],
    idx: dict[tuple[Any, ...], int],
    bigm: float,
) -> list[Row]:
    """One split per job, stage precedence, and both sides of every pair's big-M disjunction."""
    n = len(jobs)
    inf = float("inf")
    rows: list[Row] = []
    for j in range(n):
        rows.append(({idx["y", j, s]: 1.0 for s in options[j]}, 1.0, 1.0))
        for m in range(3):
            # S[m+1][j] (or cmax) - S[m][j] - p[m][j] >= 0
            nxt = idx["S", m + 1, j] if m < 2 else idx[("cmax",)]
            row = {nxt: 1.0, idx["S", m, j]: -1.0}
            for s in options[j]:
                row[idx["y", j, s]] = -jobs[j].options[s].times[m]
            rows.append((row, 0.0, inf))
    for i in range(n):
        for j in range(i + 1, n):
            ov = idx["o", i, j]
            for m in range(3):
                r1 = {idx["S", m, j]: 1.0, idx["S", m, i]: -1.0, ov: -bigm}
                for s in options[i]:
                    r1[idx["y", i, s]] = -jobs[i].options[s].times[m]
                rows.append((r1, -bigm, inf))
                r2 = {idx["S", m, i]: 1.0, idx["S", m, j]: -1.0, ov: bigm}
                for s in options[j]:
                    r2[idx["y", j, s]] = -jobs[j].options[s].times[m]
                rows.append((r2, 0.0, inf))
    return rows


def solve_highs_bigm(
    jobs: Sequence[Job], *, fixed_splits: Sequence[int] | None = None, time_limit: float = 60.0
) -> HighsResult:
    """The seed's model (see the module docstring) solved by scipy.optimize.milp (HiGHS)."""
    import numpy as np
    from scipy.optimize import Bounds, LinearConstraint, milp
    from scipy.sparse import lil_matrix

    n = len(jobs)
    options = (
        [[fixed_splits[j]] for j in range(n)]
        if fixed_splits is not None
        else [list(range(len(j.options))) for j in jobs]
    )
    bigm = sum(max(sum(o.times) for o in j.options) for j in jobs)
    idx = _variables(n, options)
    nv = len(idx)
    rows = _rows(jobs, options, idx, bigm)
    a = lil_matrix((len(rows), nv))
    lo = np.empty(len(rows))
    hi = np.empty(len(rows))
    for r, (coefs, lb_r, ub_r) in enumerate(rows):
        for k, v in coefs.items():
            a[r, k] = v
        lo[r], hi[r] = lb_r, ub_r
    c = np.zeros(nv)
    c[idx[("cmax",)]] = 1.0
    integrality = np.zeros(nv)
    ub = np.full(nv, np.inf)
    for key, k in idx.items():
        if key[0] in ("y", "o"):
            integrality[k] = 1
            ub[k] = 1.0
    t0 = time.perf_counter()
    res = milp(
        c,
        constraints=LinearConstraint(a.tocsr(), lo, hi),
        integrality=integrality,
        bounds=Bounds(np.zeros(nv), ub),
        options={"time_limit": float(time_limit), "disp": False},
    )
    solve_s = time.perf_counter() - t0
    if res.x is None:
        return HighsResult(None, getattr(res, "mip_dual_bound", None), None, res.message, solve_s)
    x = res.x
    splits = [max(options[j], key=lambda s: x[idx["y", j, s]]) for j in range(n)]
    order = sorted(range(n), key=lambda j: (x[idx["S", 0, j]], x[idx["S", 1, j]], j))
    dual = getattr(res, "mip_dual_bound", None)
    gap = getattr(res, "mip_gap", None)
    status = "optimal" if res.status == 0 else ("time_limit" if res.status == 1 else res.message)
    return HighsResult(float(res.fun), dual, gap, status, solve_s, order, splits)
