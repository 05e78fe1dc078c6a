"""The independent checker every answer passes, and the simulator of permutation schedules.

The simulator gives the semi-active schedule of an order (every stage starts as early as the
three resources and the job's own previous stage allow). The checker knows nothing of orders
or of the simulator: it takes intervals and verifies the rules the seed states (no two jobs
compute locally at once, none communicate at once, none compute remotely at once; each job goes
local -> communication -> remote), plus that each stage lasts what the job's chosen split says.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from solver.pipeline.jobs import Job, Times

STAGES = ("local", "comm", "remote")
Span = tuple[float, float]


@dataclass(frozen=True)
class Scheduled:
    job: int
    option: int
    spans: tuple[Span, Span, Span]  # (start, end) of local, comm, remote


def simulate_times(ptimes: Sequence[Times]) -> list[tuple[Span, Span, Span]]:
    """(start, end) of each stage for jobs taken in the given order (a list of stage times)."""
    free = [0.0, 0.0, 0.0]
    out: list[tuple[Span, Span, Span]] = []
    for t in ptimes:
        ready = 0.0
        spans: list[Span] = []
        for m in range(3):
            start = max(free[m], ready)
            end = start + t[m]
            spans.append((start, end))
            free[m] = end
            ready = end
        out.append((spans[0], spans[1], spans[2]))
    return out


def makespan_times(ptimes: Sequence[Times]) -> float:
    c1 = c2 = c3 = 0.0
    for a, b, d in ptimes:
        c1 += a
        c2 = max(c2, c1) + b
        c3 = max(c3, c2) + d
    return c3


def makespan_of(jobs: Sequence[Job], order: Sequence[int], splits: Sequence[int]) -> float:
    return makespan_times([jobs[j].options[splits[j]].times for j in order])


def simulate(jobs: Sequence[Job], order: Sequence[int], splits: Sequence[int]) -> list[Scheduled]:
    """The semi-active schedule, in order of position."""
    spans = simulate_times([jobs[j].options[splits[j]].times for j in order])
    return [Scheduled(j, splits[j], sp) for j, sp in zip(order, spans, strict=True)]


def schedule_makespan(schedule: Sequence[Scheduled]) -> float:
    return max((s.spans[2][1] for s in schedule), default=0.0)


def check_schedule(
    jobs: Sequence[Job], schedule: Sequence[Scheduled], tol: float = 1e-9
) -> list[str]:
    """Every violated rule, one line each; an empty list means the schedule is valid.

    Works on intervals only, so it also checks schedules that are not semi-active or not
    permutations (e.g. read from a MILP's start times).
    """
    errors: list[str] = []
    seen = [0] * len(jobs)
    for s in schedule:
        if not 0 <= s.job < len(jobs):
            errors.append(f"unknown job index {s.job}")
            continue
        seen[s.job] += 1
    for j, k in enumerate(seen):
        if k != 1:
            errors.append(f"job {jobs[j].name} scheduled {k} times (expected once)")
    if errors:
        return errors
    scale = max([1.0] + [abs(v) for s in schedule for sp in s.spans for v in sp])
    eps = tol * scale
    for s in schedule:
        job = jobs[s.job]
        if not 0 <= s.option < len(job.options):
            errors.append(f"job {job.name}: option {s.option} does not exist")
            continue
        want = job.options[s.option].times
        for m, (start, end) in enumerate(s.spans):
            if start < -eps:
                errors.append(f"job {job.name}: {STAGES[m]} starts before 0 ({start})")
            if abs((end - start) - want[m]) > eps:
                errors.append(
                    f"job {job.name}: {STAGES[m]} lasts {end - start}, its split needs {want[m]}"
                )
        for m in range(2):
            if s.spans[m + 1][0] < s.spans[m][1] - eps:
                errors.append(
                    f"job {job.name}: {STAGES[m + 1]} starts at {s.spans[m + 1][0]} before "
                    f"{STAGES[m]} ends at {s.spans[m][1]}"
                )
    for m in range(3):
        busy = sorted(
            (s.spans[m][0], s.spans[m][1], jobs[s.job].name)
            for s in schedule
            if s.spans[m][1] - s.spans[m][0] > eps
        )
        for (a0, a1, an), (b0, _b1, bn) in zip(busy, busy[1:], strict=False):
            if b0 < a1 - eps:
                errors.append(f"{STAGES[m]}: jobs {an} [{a0}, {a1}] and {bn} starting {b0} overlap")
    return errors
