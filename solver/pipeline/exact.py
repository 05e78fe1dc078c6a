"""Batch of N inference jobs through local -> link -> remote: the jobs and the exact models.

Every job is split at one cut: layers [0, k) run on the local device, the tensor at cut k
crosses the link, layers [k, L) run on the remote device. That makes a three-machine flow
shop in which each job also picks its processing times from a short menu (its split options).
Permutation schedules are optimal for the three-machine flow shop's makespan (the first two
and the last two machines can share one order), so a position-based model is exact.

Two exact SCIP formulations (pyscipopt is imported inside the functions, so that importing the
job types stays cheap):

- ``position`` (the default, chosen because it is the one that scales, see
  bench/pipeline_scale.py): z[c,s,p] = 1 when position p holds a job of class c (identical jobs
  are one class with a count) with split s; completion times per machine and position; no
  big-M at all; integer split counts per class and position binaries per class as branching
  aggregates. Its bound at N = 8..10 stays near 1.5-2% below the optimum for a long time:
  the LP mixes split options fractionally, which balances the three machines for free.
- ``disjunctive``: start times per job and machine, one order binary per pair of jobs shared by
  the three machines, big-M non-overlap; the seed's kind of model. Competitive at N = 5, but
  its bound is useless from N = 8 on (gap ~55% after 15 s, vs ~2% for the position model).

For N <= BDP_MAX_N, solve_exact (method "auto") first runs the exact bounded dynamic programme of
solver/pipeline_bdp.py (states = set of sequenced jobs + the three machines' completion times,
dominance between states of one set, Lagrangian machine-load bounds against the incumbent): it
proves the sampled N = 10 instances in about 1-1.5 s where the position model stays 1.7-6.2%
short after 10 s. When it does not prove within half the time limit, SCIP goes on from its
incumbent and bound; ExactResult.method says which one proved (or stopped).

Both prune dominated split options first (an option no better on all three stage times than
another one can be dropped: makespan never decreases when a processing time grows), take a
lower bound computed outside (machine bounds, Johnson two-machine bounds; above BDP_MAX_N the
balance relaxation with its subset bounds, whose splits also seed the warm start) and a warm
start. When the warm start meets that bound, SCIP is not run: the answer's method is "bound".
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Times = tuple[float, float, float]
Formulation = Literal["position", "disjunctive"]
Method = Literal["auto", "bdp", "scip"]
BDP_MAX_N = 14  # method "auto" tries the bounded DP first up to this many jobs


@dataclass(frozen=True)
class SplitOption:
    """One way to split a job: cut k (k = 0: all remote; k = L: all local, nothing sent)."""

    cut: int
    local_s: float
    comm_s: float
    remote_s: float

    @property
    def times(self) -> Times:
        return (self.local_s, self.comm_s, self.remote_s)

    @property
    def total(self) -> float:
        return self.local_s + self.comm_s + self.remote_s


@dataclass(frozen=True)
class Job:
    name: str
    options: tuple[SplitOption, ...]

    def __post_init__(self) -> None:
        if not self.options:
            raise ValueError(f"job {self.name!r} has no split option")
        for o in self.options:
            if min(o.times) < 0:
                raise ValueError(f"job {self.name!r}: negative stage time at cut {o.cut}")


def job_times(jobs: Sequence[Job], splits: Sequence[int]) -> list[Times]:
    """Stage times of every job (indexed by job) under the given option indices."""
    return [jobs[j].options[splits[j]].times for j in range(len(jobs))]


def nondominated(job: Job) -> list[int]:
    """Indices of the options no other option beats or equals on all three stage times.

    Of two options with equal times, the one with the lower index is kept.
    """
    keep: list[int] = []
    opts = job.options
    for a, oa in enumerate(opts):
        ta = oa.times
        dominated = False
        for b, ob in enumerate(opts):
            if a == b:
                continue
            tb = ob.times
            if all(x <= y for x, y in zip(tb, ta, strict=True)) and (tb != ta or b < a):
                dominated = True
                break
        if not dominated:
            keep.append(a)
    return keep


# ---------------------------------------------------------------- lower bounds


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
    t_end = time.perf_counter() + max(0.2, time_limit)
    best_bound = joint_lower_bound(jobs, options)
    splits: list[int] | None = None
    for subset in (False, True):
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
                for j in {k[0] for k in members}:  # one per job: its y's sum to at most 1
                    m.addCons(w >= quicksum(y[k] for k in members if k[0] == j))
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


# ---------------------------------------------------------------- exact result


@dataclass
class ExactResult:
    order: list[int]
    splits: list[int]
    makespan: float
    lower_bound: float
    gap: float
    status: str
    optimal: bool
    solve_s: float
    build_s: float
    nodes: int
    formulation: str
    options_kept: int
    options_total: int
    classes: int
    warm_makespan: float | None = None
    notes: list[str] = field(default_factory=list)
    method: str = "scip-position"  # what proved (or stopped): "bdp", "bound", "scip-position"...


def _relative_gap(ub: float, lb: float) -> float:
    if ub <= 0:
        return 0.0
    return max(0.0, (ub - lb) / ub)


def solve_exact(
    jobs: Sequence[Job],
    *,
    fixed_splits: Sequence[int] | None = None,
    time_limit: float | None = None,
    warm: tuple[Sequence[int], Sequence[int]] | None = None,
    formulation: Formulation = "position",
    quiet: bool = True,
    threads: int = 1,
    method: Method = "auto",
) -> ExactResult:
    """Minimum makespan over orders (and splits, unless fixed_splits is given).

    method "auto" (the default): the bounded dynamic programme of solver/pipeline_bdp.py first
    when N <= BDP_MAX_N (half the time limit at most); if it does not prove its incumbent
    optimal, SCIP (`formulation`) goes on with the rest of the time, its incumbent and its
    bound. "bdp": the DP alone (status "timelimit"/"statelimit" with its bound when it stops
    early). "scip": SCIP alone. The result's `method` says which one proved (or stopped).

    `warm` is (order, splits) of a heuristic schedule, handed to the solver as its first
    solution and kept as the answer if nothing better is found within the time limit.
    solve_s is the wall time of the whole call (bounds, DP, model building, SCIP).
    """
    from solver.pipeline_sim import makespan_of

    t_call = time.perf_counter()
    n = len(jobs)
    if n == 0:
        return ExactResult(
            [], [], 0.0, 0.0, 0.0, "optimal", True, 0.0, 0.0, 0, formulation, 0, 0, 0, method="-"
        )
    total_opts = sum(len(j.options) for j in jobs)
    if fixed_splits is not None:
        options = [[fixed_splits[j]] for j in range(n)]
    else:
        options = [nondominated(j) for j in jobs]
    kept = sum(len(o) for o in options)
    notes: list[str] = []

    def remaining() -> float | None:
        if time_limit is None:
            return None
        return max(0.05, time_limit - (time.perf_counter() - t_call))

    lb: float | None = None
    bal_splits: list[int] | None = None

    def bound() -> float:
        nonlocal lb, bal_splits
        if lb is None:
            if fixed_splits is not None:
                lb = fixed_lower_bound(job_times(jobs, fixed_splits))
            else:
                rest = remaining()
                lb_limit = 5.0 if rest is None else min(5.0, rest / 4)
                lb, bal_splits = balance_bound_and_splits(jobs, options, lb_limit)
        return lb

    use_bdp = method == "bdp" or (method == "auto" and n <= BDP_MAX_N)
    if not use_bdp:
        bound()  # before the warm start: the bound's splits are one
    if warm is None:
        warm = _default_warm(jobs, options, fixed_splits, bal_splits)

    w_order, w_splits = list(warm[0]), list(warm[1])
    if fixed_splits is not None:
        w_splits = list(fixed_splits)
    w_splits = [_undominated(jobs[j], options[j], w_splits[j]) for j in range(n)]
    warm_ms = makespan_of(jobs, w_order, w_splits)
    if bal_splits is not None:  # the bound's own splits may beat the caller's start
        b_order, b_splits = _default_warm(jobs, options, None, bal_splits)
        b_ms = makespan_of(jobs, b_order, b_splits)
        if b_ms < warm_ms - 1e-12:
            w_order, w_splits, warm_ms = b_order, b_splits, b_ms
    warm = (w_order, w_splits)
    n_classes = len(_classes(jobs, options))

    def answer(
        sched: tuple[Sequence[int], Sequence[int]],
        ms: float,
        lower: float,
        status: str,
        optimal: bool,
        nodes: int,
        how: str,
        build_s: float = 0.0,
        classes: int | None = None,
    ) -> ExactResult:
        """The result, whichever of the DP, the bound or SCIP settled it."""
        return ExactResult(
            order=list(sched[0]),
            splits=list(sched[1]),
            makespan=ms,
            lower_bound=lower,
            gap=_relative_gap(ms, lower),
            status=status,
            optimal=optimal,
            solve_s=time.perf_counter() - t_call,
            build_s=build_s,
            nodes=nodes,
            formulation=formulation,
            options_kept=kept,
            options_total=total_opts,
            classes=n_classes if classes is None else classes,
            warm_makespan=warm_ms,
            notes=notes,
            method=how,
        )

    bdp_lb = 0.0
    if use_bdp:
        from solver.pipeline_bdp import solve_bdp

        rest = remaining()
        budget = rest if (method == "bdp" or rest is None) else rest / 2
        d = solve_bdp(jobs, options, warm, time_limit=budget)
        if d.optimal or method == "bdp":
            return answer(
                (d.order, d.splits), d.makespan, d.lower_bound, d.status, d.optimal, d.states, "bdp"
            )
        notes.append(
            f"bounded DP stopped ({d.status}) after {d.solve_s:.2f} s with bound "
            f"{d.lower_bound:.6g}; SCIP goes on from its incumbent"
        )
        bdp_lb = d.lower_bound
        warm = (d.order, d.splits)
        warm_ms = d.makespan

    lb_all = max(bound(), bdp_lb)
    if _relative_gap(warm_ms, lb_all) <= 1e-9:
        # the start meets the bound: proven, and SCIP would only re-derive it (up to its
        # tolerances, which at N = 50 kept it searching for the whole time limit)
        return answer(warm, warm_ms, warm_ms, "optimal", True, 0, "bound")
    t0 = time.perf_counter()
    if formulation == "position":
        built = _build_position(jobs, options, lb_all, warm)
    else:
        built = _build_disjunctive(jobs, options, lb_all, warm, warm_ms)
    model = built["model"]
    build_s = time.perf_counter() - t0
    if quiet:
        model.hideOutput()
    rest = remaining()
    if rest is not None:
        model.setParam("limits/time", float(rest))
    model.setParam("parallel/maxnthreads", threads)
    # SCIP's primal heuristics rarely beat the split-aware warm start here and cost most
    # of the time on small instances (N=5: 4.2 s -> 0.8 s); the search keeps the bound moving.
    from pyscipopt import SCIP_PARAMSETTING

    model.setHeuristics(SCIP_PARAMSETTING.OFF)
    model.optimize()

    status = str(model.getStatus())
    nsols = model.getNSols()
    dual = float(model.getDualbound())
    nodes = int(model.getNNodes())
    order, splits = list(warm[0]), list(warm[1])
    ms = warm_ms
    if nsols > 0:
        s_order, s_splits = built["extract"](model)
        s_ms = makespan_of(jobs, s_order, s_splits)
        if s_ms < ms - 1e-12:
            order, splits, ms = s_order, s_splits, s_ms
    else:
        notes.append("SCIP found no solution; the warm start is reported")
    lower = max(lb_all, min(dual, ms))
    optimal = status == "optimal" or _relative_gap(ms, lower) <= 1e-9
    if optimal:
        lower = ms
    return answer(
        (order, splits),
        ms,
        lower,
        status,
        optimal,
        nodes,
        f"scip-{formulation}",
        build_s=build_s,
        classes=built["classes"],
    )


def _default_warm(
    jobs: Sequence[Job],
    options: Sequence[Sequence[int]],
    fixed_splits: Sequence[int] | None,
    bal_splits: Sequence[int] | None = None,
) -> tuple[list[int], list[int]]:
    """A start when the caller gives none: the balance splits (or each job's least total time)
    in the best of FIFO/Johnson/NEH order."""
    from solver.pipeline_heuristics import best_order_heuristic

    n = len(jobs)
    if fixed_splits is not None:
        splits = list(fixed_splits)
    elif bal_splits is not None:
        splits = list(bal_splits)
    else:
        splits = [min(options[j], key=lambda s: jobs[j].options[s].total) for j in range(n)]
    return best_order_heuristic(job_times(jobs, splits)), splits


def _undominated(job: Job, kept: Sequence[int], s: int) -> int:
    """Map an option index to a kept one that is at least as good on every stage."""
    if s in kept:
        return s
    t = job.options[s].times
    for k in kept:
        if all(a <= b for a, b in zip(job.options[k].times, t, strict=True)):
            return k
    return kept[0]


def _classes(jobs: Sequence[Job], options: Sequence[Sequence[int]]) -> list[list[int]]:
    """Jobs with identical kept option times are interchangeable: one class, one count."""
    by_key: dict[tuple[Times, ...], list[int]] = {}
    for j, job in enumerate(jobs):
        key = tuple(job.options[s].times for s in options[j])
        by_key.setdefault(key, []).append(j)
    return list(by_key.values())


def _build_position(
    jobs: Sequence[Job],
    options: Sequence[Sequence[int]],
    lb: float,
    warm: tuple[Sequence[int], Sequence[int]] | None,
) -> dict[str, Any]:
    from pyscipopt import Model, quicksum

    n = len(jobs)
    classes = _classes(jobs, options)
    rep = [cls[0] for cls in classes]
    copts = [list(range(len(options[r]))) for r in rep]  # class option s -> options[rep][s]

    def tm(c: int, s: int, m: int) -> float:
        return jobs[rep[c]].options[options[rep[c]][s]].times[m]

    model = Model("pipeline-position")
    z = {
        (c, s, p): model.addVar(vtype="B", name=f"z_{c}_{s}_{p}")
        for c in range(len(classes))
        for s in copts[c]
        for p in range(n)
    }
    C = [[model.addVar(lb=0.0, name=f"C{m}_{p}") for p in range(n)] for m in range(3)]
    # Aggregates to branch on first: the split of a class (how many of its jobs take split s),
    # then its position; far fewer, far more decisive than single z's.
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
    for p in range(n):
        model.addCons(quicksum(z[c, s, p] for c in range(len(classes)) for s in copts[c]) == 1)
    for c, cls in enumerate(classes):
        model.addCons(quicksum(z[c, s, p] for s in copts[c] for p in range(n)) == len(cls))
    P = [
        [
            quicksum(tm(c, s, m) * z[c, s, p] for c in range(len(classes)) for s in copts[c])
            for p in range(n)
        ]
        for m in range(3)
    ]
    for p in range(n):
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
        from solver.pipeline_sim import simulate_times

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

    def extract(mdl: Any) -> tuple[list[int], list[int]]:
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

    return {"model": model, "extract": extract, "classes": len(classes)}


def _build_disjunctive(
    jobs: Sequence[Job],
    options: Sequence[Sequence[int]],
    lb: float,
    warm: tuple[Sequence[int], Sequence[int]] | None,
    warm_ms: float | None,
) -> dict[str, Any]:
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
    for (i, j), v in o.items():
        for m in range(3):
            model.addCons(S[m][j] >= S[m][i] + p[m][i] - bigm * (1 - v))
            model.addCons(S[m][i] >= S[m][j] + p[m][j] - bigm * v)
    model.setObjective(cmax, "minimize")

    if warm is not None:
        from solver.pipeline_sim import simulate_times

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

    def extract(mdl: Any) -> tuple[list[int], list[int]]:
        splits = [max(options[j], key=lambda s: mdl.getVal(y[j, s])) for j in range(n)]
        order = sorted(range(n), key=lambda j: (mdl.getVal(S[0][j]), mdl.getVal(S[1][j]), j))
        return order, splits

    return {"model": model, "extract": extract, "classes": n}


# ---------------------------------------------------------------- the seed's kind, with HiGHS


@dataclass
class HighsResult:
    makespan: float | None
    lower_bound: float | None
    gap: float | None
    status: str
    solve_s: float
    order: list[int] | None = None
    splits: list[int] | None = None


def solve_highs_bigm(
    jobs: Sequence[Job], *, fixed_splits: Sequence[int] | None = None, time_limit: float = 60.0
) -> HighsResult:
    """The seed's kind of model with scipy.optimize.milp (HiGHS): big-M disjunctive, every
    split option kept, a big-M from the sum of the longest options, no warm start, no bound.

    For comparison only (bench/pipeline_scale.py); scipy is a dev dependency.
    """
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
    idx: dict[tuple[Any, ...], int] = {}

    def var(key: tuple[Any, ...]) -> int:
        if key not in idx:
            idx[key] = len(idx)
        return idx[key]

    for j in range(n):
        for s in options[j]:
            var(("y", j, s))
    for m in range(3):
        for j in range(n):
            var(("S", m, j))
    var(("cmax",))
    for i in range(n):
        for j in range(i + 1, n):
            var(("o", i, j))
    nv = len(idx)
    rows: list[tuple[dict[int, float], float, float]] = []
    for j in range(n):
        rows.append(({idx["y", j, s]: 1.0 for s in options[j]}, 1.0, 1.0))
        for m in range(3):
            # S[m+1][j] (or cmax) - S[m][j] - p[m][j] >= 0
            nxt = idx["S", m + 1, j] if m < 2 else idx[("cmax",)]
            row = {nxt: 1.0, idx["S", m, j]: -1.0}
            for s in options[j]:
                row[idx["y", j, s]] = -jobs[j].options[s].times[m]
            rows.append((row, 0.0, np.inf))
    for i in range(n):
        for j in range(i + 1, n):
            ov = idx["o", i, j]
            for m in range(3):
                r1 = {idx["S", m, j]: 1.0, idx["S", m, i]: -1.0, ov: -bigm}
                for s in options[i]:
                    r1[idx["y", i, s]] = -jobs[i].options[s].times[m]
                rows.append((r1, -bigm, np.inf))
                r2 = {idx["S", m, i]: 1.0, idx["S", m, j]: -1.0, ov: bigm}
                for s in options[j]:
                    r2[idx["y", j, s]] = -jobs[j].options[s].times[m]
                rows.append((r2, 0.0, np.inf))
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


# ---------------------------------------------------------------- JSON output (pydantic)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StageSpan(Strict):
    start_s: float
    end_s: float


class JobSchedule(Strict):
    job: str
    position: int
    cut: int = Field(description="layers [0, cut) local, [cut, L) remote")
    local: StageSpan
    comm: StageSpan
    remote: StageSpan


class MethodResult(Strict):
    method: str
    makespan_s: float
    ratio_to_opt: float | None = Field(description="makespan / offline optimum (best found)")
    exact: bool = Field(description="proven optimal for its own question")
    lower_bound_s: float | None = None
    gap: float | None = None
    status: str | None = None
    solve_s: float | None = None
    nodes: int | None = None
    note: str | None = None
    schedule: list[JobSchedule]


class PipelineSolution(Strict):
    kind: Literal["pipeline"] = "pipeline"
    objective: Literal["makespan"] = "makespan"
    source: str = Field(description="where the jobs came from (profiles, sampled, inline)")
    num_jobs: int
    time_limit_s: float | None
    problem: dict[str, Any] = Field(default_factory=dict)
    profiles: list[str] = Field(default_factory=list, description="ids of the profiles used")
    methods: list[MethodResult]
    ratios: dict[str, float]
    best_lower_bound_s: float
    gantt_png: str | None = None
