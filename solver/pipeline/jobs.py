"""The plain instance: jobs, each with its split options (three stage times per option).

The bottom of the package: every other module reads these types, this one imports none of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

Times = tuple[float, float, float]
Schedule = tuple[list[int], list[int]]  # (order of job indices, option index per job)
Start = tuple[Sequence[int], Sequence[int]]  # a schedule handed in (e.g. a heuristic's)


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
