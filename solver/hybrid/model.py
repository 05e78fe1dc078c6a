"""The hybrid scheduler's SCIP model: training jobs onto CPU and GPU workers, least makespan.

The problem is R||Cmax (unrelated parallel machines): job j takes p[j][i] seconds on worker
i (num_batches x the cost model's seconds per batch for that worker's device and CPU cap).
Jobs on one worker run one after another, so a worker's finish time is the sum of its jobs'
times whatever their order: the order on a worker cannot change the makespan, and the
assignment formulation

    min C  s.t.  sum_i x[j,i] = 1 (each job once),  sum_j p[j][i] x[j,i] <= C (each worker)

is exact. SCIP solves it, warm-started with the greedy schedule and given the two classic
lower bounds (largest single-job minimum; total minimum work / workers) as C's bounds. Each
worker's jobs are then sequenced longest first from time 0.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence

from pyscipopt import Model, quicksum

from solver.hybrid.baselines import Matrix, baselines, lower_bound, schedule_from_assignment
from solver.hybrid.solution import Schedule


def build_model(p: Matrix, warm: Schedule | None = None) -> Model:
    """The assignment MILP of `p`; variables on `model.data` as {"x": {(j, i): var}, "cmax"}."""
    n, m = len(p), len(p[0])
    model = Model("hybrid_rcmax")
    x = {
        (j, i): model.addVar(vtype="B", name=f"x_{j}_{i}")
        for j in range(n)
        for i in range(m)
        if not math.isinf(p[j][i])
    }
    lb = lower_bound([[v if not math.isinf(v) else 1e30 for v in row] for row in p])
    ub = warm.makespan if warm is not None else None
    cmax = model.addVar(vtype="C", name="Cmax", lb=lb, ub=ub)
    for j in range(n):
        model.addCons(quicksum(x[j, i] for i in range(m) if (j, i) in x) == 1, name=f"once_{j}")
    for i in range(m):
        model.addCons(
            quicksum(p[j][i] * x[j, i] for j in range(n) if (j, i) in x) <= cmax, name=f"load_{i}"
        )
    model.setObjective(cmax, "minimize")
    if warm is not None and warm.entries:
        sol = model.createSol()
        assigned = {(e.job, e.worker) for e in warm.entries}
        for key, var in x.items():
            model.setSolVal(sol, var, 1.0 if key in assigned else 0.0)
        model.setSolVal(sol, cmax, warm.span)
        model.addSol(sol, free=True)
    model.data = {"x": x, "cmax": cmax}
    return model


def read_out(model: Model, p: Matrix, wall_s: float) -> Schedule:
    """SCIP's best assignment, sequenced, with its status, bound, gap and effort."""
    status = str(model.getStatus())
    if model.getNSols() == 0:
        return Schedule(method="scip", makespan=None, status=status, solve_s=wall_s)
    best = model.getBestSol()
    assign = [-1] * len(p)
    for (j, i), var in model.data["x"].items():
        if model.getSolVal(best, var) > 0.5:
            assign[j] = i
    return schedule_from_assignment(
        "scip",
        assign,
        p,
        status=status,
        dual_bound=float(model.getDualbound()),
        gap=float(model.getGap()),
        solve_s=float(model.getSolvingTime()),
        nodes=int(model.getNNodes()),
    )


def solve_scip(
    p: Matrix,
    time_limit: float | None = 60.0,
    warm: Schedule | None = None,
    quiet: bool = True,
    threads: int = 1,
) -> Schedule:
    """Exact R||Cmax by the assignment MILP (see the module docstring); `time_limit` covers
    building the model too (SCIP gets what the build left)."""
    t_build = time.perf_counter()
    model = build_model(p, warm)
    if quiet:
        model.hideOutput()
    if time_limit is not None:
        left = time_limit - (time.perf_counter() - t_build)
        model.setParam("limits/time", max(0.05, float(left)))
    model.setParam("parallel/maxnthreads", threads)
    t0 = time.perf_counter()
    model.optimize()
    return read_out(model, p, time.perf_counter() - t0)


def solve_all(
    p: Matrix, devices: Sequence[str], time_limit: float | None = 60.0, quiet: bool = True
) -> dict[str, Schedule]:
    """CPU-only, GPU-only, greedy and SCIP (warm-started from greedy), by method name."""
    out = baselines(p, devices)
    out["scip"] = solve_scip(p, time_limit, warm=out["greedy"], quiet=quiet)
    return out
