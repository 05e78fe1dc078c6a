"""The exact answer: minimum makespan over orders and splits, cut along its phases.

`solve_exact` prunes dominated split options first (an option no better on all three stage
times than another one can be dropped: makespan never decreases when a processing time grows),
computes the cheap bounds (solver/pipeline/quick_bounds.py, milliseconds: the reported bound is
never weaker than the best of them), then runs phases, each of which may settle the answer:

- bound: a lower bound computed outside the models (solver/pipeline/bounds.py: machine and
  Johnson bounds for fixed splits; for free splits above BDP_MAX_N, the balance relaxation with
  its subset bounds and its count relaxation, bounded by SCIP node limits, whose splits also
  seed the warm start);
- warm start: the caller's schedule, or the bound's splits (or each job's least total time) in
  the best of FIFO/Johnson/NEH order, whichever is shorter;
- DP: for N <= BDP_MAX_N (method "auto"), the exact bounded dynamic programme of
  solver/pipeline/dp.py (states = set of sequenced jobs + the three machines' completion times,
  dominance between states of one set, Lagrangian machine-load bounds against the incumbent):
  it proves the sampled N = 10 instances in about 1-1.5 s where the position model stays
  1.7-6.2% short after 10 s. It is bounded by its state counts; when it does not prove, the
  later phases go on from its incumbent and its bound;
- bound met: when the best schedule so far meets the bound, it is proven and SCIP is not run
  (the answer's method is "bound");
- balance search: for N >= BALANCE_SEARCH_MIN_N with free splits, where the position model
  does not finish its root LP within a minute, the final search goes on with the balance
  relaxation's subset model from where its node limit stopped it (its bound keeps rising; its
  best splits, in their best heuristic order, may give a shorter schedule);
- SCIP: the position (or disjunctive) model of solver/pipeline/model.py, warm-started, bounded
  below by the bound, with the rest of the time limit.

Every phase before SCIP is bounded by its work (nodes, states, insertions), so it ends on the
same schedule and bound on any machine; the time limit is the one wall-clock cap, and when it
stops a phase early the result's notes name the phase. ExactResult.method says which phase
proved (or stopped): "bdp", "bound", "balance", "scip-position", ...
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from solver.pipeline.baselines import best_order_heuristic
from solver.pipeline.bounds import Balance, balance_relaxation, fixed_lower_bound, resume_balance
from solver.pipeline.check import makespan_of
from solver.pipeline.dp import solve_bdp
from solver.pipeline.jobs import Job, Schedule, Start, job_times, nondominated
from solver.pipeline.model import (
    BuildStopped,
    Built,
    build_disjunctive,
    build_position,
    disjunctive_size,
    job_classes,
    position_size,
)
from solver.pipeline.quick_bounds import quick_lower_bound

Formulation = Literal["position", "disjunctive"]
Method = Literal["auto", "bdp", "scip"]
BDP_MAX_N = 14  # method "auto" tries the bounded DP first up to this many jobs
BALANCE_SEARCH_MIN_N = 100  # from here the final search goes on with the balance relaxation
# a larger SCIP model is not built: past it the build takes most of a minute in Python and SCIP
# overran a 60 s limit in its presolve (N = 500, 630,000 binaries: 112 s); N = 100 is ~80,000
MAX_BINARIES = 200_000
BUILD_SHARE = 0.8  # a model not built by this share of the time limit is not solved


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


def relative_gap(ub: float, lb: float) -> float:
    if ub <= 0:
        return 0.0
    return max(0.0, (ub - lb) / ub)


def solve_exact(
    jobs: Sequence[Job],
    *,
    fixed_splits: Sequence[int] | None = None,
    time_limit: float | None = None,
    warm: Start | None = None,
    formulation: Formulation = "position",
    quiet: bool = True,
    threads: int = 1,
    method: Method = "auto",
    balance: Balance | None = None,
    node_limit: int | None = None,
    max_binaries: int = MAX_BINARIES,
) -> ExactResult:
    """Minimum makespan over orders (and splits, unless fixed_splits is given).

    method "auto" (the default): the bounded dynamic programme first when N <= BDP_MAX_N (half
    the time limit at most); if it does not prove its incumbent optimal, SCIP (`formulation`)
    goes on with the rest of the time, its incumbent and its bound. "bdp": the DP alone (status
    "timelimit"/"statelimit" with its bound when it stops early). "scip": SCIP alone. The
    result's `method` says which one proved (or stopped).

    `warm` is (order, splits) of a heuristic schedule, handed to the solver as its first
    solution and kept as the answer if nothing better is found within the time limit.
    `balance` is the balance relaxation when the caller already has it (free splits only);
    `node_limit` bounds SCIP's search by nodes (a work bound: the same answer on any machine);
    a model of more than `max_binaries` binaries is not built (its build is bounded by time
    only), and the best schedule found is the answer, with its bound.
    solve_s is the wall time of the whole call (bounds, DP, model building, SCIP).
    """
    search = _Search(jobs, fixed_splits, formulation, time_limit)
    if balance is not None and fixed_splits is None:
        search.take_balance(balance)
        search.bal_weighed = warm is not None  # the caller's start already weighed its splits
    if not jobs:
        return search.answer(([], []), 0.0, 0.0, "optimal", True, 0, "-")
    use_bdp = method == "bdp" or (method == "auto" and len(jobs) <= BDP_MAX_N)
    if not use_bdp:
        search.bound()  # before the warm start: the bound's splits are one
    _warm_start(search, warm)
    if use_bdp:
        settled = _by_dp(search, alone=method == "bdp")
        if settled is not None:
            return settled
    settled = _by_bound(search)
    if settled is not None:
        return settled
    if _balance_search_first(search):
        settled = _by_balance_search(search)
        if settled is not None:
            return settled
    return _by_scip(
        search, quiet=quiet, threads=threads, node_limit=node_limit, max_binaries=max_binaries
    )


@dataclass
class _Search:
    """What the phases of one exact call share: the instance, the clock, the best so far."""

    jobs: Sequence[Job]
    fixed_splits: Sequence[int] | None
    formulation: str
    time_limit: float | None
    t_call: float = field(default_factory=time.perf_counter)
    options: list[list[int]] = field(init=False)
    lb: float | None = None  # the bound phase's bound (computed once, when first asked)
    bal_splits: list[int] | None = None  # the balance relaxation's splits
    dp_lb: float = 0.0  # the DP's bound when it stopped early
    warm: Schedule = field(default_factory=lambda: ([], []))
    warm_ms: float = 0.0
    classes: int = 0
    notes: list[str] = field(default_factory=list)
    cheap: float = field(init=False)  # the best cheap bound: the floor of every bound reported
    cheap_splits: list[int] | None = None  # the Lagrangian's splits (free splits only)
    bal_weighed: bool = False  # the caller's warm start is no worse than the balance splits
    balance: Balance | None = None  # the balance relaxation (its open search, if any)

    def __post_init__(self) -> None:
        fixed = self.fixed_splits
        if fixed is not None:
            self.options = [[fixed[j]] for j in range(len(self.jobs))]
            self.cheap = fixed_lower_bound(job_times(self.jobs, fixed))
        else:
            self.options = [nondominated(j) for j in self.jobs]
            quick = quick_lower_bound(self.jobs, self.options)
            self.cheap, self.cheap_splits = quick.value, quick.splits

    def remaining(self) -> float | None:
        if self.time_limit is None:
            return None
        return max(0.05, self.time_limit - (time.perf_counter() - self.t_call))

    def deadline(self, share: float = 1.0) -> float | None:
        """When `share` of the call's time limit is spent (a time.perf_counter() value)."""
        return None if self.time_limit is None else self.t_call + share * self.time_limit

    def bound(self) -> float:
        """The bound phase: for fixed splits the machine/Johnson bounds, else the balance
        relaxation (bounded by its node limits; the time left is its cap), whose splits are
        kept. Never below the cheap bounds."""
        if self.lb is None:
            if self.fixed_splits is not None:
                self.lb = self.cheap
            else:
                self.take_balance(balance_relaxation(self.jobs, self.options, self.remaining()))
        assert self.lb is not None
        return self.lb

    def take_balance(self, bal: Balance) -> None:
        """The balance relaxation's bound (with the cheap floor) and splits, and a note when
        the time limit cut it short."""
        self.lb = max(self.cheap, bal.bound)
        self.balance = bal
        self.bal_splits = bal.splits if bal.splits is not None else self.cheap_splits
        if bal.cut_by_time:
            self.notes.append(
                "the time limit cut the bound phase (balance relaxation) short: "
                f"bound {self.lb:.6g}"
            )

    def answer(
        self,
        sched: Start,
        ms: float,
        lower: float,
        status: str,
        optimal: bool,
        nodes: int,
        how: str,
        build_s: float = 0.0,
        classes: int | None = None,
    ) -> ExactResult:
        """The result, whichever phase settled it; its bound never below the cheap ones."""
        lower = min(ms, max(lower, self.cheap)) if self.jobs else lower
        return ExactResult(
            order=list(sched[0]),
            splits=list(sched[1]),
            makespan=ms,
            lower_bound=lower,
            gap=relative_gap(ms, lower),
            status=status,
            optimal=optimal,
            solve_s=time.perf_counter() - self.t_call,
            build_s=build_s,
            nodes=nodes,
            formulation=self.formulation,
            options_kept=sum(len(o) for o in self.options),
            options_total=sum(len(j.options) for j in self.jobs),
            classes=self.classes if classes is None else classes,
            warm_makespan=self.warm_ms if self.jobs else None,
            notes=self.notes,
            method=how,
        )


# ---------------------------------------------------------------- the phases


def _warm_start(search: _Search, warm: Start | None) -> None:
    """The start: the caller's schedule (its splits mapped onto kept options), replaced by the
    bound's splits (the balance relaxation's, the count relaxation's) in their best heuristic
    order when those are shorter."""
    jobs, options = search.jobs, search.options
    if warm is None:
        warm = _default_warm(jobs, options, search.fixed_splits, search.bal_splits)
    w_order, w_splits = list(warm[0]), list(warm[1])
    if search.fixed_splits is not None:
        w_splits = list(search.fixed_splits)
    w_splits = [_undominated(jobs[j], options[j], w_splits[j]) for j in range(len(jobs))]
    warm_ms = makespan_of(jobs, w_order, w_splits)
    cands = [] if search.bal_weighed else [search.bal_splits]  # they may beat the start
    cands.append(None if search.balance is None else search.balance.count_splits)
    for cand in cands:  # (none with fixed splits: no relaxation is solved for them)
        if cand is None:
            continue
        b_order, b_splits = _default_warm(jobs, options, None, cand)
        b_ms = makespan_of(jobs, b_order, b_splits)
        if b_ms < warm_ms - 1e-12:
            w_order, w_splits, warm_ms = b_order, b_splits, b_ms
    search.warm, search.warm_ms = (w_order, w_splits), warm_ms
    search.classes = len(job_classes(jobs, options))


def _by_dp(search: _Search, *, alone: bool) -> ExactResult | None:
    """The bounded DP (bounded by its state counts; the time left is its cap): settles when it
    proves (or when it runs alone); else hands its incumbent and its bound on."""
    d = solve_bdp(search.jobs, search.options, search.warm, time_limit=search.remaining())
    if d.optimal or alone:
        return search.answer(
            (d.order, d.splits), d.makespan, d.lower_bound, d.status, d.optimal, d.states, "bdp"
        )
    why = "the time limit cut the DP phase short" if d.status == "timelimit" else d.status
    search.notes.append(
        f"bounded DP stopped ({why}) after {d.solve_s:.2f} s with bound "
        f"{d.lower_bound:.6g}; SCIP goes on from its incumbent"
    )
    search.dp_lb = d.lower_bound
    search.warm, search.warm_ms = (d.order, d.splits), d.makespan
    return None


def _by_bound(search: _Search) -> ExactResult | None:
    """Proven when the best schedule so far meets the bound (SCIP would only re-derive it, up
    to its tolerances, which at N = 50 kept it searching for the whole time limit)."""
    lb_all = max(search.bound(), search.dp_lb)
    if relative_gap(search.warm_ms, lb_all) <= 1e-9:
        return search.answer(
            search.warm, search.warm_ms, search.warm_ms, "optimal", True, 0, "bound"
        )
    return None


def _balance_search_first(search: _Search) -> bool:
    """Whether the final search goes on with the balance relaxation before (usually instead
    of) the position model: free splits, its subset model left open, and at least
    BALANCE_SEARCH_MIN_N jobs, where the position model's root LP does not finish in a minute
    (N = 100: SCIP ends at its root, its bound the one it was handed)."""
    bal = search.balance
    return (
        search.fixed_splits is None
        and bal is not None
        and bal.search is not None
        and len(search.jobs) >= BALANCE_SEARCH_MIN_N
    )


def _by_balance_search(search: _Search) -> ExactResult | None:
    """The balance relaxation's subset model, gone on (bounded by the time left only: this is
    the final search) from where its node limit stopped it; its best split choice, in its best
    heuristic order, replaces the best schedule when shorter. Settles unless SCIP solved the
    relaxation with time to spare, when the position model goes on from here."""
    assert search.balance is not None
    before = search.balance.splits
    bal = resume_balance(search.balance, search.remaining())
    search.balance, search.lb = bal, max(search.bound(), bal.bound)
    if bal.splits is not None and bal.splits != before:
        cand = _default_warm(search.jobs, search.options, None, bal.splits)
        cand_ms = makespan_of(search.jobs, *cand)
        if cand_ms < search.warm_ms - 1e-12:
            search.warm, search.warm_ms = cand, cand_ms
    lb_all = max(search.lb, search.dp_lb)
    optimal = relative_gap(search.warm_ms, lb_all) <= 1e-9
    if optimal or bal.cut_by_time or bal.search is not None:
        status = "optimal" if optimal else "timelimit"
        lower = search.warm_ms if optimal else lb_all
        return search.answer(
            search.warm, search.warm_ms, lower, status, optimal, bal.nodes, "balance"
        )
    search.notes.append(
        f"the balance relaxation solved at {bal.bound:.6g} after {bal.nodes} nodes; "
        "SCIP's position model goes on"
    )
    return None


def _by_scip(
    search: _Search,
    *,
    quiet: bool,
    threads: int,
    node_limit: int | None = None,
    max_binaries: int = MAX_BINARIES,
) -> ExactResult:
    """SCIP with the rest of the time; the warm start is kept unless SCIP finds better. A
    model past MAX_BINARIES, or not built when the time runs out, is not solved: the best
    schedule so far is the answer, with the bound, and a note says why."""
    jobs, warm, warm_ms = search.jobs, search.warm, search.warm_ms
    lb_all = max(search.bound(), search.dp_lb)
    how = f"scip-{search.formulation}"
    position = search.formulation == "position"
    size = (position_size if position else disjunctive_size)(jobs, search.options)
    why = None
    if size > max_binaries:
        why = f"the {search.formulation} model would have {size:,} binaries"
        why += f" (at most {max_binaries:,} are built)"
    t0 = time.perf_counter()
    built: Built | None = None
    stop = search.deadline(BUILD_SHARE)
    try:
        if why is None and position:
            built = build_position(jobs, search.options, lb_all, warm, stop)
        elif why is None:
            built = build_disjunctive(jobs, search.options, lb_all, warm, warm_ms, stop)
    except BuildStopped as exc:
        why = f"{exc}, by {BUILD_SHARE:.0%} of the time limit"
    if built is None:
        search.notes.append(f"SCIP not run: {why}; the best schedule found is reported")
        optimal = relative_gap(warm_ms, lb_all) <= 1e-9
        return search.answer(warm, warm_ms, lb_all, "timelimit", optimal, 0, how)
    build_s = time.perf_counter() - t0
    model = built.model
    if node_limit is not None:
        model.setParam("limits/nodes", node_limit)
    _optimize(model, search.remaining(), quiet=quiet, threads=threads)
    status = str(model.getStatus())
    dual = float(model.getDualbound())
    nodes = int(model.getNNodes())
    order, splits, ms = list(warm[0]), list(warm[1]), warm_ms
    if model.getNSols() > 0:
        s_order, s_splits = built.extract(model)
        s_ms = makespan_of(jobs, s_order, s_splits)
        if s_ms < ms - 1e-12:
            order, splits, ms = s_order, s_splits, s_ms
    else:
        search.notes.append("SCIP found no solution; the warm start is reported")
    lower = max(lb_all, min(dual, ms))
    optimal = status == "optimal" or relative_gap(ms, lower) <= 1e-9
    if optimal:
        lower = ms
    return search.answer(
        (order, splits), ms, lower, status, optimal, nodes, how, build_s, built.classes
    )


def _optimize(model: Any, time_limit: float | None, *, quiet: bool, threads: int) -> None:
    if quiet:
        model.hideOutput()
    if time_limit is not None:
        model.setParam("limits/time", float(time_limit))
    model.setParam("parallel/maxnthreads", threads)
    # SCIP's primal heuristics rarely beat the split-aware warm start here and cost most
    # of the time on small instances (N=5: 4.2 s -> 0.8 s); the search keeps the bound moving.
    from pyscipopt import SCIP_PARAMSETTING

    model.setHeuristics(SCIP_PARAMSETTING.OFF)
    model.optimize()


# ---------------------------------------------------------------- helpers


def _default_warm(
    jobs: Sequence[Job],
    options: Sequence[Sequence[int]],
    fixed_splits: Sequence[int] | None,
    bal_splits: Sequence[int] | None = None,
) -> Schedule:
    """A start when the caller gives none: the balance splits (or each job's least total time)
    in the best of FIFO/Johnson/NEH order."""
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
