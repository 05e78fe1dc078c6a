"""The result of a packing validation (pydantic, written with --out) and how it is computed.

Per job: predicted images/s (the decision's, interference factor applied where the solution
used one) and its table's images/s alone, measured together (over the batches all jobs
overlapped) and alone, the co-location slowdown (together / alone) and the prediction error
((predicted - measured) / measured, together). The server's measured interference factor is the
median slowdown over its jobs, capped at 1: the value a problem's server kind takes
(`interference:`), printed as the line to paste.
"""

from __future__ import annotations

import statistics
from typing import Literal

from pydantic import Field

from harness.packrun.measure import Rate, batches_of, overlap, rate_alone, rate_within
from harness.packrun.plan import PackPlan
from harness.packrun.run import PackRun
from harness.profile import CoreShare, Outcome, Strict


class JobResult(Strict):
    job: str
    profile: str
    cpus: float
    memory_gb: float
    gpus: int = Field(description="GPUs given to the container (0: ran on the CPU)")
    cpuset_together: list[int]
    cpuset_alone: list[int] | None = None
    predicted: float = Field(description="images/s the decision predicts (factor applied)")
    predicted_alone: float = Field(description="images/s of the job's table at these caps")
    measured_together: float | None = None
    measured_alone: float | None = None
    batches_together: int = Field(description="measured batches the median together is over")
    batches_alone: int = 0
    overlapped: bool = Field(description="False: no batch inside the overlap window; all used")
    span_s: tuple[float, float] | None = Field(
        default=None,
        description="together: its first measured batch's start and last one's end, seconds "
        "after the earliest job's first measured batch began",
    )
    slowdown: float | None = Field(default=None, description="together / alone images/s")
    error: float | None = Field(default=None, description="(predicted - measured) / measured")
    error_alone_model: float | None = Field(
        default=None, description="the same error had no interference been priced"
    )
    outcome_together: str
    outcome_alone: str | None = None
    reason: str | None = None


class PackValidation(Strict):
    kind: Literal["packing-validation"] = "packing-validation"
    solution: str
    server: str
    server_kind: str
    host_cpus: int
    batches: int
    warmup: int
    interference_used: float | None = Field(
        description="the factor the solution priced this kind with (None: none)"
    )
    interference_measured: float | None = Field(
        default=None, description="median slowdown over the jobs, capped at 1"
    )
    problem_line: str | None = None
    oversubscribed: bool = False
    shared_cores: list[CoreShare] = Field(default_factory=list)
    jobs: list[JobResult]
    median_abs_error: float | None = None
    notes: list[str] = Field(default_factory=list)
    ok: bool


def _err(pred: float, meas: float | None) -> float | None:
    return None if meas is None or meas <= 0 else (pred - meas) / meas


def _outcome(run: object) -> str:
    r = getattr(run, "run", None)
    return r.outcome.value if r is not None else "not run"


def validation_of(plan: PackPlan, run: PackRun, batches: int, warmup: int) -> PackValidation:
    together = {n: batches_of(r.stamped) for n, r in run.together.items()}
    window = overlap(list(together.values()))
    t0 = min((bs[0].start for bs in together.values() if bs), default=0.0)
    jobs: list[JobResult] = []
    for j in plan.jobs:
        tr = run.together[j.name]
        ar = run.alone.get(j.name)
        rt: Rate = rate_within(together[j.name], window)
        ra: Rate = rate_alone(batches_of(ar.stamped)) if ar is not None else Rate(None, 0, 0, False)
        slow = (
            rt.images_per_s / ra.images_per_s
            if rt.images_per_s is not None and ra.images_per_s
            else None
        )
        bs = together[j.name]
        span = (bs[0].start - t0, bs[-1].end - t0) if bs else None
        reason = next((r.run.reason for r in (tr, ar) if r and r.run and r.run.reason), None)
        jobs.append(
            JobResult(
                job=j.name,
                profile=str(j.profile),
                cpus=j.cpus,
                memory_gb=j.memory_gb,
                gpus=j.gpus,
                cpuset_together=tr.cpuset,
                cpuset_alone=ar.cpuset if ar is not None else None,
                predicted=j.predicted,
                predicted_alone=j.predicted_alone,
                measured_together=rt.images_per_s,
                measured_alone=ra.images_per_s,
                batches_together=rt.batches,
                batches_alone=ra.batches,
                overlapped=rt.in_window,
                span_s=span,
                slowdown=slow,
                error=_err(j.predicted, rt.images_per_s),
                error_alone_model=_err(j.predicted_alone, rt.images_per_s),
                outcome_together=_outcome(tr),
                outcome_alone=_outcome(ar) if ar is not None else None,
                reason=reason,
            )
        )
    return _summary(plan, run, jobs, batches, warmup)


def _summary(
    plan: PackPlan, run: PackRun, jobs: list[JobResult], batches: int, warmup: int
) -> PackValidation:
    slows = [j.slowdown for j in jobs if j.slowdown is not None]
    factor = min(1.0, statistics.median(slows)) if slows and len(jobs) >= 2 else None
    errs = [abs(j.error) for j in jobs if j.error is not None]
    notes = list(plan.notes)
    late = [j.job for j in jobs if not j.overlapped]
    if late:
        spans = "; ".join(
            f"{j.job} {j.span_s[0]:.1f}-{j.span_s[1]:.1f} s" for j in jobs if j.span_s
        )
        notes.append(
            f"{', '.join(late)}: no measured batch while every job was in its measured batches "
            f"(all its batches used; measured spans {spans}): raise --batches"
        )
    ok = all(j.outcome_together == Outcome.ok.value for j in jobs) and all(
        j.outcome_alone in (None, Outcome.ok.value) for j in jobs
    )
    return PackValidation(
        solution=str(plan.solution),
        server=plan.server,
        server_kind=plan.kind,
        host_cpus=plan.host_cpus,
        batches=batches,
        warmup=warmup,
        interference_used=plan.factor,
        interference_measured=factor,
        problem_line=None if factor is None else problem_line(plan.kind, factor),
        oversubscribed=plan.oversubscribed,
        shared_cores=run.shared,
        jobs=jobs,
        median_abs_error=statistics.median(errs) if errs else None,
        notes=notes,
        ok=ok,
    )


def problem_line(kind: str, factor: float) -> str:
    return f"servers: - {{name: {kind}, ..., interference: {factor:.3f}}}"
