"""The batch pipeline's solution: every method's schedule, makespan and ratio to the optimum.

What users, `harness run-split` and `harness validate-decision` read: the problem solved (as a
validated problem model, so a reader needs nothing else to know the jobs' devices and link),
one MethodResult per method in the order they ran, the last one the offline optimum, each with
its full schedule (the simulator's, re-checked), and `summary()`, the plan table's row.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_serializer

from harness.spec import Strict
from solver.pipeline.problem import PipelineProblem
from solver.solution import Summary

OPT_METHOD = "Offline OPT (exact)"
DOPART_BEST = "DOPart best order (exact)"


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
    by: str | None = Field(
        default=None,
        description="exact runs: what proved it (or stopped): bdp, bound, scip-position, ...",
    )
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
    problem: PipelineProblem
    profiles: list[str] = Field(default_factory=list, description="ids of the profiles used")
    methods: list[MethodResult] = Field(min_length=1)
    ratios: dict[str, float]
    best_lower_bound_s: float

    @field_serializer("problem")
    def _problem_as_written(self, problem: PipelineProblem) -> dict[str, Any]:
        return problem.model_dump(mode="json", exclude_none=True)

    @property
    def optimum(self) -> MethodResult:
        """The offline optimum's run (the last method)."""
        return self.methods[-1]

    @property
    def baselines(self) -> list[MethodResult]:
        """Every method the optimum is compared with (all but the last)."""
        return self.methods[:-1]

    def subjects(self) -> list[str]:
        """The models of the job groups, the inline jobs' names, or the sampled jobs' names."""
        p = self.problem
        names = [g.model or g.name for g in p.jobs] + [ij.name for ij in p.inline_jobs]
        if not names:
            # the first method runs the batch in its own order (DOPart FIFO)
            names = [s.job for s in sorted(self.methods[0].schedule, key=lambda s: s.position)]
        return list(dict.fromkeys(names))

    def summary(self) -> Summary:
        opt = self.optimum
        best = min(self.baselines, key=lambda m: m.makespan_s, default=None)
        gain = None
        if best is not None and best.makespan_s > 0:
            gain = (best.makespan_s - opt.makespan_s) / best.makespan_s
        notes = [] if opt.exact or opt.note is None else [opt.note]
        return Summary(
            kind="pipeline",
            name=self.problem.name or "pipeline",
            subjects=self.subjects(),
            objective="makespan",
            value=opt.makespan_s,
            status=(opt.status or "-") + (f" ({opt.by})" if opt.by else ""),
            gap=opt.gap,
            best_baseline=None if best is None else best.method,
            gain=gain,
            ok=True,
            notes=notes,
        )
