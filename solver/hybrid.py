"""Hybrid CPU/GPU scheduler: put training jobs on CPU and GPU workers, minimise makespan.

The problem is R||Cmax (unrelated parallel machines): job j takes p[j][i] seconds on worker
i (num_batches x the cost model's seconds per batch for that worker's device and CPU cap).
Jobs on one worker run one after another, so a worker's finish time is the sum of its jobs'
times whatever their order: the order on a worker cannot change the makespan, and the
assignment formulation

    min C  s.t.  sum_i x[j,i] = 1 (each job once),  sum_j p[j][i] x[j,i] <= C (each worker)

is exact. SCIP solves it, warm-started with the greedy schedule and given the two classic
lower bounds (largest single-job minimum; total minimum work / workers). Each worker's jobs
are then sequenced longest first from time 0.

Baselines: CPU-only and GPU-only (the greedy rule restricted to one kind of worker), and the
greedy heuristic: jobs in decreasing order of their fastest time (LPT), each to the worker
where it would finish earliest.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Annotated, Any, Literal

from pydantic import Field

from solver.costmodel import CostModel, CostModelError, step_time
from solver.problem import Strict

INF = math.inf
Matrix = list[list[float]]  # p[job][worker], seconds; INF where a job cannot run


# ---------------------------------------------------------------- the problem file


class HybridJob(Strict):
    name: str
    model: str
    batch_size: Annotated[int, Field(gt=0)]
    input_shape: list[Annotated[int, Field(gt=0)]] = Field(min_length=3, max_length=4)
    num_batches: Annotated[int, Field(gt=0)]
    step_s: dict[str, Annotated[float, Field(gt=0)]] | None = Field(
        default=None,
        description="measured seconds per batch by worker name or device ('cpu'/'cuda'); "
        "overrides the cost model",
    )


class Worker(Strict):
    name: str
    device: Literal["cpu", "cuda"]
    cpus: Annotated[float, Field(gt=0)] = 1.0


class GpuFallback(Strict):
    """Documented speed-up model, used only when the cost model has no 'cuda' data.

    t_cuda(batch) = overhead_s + t_cpu(batch, cpus=reference_cpus) / speedup
    """

    speedup: Annotated[float, Field(gt=0)] = 25.0
    overhead_s: Annotated[float, Field(ge=0)] = 0.004
    reference_cpus: Annotated[float, Field(gt=0)] = 1.0


class HybridProblem(Strict):
    kind: Literal["hybrid"] = "hybrid"
    jobs: list[HybridJob] = Field(min_length=1)
    workers: list[Worker] = Field(min_length=1)
    cost_model: str | None = Field(
        default=None, description="cost-model JSON (harness fit); fitted from the profiles if unset"
    )
    cost_kind: Literal["auto", "linear", "gbt"] = "auto"
    gpu_fallback: GpuFallback = Field(default_factory=GpuFallback)
    time_limit_s: Annotated[float, Field(gt=0)] | None = None


@dataclass
class Times:
    p: Matrix
    sources: list[list[str]]  # per job, per worker: measured / linear / gbt / fallback / given
    notes: list[str] = field(default_factory=list)


def job_times(problem: HybridProblem, cm: CostModel | None) -> Times:
    """p[j][i] = num_batches_j x seconds per batch of job j on worker i."""
    kind: Any = None if problem.cost_kind == "auto" else problem.cost_kind
    p: Matrix = []
    src: list[list[str]] = []
    notes: list[str] = []
    fallback_used = False
    for job in problem.jobs:
        row, srow = [], []
        for w in problem.workers:
            given = (job.step_s or {}).get(w.name) or (job.step_s or {}).get(w.device)
            if given is not None:
                row.append(job.num_batches * given)
                srow.append("given")
                continue
            if cm is None:
                raise CostModelError(
                    f"job {job.name!r}: no step_s for worker {w.name!r} and no cost model "
                    "(give profiles, a cost_model file or step_s)"
                )
            dims = job.input_shape
            if w.device == "cuda" and not cm.covers(job.model, "cuda"):
                fb = problem.gpu_fallback
                cpu = step_time(cm, job.model, job.batch_size, dims, fb.reference_cpus, "cpu", kind)
                t = fb.overhead_s + cpu.seconds / fb.speedup
                fallback_used = True
                row.append(job.num_batches * t)
                srow.append("fallback")
                continue
            est = step_time(cm, job.model, job.batch_size, dims, w.cpus, w.device, kind)
            row.append(job.num_batches * est.seconds)
            srow.append(est.source)
        p.append(row)
        src.append(srow)
    if fallback_used:
        fb = problem.gpu_fallback
        notes.append(
            "no GPU profile: cuda times from the speed-up model t = "
            f"{fb.overhead_s:g} s + t_cpu({fb.reference_cpus:g} CPU) / {fb.speedup:g}"
        )
    return Times(p, src, notes)


# ---------------------------------------------------------------- schedules


@dataclass
class Entry:
    job: int
    worker: int
    start: float
    end: float


@dataclass
class Schedule:
    method: str
    makespan: float
    entries: list[Entry]
    status: str = "heuristic"
    dual_bound: float | None = None
    gap: float | None = None
    solve_s: float = 0.0
    nodes: int | None = None

    def assignment(self, n_jobs: int) -> list[int]:
        a = [-1] * n_jobs
        for e in self.entries:
            a[e.job] = e.worker
        return a

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        if math.isinf(self.makespan):
            d["makespan"] = None
        return d


def schedule_from_assignment(
    method: str, assign: Sequence[int], p: Matrix, **extra: Any
) -> Schedule:
    """Sequence each worker's jobs longest first from time 0 (order does not move Cmax)."""
    n_workers = len(p[0]) if p else 0
    entries: list[Entry] = []
    loads = [0.0] * n_workers
    for i in range(n_workers):
        mine = sorted((j for j, w in enumerate(assign) if w == i), key=lambda j: (-p[j][i], j))
        t = 0.0
        for j in mine:
            entries.append(Entry(job=j, worker=i, start=t, end=t + p[j][i]))
            t += p[j][i]
        loads[i] = t
    entries.sort(key=lambda e: (e.worker, e.start))
    return Schedule(method=method, makespan=max(loads, default=0.0), entries=entries, **extra)


def lower_bound(p: Matrix, allowed: Sequence[int] | None = None) -> float:
    cols = list(allowed) if allowed is not None else list(range(len(p[0])))
    mins = [min(row[i] for i in cols) for row in p]
    return max(max(mins, default=0.0), sum(mins) / max(1, len(cols)))


def greedy(p: Matrix, allowed: Sequence[int] | None = None, method: str = "greedy") -> Schedule:
    """LPT by fastest time, each job to the worker where it finishes earliest."""
    cols = list(allowed) if allowed is not None else list(range(len(p[0])))
    t0 = time.perf_counter()
    if not cols or any(all(math.isinf(row[i]) for i in cols) for row in p):
        return Schedule(method=method, makespan=INF, entries=[], status="infeasible")
    loads = dict.fromkeys(cols, 0.0)
    assign = [-1] * len(p)
    order = sorted(range(len(p)), key=lambda j: (-min(p[j][i] for i in cols), j))
    for j in order:
        best = min(cols, key=lambda i: (loads[i] + p[j][i], i))
        assign[j] = best
        loads[best] += p[j][best]
    return schedule_from_assignment(method, assign, p, solve_s=time.perf_counter() - t0)


def device_only(p: Matrix, devices: Sequence[str], device: str) -> Schedule:
    cols = [i for i, d in enumerate(devices) if d == device]
    return greedy(p, cols, method=f"{device}-only")


def solve_scip(
    p: Matrix,
    time_limit: float | None = 60.0,
    warm: Schedule | None = None,
    quiet: bool = True,
    threads: int = 1,
) -> Schedule:
    """Exact R||Cmax by the assignment MILP (see the module docstring)."""
    from pyscipopt import Model, quicksum

    n, m = len(p), len(p[0])
    model = Model("hybrid_rcmax")
    if quiet:
        model.hideOutput()
    if time_limit is not None:
        model.setParam("limits/time", float(time_limit))
    model.setParam("parallel/maxnthreads", threads)
    x = {
        (j, i): model.addVar(vtype="B", name=f"x_{j}_{i}")
        for j in range(n)
        for i in range(m)
        if not math.isinf(p[j][i])
    }
    lb = lower_bound([[v if not math.isinf(v) else 1e30 for v in row] for row in p])
    ub = warm.makespan if warm is not None and not math.isinf(warm.makespan) else None
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
        model.setSolVal(sol, cmax, warm.makespan)
        model.addSol(sol, free=True)
    t0 = time.perf_counter()
    model.optimize()
    wall = time.perf_counter() - t0
    status = str(model.getStatus())
    if model.getNSols() == 0:
        return Schedule("scip", INF, [], status=status, solve_s=wall)
    best = model.getBestSol()
    assign = [-1] * n
    for (j, i), var in x.items():
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


def solve_all(
    p: Matrix, devices: Sequence[str], time_limit: float | None = 60.0, quiet: bool = True
) -> dict[str, Schedule]:
    """CPU-only, GPU-only, greedy and SCIP (warm-started from greedy), by method name."""
    g = greedy(p)
    out = {
        "cpu-only": device_only(p, devices, "cpu"),
        "gpu-only": device_only(p, devices, "cuda"),
        "greedy": g,
    }
    out["scip"] = solve_scip(p, time_limit, warm=g, quiet=quiet)
    return out
