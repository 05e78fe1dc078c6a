"""Column generation's pricing: the pattern of best reduced cost for one server kind.

Given the master LP's duals (pi per row, mu per server kind), an item is worth its value less
its row's pi, and a pattern is worth the sum of its items less mu. The best pattern is a
knapsack over the server's GPUs, CPUs and memory with a cap per row (its jobs left). First a
dynamic programme over (GPUs, whole CPUs) with job counts exact and memory priced in by a
Lagrange multiplier: its value bounds the pricing problem, and when its best patterns fit in
memory they are the answer. Otherwise (or with fractional CPUs) the exact knapsack goes to SCIP
(no presolve, no cuts: a 3-row knapsack solves faster without).
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import numpy as np
from pyscipopt import SCIP_PARAMSETTING, Model, quicksum

from solver.packing.master import TOL, Master

Patterns = list[dict[int, int]]
PRICING_NODES = 5_000  # SCIP nodes per pricing knapsack: its work bound (time is a cap only)


def price(
    m: Master, k: int, pi: list[float], mu: float, time_limit: float, max_cols: int
) -> tuple[Patterns, float]:
    """Best patterns of kind k by reduced cost; returns (patterns with rc > 0, rc upper bound)."""
    cand = candidates(m, k, pi)
    if not cand:
        return [], -mu
    dp = price_dp(m, k, cand, mu, max_cols)
    if dp is not None and (dp[0] or dp[1] <= 1e-6):
        return dp
    pats, ub = price_scip(m, k, cand, mu, time_limit, max_cols)
    return pats, (ub if dp is None else min(ub, dp[1]))


def candidates(m: Master, k: int, pi: list[float]) -> list[tuple[int, float]]:
    """(item, reduced value) of the items worth adding on kind k: positive, fitting, and not
    beaten by an item of a row that never runs short."""
    cand = []
    for i, it in enumerate(m.items):
        rv = it.value - pi[it.row]
        if rv > TOL and m.fits(i, k):
            cand.append((i, rv))
    return _undominated(m, k, cand) if cand else []


def _undominated(m: Master, k: int, cand: list[tuple[int, float]]) -> list[tuple[int, float]]:
    """Drop items another item beats on value, CPUs and memory at the same GPU count, when
    that other item's row has jobs enough never to run short on one server."""
    g_cap = m.kinds[k][1]
    free = {r for r in range(len(m.rhs)) if m.rhs[r] > 0}
    by_g: dict[int, list[tuple[int, float]]] = defaultdict(list)
    for i, rv in cand:
        by_g[m.items[i].gpus].append((i, rv))
    keep: list[tuple[int, float]] = []
    for g, lst in by_g.items():
        cap_n = g_cap // g
        lst.sort(key=lambda x: (-x[1], m.items[x[0]].cpus, m.items[x[0]].memory_gb))
        front: list[tuple[int, float]] = []  # items of unbounded rows kept so far
        for i, rv in lst:
            it = m.items[i]
            if any(
                m.items[a].cpus <= it.cpus + TOL and m.items[a].memory_gb <= it.memory_gb + TOL
                for a, _ in front
            ):
                continue
            keep.append((i, rv))
            if it.row in free and m.rhs[it.row] >= cap_n:
                front.append((i, rv))
    return keep


# ---------------------------------------------------------------- the dynamic programme


@dataclass
class _Dp:
    """The DP's arrays over the candidate items (index ci into `cand`).

    Stage 0 holds the rows with enough jobs never to run short on one server (unbounded
    items); each row with fewer jobs gets one stage per job, each adding at most one of its
    items.
    """

    cand: list[tuple[int, float]]
    g_cap: int
    cmax: int
    mem_cap: float
    gpus: Any
    cpu: Any
    mem: Any
    rv0: Any
    cols: Any
    valid: Any
    src_c: Any
    unbounded: Any
    stages: list[Any]

    @classmethod
    def of(cls, m: Master, k: int, cand: list[tuple[int, float]]) -> _Dp | None:
        """None when some item has fractional CPUs (the DP's CPU axis is whole CPUs)."""
        _, g_cap, c_cap, mem_cap = m.kinds[k]
        if any(abs(m.items[i].cpus - round(m.items[i].cpus)) > 1e-9 for i, _ in cand):
            return None
        cmax = int(math.floor(c_cap + 1e-9))
        gpus = np.array([m.items[i].gpus for i, _ in cand])
        cpu = np.array([int(round(m.items[i].cpus)) for i, _ in cand])
        cols = np.arange(cmax + 1)
        by_row: dict[int, list[int]] = defaultdict(list)
        for ci, (i, _) in enumerate(cand):
            by_row[m.items[i].row].append(ci)
        free_rows = [r for r, cis in by_row.items() if m.rhs[r] >= g_cap // int(gpus[cis].min())]
        unbounded = np.array(sorted(ci for r in free_rows for ci in by_row[r]), dtype=np.int64)
        stages = [
            np.array(by_row[r], dtype=np.int64)
            for r in sorted(set(by_row) - set(free_rows))
            for _ in range(min(m.rhs[r], g_cap // int(gpus[by_row[r]].min())))
        ]
        src = cols[None, :] - cpu[:, None]
        valid = src >= 0
        return cls(
            cand=cand,
            g_cap=g_cap,
            cmax=cmax,
            mem_cap=mem_cap,
            gpus=gpus,
            cpu=cpu,
            mem=np.array([m.items[i].memory_gb for i, _ in cand]),
            rv0=np.array([rv for _, rv in cand]),
            cols=cols,
            valid=valid,
            src_c=np.where(valid, src, 0),
            unbounded=unbounded,
            stages=stages,
        )

    def _relax(self, row: Any, grp: Any, rv: Any) -> tuple[Any, Any]:
        """Per CPU count c: the best of row[c - c_i] + rv_i over items i of grp, and which."""
        cv = np.where(self.valid[grp], row[self.src_c[grp]] + rv[grp, None], -np.inf)
        a = np.argmax(cv, axis=0)
        return cv[a, self.cols], grp[a]

    def _stage0(self, rv: Any) -> tuple[Any, Any]:
        """The unbounded items, grown GPU layer by GPU layer (an item may repeat)."""
        val = np.full((self.g_cap + 1, self.cmax + 1), -np.inf)
        val[0, 0] = 0.0
        choice0 = np.full(val.shape, -1, dtype=np.int64)
        if not len(self.unbounded):
            return val, choice0
        sizes = sorted(set(self.gpus[self.unbounded].tolist()))
        for g in range(self.g_cap):
            row = val[g]
            if not np.isfinite(row).any():
                continue
            for gs in sizes:
                g2 = g + gs
                if g2 > self.g_cap:
                    continue
                b, who = self._relax(row, self.unbounded[self.gpus[self.unbounded] == gs], rv)
                better = b > val[g2] + 1e-12
                val[g2][better] = b[better]
                choice0[g2][better] = who[better]
        return val, choice0

    def _shift(self, val: Any, items: Any, rv: Any) -> tuple[Any, Any]:
        """Best over items of val[g - g_i, c - c_i] + rv_i, per (g, c)."""
        out = np.full_like(val, -np.inf)
        arg = np.full(val.shape, -1, dtype=np.int64)
        for gs in sorted(set(self.gpus[items].tolist())):
            grp = items[self.gpus[items] == gs]
            for g2 in range(gs, self.g_cap + 1):
                b, who = self._relax(val[g2 - gs], grp, rv)
                better = b > out[g2] + 1e-12
                out[g2][better] = b[better]
                arg[g2][better] = who[better]
        return out, arg

    def fill(self, rv: Any) -> tuple[Any, list[Any], Any]:
        """The final value table, each stage's choice (-1: none) and stage 0's choice."""
        val, choice0 = self._stage0(rv)
        choices = []
        for items in self.stages:
            out, arg = self._shift(val, items, rv)
            keep = val >= out
            choices.append(np.where(keep, -1, arg))
            val = np.where(keep, val, out)
        return val, choices, choice0

    def trace(self, g: int, c: int, choices: list[Any], choice0: Any) -> dict[int, int]:
        """The pattern (ci -> count) that reaches cell (g, c)."""
        pat: dict[int, int] = defaultdict(int)
        for st in range(len(self.stages) - 1, -1, -1):
            ci = int(choices[st][g, c])
            if ci >= 0:
                pat[ci] += 1
                g -= int(self.gpus[ci])
                c -= int(self.cpu[ci])
        while (g, c) != (0, 0):
            ci = int(choice0[g, c])
            pat[ci] += 1
            g -= int(self.gpus[ci])
            c -= int(self.cpu[ci])
        return pat


def _collect(
    dp: _Dp,
    final: Any,
    choices: list[Any],
    choice0: Any,
    mu: float,
    max_cols: int,
    seen: set[tuple[tuple[int, int], ...]],
    pats: Patterns,
) -> bool:
    """Add the best cells' patterns that have a positive true reduced cost and fit in memory;
    True when some good pattern was dropped for memory alone."""
    mem_over = False
    for idx in np.argsort(-final, axis=None)[: max_cols * 8]:
        g, c = divmod(int(idx), dp.cmax + 1)
        if not np.isfinite(final[g, c]):
            break
        pat = dp.trace(g, c, choices, choice0)
        used_mem = sum(dp.mem[ci] * n for ci, n in pat.items())
        true_rc = sum(dp.rv0[ci] * n for ci, n in pat.items()) - mu
        if true_rc <= 1e-6:
            continue
        if used_mem > dp.mem_cap + TOL:
            mem_over = True
            continue
        key = tuple(sorted((dp.cand[ci][0], n) for ci, n in pat.items()))
        if key in seen:
            continue
        seen.add(key)
        pats.append({i: n for i, n in key})
        if len(pats) >= max_cols:
            break
    return mem_over


def price_dp(
    m: Master, k: int, cand: list[tuple[int, float]], mu: float, max_cols: int
) -> tuple[Patterns, float] | None:
    """Exact DP over (GPUs, CPUs) with job counts, memory priced in by a Lagrange multiplier.

    Every multiplier tried gives a valid bound: DP value + lambda * memory capacity. The first
    is 0; when the best patterns then overflow memory, up to four larger ones are tried.
    """
    dp = _Dp.of(m, k, cand)
    if dp is None:
        return None
    pats: Patterns = []
    seen: set[tuple[tuple[int, int], ...]] = set()
    ub = math.inf
    lams = [0.0]
    tried = 0
    while lams and tried < 5:
        lam = lams.pop(0)
        tried += 1
        final, choices, choice0 = dp.fill(dp.rv0 - lam * dp.mem)
        best_v = float(np.max(final))
        ub = min(ub, best_v + lam * dp.mem_cap - mu)
        if best_v - mu <= 1e-6 and lam == 0.0:
            break
        mem_over = _collect(dp, final, choices, choice0, mu, max_cols, seen, pats)
        if pats or not mem_over:
            break
        if lam == 0.0:
            base = max(best_v, 1e-6) / max(dp.mem_cap, 1e-9)
            lams = [base * f for f in (0.5, 1.0, 2.0, 4.0)]
    return pats, ub


# ---------------------------------------------------------------- the exact knapsack (SCIP)


def build_pricing(
    m: Master, k: int, cand: list[tuple[int, float]], time_limit: float
) -> tuple[Model, dict[int, Any]]:
    """The knapsack of kind k over the candidate items; returns the model and its variables."""
    _, g, c, mem = m.kinds[k]
    model = Model("packing-pricing")
    model.hideOutput()
    model.setParam("limits/time", max(0.05, time_limit))
    model.setParam("limits/nodes", PRICING_NODES)
    model.setParam("limits/gap", 1e-6)
    model.setParam("limits/maxsol", 40)
    # A 3-row knapsack: cuts and presolve cost more than they save here (measured: 0.2-2.3 s
    # with them, 0.1-0.2 s without, same optimum).
    model.setSeparating(SCIP_PARAMSETTING.OFF)
    model.setPresolve(SCIP_PARAMSETTING.OFF)
    x = {}
    for i, _ in cand:
        it = m.items[i]
        ub = min(g // it.gpus, m.rhs[it.row])
        x[i] = model.addVar(f"a{i}", vtype="I", lb=0, ub=ub)
    model.setObjective(quicksum(rv * x[i] for i, rv in cand), "maximize")
    model.addCons(quicksum(m.items[i].gpus * x[i] for i, _ in cand) <= g)
    model.addCons(quicksum(m.items[i].cpus * x[i] for i, _ in cand) <= c + TOL)
    model.addCons(quicksum(m.items[i].memory_gb * x[i] for i, _ in cand) <= mem + TOL)
    by_row: dict[int, list[int]] = defaultdict(list)
    for i, _ in cand:
        by_row[m.items[i].row].append(i)
    for r, ii in by_row.items():
        if len(ii) > 1 and m.rhs[r] < g:
            model.addCons(quicksum(x[i] for i in ii) <= m.rhs[r])
    return model, x


def price_scip(
    m: Master, k: int, cand: list[tuple[int, float]], mu: float, time_limit: float, max_cols: int
) -> tuple[Patterns, float]:
    model, x = build_pricing(m, k, cand, time_limit)
    model.optimize()
    ub_rc = model.getDualbound() - mu
    pats = []
    for sol in model.getSols()[: max_cols * 4]:
        val = sum(rv * round(model.getSolVal(sol, x[i])) for i, rv in cand)
        if val - mu > 1e-6:
            pats.append({i: int(round(model.getSolVal(sol, x[i]))) for i, _ in cand})
        if len(pats) >= max_cols:
            break
    return pats, ub_rc
