"""The hybrid solution (pydantic): every method's schedule, the times they were priced with.

`methods` holds the baselines (cpu-only, gpu-only, greedy) and SCIP's answer under the same
schema; an entry names its job and worker by index (into `problem.jobs`, `problem.workers`
and the rows and columns of `times_s`) and by name. A baseline with no worker of its kind has
no schedule (`makespan` None). `check_errors` is what the independent checker found (empty:
every schedule passed).
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import Field

from solver.hybrid.problem import HybridProblem
from solver.problem import Strict
from solver.solution import Summary

BASELINES = ("cpu-only", "gpu-only", "greedy")
METHODS = (*BASELINES, "scip")


class Entry(Strict):
    job: int
    worker: int
    start: float = Field(description="s from the start of the schedule")
    end: float
    job_name: str = ""
    worker_name: str = ""


class Schedule(Strict):
    method: str
    makespan: float | None = Field(description="s; None = no schedule (no worker of that kind)")
    entries: list[Entry] = Field(default_factory=list)
    status: str = Field(default="heuristic", description="SCIP's status, or heuristic/infeasible")
    dual_bound: float | None = Field(default=None, description="SCIP's lower bound on Cmax, s")
    gap: float | None = None
    solve_s: float = 0.0
    nodes: int | None = None

    @property
    def span(self) -> float:
        """The makespan, inf where there is no schedule (for comparing methods)."""
        return math.inf if self.makespan is None else self.makespan

    def assignment(self, n_jobs: int) -> list[int]:
        """Worker of each job (-1: not scheduled)."""
        a = [-1] * n_jobs
        for e in self.entries:
            a[e.job] = e.worker
        return a


class HybridSolution(Strict):
    kind: Literal["hybrid"] = "hybrid"
    name: str = "hybrid"
    problem: HybridProblem = Field(description="the problem as solved")
    notes: list[str] = Field(default_factory=list, description="where the times came from")
    times_s: list[list[float]] = Field(description="p[job][worker]: s job j takes on worker i")
    time_sources: list[list[str]] = Field(
        description="per job and worker: given, measured, linear, gbt or fallback"
    )
    methods: dict[str, Schedule]
    best: str = Field(description="the method with the least makespan")
    check_errors: list[str] = Field(default_factory=list)

    @property
    def answer(self) -> Schedule:
        return self.methods["scip"]

    def best_baseline(self) -> Schedule | None:
        found = [self.methods[m] for m in BASELINES if m in self.methods]
        found = [s for s in found if s.makespan is not None]
        return min(found, key=lambda s: s.span) if found else None

    def summary(self) -> Summary:
        ans = self.answer
        base = self.best_baseline()
        gain = None
        if base is not None and ans.makespan is not None and base.span > 0:
            gain = (base.span - ans.makespan) / base.span
        return Summary(
            kind=self.kind,
            name=self.name,
            subjects=[j.name for j in self.problem.jobs],
            objective="makespan",
            value=ans.makespan,
            status=ans.status,
            gap=ans.gap,
            best_baseline=None if base is None else base.method,
            gain=gain,
            ok=ans.makespan is not None and not self.check_errors,
            notes=[*self.notes, *(f"checker: {e}" for e in self.check_errors)],
        )
