"""Every method of the issue on one batch, each schedule re-checked, and the solution they make.

The methods, in the order they run (the last one is the offline optimum):
DOPart FIFO, DOPart + Johnson (or CDS where Johnson's conditions fail), DOPart + NEH, DOPart's
best order (exact, DOPart's splits fixed), SAIG (split-aware greedy), Offline OPT (exact, order
and splits jointly). Every schedule passes the independent checker (solver/pipeline/check.py)
before it is reported; one that fails it is a bug, raised as such.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from solver.budget import Budget
from solver.pipeline.baselines import (
    dopart_splits,
    fifo_order,
    johnson_order,
    neh_order,
    order_for_splits,
    saig_run,
)
from solver.pipeline.bounds import Balance, balance_relaxation
from solver.pipeline.check import check_schedule, makespan_of, simulate
from solver.pipeline.exact import ExactResult, solve_exact
from solver.pipeline.jobs import Job, nondominated
from solver.pipeline.problem import Instance, PipelineProblem
from solver.pipeline.quick_bounds import quick_lower_bound
from solver.pipeline.solution import (
    DOPART_BEST,
    OPT_METHOD,
    JobSchedule,
    MethodResult,
    PipelineSolution,
    StageSpan,
)

# the (and the seed's) names of the ratios, where they differ from the method's name
RATIO_LABEL = {DOPART_BEST: "DOPart best schedule"}


@dataclass
class MethodRun:
    name: str
    order: list[int]
    splits: list[int]
    makespan: float
    exact: bool
    lower_bound: float | None = None
    gap: float | None = None
    status: str | None = None
    solve_s: float | None = None
    nodes: int | None = None
    note: str | None = None
    method: str | None = None  # for the exact runs: "bdp", "scip-position", ...


ORDER_NODES = 200  # SCIP nodes of DOPart's best order (its splits fixed): its work bound
ORDER_MAX_BINARIES = 20_000  # ... and the largest model it builds (N = 141 with fixed splits)
# The caps in seconds, binding only on a machine too slow for the work: the balance relaxation
# may take most of what is left (its bound and splits matter most: at N = 50 its splits in
# their best order were within 0.8% even where SAIG had no time), SAIG half of the rest.
BALANCE_SHARE = 0.75


def compare_methods(
    jobs: Sequence[Job],
    *,
    time_limit: float | None = 60.0,
    heuristic_time: float | None = None,
    formulation: str = "position",
    seed: int = 0,
    order_time_limit: float | None = None,
) -> list[MethodRun]:
    """Every method of the issue, each schedule checked; the last run is the offline optimum.

    Every method before the offline optimum's search is bounded by its work (DOPart's best
    order by ORDER_NODES SCIP nodes, the balance relaxation by its node limits, SAIG by the
    insertions it weighs), so they end on the same schedules on any machine. `time_limit` is
    the budget of the whole comparison (solver/budget.py; None: no limit), the one cap in
    seconds: DOPart's best order at most a quarter of it (or `order_time_limit`, the smaller),
    the balance relaxation BALANCE_SHARE of what is left, SAIG (or `heuristic_time`, the
    smaller) half of the rest, the offline optimum's search all the rest. These caps bind only
    where the machine is too slow for the work; where one stops a phase, its note says so."""
    budget = Budget(time_limit)
    runs = _dopart_orders(jobs)
    order_limit = budget.limit(order_time_limit, share=0.25)
    runs.append(_dopart_best(jobs, runs, order_limit, formulation))
    balance = None
    if len(jobs) >= 2 and not budget.spent:
        options = [nondominated(j) for j in jobs]
        balance = balance_relaxation(jobs, options, budget.limit(share=BALANCE_SHARE))
    runs.append(_saig(jobs, runs[-1], heuristic_time, seed, budget, balance))
    runs.append(_offline_opt(jobs, runs, budget.limit(), formulation, balance))
    _check_all(jobs, runs)
    return runs


def _run(
    jobs: Sequence[Job], name: str, order: list[int], splits: list[int], **kw: Any
) -> MethodRun:
    return MethodRun(name, order, splits, makespan_of(jobs, order, splits), **kw)


def _exact_run(jobs: Sequence[Job], name: str, r: ExactResult, **kw: Any) -> MethodRun:
    """The run of an exact call; its notes (why SCIP stopped or was not run) join the note."""
    if r.notes:
        kw["note"] = "; ".join(n for n in (kw.get("note"), *r.notes) if n)
    return _run(
        jobs,
        name,
        r.order,
        r.splits,
        exact=r.optimal,
        lower_bound=r.lower_bound,
        gap=r.gap,
        status=r.status,
        solve_s=r.solve_s,
        nodes=r.nodes,
        method=r.method,
        **kw,
    )


def _dopart_orders(jobs: Sequence[Job]) -> list[MethodRun]:
    """DOPart's splits in FIFO, Johnson (or CDS) and NEH order."""
    n = len(jobs)
    dp = dopart_splits(jobs)
    dp_times = [jobs[j].options[dp[j]].times for j in range(n)]
    j_order, j_exact = johnson_order(dp_times)
    return [
        _run(jobs, "DOPart FIFO", fifo_order(n), dp, exact=False),
        _run(
            jobs,
            "DOPart + Johnson" if j_exact else "DOPart + Johnson/CDS",
            j_order,
            dp,
            exact=j_exact,
            note="Johnson's conditions hold: exact"
            if j_exact
            else "CDS heuristic (conditions fail)",
        ),
        _run(jobs, "DOPart + NEH", neh_order(dp_times), dp, exact=False),
    ]


def _dopart_best(
    jobs: Sequence[Job], runs: Sequence[MethodRun], time_limit: float | None, formulation: str
) -> MethodRun:
    """The best order for DOPart's splits, exact, from the best DOPart order so far (at most
    ORDER_NODES SCIP nodes on at most ORDER_MAX_BINARIES binaries: past either, its answer is
    the best order found, with its gap)."""
    warm = min(runs, key=lambda r: r.makespan)
    r = solve_exact(
        jobs,
        fixed_splits=warm.splits,
        time_limit=time_limit,
        warm=(warm.order, warm.splits),
        formulation=formulation,  # type: ignore[arg-type]
        node_limit=ORDER_NODES,
        max_binaries=ORDER_MAX_BINARIES,
    )
    return _exact_run(jobs, DOPART_BEST, r)


def _saig(
    jobs: Sequence[Job],
    best: MethodRun,
    heuristic_time: float | None,
    seed: int,
    budget: Budget,
    balance: Balance | None,
) -> MethodRun:
    """SAIG, best of two independent runs, each bounded by its work: from DOPart's best order,
    and from the balance relaxation's splits (SAIG's single-job moves don't rebalance big
    batches: at N = 50 the first run ends 4-7% above the bound, the second 0.3-1.3%); one
    shared run would follow only the better start's trajectory, which at N = 20 lost 1.4%
    against the first alone. `heuristic_time` (s), when given, caps the two together."""
    t0 = time.perf_counter()
    cap = budget.limit(heuristic_time, share=0.5)
    stop = None if cap is None else t0 + cap
    splits = None if balance is None else balance.splits
    if balance is not None and splits is None:  # no relaxation solved: the Lagrangian's splits
        splits = quick_lower_bound(jobs, [nondominated(j) for j in jobs]).splits
    cands = []
    if splits is not None:  # first: the better start at large N
        cands.append(_saig_from(jobs, seed, stop, [(order_for_splits(jobs, splits), splits)]))
    if not cands or stop is None or time.perf_counter() < stop:
        cands.append(_saig_from(jobs, seed, stop, [(best.order, best.splits)]))
    g_order, g_splits, _cut = min(cands, key=lambda c: makespan_of(jobs, c[0], c[1]))
    notes = ["best of two runs: from DOPart's best order, from the balance relaxation's splits"]
    if any(c[2] for c in cands) or (splits is not None and len(cands) < 2):
        notes.append("the time limit cut the SAIG phase short")
    if balance is not None and balance.cut_by_time:
        notes.append("the time limit cut the balance relaxation short")
    return _run(
        jobs,
        "SAIG split-aware greedy",
        g_order,
        g_splits,
        exact=False,
        solve_s=time.perf_counter() - t0,
        note="; ".join(notes),
    )


def _saig_from(
    jobs: Sequence[Job], seed: int, stop: float | None, starts: list[tuple[list[int], list[int]]]
) -> tuple[list[int], list[int], bool]:
    """One SAIG run from `starts`, capped at `stop` (a time.perf_counter() value)."""
    cap = None if stop is None else max(0.0, stop - time.perf_counter())
    return saig_run(jobs, seed=seed, time_limit=cap, starts=starts)


def _offline_opt(
    jobs: Sequence[Job],
    runs: Sequence[MethodRun],
    time_limit: float | None,
    formulation: str,
    balance: Balance | None,
) -> MethodRun:
    """Order and splits jointly, exact, from the best schedule of every method before."""
    warm = min(runs, key=lambda x: x.makespan)
    o = solve_exact(
        jobs,
        time_limit=time_limit,
        warm=(warm.order, warm.splits),
        formulation=formulation,  # type: ignore[arg-type]
        balance=balance,
    )
    how = {
        "bdp": "bounded DP",
        "bound": "the balance bound (the best schedule found meets it)",
        "balance": "the balance relaxation's search",
    }.get(o.method, f"SCIP ({o.method.removeprefix('scip-')} model)")
    note = f"proven optimal by {how}"
    if not o.optimal:
        note = (
            f"stopped ({o.status}, {how}): best {o.makespan:.6g} s, proven lower bound "
            f"{o.lower_bound:.6g} s, gap {o.gap:.2%}"
        )
    return _exact_run(jobs, OPT_METHOD, o, note=note)


def _check_all(jobs: Sequence[Job], runs: Sequence[MethodRun]) -> None:
    for run in runs:
        errs = check_schedule(jobs, simulate(jobs, run.order, run.splits))
        if errs:
            raise RuntimeError(f"{run.name}: schedule fails the checker: {errs[0]}")


# ---------------------------------------------------------------- the solution


def solution_of(
    instance: Instance,
    runs: Sequence[MethodRun],
    *,
    problem: PipelineProblem,
    time_limit: float | None,
) -> PipelineSolution:
    """The solution of the runs: every method's schedule as the simulator times it."""
    jobs = instance.jobs
    opt = runs[-1]
    methods = [
        MethodResult(
            method=run.name,
            makespan_s=run.makespan,
            ratio_to_opt=run.makespan / opt.makespan if opt.makespan > 0 else None,
            exact=run.exact,
            lower_bound_s=run.lower_bound,
            gap=run.gap,
            status=run.status,
            by=run.method,
            solve_s=run.solve_s,
            nodes=run.nodes,
            note=run.note,
            schedule=_schedule(jobs, run),
        )
        for run in runs
    ]
    ratios = {
        f"{RATIO_LABEL.get(m.method, m.method)} / Offline OPT": m.ratio_to_opt
        for m in methods[:-1]
        if m.ratio_to_opt is not None
    }
    return PipelineSolution(
        source=instance.source,
        num_jobs=len(jobs),
        time_limit_s=time_limit,
        problem=problem,
        profiles=instance.profiles,
        methods=methods,
        ratios=ratios,
        best_lower_bound_s=opt.lower_bound if opt.lower_bound is not None else opt.makespan,
    )


def _schedule(jobs: Sequence[Job], run: MethodRun) -> list[JobSchedule]:
    return [
        JobSchedule(
            job=jobs[s.job].name,
            position=pos,
            cut=jobs[s.job].options[s.option].cut,
            local=StageSpan(start_s=s.spans[0][0], end_s=s.spans[0][1]),
            comm=StageSpan(start_s=s.spans[1][0], end_s=s.spans[1][1]),
            remote=StageSpan(start_s=s.spans[2][0], end_s=s.spans[2][1]),
        )
        for pos, s in enumerate(simulate(jobs, run.order, run.splits))
    ]
