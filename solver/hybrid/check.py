"""Independent checker for hybrid schedules: reads the plain dict form, trusts nothing else.

A schedule is valid when every job appears exactly once, on a worker that exists, for the
time the matrix says it takes there, no two jobs overlap on one worker, nothing starts
before 0, and the reported makespan is the last finish time. A solution is valid when every
schedule it holds is, each against the solution's own times, and `best` names the least
makespan.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from solver.hybrid.solution import HybridSolution


def check_schedule(
    schedule: dict[str, Any], p: Sequence[Sequence[float]], tol: float = 1e-6
) -> list[str]:
    """Every violation found, one line each; an empty list means valid."""
    errs: list[str] = []
    n = len(p)
    m = len(p[0]) if n else 0
    entries = schedule.get("entries") or []
    seen: dict[int, int] = {}
    per_worker: dict[int, list[tuple[float, float, int]]] = {}
    for e in entries:
        j, i, s, f = int(e["job"]), int(e["worker"]), float(e["start"]), float(e["end"])
        if not 0 <= j < n:
            errs.append(f"entry for unknown job {j}")
            continue
        if not 0 <= i < m:
            errs.append(f"job {j} on unknown worker {i}")
            continue
        seen[j] = seen.get(j, 0) + 1
        if s < -tol:
            errs.append(f"job {j} starts before 0 ({s})")
        if math.isinf(p[j][i]):
            errs.append(f"job {j} on worker {i}, where it cannot run")
        elif abs((f - s) - p[j][i]) > tol * max(1.0, p[j][i]):
            errs.append(f"job {j} on worker {i} lasts {f - s}, expected {p[j][i]}")
        per_worker.setdefault(i, []).append((s, f, j))
    for j in range(n):
        if seen.get(j, 0) != 1:
            errs.append(f"job {j} scheduled {seen.get(j, 0)} times, expected once")
    last = 0.0
    for i, items in per_worker.items():
        items.sort()
        for (_s1, f1, j1), (s2, _f2, j2) in zip(items, items[1:], strict=False):
            if s2 < f1 - tol * max(1.0, f1):
                errs.append(f"worker {i}: job {j2} starts at {s2} before job {j1} ends at {f1}")
        last = max(last, max(f for _, f, _ in items))
    ms = schedule.get("makespan")
    if ms is not None and entries and abs(float(ms) - last) > tol * max(1.0, last):
        errs.append(f"makespan {ms} but the last job ends at {last}")
    return errs


def check_solution(solution: HybridSolution, tol: float = 1e-6) -> list[str]:
    """Every schedule that exists (a baseline with no worker of its kind has none) is checked
    against the solution's times; `best` must name a least makespan."""
    doc = solution.model_dump(mode="json")
    p = doc["times_s"]
    errs: list[str] = []
    spans: dict[str, float] = {}
    for name, sched in doc["methods"].items():
        if sched["makespan"] is None:
            continue
        errs += [f"{name}: {e}" for e in check_schedule(sched, p, tol)]
        spans[name] = float(sched["makespan"])
    if spans and doc["best"] not in spans:
        errs.append(f"best {doc['best']!r} has no schedule")
    elif spans and spans[doc["best"]] > min(spans.values()) + tol * max(1.0, min(spans.values())):
        errs.append(f"best {doc['best']!r} is not the least makespan")
    return errs
