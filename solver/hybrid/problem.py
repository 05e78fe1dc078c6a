"""The `kind: hybrid` problem (pydantic), its default from profiles, and the plain instance.

The instance is the matrix p[j][i]: seconds job j takes on worker i, = num_batches x seconds
per batch for that worker's device and CPU cap. A job's `step_s` (by worker name or device)
wins; else the cost model's measured median where a profile has the point, else its
prediction; a 'cuda' worker with no GPU data in the cost model uses the documented speed-up
model (`GpuFallback`). Where the cost model comes from, first that applies: the solve's
`cost_model` option, the problem file's `cost_model` (relative to the problem file; a file
that is not there yet gives way to profiles given with the problem), a fit of the given train
profiles, none when every job has `step_s`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import Field, model_validator

from solver.hybrid.costmodel.file import CostModelError
from solver.problem import (
    MAX_JOBS,
    MAX_SECONDS,
    MAX_WORKERS,
    FileError,
    PositiveSeconds,
    ProblemError,
    Seconds,
    SolveOptions,
    Strict,
    TimeLimit,
    beyond,
)

if TYPE_CHECKING:
    from solver.hybrid.costmodel.fit import CostModel
    from solver.profiles import ProfileSet

DEFAULT_NUM_BATCHES = 100
MAX_CELLS = 50_000  # jobs x workers: the assignment MILP's binaries (built in about 0.6 s)
Matrix = list[list[float]]  # p[job][worker], seconds; inf where a job cannot run


class HybridJob(Strict):
    name: str
    model: str
    batch_size: Annotated[int, Field(gt=0, le=1_000_000)]
    input_shape: list[Annotated[int, Field(gt=0, le=1_000_000)]] = Field(min_length=3, max_length=4)
    num_batches: Annotated[int, Field(gt=0, le=1_000_000_000)]
    step_s: dict[str, PositiveSeconds] | None = Field(
        default=None,
        description="measured seconds per batch by worker name or device ('cpu'/'cuda'); "
        "overrides the cost model",
    )


class Worker(Strict):
    name: str
    device: Literal["cpu", "cuda"]
    cpus: Annotated[float, Field(gt=0, le=1e6)] = 1.0


class GpuFallback(Strict):
    """Documented speed-up model, used only when the cost model has no 'cuda' data.

    t_cuda(batch) = overhead_s + t_cpu(batch, cpus=reference_cpus) / speedup
    """

    speedup: Annotated[float, Field(gt=0, le=1e6)] = 25.0
    overhead_s: Seconds = 0.004
    reference_cpus: Annotated[float, Field(gt=0, le=1e6)] = 1.0


class HybridProblem(Strict):
    kind: Literal["hybrid"] = "hybrid"
    name: str | None = Field(default=None, description="names the solution file; = the kind")
    jobs: list[HybridJob] = Field(min_length=1, max_length=MAX_JOBS)
    workers: list[Worker] = Field(min_length=1, max_length=MAX_WORKERS)
    cost_model: str | None = Field(
        default=None, description="cost-model JSON (harness fit); fitted from the profiles if unset"
    )
    cost_kind: Literal["auto", "linear", "gbt"] = "auto"
    gpu_fallback: GpuFallback = Field(default_factory=GpuFallback)
    time_limit_s: TimeLimit | None = None

    @model_validator(mode="after")
    def _size(self) -> HybridProblem:
        cells = len(self.jobs) * len(self.workers)
        if cells > MAX_CELLS:
            raise ValueError(
                f"{len(self.jobs):,} jobs x {len(self.workers):,} workers = {cells:,} "
                f"assignments: at most {MAX_CELLS:,} in a hybrid problem (the MILP has one "
                "binary per job and worker)"
            )
        return self


def default_problem(profiles: ProfileSet, num_batches: int = DEFAULT_NUM_BATCHES) -> HybridProblem:
    """One job per train profile, one CPU worker (the largest CPU cap measured) and one GPU."""
    jobs: list[HybridJob] = []
    cpus = 1.0
    for it in profiles.of_kind("train"):
        prof = it.profile
        if prof.train is None:
            continue
        jobs.append(
            HybridJob(
                name=prof.job.name,
                model=prof.job.model,
                batch_size=prof.job.batch_size,
                input_shape=list(prof.job.input_shape),
                num_batches=num_batches,
            )
        )
        cpus = max([cpus] + [p.caps.cpus for p in prof.train.probes if p.outcome == "ok"])
    if not jobs:
        raise ProblemError("hybrid: no train profile to make jobs from")
    return HybridProblem(
        jobs=jobs,
        workers=[Worker(name="cpu0", device="cpu", cpus=cpus), Worker(name="gpu0", device="cuda")],
    )


# ---------------------------------------------------------------- the plain instance


@dataclass
class Times:
    p: Matrix
    sources: list[list[str]]  # per job, per worker: measured / linear / gbt / fallback / given
    notes: list[str] = field(default_factory=list)


@dataclass
class Instance:
    """What the models, baselines and checker see: the matrix and the workers' devices."""

    p: Matrix
    devices: list[str]
    sources: list[list[str]]
    notes: list[str]  # where the times came from, first


def cost_model(
    problem: HybridProblem, profiles: ProfileSet, option: Any = None
) -> tuple[CostModel | None, str]:
    """The cost model the times come from (see the module docstring), and a note saying which."""
    from solver.hybrid.costmodel import fit

    if option:
        return _load(Path(option)), f"cost model {option}"
    train = profiles.of_kind("train")
    if problem.cost_model:
        path = Path(problem.cost_model)
        if not path.is_absolute() and profiles.base_dir is not None:
            path = profiles.base_dir / path
        # the file wins; profiles given with the problem stand in for one not fitted yet
        if path.exists() or not train:
            return _load(path), f"cost model {path}"
    if train:
        from solver.hybrid.costmodel.features import samples_from_profile

        samples = [s for it in train for s in samples_from_profile(it.profile, it.path.name)]
        if samples:
            cm, _ = fit.fit_with_holdout(samples, "both", folds=5)
            return cm, f"cost model fitted on {len(samples)} probes ({cm.best_kind()} used)"
    if all(j.step_s for j in problem.jobs):
        return None, "times given in the problem file"
    raise CostModelError(
        "no cost model: give train profiles, 'cost_model' in the problem file, or step_s per job"
    )


def _load(path: Path) -> CostModel:
    """The cost-model file; one that cannot be read or is not one is a FileError (bad input)."""
    from solver.hybrid.costmodel import fit

    try:
        return fit.load(path)
    except CostModelError as exc:
        raise FileError(f"field 'cost_model': {exc}") from None


def _given(job: HybridJob, w: Worker) -> float | None:
    return (job.step_s or {}).get(w.name) or (job.step_s or {}).get(w.device)


def job_times(problem: HybridProblem, cm: CostModel | None) -> Times:
    """p[j][i] = num_batches_j x seconds per batch of job j on worker i."""
    from solver.hybrid.costmodel.fit import step_time

    kind: Any = None if problem.cost_kind == "auto" else problem.cost_kind
    fb = problem.gpu_fallback
    p: Matrix = []
    src: list[list[str]] = []
    fallback_used = False
    for job in problem.jobs:
        row, srow = [], []
        for w in problem.workers:
            given = _given(job, w)
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
                cpu = step_time(cm, job.model, job.batch_size, dims, fb.reference_cpus, "cpu", kind)
                fallback_used = True
                row.append(job.num_batches * (fb.overhead_s + cpu.seconds / fb.speedup))
                srow.append("fallback")
                continue
            est = step_time(cm, job.model, job.batch_size, dims, w.cpus, w.device, kind)
            row.append(job.num_batches * est.seconds)
            srow.append(est.source)
        p.append(row)
        src.append(srow)
    notes = []
    if fallback_used:
        notes.append(
            "no GPU profile: cuda times from the speed-up model t = "
            f"{fb.overhead_s:g} s + t_cpu({fb.reference_cpus:g} CPU) / {fb.speedup:g}"
        )
    return Times(p, src, notes)


def build_instance(problem: HybridProblem, profiles: ProfileSet, options: SolveOptions) -> Instance:
    """The matrix from the problem and the profiles; what cannot be priced is a ProblemError."""
    try:
        cm, note = cost_model(problem, profiles, options.extra.get("cost_model"))
        times = job_times(problem, cm)
    except CostModelError as exc:
        raise ProblemError(str(exc)) from None
    for j, row in enumerate(times.p):
        for i, t in enumerate(row):
            if beyond(t, MAX_SECONDS):
                raise ProblemError(
                    f"job {problem.jobs[j].name!r} on worker {problem.workers[i].name!r}: "
                    f"{t:g} s ({problem.jobs[j].num_batches} batches, {times.sources[j][i]} "
                    f"times): past what a model takes (at most {MAX_SECONDS:g} s)"
                )
    return Instance(
        p=times.p,
        devices=[w.device for w in problem.workers],
        sources=times.sources,
        notes=[note, *times.notes],
    )
