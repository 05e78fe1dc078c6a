"""Lower bounds on the makespan: machine and Johnson bounds, and the balance relaxation.

For fixed splits: each machine's load plus the least head and tail of two different jobs, and
the two Johnson two-machine bounds (machines 1-2 plus the least remote time, 2-3 plus the least
local time). For free splits, `joint_lower_bound` lets every machine pick its favourite splits
(cheap, weak), and the balance relaxation (a small SCIP MILP) makes the three machines share
one split choice, one first and one last job, with subset bounds for the long heads and tails;
its best solution's splits are a good start for the heuristics and for the exact search.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from typing import Any

from solver.pipeline.jobs import Job, Times


def johnson_makespan(pairs: Sequence[tuple[float, float]]) -> float:
    """Optimal two-machine flow shop makespan (Johnson's rule)."""
    first = sorted((p for p in pairs if p[0] <= p[1]), key=lambda p: p[0])
    last = sorted((p for p in pairs if p[0] > p[1]), key=lambda p: -p[1])
    c1 = c2 = 0.0
    for a, b in first + last:
        c1 += a
        c2 = max(c1, c2) + b
    return c2


def fixed_lower_bound(times: Sequence[Times]) -> float:
    """Best of the machine bounds and the two Johnson bounds for fixed stage times."""
    if not times:
        return 0.0
    n = len(times)
    best = 0.0
    for m in range(3):
        load = sum(t[m] for t in times)
        if n == 1:
            best = max(best, sum(times[0]))
            continue
        heads = [sum(t[:m]) for t in times]
        tails = [sum(t[m + 1 :]) for t in times]
        # head and tail from two different jobs: best pair, O(n) via the two smallest of each
        best = max(best, load + _min_pair_sum(heads, tails))
    best = max(best, johnson_makespan([(t[0], t[1]) for t in times]) + min(t[2] for t in times))
    best = max(best, min(t[0] for t in times) + johnson_makespan([(t[1], t[2]) for t in times]))
    best = max(best, max(sum(t) for t in times))
    return best


def _min_pair_sum(heads: Sequence[float], tails: Sequence[float]) -> float:
    """min over i != j of heads[i] + tails[j]."""
    hi = sorted(range(len(heads)), key=lambda i: heads[i])[:2]
    ti = sorted(range(len(tails)), key=lambda i: tails[i])[:2]
    return min(heads[i] + tails[j] for i in hi for j in ti if i != j)


def joint_lower_bound(jobs: Sequence[Job], options: Sequence[Sequence[int]]) -> float:
    """A bound valid for every split choice: each machine's least load with least head/tail.

    Weak on its own (each machine picks its favourite splits); the position model's LP does
    the joint balancing. Kept because it is cheap and always valid.
    """
    best = 0.0
    for m in range(3):
        load = sum(min(jobs[j].options[s].times[m] for s in options[j]) for j in range(len(jobs)))
        heads = [
            min(sum(jobs[j].options[s].times[:m]) for s in options[j]) for j in range(len(jobs))
        ]
        tails = [
            min(sum(jobs[j].options[s].times[m + 1 :]) for s in options[j])
            for j in range(len(jobs))
        ]
        extra = heads[0] + tails[0] if len(jobs) == 1 else _min_pair_sum(heads, tails)
        best = max(best, load + extra)
    best = max(
        best, max(min(jobs[j].options[s].total for s in options[j]) for j in range(len(jobs)))
    )
    return best


def balance_lower_bound(
    jobs: Sequence[Job], options: Sequence[Sequence[int]], time_limit: float = 5.0
) -> float:
    """min over split choices of max over machines of (head + load + tail), where the first and
    the last job are common to the three machines (a permutation schedule), and of the subset
    bounds (the options whose tail, or head, is at least theta: their load on a machine plus
    theta). A small SCIP MILP (3 N S binaries and a few dozen more); its proven dual bound is a
    lower bound of the joint problem that does not depend on the position model's root LP,
    which for N >= 50 may not finish in time.
    """
    return balance_bound_and_splits(jobs, options, time_limit)[0]


def balance_bound_and_splits(
    jobs: Sequence[Job], options: Sequence[Sequence[int]], time_limit: float = 5.0
) -> tuple[float, list[int] | None]:
    """balance_lower_bound's bound, and the split choice of its best solution (option indices
    per job, None if SCIP found none). Those splits balance the three machines' loads, which
    makes them a good start for the split-aware heuristics at large N (SAIG's single-job moves
    do not rebalance a batch of 50: 4-7% above this bound alone, 0.3-1.3% from these splits).

    Two solves: the plain model first (a fifth of the time, or up to a second; it solves in
    well under a second at N = 50), then the model with the subset bounds, handed the first
    one's splits as a partial solution. Alone, the second found poor splits within 2 s (SAIG
    then ended 4.9% above).
    """
    n = len(jobs)
    if n < 2:
        return joint_lower_bound(jobs, options), [o[0] for o in options] if n else []
    t_end = time.perf_counter() + max(0.05, time_limit)
    best_bound = joint_lower_bound(jobs, options)
    splits: list[int] | None = None
    for subset in (False, True):
        if subset and t_end - time.perf_counter() < 0.1:  # no time left to build and solve it
            break
        m, y = _balance_model(jobs, options, subset)
        rest = t_end - time.perf_counter()
        m.setParam("limits/time", max(0.1, rest if subset else max(rest / 5, min(1.0, rest / 2))))
        if splits is not None:
            part = m.createPartialSol()
            for (j, s), v in y.items():
                m.setSolVal(part, v, 1.0 if splits[j] == s else 0.0)
            m.addSol(part)
        m.optimize()
        best_bound = max(best_bound, float(m.getDualbound()))
        if m.getNSols() > 0:
            val: dict[tuple[int, int], float] = {k: m.getVal(v) for k, v in y.items()}
            # per job the option most set; ties go to the lower index
            splits = [-max((val[j, s], -s) for s in options[j])[1] for j in range(n)]
    return best_bound, splits


def _balance_model(
    jobs: Sequence[Job], options: Sequence[Sequence[int]], subset: bool
) -> tuple[Any, dict[tuple[int, int], Any]]:
    """The balance MILP (see balance_bound_and_splits) and its split variables y[j, s]."""
    from pyscipopt import Model, quicksum

    n = len(jobs)
    m = Model("pipeline-balance-bound")
    m.hideOutput()
    m.setParam("parallel/maxnthreads", 1)
    keys = [(j, s) for j in range(n) for s in options[j]]
    y = {k: m.addVar(vtype="B") for k in keys}
    f = {k: m.addVar(vtype="B") for k in keys}
    la = {k: m.addVar(vtype="B") for k in keys}
    bound = m.addVar(lb=0.0)
    for j in range(n):
        m.addCons(quicksum(y[j, s] for s in options[j]) == 1)
        m.addCons(quicksum(f[j, s] + la[j, s] for s in options[j]) <= 1)
    for k in keys:
        m.addCons(f[k] <= y[k])
        m.addCons(la[k] <= y[k])
    m.addCons(quicksum(f.values()) == 1)
    m.addCons(quicksum(la.values()) == 1)
    t = {k: jobs[k[0]].options[k[1]].times for k in keys}
    for mach in range(3):
        m.addCons(
            bound
            >= quicksum(y[k] * t[k][mach] for k in keys)
            + quicksum(f[k] * sum(t[k][:mach]) for k in keys)
            + quicksum(la[k] * sum(t[k][mach + 1 :]) for k in keys)
        )
        if not subset:
            continue
        # Subset bounds: for the options S whose tail (head) is at least theta, the last (first)
        # of them in the order still has that tail (head) to run after (before) all of S's work
        # on this machine. The plain bound above lets a job with no tail end the batch and
        # forgets the long tail of the job before it (N = 50, seed 1: 1.350 -> 1.367).
        for side in ("tail", "head"):
            span = {k: sum(t[k][mach + 1 :] if side == "tail" else t[k][:mach]) for k in keys}
            for theta in _thresholds(span.values()):
                members = [k for k in keys if span[k] >= theta]
                w = m.addVar(vtype="B")
                by_job: dict[int, list[Any]] = {}  # (grouped once: a scan per job is N^2)
                for k in members:
                    by_job.setdefault(k[0], []).append(y[k])
                for ys in by_job.values():  # one per job: its y's sum to at most 1
                    m.addCons(w >= quicksum(ys))
                other = la if side == "head" else f
                m.addCons(
                    bound
                    >= quicksum(y[k] * t[k][mach] for k in members)
                    + theta * w
                    + quicksum(
                        other[k] * sum(t[k][mach + 1 :] if side == "head" else t[k][:mach])
                        for k in keys
                    )
                )
    m.setObjective(bound, "minimize")
    return m, y


def _thresholds(values: Iterable[float], most: int = 12) -> list[float]:
    """The distinct positive values (at most `most` of them, spread over their range)."""
    distinct = sorted({v for v in values if v > 0})
    if len(distinct) <= most:
        return distinct
    step = (len(distinct) - 1) / (most - 1)
    return sorted({distinct[round(i * step)] for i in range(most)})
