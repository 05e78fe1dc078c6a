"""The SCIP packing model: a configuration (pattern) formulation over identical servers.

Why patterns: a server holds a handful of jobs, and servers of one kind are interchangeable.
A *pattern* is what one server holds: a multiset of items, an item being (job type, part,
CPU/memory configuration), where a job type groups the admitted jobs with the same GPU count
and the same configuration table (jobs built from one profile). The master problem says how
many servers of each kind run each pattern:

    max  sum_p value_p * lam_p
    s.t. sum_p a_{r,p} lam_p  = demand_r      for each (type, part) row r
         sum_{p of kind k} lam_p <= N_k        for each server kind k
         lam_p integer >= 0

Its LP relaxation equals the convex hull of each server's feasible set, much stronger than an
assignment model's (which pools capacity across servers), and it has no symmetry between
identical servers: 1000 jobs on 128 servers is ~20 rows, not 10^5 binaries. Patterns come from
full enumeration when there are few (the master is then exact and SCIP's bound is the bound),
else from column generation: the master LP (SCIP) gives duals, a knapsack per server kind
(SCIP, GPU/CPU/memory capacities) finds the pattern of best reduced cost. The bound reported
is the Lagrangian one, z_LP + sum_k N_k * max(0, best reduced cost_k), valid at any iteration;
it equals the LP optimum once pricing finds nothing. The integer master over the generated
columns is then solved by SCIP, warm-started with the greedy (or proportional) packing, whose
patterns are among the columns, so the model is never infeasible and never worse than them.

The fairness floor is in the items: a job's configurations are only those with at least its
GPU-proportional-share throughput. A job larger than a server is split into whole servers
plus a remainder, at its proportional share (the slowest part sets the pace).
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from pyscipopt import Model, quicksum

from solver.packing_baselines import (
    admit,
    greedy_parts,
    proportional_parts,
    split_sizes,
)
from solver.packing_problem import Instance, PartTuple, Placement, make_placement

TOL = 1e-7


@dataclass(frozen=True)
class Item:
    row: int
    gpus: int
    cpus: float
    memory_gb: float
    value: float
    config: int  # index into the job table's configs (-1: proportional part of a split job)


@dataclass
class Master:
    items: list[Item]
    demand: list[int]  # per row
    row_jobs: list[list[int]]  # per row, the job indices (repeated once per part they need)
    kinds: list[tuple[int, int, float, float]]  # count, gpus, cpus, memory
    rhs: list[int] = field(default_factory=list)  # demand still to cover (diving shrinks it)
    avail: list[int] = field(default_factory=list)  # servers per kind still free
    columns: list[tuple[int, tuple[tuple[int, int], ...]]] = field(default_factory=list)
    seen: set[tuple[int, tuple[tuple[int, int], ...]]] = field(default_factory=set)

    def add(self, kind: int, pattern: dict[int, int]) -> bool:
        key = (kind, tuple(sorted((i, n) for i, n in pattern.items() if n > 0)))
        if not key[1] or key in self.seen:
            return False
        self.seen.add(key)
        self.columns.append(key)
        return True

    def value(self, col: int) -> float:
        return sum(self.items[i].value * n for i, n in self.columns[col][1])

    def fits(self, i: int, k: int) -> bool:
        it, (_, g, c, m) = self.items[i], self.kinds[k]
        return it.gpus <= g and it.cpus <= c + TOL and it.memory_gb <= m + TOL


def build_master(inst: Instance, admitted: list[int]) -> tuple[Master, dict[tuple[int, int], int]]:
    """Rows per (job type, part); returns the master and (job, part) -> row for decoding."""
    items: list[Item] = []
    demand: list[int] = []
    row_jobs: list[list[int]] = []
    type_row: dict[Any, list[int]] = {}
    job_row: dict[tuple[int, int], int] = {}
    for j in admitted:
        tab = inst.jobs[j]
        if inst.is_split(j):
            key: Any = ("split", tab.gpus)
            sizes = split_sizes(tab.gpus, inst.max_gpus)
            parts = sorted(set(sizes), reverse=True)
            if key not in type_row:
                rows = []
                for x in parts:
                    r = len(demand)
                    rows.append(r)
                    demand.append(0)
                    row_jobs.append([])
                    items.append(
                        Item(r, x, x * inst.cpus_per_gpu, x * inst.memory_per_gpu, x / tab.gpus, -1)
                    )
                type_row[key] = rows
            for q, x in enumerate(parts):
                r = type_row[key][q]
                n = sizes.count(x)
                demand[r] += n
                row_jobs[r].extend([j] * n)
                job_row[(j, q)] = r
            continue
        key = (tab.gpus, tuple((c.cpus, c.memory_gb, round(c.normalised, 9)) for c in tab.configs))
        if key not in type_row:
            r = len(demand)
            demand.append(0)
            row_jobs.append([])
            for ci, c in enumerate(tab.configs):
                items.append(Item(r, tab.gpus, c.cpus, c.memory_gb, c.normalised, ci))
            type_row[key] = [r]
        r = type_row[key][0]
        demand[r] += 1
        row_jobs[r].append(j)
        job_row[(j, 0)] = r
    kinds = [(k.count, k.gpus, k.cpus, k.memory_gb) for k in inst.kinds]
    master = Master(items, demand, row_jobs, kinds)
    master.rhs = list(demand)
    master.avail = [k[0] for k in kinds]
    return master, job_row


def _item_of_part(
    inst: Instance, m: Master, job_row: dict[tuple[int, int], int], j: int, part: PartTuple
) -> int:
    _, g, c, mem = part
    if inst.is_split(j):
        q = 0 if g == inst.max_gpus else 1
        r = job_row.get((j, q), job_row.get((j, 0)))
        return next(i for i, it in enumerate(m.items) if it.row == r and it.gpus == g)
    r = job_row[(j, 0)]
    for i, it in enumerate(m.items):
        if it.row == r and abs(it.cpus - c) < 1e-6 and abs(it.memory_gb - mem) < 1e-6:
            return i
    raise ValueError(f"part of job {inst.jobs[j].name} matches none of its configurations")


def columns_from_parts(
    inst: Instance,
    m: Master,
    job_row: dict[tuple[int, int], int],
    parts: dict[int, list[PartTuple]],
) -> dict[int, int] | None:
    """Add one column per distinct server content; return lam counts (None if not all placed)."""
    per_server: dict[int, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for j, ps in parts.items():
        for p in ps:
            per_server[p[0]][_item_of_part(inst, m, job_row, j, p)] += 1
    counts: dict[tuple[int, tuple[tuple[int, int], ...]], int] = defaultdict(int)
    for s, pat in per_server.items():
        k = inst.servers[s].kind
        m.add(k, pat)
        counts[(k, tuple(sorted(pat.items())))] += 1
    got = [0] * len(m.demand)
    for (_, key), n in counts.items():
        for i, a in key:
            got[m.items[i].row] += a * n
    if got != m.demand:
        return None
    index = {c: ci for ci, c in enumerate(m.columns)}
    return {index[c]: n for c, n in counts.items()}


def enumerate_patterns(m: Master, limit: int) -> bool:
    """All feasible server contents of every kind; False (and nothing added) past `limit`."""
    found: list[tuple[int, dict[int, int]]] = []
    nodes = [0]

    def rec(
        k: int, idx: list[int], pos: int, left: tuple[int, float, float], cur: dict[int, int]
    ) -> bool:
        nodes[0] += 1
        if len(found) > limit or nodes[0] > 20 * limit:
            return False
        if pos == len(idx):
            if cur:
                found.append((k, dict(cur)))
            return True
        i = idx[pos]
        it = m.items[i]
        used_row = sum(n for ii, n in cur.items() if m.items[ii].row == it.row)
        g_left, c_left, m_left = left
        n = 0
        while True:
            if not rec(k, idx, pos + 1, (g_left, c_left, m_left), cur):
                return False
            n += 1
            g_left -= it.gpus
            c_left -= it.cpus
            m_left -= it.memory_gb
            if g_left < 0 or c_left < -TOL or m_left < -TOL or used_row + n > m.demand[it.row]:
                break
            cur[i] = n
        cur.pop(i, None)
        return True

    for k, (_, g, c, mem) in enumerate(m.kinds):
        idx = [i for i in range(len(m.items)) if m.fits(i, k)]
        if not rec(k, idx, 0, (g, c, mem), {}):
            return False
    for k, pat in found:
        m.add(k, pat)
    return True


# ---------------------------------------------------------------- SCIP models


def _lp_master(
    m: Master, slack_penalty: float | None = None
) -> tuple[float, list[float], list[float], list[float]]:
    """Master LP over m.rhs / m.avail; returns (objective, row duals pi, kind duals mu,
    lambda) in max-problem signs. With a slack penalty, uncovered demand is allowed at that
    price (diving uses it so that a residual problem is never infeasible)."""
    model = Model("packing-master-lp")
    model.hideOutput()
    model.setPresolve(_off())
    model.setHeuristics(_off())
    model.setSeparating(_off())
    model.disablePropagation()
    lam = [
        model.addVar(f"l{ci}", lb=0.0, obj=-m.value(ci), vtype="C") for ci in range(len(m.columns))
    ]
    row_terms: list[list[Any]] = [[] for _ in m.rhs]
    kind_terms: list[list[Any]] = [[] for _ in m.kinds]
    for ci, (k, pat) in enumerate(m.columns):
        kind_terms[k].append(lam[ci])
        for i, n in pat:
            row_terms[m.items[i].row].append(n * lam[ci])
    # Every row gets a slack. SCIP turns a one-variable constraint into a bound and then
    # reports a zero dual for it, which would misprice; with a slack no row has one variable.
    # Uncovered demand costs `penalty` (large: a relaxation, so the bound stays valid).
    penalty = slack_penalty if slack_penalty is not None else _big_penalty(m)
    for r, t in enumerate(row_terms):
        t.append(model.addVar(f"s{r}", lb=0.0, obj=penalty, vtype="C"))
    for k, t in enumerate(kind_terms):
        t.append(model.addVar(f"idle{k}", lb=0.0, obj=0.0, vtype="C"))
    rows = [model.addCons(quicksum(t) == d) for t, d in zip(row_terms, m.rhs, strict=True)]
    kc = [model.addCons(quicksum(t) == n) for t, n in zip(kind_terms, m.avail, strict=True)]
    model.optimize()
    if model.getStatus() != "optimal":
        raise RuntimeError(f"master LP ended {model.getStatus()}")
    # SCIP minimises -value: duals y of that problem; for the max problem pi = -y.
    pi = [-model.getDualsolLinear(c) for c in rows]
    mu = [-model.getDualsolLinear(c) for c in kc]
    return -model.getObjVal(), pi, mu, [model.getVal(v) for v in lam]


def _big_penalty(m: Master) -> float:
    return 10.0 * max((it.value for it in m.items), default=1.0) * max(1, max(m.demand)) + 10.0


def _off() -> Any:
    from pyscipopt import SCIP_PARAMSETTING

    return SCIP_PARAMSETTING.OFF


def _price(
    m: Master, k: int, pi: list[float], mu: float, time_limit: float, max_cols: int
) -> tuple[list[dict[int, int]], float]:
    """Best patterns of kind k by reduced cost; returns (patterns with rc > 0, rc upper bound).

    First a dynamic programme over (GPUs, whole CPUs) with job counts exact and memory priced
    in by a Lagrange multiplier: its value bounds the pricing problem, and when its best
    patterns fit in memory they are the answer. Otherwise (or with fractional CPUs) the exact
    knapsack goes to SCIP (no presolve, no cuts: a 3-row knapsack solves faster without).
    """
    cand = []
    for i, it in enumerate(m.items):
        rv = it.value - pi[it.row]
        if rv > TOL and m.fits(i, k):
            cand.append((i, rv))
    if not cand:
        return [], -mu
    cand = _undominated(m, k, cand)
    dp = _price_dp(m, k, cand, mu, max_cols)
    if dp is not None and (dp[0] or dp[1] <= 1e-6):
        return dp
    pats, ub = _price_scip(m, k, cand, mu, time_limit, max_cols)
    return pats, (ub if dp is None else min(ub, dp[1]))


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


def _price_dp(
    m: Master, k: int, cand: list[tuple[int, float]], mu: float, max_cols: int
) -> tuple[list[dict[int, int]], float] | None:
    """Exact DP over (GPUs, CPUs) with job counts, memory priced in by a Lagrange multiplier.

    Stage 0 holds the rows with enough jobs never to run short on one server (unbounded
    items); each row with fewer jobs gets one stage per job, each adding at most one of its
    items. Every multiplier tried gives a valid bound: DP value + lambda * memory capacity.
    """
    import numpy as np

    _, g_cap, c_cap, mem_cap = m.kinds[k]
    if any(abs(m.items[i].cpus - round(m.items[i].cpus)) > 1e-9 for i, _ in cand):
        return None
    cmax = int(math.floor(c_cap + 1e-9))
    gpus = np.array([m.items[i].gpus for i, _ in cand])
    cpu = np.array([int(round(m.items[i].cpus)) for i, _ in cand])
    mem = np.array([m.items[i].memory_gb for i, _ in cand])
    rv0 = np.array([rv for _, rv in cand])
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
    src_c = np.where(valid, src, 0)

    def shift(val: Any, items: Any, rv: Any) -> tuple[Any, Any]:
        """Best over items of val[g - g_i, c - c_i] + rv_i, per (g, c)."""
        out = np.full_like(val, -np.inf)
        arg = np.full(val.shape, -1, dtype=np.int64)
        for gs in sorted(set(gpus[items].tolist())):
            grp = items[gpus[items] == gs]
            for g2 in range(gs, g_cap + 1):
                row = val[g2 - gs]
                cv = np.where(valid[grp], row[src_c[grp]] + rv[grp, None], -np.inf)
                a = np.argmax(cv, axis=0)
                b = cv[a, cols]
                better = b > out[g2] + 1e-12
                out[g2][better] = b[better]
                arg[g2][better] = grp[a[better]]
        return out, arg

    pats: list[dict[int, int]] = []
    seen: set[tuple[tuple[int, int], ...]] = set()
    ub = math.inf
    lams = [0.0]
    tried = 0
    while lams and tried < 5:
        lam = lams.pop(0)
        tried += 1
        rv = rv0 - lam * mem
        val = np.full((g_cap + 1, cmax + 1), -np.inf)
        val[0, 0] = 0.0
        choice0 = np.full(val.shape, -1, dtype=np.int64)
        if len(unbounded):
            for g in range(g_cap):  # unbounded: grow layer by layer
                row = val[g]
                if not np.isfinite(row).any():
                    continue
                for gs in sorted(set(gpus[unbounded].tolist())):
                    g2 = g + gs
                    if g2 > g_cap:
                        continue
                    grp = unbounded[gpus[unbounded] == gs]
                    cv = np.where(valid[grp], row[src_c[grp]] + rv[grp, None], -np.inf)
                    a = np.argmax(cv, axis=0)
                    b = cv[a, cols]
                    better = b > val[g2] + 1e-12
                    val[g2][better] = b[better]
                    choice0[g2][better] = grp[a[better]]
        tables = [val]
        choices = []
        for items in stages:
            out, arg = shift(tables[-1], items, rv)
            keep = tables[-1] >= out
            nxt = np.where(keep, tables[-1], out)
            tables.append(nxt)
            choices.append(np.where(keep, -1, arg))
        final = tables[-1]
        best_v = float(np.max(final))
        ub = min(ub, best_v + lam * mem_cap - mu)
        if best_v - mu <= 1e-6 and lam == 0.0:
            break
        mem_over = False
        for idx in np.argsort(-final, axis=None)[: max_cols * 8]:
            g, c = divmod(int(idx), cmax + 1)
            if not np.isfinite(final[g, c]):
                break
            pat: dict[int, int] = defaultdict(int)
            for st in range(len(stages) - 1, -1, -1):
                ci = int(choices[st][g, c])
                if ci >= 0:
                    pat[ci] += 1
                    g -= int(gpus[ci])
                    c -= int(cpu[ci])
            while (g, c) != (0, 0):
                ci = int(choice0[g, c])
                pat[ci] += 1
                g -= int(gpus[ci])
                c -= int(cpu[ci])
            used_mem = sum(mem[ci] * n for ci, n in pat.items())
            true_rc = sum(rv0[ci] * n for ci, n in pat.items()) - mu
            if true_rc <= 1e-6:
                continue
            if used_mem > mem_cap + TOL:
                mem_over = True
                continue
            key = tuple(sorted((cand[ci][0], n) for ci, n in pat.items()))
            if key in seen:
                continue
            seen.add(key)
            pats.append({i: n for i, n in key})
            if len(pats) >= max_cols:
                break
        if pats or not mem_over:
            break
        if lam == 0.0:
            base = max(best_v, 1e-6) / max(mem_cap, 1e-9)
            lams = [base * f for f in (0.5, 1.0, 2.0, 4.0)]
    return pats, ub


def _price_scip(
    m: Master, k: int, cand: list[tuple[int, float]], mu: float, time_limit: float, max_cols: int
) -> tuple[list[dict[int, int]], float]:
    _, g, c, mem = m.kinds[k]
    model = Model("packing-pricing")
    model.hideOutput()
    model.setParam("limits/time", max(0.05, time_limit))
    model.setParam("limits/gap", 1e-6)
    model.setParam("limits/maxsol", 40)
    # A 3-row knapsack: cuts and presolve cost more than they save here (measured: 0.2-2.3 s
    # with them, 0.1-0.2 s without, same optimum).
    model.setSeparating(_off())
    model.setPresolve(_off())
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


@dataclass
class CgStats:
    iterations: int = 0
    lp_value: float = 0.0
    bound: float = math.inf
    converged: bool = False
    time_s: float = 0.0


def column_generation(
    m: Master,
    deadline: float,
    target_gap: float,
    max_cols: int = 8,
    slack_penalty: float | None = None,
    max_rounds: int | None = None,
) -> tuple[CgStats, list[float]]:
    st = CgStats()
    t0 = time.perf_counter()
    lam: list[float] = []
    while True:
        st.iterations += 1
        z, pi, mu, lam = _lp_master(m, slack_penalty)
        st.lp_value = z
        added = 0
        lagr = z
        left = deadline - time.perf_counter()
        for k in range(len(m.kinds)):
            if m.avail[k] == 0:
                continue
            pats, ub_rc = _price(m, k, pi, mu[k], min(5.0, max(0.05, left / 4)), max_cols)
            lagr += m.avail[k] * max(0.0, ub_rc)
            for p in pats:
                added += m.add(k, p)
        st.bound = min(st.bound, lagr)
        if added == 0 and lagr <= z + 1e-6 * max(1.0, z):
            st.converged = True
            st.bound = z
            break
        if added == 0 or (st.bound - z) <= target_gap * 0.2 * max(z, 1e-9):
            break
        if time.perf_counter() >= deadline:
            break
        if max_rounds is not None and st.iterations >= max_rounds:
            break
    if added:  # the last LP did not see the newest columns
        lam = lam + [0.0] * (len(m.columns) - len(lam))
    st.time_s = time.perf_counter() - t0
    return st, lam


def dive(m: Master, deadline: float, rounds: int = 3) -> dict[int, int] | None:
    """Fix the LP's whole columns (or its largest fraction), re-price the rest, repeat: an
    integer packing that follows the LP. None when it runs out of servers or time."""
    penalty = 10.0 * max((it.value for it in m.items), default=1.0) + 10.0
    fixed: dict[int, int] = defaultdict(int)
    m.rhs, m.avail = list(m.demand), [k[0] for k in m.kinds]
    try:
        while any(m.rhs):
            if time.perf_counter() > deadline or not any(m.avail):
                return None
            _, lam = column_generation(m, deadline, 0.0, slack_penalty=penalty, max_rounds=rounds)
            take: dict[int, int] = {}
            for ci, v in enumerate(lam):
                if v >= 1 - 1e-6:
                    take[ci] = int(math.floor(v + 1e-6))
            if not take:
                order = sorted(range(len(lam)), key=lambda ci: -lam[ci])
                for ci in order:
                    if lam[ci] <= 1e-6:
                        break
                    if _fits_residual(m, ci, 1):
                        take[ci] = 1
                        break
            if not take:
                return None
            for ci, n in take.items():
                n = min(n, _max_copies(m, ci))
                if n <= 0:
                    continue
                k, pat = m.columns[ci]
                fixed[ci] += n
                m.avail[k] -= n
                for i, a in pat:
                    m.rhs[m.items[i].row] -= a * n
        return dict(fixed)
    finally:
        m.rhs, m.avail = list(m.demand), [k[0] for k in m.kinds]


def _max_copies(m: Master, ci: int) -> int:
    k, pat = m.columns[ci]
    n = m.avail[k]
    per_row: dict[int, int] = defaultdict(int)
    for i, a in pat:
        per_row[m.items[i].row] += a
    for r, a in per_row.items():
        n = min(n, m.rhs[r] // a)
    return n


def _fits_residual(m: Master, ci: int, n: int) -> bool:
    return _max_copies(m, ci) >= n


def _ip_master(
    m: Master, warm: dict[int, int] | None, time_limit: float, gap: float
) -> tuple[Model, list[Any]]:
    model = Model("packing-master")
    model.hideOutput()
    model.setParam("limits/time", max(0.1, time_limit))
    model.setParam("limits/gap", gap)
    lam = []
    for ci, (k, _p) in enumerate(m.columns):
        lam.append(model.addVar(f"l{ci}", vtype="I", lb=0, ub=m.kinds[k][0], obj=m.value(ci)))
    model.setMaximize()
    row_terms: list[list[Any]] = [[] for _ in m.demand]
    kind_terms: list[list[Any]] = [[] for _ in m.kinds]
    for ci, (k, pat) in enumerate(m.columns):
        kind_terms[k].append(lam[ci])
        for i, n in pat:
            row_terms[m.items[i].row].append(n * lam[ci])
    for t, d in zip(row_terms, m.demand, strict=True):
        model.addCons(quicksum(t) == d)
    for t, (cnt, *_r) in zip(kind_terms, m.kinds, strict=True):
        model.addCons(quicksum(t) <= cnt)
    if warm is not None:
        sol = model.createSol()
        for ci, v in enumerate(lam):
            model.setSolVal(sol, v, warm.get(ci, 0))
        model.addSol(sol, free=True)
    model.optimize()
    return model, lam


def _decode(inst: Instance, m: Master, counts: dict[int, int]) -> dict[int, list[PartTuple]]:
    queues = [list(js) for js in m.row_jobs]
    free_servers: dict[int, list[int]] = defaultdict(list)
    for s, srv in enumerate(inst.servers):
        free_servers[srv.kind].append(s)
    parts: dict[int, list[PartTuple]] = defaultdict(list)
    for ci, n in sorted(counts.items()):
        k, pat = m.columns[ci]
        for _ in range(n):
            s = free_servers[k].pop(0)
            for i, a in pat:
                it = m.items[i]
                for _ in range(a):
                    j = queues[it.row].pop(0)
                    parts[j].append((s, it.gpus, it.cpus, it.memory_gb))
    return dict(parts)


def solve(
    inst: Instance,
    order: list[int] | None = None,
    time_limit: float = 30.0,
    target_gap: float = 0.005,
    enumerate_limit: int = 3000,
) -> Placement:
    """Pack the admitted jobs; optimum, bound and gap as SCIP proves them.

    Steps: admit (GPU-feasible prefix), starting columns from the proportional and greedy
    packings, then either every pattern (small instances: exact) or column generation to the
    LP bound, a dive for an integer packing that follows the LP, and SCIP on the integer
    master warm-started with the best packing so far.
    """
    t0 = time.perf_counter()
    deadline = t0 + time_limit
    admitted, witness = admit(inst, order)
    if not admitted:
        return make_placement(inst, "scip", admitted, {}, "empty", 0.0, bound=0.0, gap=0.0)
    m, job_row = build_master(inst, admitted)
    starts = [columns_from_parts(inst, m, job_row, proportional_parts(inst, witness))]
    starts.append(columns_from_parts(inst, m, job_row, greedy_parts(inst, admitted)))
    notes: list[str] = []
    exact = len(admitted) <= 40 and enumerate_patterns(m, enumerate_limit)
    cg: CgStats | None = None
    if exact:
        method = "enumerated patterns"
    else:
        method = "column generation + dive"
        cg, _ = column_generation(m, t0 + 0.5 * time_limit, target_gap)
        notes.append(
            f"column generation: {cg.iterations} rounds, {cg.time_s:.2f}s, LP {cg.lp_value:.4f}"
            f" ({'converged' if cg.converged else 'stopped early: Lagrangian bound'})"
        )
        td = time.perf_counter()
        dived = dive(m, t0 + 0.8 * time_limit)
        if dived is not None:
            notes.append(f"dive: {_val(m, dived):.4f} in {time.perf_counter() - td:.2f}s")
            starts.append(dived)
        else:
            notes.append("dive: no complete packing within its time")
    feasible = [c for c in starts if c is not None]
    if not feasible:
        raise RuntimeError("no starting packing places every admitted job")
    warm = max(feasible, key=lambda c: _val(m, c))
    ip_gap = 1e-9 if exact else target_gap * 0.5
    model, lam = _ip_master(m, warm, deadline - time.perf_counter(), ip_gap)
    status = model.getStatus()
    if model.getNSols() == 0:
        raise RuntimeError(f"SCIP found no packing ({status})")
    counts = {ci: int(round(model.getVal(v))) for ci, v in enumerate(lam)}
    counts = {ci: n for ci, n in counts.items() if n > 0}
    parts = _decode(inst, m, counts)
    obj = model.getObjVal()
    scip_bound = model.getDualbound()
    # With every pattern present SCIP's dual bound is the problem's; with generated columns
    # only the column-generation bound is (SCIP's then covers the restricted master).
    # SCIP stopped before proving any bound reports "infinity" (1e20): no bound, not a gap of
    # 1e18 %; fall back on column generation's bound where there is one.
    cg_bound = cg.bound if cg is not None else math.inf
    bound = scip_bound if exact and not model.isInfinity(abs(scip_bound)) else cg_bound
    bound = max(bound, obj)
    gap = (
        (bound - obj) / obj if obj > 0 and math.isfinite(bound) else (0.0 if obj <= 0 else math.inf)
    )
    if gap <= 1e-6:
        label = "optimal"
    elif gap <= target_gap:
        label = "within target gap"
    else:
        label = "feasible"
    return make_placement(
        inst,
        "scip",
        admitted,
        parts,
        label,
        time.perf_counter() - t0,
        bound=bound if math.isfinite(bound) else None,  # None: SCIP proved no bound in time
        gap=gap if math.isfinite(gap) else None,
        nodes=model.getNNodes(),
        method=method,
        columns=len(m.columns),
        scip_status=status,
        scip_gap=model.getGap(),
        notes=notes,
    )


def _val(m: Master, counts: dict[int, int]) -> float:
    return sum(m.value(ci) * n for ci, n in counts.items())
