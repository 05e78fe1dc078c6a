"""The baselines every SCIP answer is compared with, and the schedule they all share.

- greedy: jobs in decreasing order of their fastest time (LPT), each to the worker where it
  would finish earliest;
- cpu-only and gpu-only: the greedy rule restricted to one kind of worker.
A schedule is an assignment of jobs to workers; each worker's jobs run one after another,
longest first from time 0 (the order on a worker does not move its finish time).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import Any

from solver.hybrid.solution import Entry, Schedule

Matrix = Sequence[Sequence[float]]  # p[job][worker], seconds; inf where a job cannot run


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
    """max(largest single-job minimum, total minimum work / workers): no schedule is shorter."""
    cols = list(allowed) if allowed is not None else list(range(len(p[0])))
    mins = [min(row[i] for i in cols) for row in p]
    return max(max(mins, default=0.0), sum(mins) / max(1, len(cols)))


def greedy(p: Matrix, allowed: Sequence[int] | None = None, method: str = "greedy") -> Schedule:
    """LPT by fastest time, each job to the worker where it finishes earliest."""
    cols = list(allowed) if allowed is not None else list(range(len(p[0])))
    t0 = time.perf_counter()
    if not cols or any(all(math.isinf(row[i]) for i in cols) for row in p):
        return Schedule(method=method, makespan=None, status="infeasible")
    loads = dict.fromkeys(cols, 0.0)
    assign = [-1] * len(p)
    order = sorted(range(len(p)), key=lambda j: (-min(p[j][i] for i in cols), j))
    for j in order:
        best = min(cols, key=lambda i: (loads[i] + p[j][i], i))
        assign[j] = best
        loads[best] += p[j][best]
    return schedule_from_assignment(method, assign, p, solve_s=time.perf_counter() - t0)


def device_only(p: Matrix, devices: Sequence[str], device: str, method: str) -> Schedule:
    """The greedy rule on the workers of one device kind only."""
    cols = [i for i, d in enumerate(devices) if d == device]
    return greedy(p, cols, method=method)


def baselines(p: Matrix, devices: Sequence[str]) -> dict[str, Schedule]:
    """cpu-only, gpu-only and greedy, by method name."""
    return {
        "cpu-only": device_only(p, devices, "cpu", "cpu-only"),
        "gpu-only": device_only(p, devices, "cuda", "gpu-only"),
        "greedy": greedy(p),
    }
