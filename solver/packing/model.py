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

Interference: on a kind with a measured factor f, a pattern of two items or more is worth f
times its items' values (`Master.value`). With every pattern enumerated the master is exact
with it; column generation's pricing still prices items alone, which overstates a shared
pattern's reduced cost for f < 1: its Lagrangian bound stays valid (a relaxation), only looser.

The fairness floor is in the items: a job's configurations are only those with at least its
GPU-proportional-share throughput. A job larger than a server is split into whole servers
plus a remainder, at its proportional share (the slowest part sets the pace).

Every phase before the integer master is bounded by its work, never by seconds, so it gives the
same columns, bound and start on any machine: column generation by its rounds (CG_ROUNDS) and
its target gap, each pricing knapsack by SCIP nodes (PRICING_NODES), the dive by its rounds.
The time limit is the one cap in seconds (column generation and the dive stop at CAP_SHARE of
it, leaving the integer master the rest); where it cuts a phase short, the notes say which.

Here: the master LP and the integer master (each built by one function, solved and read out
apart), the column-generation loop, the dive, and `pack`, the phases of one packing. The rows,
items and columns are `master.py`'s; the pricing knapsack is `pricing.py`'s.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from pyscipopt import SCIP_PARAMSETTING, Model, quicksum

from solver.packing.baselines import admit, greedy_parts, proportional_parts
from solver.packing.master import (
    Master,
    build_master,
    columns_from_parts,
    decode,
    enumerate_patterns,
    value_of,
)
from solver.packing.pricing import price
from solver.packing.problem import Instance
from solver.packing.solution import Placement, make_placement

# ---------------------------------------------------------------- the master LP


def build_lp_master(m: Master, slack_penalty: float | None = None) -> Model:
    """Master LP over m.rhs / m.avail, min -value; `model.data` = (lambda vars, row constraints,
    kind constraints). With a slack penalty, uncovered demand is allowed at that price (diving
    uses it so that a residual problem is never infeasible)."""
    model = Model("packing-master-lp")
    model.hideOutput()
    model.setPresolve(SCIP_PARAMSETTING.OFF)
    model.setHeuristics(SCIP_PARAMSETTING.OFF)
    model.setSeparating(SCIP_PARAMSETTING.OFF)
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
    model.data = (lam, rows, kc)
    return model


def master_lp(
    m: Master, slack_penalty: float | None = None
) -> tuple[float, list[float], list[float], list[float]]:
    """Solve the master LP; returns (objective, row duals pi, kind duals mu, lambda) in
    max-problem signs."""
    model = build_lp_master(m, slack_penalty)
    model.optimize()
    if model.getStatus() != "optimal":
        raise RuntimeError(f"master LP ended {model.getStatus()}")
    lam, rows, kc = model.data
    # SCIP minimises -value: duals y of that problem; for the max problem pi = -y.
    pi = [-model.getDualsolLinear(c) for c in rows]
    mu = [-model.getDualsolLinear(c) for c in kc]
    return -model.getObjVal(), pi, mu, [model.getVal(v) for v in lam]


def _big_penalty(m: Master) -> float:
    return 10.0 * max((it.value for it in m.items), default=1.0) * max(1, max(m.demand)) + 10.0


# ---------------------------------------------------------------- column generation and dive


CG_ROUNDS = 200  # column generation's rounds at most (its work bound besides the target gap)
CAP_SHARE = 0.9  # column generation and the dive stop by this share of the time limit at most


@dataclass
class CgStats:
    iterations: int = 0
    lp_value: float = 0.0
    bound: float = math.inf
    converged: bool = False
    time_s: float = 0.0
    cut_by_time: bool = False


def column_generation(
    m: Master,
    deadline: float,
    target_gap: float,
    max_cols: int = 8,
    slack_penalty: float | None = None,
    max_rounds: int | None = CG_ROUNDS,
) -> tuple[CgStats, list[float]]:
    """Master LP and pricing until no column prices out, the Lagrangian bound is within a fifth
    of `target_gap`, or `max_rounds`; `deadline` (a time.perf_counter() value) is a cap only."""
    st = CgStats()
    t0 = time.perf_counter()
    lam: list[float] = []
    while True:
        st.iterations += 1
        z, pi, mu, lam = master_lp(m, slack_penalty)
        st.lp_value = z
        added = 0
        lagr = z
        kinds = [k for k in range(len(m.kinds)) if m.avail[k] > 0]
        for k in kinds:  # each pricing bounded by its nodes, capped by the deadline
            pats, ub_rc = price(m, k, pi, mu[k], deadline - time.perf_counter(), max_cols)
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
            st.cut_by_time = True
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


# ---------------------------------------------------------------- the integer master


def build_ip_master(m: Master, warm: dict[int, int] | None, time_limit: float, gap: float) -> Model:
    """The integer master over the columns so far, warm-started; `model.data` = lambda vars."""
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
    model.data = lam
    return model


def ip_counts(model: Model) -> dict[int, int]:
    """Servers per column at SCIP's best solution (columns used only)."""
    counts = {ci: int(round(model.getVal(v))) for ci, v in enumerate(model.data)}
    return {ci: n for ci, n in counts.items() if n > 0}


# ---------------------------------------------------------------- the phases of one packing


@dataclass
class _Run:
    """What the phases of one packing pass along."""

    inst: Instance
    admitted: list[int]
    m: Master
    t0: float
    time_limit: float
    target_gap: float
    starts: list[dict[int, int] | None]
    exact: bool = False
    method: str = ""
    cg: CgStats | None = None
    notes: list[str] = field(default_factory=list)


def _generate(run: _Run) -> None:
    """Columns past the baselines': column generation to the LP bound, then a dive for an
    integer packing that follows the LP (a start for the integer master)."""
    m, t0, tl = run.m, run.t0, run.time_limit
    run.method = "column generation + dive"
    cap = t0 + CAP_SHARE * tl
    run.cg = cg = column_generation(m, cap, run.target_gap)[0]
    run.notes.append(
        f"column generation: {cg.iterations} rounds, {cg.time_s:.2f}s, LP {cg.lp_value:.4f}"
        f" ({'converged' if cg.converged else 'stopped early: Lagrangian bound'})"
    )
    if cg.cut_by_time:
        run.notes.append("the time limit cut column generation short")
    td = time.perf_counter()
    dived = dive(m, cap)
    if dived is not None:
        run.notes.append(f"dive: {value_of(m, dived):.4f} in {time.perf_counter() - td:.2f}s")
        run.starts.append(dived)
    elif time.perf_counter() > cap:
        run.notes.append("the time limit cut the dive short: no complete packing from it")
    else:
        run.notes.append("dive: no complete packing (it ran out of servers)")


def _integer(run: _Run) -> Model:
    """SCIP on the integer master, warm-started with the best start."""
    feasible = [c for c in run.starts if c is not None]
    if not feasible:
        raise RuntimeError("no starting packing places every admitted job")
    warm = max(feasible, key=lambda c: value_of(run.m, c))
    ip_gap = 1e-9 if run.exact else run.target_gap * 0.5
    left = run.t0 + run.time_limit - time.perf_counter()
    model = build_ip_master(run.m, warm, left, ip_gap)
    model.optimize()
    if model.getNSols() == 0:
        raise RuntimeError(f"SCIP found no packing ({model.getStatus()})")
    return model


def _read_out(run: _Run, model: Model) -> Placement:
    """The placement at SCIP's answer, with the bound that holds for the whole problem."""
    parts = decode(run.inst, run.m, ip_counts(model))
    obj = model.getObjVal()
    scip_bound = model.getDualbound()
    # With every pattern present SCIP's dual bound is the problem's; with generated columns
    # only the column-generation bound is (SCIP's then covers the restricted master).
    # SCIP stopped before proving any bound reports "infinity" (1e20): no bound, not a gap of
    # 1e18 %; fall back on column generation's bound where there is one.
    cg_bound = run.cg.bound if run.cg is not None else math.inf
    bound = scip_bound if run.exact and not model.isInfinity(abs(scip_bound)) else cg_bound
    bound = max(bound, obj)
    gap = (
        (bound - obj) / obj if obj > 0 and math.isfinite(bound) else (0.0 if obj <= 0 else math.inf)
    )
    if gap <= 1e-6:
        label = "optimal"
    elif gap <= run.target_gap:
        label = "within target gap"
    else:
        label = "feasible"
    return make_placement(
        run.inst,
        "scip",
        run.admitted,
        parts,
        label,
        time.perf_counter() - run.t0,
        bound=bound if math.isfinite(bound) else None,  # None: SCIP proved no bound in time
        gap=gap if math.isfinite(gap) else None,
        nodes=model.getNNodes(),
        method=run.method,
        columns=len(run.m.columns),
        scip_status=model.getStatus(),
        scip_gap=model.getGap(),
        notes=run.notes,
    )


def pack(
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
    master warm-started with the best packing so far. RuntimeError when SCIP finds none.
    """
    t0 = time.perf_counter()
    admitted, witness = admit(inst, order)
    if not admitted:
        return make_placement(inst, "scip", admitted, {}, "empty", 0.0, bound=0.0, gap=0.0)
    m, job_row = build_master(inst, admitted)
    starts = [columns_from_parts(inst, m, job_row, proportional_parts(inst, witness))]
    starts.append(columns_from_parts(inst, m, job_row, greedy_parts(inst, admitted)))
    run = _Run(inst, admitted, m, t0, time_limit, target_gap, starts)
    run.exact = len(admitted) <= 40 and enumerate_patterns(m, enumerate_limit)
    if run.exact:
        run.method = "enumerated patterns"
    else:
        _generate(run)
    return _read_out(run, _integer(run))
