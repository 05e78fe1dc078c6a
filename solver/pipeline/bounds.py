"""Lower bounds on the makespan: machine and Johnson bounds, and the balance relaxation.

For fixed splits: each machine's load plus the least head and tail of two different jobs, and
the two Johnson two-machine bounds (machines 1-2 plus the least remote time, 2-3 plus the least
local time). For free splits, `joint_lower_bound` lets every machine pick its favourite splits
(cheap, weak), and the balance relaxation (a small SCIP MILP) makes the three machines share
one split choice, one first and one last job, with subset bounds for the long heads and tails,
and its count relaxation (integer only in how many jobs take each cut) bounds it from below;
its best solution's splits are a good start for the heuristics and for the exact search. It is
bounded by SCIP node limits (one thread: the same bound and splits on any machine), its
proven dual bound being valid wherever it stops; the time limit only caps it.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from solver.pipeline.jobs import Job, Times
from solver.pipeline.model import BuildStopped, stop_at

PLAIN_NODES = 30  # the balance relaxation's node limits: its work bound (see balance_relaxation)
SUBSET_NODES = 1_000
COUNT_NODES = 200  # ... and the count relaxation's (at N = 100 it solves in 3-15 nodes)
# SCIP's separation setting for the subset model: AGGRESSIVE raised its bound at N = 100 (sampled
# seed 4, 50 s: 2.7634 -> 2.7647; the schedule 2.7683) at about the same nodes per second;
# heuristics off or best-first node selection lowered it (2.7595)
SUBSET_SEPARATING = "AGGRESSIVE"
SUBSET_MAX_KEYS = 1_200  # (job, option) pairs up to which the subset model is built
PLAIN_MAX_KEYS = 2_000  # ... and the plain one (its root alone took 21 s at N = 500)
COUNT_MAX_KEYS = 4_000  # ... and the count relaxation (sampled N = 500, 4,000 keys: 19 s)
CHECK_EVERY = 64  # jobs built between two looks at a build deadline


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
    if not jobs:
        return 0.0
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
    jobs: Sequence[Job], options: Sequence[Sequence[int]], time_limit: float | None = None
) -> float:
    """min over split choices of max over machines of (head + load + tail), where the first and
    the last job are common to the three machines (a permutation schedule), and of the subset
    bounds (the options whose tail, or head, is at least theta: their load on a machine plus
    theta, plus each other job's lesser of its time there and its remote (local) time). A
    small SCIP MILP (3 N S binaries and a few dozen more); its proven dual bound is a lower
    bound of the joint problem that does not depend on the position model's root LP, which for
    N >= 50 may not finish in time.
    """
    return balance_relaxation(jobs, options, time_limit).bound


@dataclass(frozen=True)
class Balance:
    """The balance relaxation's proven bound, the splits of its best solution (None if SCIP
    found none), and whether the time limit (rather than its node limits) stopped it.
    `search` is its subset model as its node limit left it, when it was not solved: the final
    search may go on with it (`resume_balance`)."""

    bound: float
    splits: list[int] | None
    cut_by_time: bool
    nodes: int
    search: _Open | None = field(default=None, compare=False, repr=False)
    count_splits: list[int] | None = None  # the count relaxation's (its largest share per job)


@dataclass(frozen=True)
class _Open:
    """A subset model SCIP stopped at its node limit, and what reads its splits out."""

    model: Any
    y: dict[tuple[int, int], Any]
    options: Sequence[Sequence[int]]


def resume_balance(bal: Balance, time_limit: float | None) -> Balance:
    """The subset model's search, gone on from where its node limit stopped it (SCIP keeps its
    tree) for up to `time_limit` s: a search bounded by time, so only the final one may run it.
    At N = 100 its dual bound keeps rising where the position model's LP does not finish its
    root (sampled seed 2, 60 s in all: 2.5750, where the 60 s solve without it ended at 2.5729;
    the best schedule 2.5759).
    Returns `bal` itself when there is nothing to go on with."""
    open_ = bal.search
    if open_ is None:
        return bal
    m = open_.model
    m.setParam("limits/nodes", -1)
    # SCIP's clock counts every call's solving time: the limit is set past what was spent
    spent = float(m.getSolvingTime())
    m.setParam("limits/time", 1e20 if time_limit is None else spent + max(0.05, time_limit))
    m.optimize()
    splits = _splits(m, open_.y, open_.options) if m.getNSols() > 0 else bal.splits
    done = None if m.getStatus() == "optimal" else open_
    bound = max(bal.bound, float(m.getDualbound()))
    cut = m.getStatus() == "timelimit"
    return Balance(bound, splits, cut, int(m.getNTotalNodes()), done, bal.count_splits)


def _splits(m: Any, y: dict[tuple[int, int], Any], options: Sequence[Sequence[int]]) -> list[int]:
    """Per job the option its best solution sets most; ties go to the lower index."""
    val: dict[tuple[int, int], float] = {k: m.getVal(v) for k, v in y.items()}
    return [-max((val[j, s], -s) for s in options[j])[1] for j in range(len(options))]


def balance_bound_and_splits(
    jobs: Sequence[Job], options: Sequence[Sequence[int]], time_limit: float | None = None
) -> tuple[float, list[int] | None]:
    """balance_relaxation's bound and splits."""
    b = balance_relaxation(jobs, options, time_limit)
    return b.bound, b.splits


def balance_relaxation(
    jobs: Sequence[Job],
    options: Sequence[Sequence[int]],
    time_limit: float | None = None,
    *,
    plain_nodes: int = PLAIN_NODES,
    subset_nodes: int = SUBSET_NODES,
    subset_max_keys: int = SUBSET_MAX_KEYS,
    plain_max_keys: int = PLAIN_MAX_KEYS,
    count_nodes: int = COUNT_NODES,
    count_max_keys: int = COUNT_MAX_KEYS,
) -> Balance:
    """The balance relaxation, bounded by work: SCIP node limits (deterministic, one thread),
    so that it gives the same bound and splits on any machine; `time_limit` (s) is only the
    user's cap, and the answer says when it stopped it. Its splits balance the three machines'
    loads, which makes them a good start for the split-aware heuristics at large N (SAIG's
    single-job moves do not rebalance a batch of 50: 4-7% above this bound alone, 0.3-1.3% from
    these splits).

    Three solves: the plain model first (`plain_nodes`; at N = 50 it solves at its root), the
    count relaxation (`count_nodes`; see count_relaxation), then the model with the subset
    bounds (`subset_nodes`), handed the first one's splits as a partial solution; alone, the
    third found poor splits. The bound is the best of them. Each is built only up to so many
    (job, option) pairs: the subset model `subset_max_keys`, the plain one `plain_max_keys`
    (their roots alone took 24 s and 21 s at N = 500, where the head and tail they add are
    worth 1/N of the makespan: without them the splits are None, and the caller's cheap
    bounds and their Lagrangian splits stand in), the count relaxation, whose only integers
    are its counts, `count_max_keys`.
    """
    n = len(jobs)
    if n < 2:
        return Balance(joint_lower_bound(jobs, options), [o[0] for o in options], False, 0)
    t_end = None if time_limit is None else time.perf_counter() + max(0.05, time_limit)
    best_bound = joint_lower_bound(jobs, options)
    splits: list[int] | None = None
    count_splits: list[int] | None = None
    keys = sum(len(o) for o in options)
    cut = False
    nodes = 0
    search = None
    limits = {"plain": plain_max_keys, "count": count_max_keys, "subset": subset_max_keys}
    for step, most in limits.items():
        if keys > most or (step == "count" and count_nodes <= 0):
            continue
        if _no_time(t_end):
            cut = True
            break
        if step == "count":
            counted = count_relaxation(jobs, options, _left(t_end), nodes=count_nodes)
            best_bound = max(best_bound, counted.bound)
            count_splits, nodes = counted.splits, nodes + counted.nodes
            cut = cut or counted.cut_by_time
            continue
        subset = step == "subset"
        try:
            m, y = _balance_model(jobs, options, subset, t_end)
        except BuildStopped:
            cut = True
            break
        if subset:  # its bound is what it is for: more cuts per node (see SUBSET_SEPARATING)
            from pyscipopt import SCIP_PARAMSETTING

            m.setSeparating(getattr(SCIP_PARAMSETTING, SUBSET_SEPARATING))
        m.setParam("limits/nodes", subset_nodes if subset else plain_nodes)
        if t_end is not None:
            m.setParam("limits/time", _left(t_end))
        if splits is not None:
            part = m.createPartialSol()
            for (j, s), v in y.items():
                m.setSolVal(part, v, 1.0 if splits[j] == s else 0.0)
            m.addSol(part)
        m.optimize()
        cut = cut or m.getStatus() == "timelimit"
        nodes += int(m.getNNodes())
        best_bound = max(best_bound, float(m.getDualbound()))
        if m.getNSols() > 0:
            splits = _splits(m, y, options)
        if subset and m.getStatus() == "nodelimit":
            search = _Open(m, y, options)
    return Balance(best_bound, splits, cut, nodes, search, count_splits)


def _no_time(t_end: float | None) -> bool:
    """Too little time left to build and solve one more model."""
    return t_end is not None and t_end - time.perf_counter() < 0.1


def _left(t_end: float | None) -> float | None:
    return None if t_end is None else max(0.05, t_end - time.perf_counter())


def count_relaxation(
    jobs: Sequence[Job],
    options: Sequence[Sequence[int]],
    time_limit: float | None = None,
    *,
    nodes: int = COUNT_NODES,
) -> Balance:
    """The subset model with every variable continuous but one integer per cut: how many jobs
    take it. Every split choice is one of its solutions, so its optimum is a lower bound of
    the balance relaxation's (and of the makespan); where jobs share their cuts (a batch of
    one network) it is much the stronger: with the counts fixed, the LP is tight, and what the
    plain LP gets wrong is how many jobs go local, remote or part-way. Sampled N = 100,
    seed 4: 2.76776 in 15 nodes (3 s), where the subset model's dual stood at 2.76460 after
    1,000 nodes (33 s) and the best schedule is 2.76777. Where each job has its own link the
    counts say little (bandwidth-10x: 3.3404 against the subset model's 3.3439).
    Bounded by `nodes` (the same answer on any machine); `time_limit` only caps it. Its splits
    are each job's largest share at its best solution."""
    if len(jobs) < 2:  # one first and one last job: the model needs two
        return Balance(joint_lower_bound(jobs, options), [o[0] for o in options], False, 0)
    t_end = None if time_limit is None else time.perf_counter() + max(0.05, time_limit)
    try:
        m, y = _count_model(jobs, options, t_end)
    except BuildStopped:
        return Balance(joint_lower_bound(jobs, options), None, True, 0)
    m.setParam("limits/nodes", nodes)
    if t_end is not None:
        m.setParam("limits/time", _left(t_end))
    m.optimize()
    splits = _splits(m, y, options) if m.getNSols() > 0 else None
    bound = max(joint_lower_bound(jobs, options), float(m.getDualbound()))
    return Balance(bound, splits, m.getStatus() == "timelimit", int(m.getNNodes()))


def _count_model(
    jobs: Sequence[Job], options: Sequence[Sequence[int]], deadline: float | None = None
) -> tuple[Any, dict[tuple[int, int], Any]]:
    """The subset model (see _balance_model), relaxed but for the count of jobs per cut."""
    from pyscipopt import quicksum

    m, y = _balance_model(jobs, options, True, deadline)
    for i, v in enumerate(variables := m.getVars()):
        if i % (16 * CHECK_EVERY) == 0:
            stop_at(deadline, "count model relaxing", i, len(variables))
        if v.vtype() in ("BINARY", "INTEGER"):
            m.chgVarType(v, "CONTINUOUS")
    for s in sorted({s for o in options for s in o}):
        count = m.addVar(vtype="I", lb=0, ub=len(jobs))
        m.addCons(count == quicksum(v for (_, c), v in y.items() if c == s))
    return m, y


def _balance_model(
    jobs: Sequence[Job],
    options: Sequence[Sequence[int]],
    subset: bool,
    deadline: float | None = None,
) -> tuple[Any, dict[tuple[int, int], Any]]:
    """The balance MILP (see balance_bound_and_splits) and its split variables y[j, s].
    BuildStopped when `deadline` (a time.perf_counter() value) passes while building: at
    N = 400 the build alone takes over a second."""
    from pyscipopt import Model, quicksum

    n = len(jobs)
    m = Model("pipeline-balance-bound")
    m.hideOutput()
    m.setParam("parallel/maxnthreads", 1)
    keys = [(j, s) for j in range(n) for s in options[j]]
    y = {k: m.addVar(vtype="B") for k in keys}
    stop_at(deadline, "balance model variables", 1, 3)
    f = {k: m.addVar(vtype="B") for k in keys}
    stop_at(deadline, "balance model variables", 2, 3)
    la = {k: m.addVar(vtype="B") for k in keys}
    bound = m.addVar(lb=0.0)
    for j in range(n):
        if j % CHECK_EVERY == 0:  # the clock is read often enough to stop on time when loaded
            stop_at(deadline, "balance model jobs", j, n)
        m.addCons(quicksum(y[j, s] for s in options[j]) == 1)
        m.addCons(quicksum(f[j, s] + la[j, s] for s in options[j]) <= 1)
    for i, k in enumerate(keys):
        if i % (4 * CHECK_EVERY) == 0:
            stop_at(deadline, "balance model links", i, len(keys))
        m.addCons(f[k] <= y[k])
        m.addCons(la[k] <= y[k])
    m.addCons(quicksum(f.values()) == 1)
    m.addCons(quicksum(la.values()) == 1)
    t = {k: jobs[k[0]].options[k[1]].times for k in keys}
    for mach in range(3):
        stop_at(deadline, "balance model machines", mach, 3)
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
        # forgets the long tail of the job before it (N = 50, seed 1: 1.350 -> 1.367). A job
        # outside S runs either before that last one of S (its time on this machine counts) or
        # after it, where its remote time follows that tail on machine 3 (its local time
        # precedes the first one of S on machine 1, for heads): it adds the less of the two.
        # Without it the relaxation ends the batch with many near-local jobs whose remote times
        # queue behind a long one (bandwidth-10x, N = 100, seed 1: bound 3.3405 -> 3.3439, which
        # the schedule from its splits meets; the best found was 3.3463).
        for side in ("tail", "head"):
            span = {k: sum(t[k][mach + 1 :] if side == "tail" else t[k][:mach]) for k in keys}
            other_end = 2 if side == "tail" else 0  # remote after the tail; local before a head
            for theta in _thresholds(span.values()):
                stop_at(deadline, "balance model machines", mach, 3)
                members = [k for k in keys if span[k] >= theta]
                rest = [(k, min(t[k][mach], t[k][other_end])) for k in keys if span[k] < theta]
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
                    + quicksum(y[k] * least for k, least in rest if least > 0)
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
