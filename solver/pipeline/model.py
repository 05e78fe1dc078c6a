"""The two exact SCIP models of the batch pipeline; each builder returns the model and its read-out.

Every job is split at one cut: layers [0, k) run on the local device, the tensor at cut k
crosses the link, layers [k, L) run on the remote device. That makes a three-machine flow
shop in which each job also picks its processing times from a short menu (its split options).
Permutation schedules are optimal for the three-machine flow shop's makespan (the first two
and the last two machines can share one order), so a position-based model is exact.

- ``position`` (the default, chosen because it is the one that scales, see
  bench/pipeline_scale.py): z[c,s,p] = 1 when position p holds a job of class c (identical jobs
  are one class with a count) with split s; completion times per machine and position; no
  big-M at all; integer split counts per class and position binaries per class as branching
  aggregates. Its bound at N = 8..10 stays near 1.5-2% below the optimum for a long time:
  the LP mixes split options fractionally, which balances the three machines for free.
- ``disjunctive``: start times per job and machine, one order binary per pair of jobs shared by
  the three machines, big-M non-overlap; the seed's kind of model. Competitive at N = 5, but
  its bound is useless from N = 8 on (gap ~55% after 15 s, vs ~2% for the position model).

Both take the options left after pruning (per job, the indices of its kept split options), a
lower bound on the makespan computed outside (solver/pipeline/bounds.py) and a warm start.
Building, solving (solver/pipeline/exact.py) and reading out are separate steps.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from solver.pipeline.check import simulate_times
from solver.pipeline.jobs import Job, Schedule, Start, Times


class BuildStopped(RuntimeError):
    """The model was not finished building by its deadline (the time limit ran out first)."""


def stop_at(deadline: float | None, what: str, done: int, total: int) -> None:
    if deadline is not None and time.perf_counter() > deadline:
        raise BuildStopped(f"the model was not built in time ({what}: {done} of {total})")


@dataclass(frozen=True)
class Built:
    """A SCIP model, the read-out of its best solution as a schedule, and its class count."""

    model: Any
    extract: Callable[[Any], Schedule]
    classes: int


def job_classes(jobs: Sequence[Job], options: Sequence[Sequence[int]]) -> list[list[int]]:
    """Jobs with identical kept option times are interchangeable: one class, one count."""
    by_key: dict[tuple[Times, ...], list[int]] = {}
    for j, job in enumerate(jobs):
        key = tuple(job.options[s].times for s in options[j])
        by_key.setdefault(key, []).append(j)
    return list(by_key.values())


def position_size(jobs: Sequence[Job], options: Sequence[Sequence[int]]) -> int:
    """The position model's binaries z[c, s, p] (what its build time and memory grow with)."""
    return len(jobs) * sum(len(options[cls[0]]) for cls in job_classes(jobs, options))


def disjunctive_size(jobs: Sequence[Job], options: Sequence[Sequence[int]]) -> int:
    """The disjunctive model's binaries: one per pair of jobs, one per job and option."""
    n = len(jobs)
    return n * (n - 1) // 2 + sum(len(o) for o in options)


def build_position(
    jobs: Sequence[Job],
    options: Sequence[Sequence[int]],
    lb: float,
    warm: Start | None,
    deadline: float | None = None,
) -> Built:
    """The position model (see the module docstring), started from `warm` when given.
    BuildStopped when `deadline` (a time.perf_counter() value) passes while building."""
    from pyscipopt import Model, quicksum

    n = len(jobs)
    classes = job_classes(jobs, options)
    rep = [cls[0] for cls in classes]
    copts = [list(range(len(options[r]))) for r in rep]  # class option s -> options[rep][s]

    def tm(c: int, s: int, m: int) -> float:
        return jobs[rep[c]].options[options[rep[c]][s]].times[m]

    model = Model("pipeline-position")
    z: dict[tuple[int, int, int], Any] = {}
    for c in range(len(classes)):
        stop_at(deadline, "position model variables, classes", c, len(classes))
        for s in copts[c]:
            for p in range(n):
                z[c, s, p] = model.addVar(vtype="B", name=f"z_{c}_{s}_{p}")
    C = [[model.addVar(lb=0.0, name=f"C{m}_{p}") for p in range(n)] for m in range(3)]
    _branching_aggregates(model, z, classes, copts, n)
    stop_at(deadline, "position model constraints", 0, n)
    for p in range(n):
        model.addCons(quicksum(z[c, s, p] for c in range(len(classes)) for s in copts[c]) == 1)
    for c, cls in enumerate(classes):
        model.addCons(quicksum(z[c, s, p] for s in copts[c] for p in range(n)) == len(cls))
    P: list[list[Any]] = [[], [], []]
    for p in range(n):
        stop_at(deadline, "position model stage times", p, n)
        for m in range(3):
            P[m].append(
                quicksum(tm(c, s, m) * z[c, s, p] for c in range(len(classes)) for s in copts[c])
            )
    for p in range(n):
        stop_at(deadline, "position model constraints", p, n)
        for m in range(3):
            if m > 0:
                model.addCons(C[m][p] >= C[m - 1][p] + P[m][p])
            if p > 0:
                model.addCons(C[m][p] >= C[m][p - 1] + P[m][p])
            elif m == 0:
                model.addCons(C[0][0] >= P[0][0])
    # machine 1 never idles in a semi-active schedule; the equality tightens the LP
    model.addCons(C[0][n - 1] == quicksum(P[0][p] for p in range(n)))
    model.addCons(C[2][n - 1] >= lb)
    model.setObjective(C[2][n - 1], "minimize")
    if warm is not None:
        _position_start(model, z, C, jobs, options, classes, warm)

    def extract(mdl: Any) -> Schedule:
        remaining = [list(cls) for cls in classes]
        order: list[int] = []
        splits = [0] * n
        for p in range(n):
            best = max(
                ((c, s) for c in range(len(classes)) for s in copts[c]),
                key=lambda cs: mdl.getVal(z[cs[0], cs[1], p]),
            )
            c, s = best
            j = remaining[c].pop(0)
            order.append(j)
            splits[j] = options[j][s]
        return order, splits

    return Built(model, extract, len(classes))


def _branching_aggregates(
    model: Any,
    z: dict[tuple[int, int, int], Any],
    classes: Sequence[Sequence[int]],
    copts: Sequence[Sequence[int]],
    n: int,
) -> None:
    """Aggregates to branch on first: the split of a class (how many of its jobs take split s),
    then its position; far fewer, far more decisive than single z's."""
    from pyscipopt import quicksum

    ycnt = {
        (c, s): model.addVar(vtype="I", lb=0, ub=len(classes[c]), name=f"y_{c}_{s}")
        for c in range(len(classes))
        for s in copts[c]
    }
    for (c, s), v in ycnt.items():
        model.addCons(v == quicksum(z[c, s, p] for p in range(n)))
        model.chgVarBranchPriority(v, 100)
    xcp = {
        (c, p): model.addVar(vtype="B", name=f"x_{c}_{p}")
        for c in range(len(classes))
        for p in range(n)
    }
    for (c, p), v in xcp.items():
        model.addCons(v == quicksum(z[c, s, p] for s in copts[c]))
        model.chgVarBranchPriority(v, 50)


def _position_start(
    model: Any,
    z: dict[tuple[int, int, int], Any],
    C: Sequence[Sequence[Any]],
    jobs: Sequence[Job],
    options: Sequence[Sequence[int]],
    classes: Sequence[Sequence[int]],
    warm: Start,
) -> None:
    """Hand the warm start to SCIP as the position model's first solution."""
    n = len(jobs)
    order, splits = warm
    class_of = {j: c for c, cls in enumerate(classes) for j in cls}
    sol = model.createSol()
    for v in z.values():
        model.setSolVal(sol, v, 0.0)
    ptimes = []
    for p, j in enumerate(order):
        c = class_of[j]
        s = options[j].index(splits[j])
        model.setSolVal(sol, z[c, s, p], 1.0)
        ptimes.append(jobs[j].options[splits[j]].times)
    ends = simulate_times(ptimes)
    for p in range(n):
        for m in range(3):
            model.setSolVal(sol, C[m][p], ends[p][m][1])
    model.addSol(sol, free=True)


def build_disjunctive(
    jobs: Sequence[Job],
    options: Sequence[Sequence[int]],
    lb: float,
    warm: Start | None,
    warm_ms: float | None,
    deadline: float | None = None,
) -> Built:
    """The big-M disjunctive model (the seed's kind), its big-M the warm start's makespan.
    BuildStopped when `deadline` passes while building."""
    from pyscipopt import Model, quicksum

    n = len(jobs)
    bigm = (
        warm_ms if warm_ms is not None else sum(max(sum(o.times) for o in j.options) for j in jobs)
    )
    model = Model("pipeline-disjunctive")
    y = {(j, s): model.addVar(vtype="B", name=f"y_{j}_{s}") for j in range(n) for s in options[j]}
    S = [[model.addVar(lb=0.0, ub=bigm, name=f"S{m}_{j}") for j in range(n)] for m in range(3)]
    cmax = model.addVar(lb=lb, name="cmax")
    o = {
        (i, j): model.addVar(vtype="B", name=f"o_{i}_{j}")
        for i in range(n)
        for j in range(i + 1, n)
    }
    p = [
        [quicksum(jobs[j].options[s].times[m] * y[j, s] for s in options[j]) for j in range(n)]
        for m in range(3)
    ]
    for j in range(n):
        model.addCons(quicksum(y[j, s] for s in options[j]) == 1)
        model.addCons(S[1][j] >= S[0][j] + p[0][j])
        model.addCons(S[2][j] >= S[1][j] + p[1][j])
        model.addCons(cmax >= S[2][j] + p[2][j])
    for k, ((i, j), v) in enumerate(o.items()):
        if k % 256 == 0:
            stop_at(deadline, "disjunctive model pairs", k, len(o))
        for m in range(3):
            model.addCons(S[m][j] >= S[m][i] + p[m][i] - bigm * (1 - v))
            model.addCons(S[m][i] >= S[m][j] + p[m][j] - bigm * v)
    model.setObjective(cmax, "minimize")
    if warm is not None:
        _disjunctive_start(model, y, S, cmax, o, jobs, options, warm)

    def extract(mdl: Any) -> Schedule:
        splits = [max(options[j], key=lambda s: mdl.getVal(y[j, s])) for j in range(n)]
        order = sorted(range(n), key=lambda j: (mdl.getVal(S[0][j]), mdl.getVal(S[1][j]), j))
        return order, splits

    return Built(model, extract, n)


def _disjunctive_start(
    model: Any,
    y: dict[tuple[int, int], Any],
    S: Sequence[Sequence[Any]],
    cmax: Any,
    o: dict[tuple[int, int], Any],
    jobs: Sequence[Job],
    options: Sequence[Sequence[int]],
    warm: Start,
) -> None:
    """Hand the warm start to SCIP as the disjunctive model's first solution."""
    n = len(jobs)
    order, splits = warm
    sol = model.createSol()
    pos = {j: k for k, j in enumerate(order)}
    ends = simulate_times([jobs[j].options[splits[j]].times for j in order])
    for j in range(n):
        for s in options[j]:
            model.setSolVal(sol, y[j, s], 1.0 if s == splits[j] else 0.0)
        for m in range(3):
            model.setSolVal(sol, S[m][j], ends[pos[j]][m][0])
    for (i, j), v in o.items():
        model.setSolVal(sol, v, 1.0 if pos[i] < pos[j] else 0.0)
    model.setSolVal(sol, cmax, max(e[2][1] for e in ends))
    model.addSol(sol, free=True)
