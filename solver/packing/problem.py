"""The packing problem file (`kind: packing`) and the instance the models solve.

A problem names server kinds (identical servers come as a count, which the solver exploits;
none named: Synergy's evaluation cluster) and jobs (GPUs requested, a training profile or an
inline throughput table, remaining work). `build_instance` resolves each job's profile through
the one resolver (`solver.profiles`: a path relative to the problem file, a profile id, or the
name of a given profile's job), turns it into the job's configuration table (`table.py`) and
lays out one Server per physical machine. `default_problem` derives a problem from training
profiles alone: one job per usable profile, on Synergy's cluster.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Annotated, Literal

from pydantic import Field, model_validator

from solver.packing.table import CurveModel, JobTable, build_table, curve_model, inline_model
from solver.problem import (
    MAX_AMOUNT,
    MAX_JOBS,
    MAX_SERVER_CPUS,
    MAX_SERVER_GPUS,
    MAX_SERVERS,
    FileError,
    PositiveAmount,
    PositiveSeconds,
    ProblemError,
    Strict,
    TimeLimit,
)
from solver.profiles import Loaded, ProfileSet


class ServerKind(Strict):
    name: str = "server"
    count: Annotated[int, Field(gt=0, le=MAX_SERVERS)] = 1
    gpus: Annotated[int, Field(gt=0, le=MAX_SERVER_GPUS)]
    cpus: Annotated[float, Field(gt=0, le=MAX_SERVER_CPUS)]
    memory_gb: Annotated[float, Field(gt=0, le=1e9)]
    interference: Annotated[float, Field(gt=0, le=1)] | None = Field(
        default=None,
        description="measured images/s of a job sharing a server of this kind with other jobs, "
        "as a share of its images/s alone at the same caps (`harness validate-decision` on a "
        "packing solution prints it); None: co-located jobs run as fast as alone",
    )


def check_cluster(kinds: list[ServerKind]) -> None:
    """The limit on the servers of a cluster, all kinds together (ValueError past it)."""
    total = sum(k.count for k in kinds)
    if total > MAX_SERVERS:
        raise ValueError(
            f"{total:,} servers in all (the kinds' counts summed): at most {MAX_SERVERS:,} "
            "servers in a cluster"
        )


class ThroughputPoint(Strict):
    cpus: Annotated[float, Field(gt=0, le=MAX_SERVER_CPUS)]
    memory_gb: Annotated[float, Field(gt=0, le=1e9)] | None = Field(
        default=None, description="None: measured with memory unconstrained"
    )
    throughput: Annotated[float, Field(ge=0, le=MAX_AMOUNT)]


GpuCount = Annotated[int, Field(gt=0, le=MAX_SERVERS * MAX_SERVER_GPUS)]


class PackJob(Strict):
    name: Annotated[str, Field(min_length=1)]
    gpus: GpuCount = 1
    profile: str | None = Field(
        default=None,
        description="train profile: a path (relative to the problem file), a profile id, or the "
        "job name of a profile given on the command line",
    )
    profiles: dict[str, str] | None = Field(
        default=None,
        description="train profile per server kind (kind name -> reference, as 'profile'): the "
        "job's throughput on a server of that kind; kinds not named use 'profile', which is "
        "then required unless every kind is named",
    )
    throughput: Annotated[list[ThroughputPoint], Field(max_length=10_000)] | None = Field(
        default=None, description="inline table of images/s per (cpus, memory_gb) for this job"
    )
    throughput_gpus: Annotated[int, Field(ge=0, le=MAX_SERVER_GPUS)] = Field(
        default=1, description="GPU count the inline table was measured at"
    )
    images_per_iteration: PositiveAmount = Field(
        default=1.0, description="inline tables only: images per iteration of the whole job"
    )
    work_iterations: PositiveAmount = 1000.0

    @model_validator(mode="after")
    def _one_source(self) -> PackJob:
        profiled = self.profile is not None or bool(self.profiles)
        if profiled == (self.throughput is not None):
            raise ValueError("give exactly one of 'profile' (or 'profiles') or 'throughput'")
        return self


SYNERGY_CLUSTER = [ServerKind(name="synergy", count=16, gpus=8, cpus=24, memory_gb=500)]
SYNERGY_NOTE = (
    "cluster: 16 servers of 8 GPUs, 24 CPUs, 500 GB "
    "(Synergy's evaluation cluster, since no cluster was given)"
)


class PackingProblem(Strict):
    kind: Literal["packing"] = "packing"
    name: str | None = Field(default=None, description="names the solution files")
    servers: list[ServerKind] | None = Field(
        default=None,
        min_length=1,
        description="server kinds; none given: Synergy's evaluation cluster (16 servers of 8 "
        "GPUs, 24 CPUs, 500 GB)",
    )
    jobs: list[PackJob] = Field(min_length=1, max_length=MAX_JOBS)
    round_s: PositiveSeconds = 300.0
    time_limit_s: TimeLimit | None = None

    @model_validator(mode="after")
    def _unique(self) -> PackingProblem:
        check_cluster(self.cluster)
        names = [j.name for j in self.jobs]
        if len(set(names)) != len(names):
            dup = next(n for n in names if names.count(n) > 1)
            raise ValueError(f"job names must be unique; '{dup}' repeats")
        kinds = [s.name for s in self.cluster]
        if len(set(kinds)) != len(kinds):
            raise ValueError("server kind names must be unique")
        for job in self.jobs:
            named = job.profiles or {}
            for k in named:
                if k not in kinds:
                    raise ValueError(
                        f"job {job.name}: field 'profiles': '{k}' is not a server kind "
                        f"(expected one of {', '.join(kinds)})"
                    )
            missing = [k for k in kinds if k not in named]
            if named and missing and job.profile is None:
                raise ValueError(
                    f"job {job.name}: field 'profiles': no profile for server kind "
                    f"'{missing[0]}' (name every kind, or give 'profile' for the rest)"
                )
        return self

    @property
    def cluster(self) -> list[ServerKind]:
        """The server kinds solved on: the problem's, else Synergy's evaluation cluster."""
        return list(self.servers) if self.servers is not None else list(SYNERGY_CLUSTER)


@dataclass(frozen=True)
class Server:
    name: str
    kind: int  # index into Instance.kinds
    gpus: int
    cpus: float
    memory_gb: float


@dataclass
class Instance:
    kinds: list[ServerKind]
    servers: list[Server]
    jobs: list[JobTable]
    work: list[float]  # remaining iterations per job
    cpus_per_gpu: float  # the fairness reference (smallest ratio over kinds)
    memory_per_gpu: float
    interference: list[float] = field(default_factory=list)  # per kind; 1.0 (or none): none
    # Jobs profiled per server kind: job index -> its table on each kind (by kind index). Their
    # `jobs` entry is the table on their best kind (highest proportional-share throughput),
    # which normalises their throughput on every kind.
    by_kind: dict[int, list[JobTable]] = field(default_factory=dict)

    def table(self, j: int, kind: int) -> JobTable:
        """Job j's configuration table on a server of `kind`."""
        per = self.by_kind.get(j)
        return per[kind] if per is not None else self.jobs[j]

    def factor(self, kind: int) -> float:
        """Images/s of a job sharing a server of `kind`, as a share of its images/s alone."""
        return self.interference[kind] if kind < len(self.interference) else 1.0

    @property
    def max_gpus(self) -> int:
        return max(k.gpus for k in self.kinds)

    def is_split(self, j: int) -> bool:
        return self.jobs[j].gpus > self.max_gpus


PartTuple = tuple[int, int, float, float]  # server index, gpus, cpus, memory_gb


def servers_of(kinds: list[ServerKind]) -> list[Server]:
    out = []
    for ki, k in enumerate(kinds):
        for i in range(k.count):
            out.append(Server(f"{k.name}-{i}", ki, k.gpus, k.cpus, k.memory_gb))
    return out


def reference_share(kinds: list[ServerKind]) -> tuple[float, float]:
    """Per-GPU CPUs and memory of the proportional share: the smallest ratio over kinds, so the
    proportional allocation fits on every kind."""
    return min(k.cpus / k.gpus for k in kinds), min(k.memory_gb / k.gpus for k in kinds)


def table_for(name: str, gpus: int, model: CurveModel, kinds: list[ServerKind]) -> JobTable:
    cpg, mpg = reference_share(kinds)
    max_g = max(k.gpus for k in kinds)
    fit = [k for k in kinds if k.gpus >= gpus]
    split = not fit
    max_c = max(k.cpus for k in fit) if fit else gpus * cpg
    max_m = max(k.memory_gb for k in fit) if fit else gpus * mpg
    if split and math.ceil(gpus / max_g) > sum(k.count for k in kinds if k.gpus == max_g):
        raise ProblemError(f"job {name}: {gpus} GPUs is more than the whole cluster holds")
    return build_table(name, gpus, model, cpg, mpg, max_c, max_m, split=split)


class CurveModels:
    """Each training profile's curve model, built once however many jobs name it."""

    def __init__(self, profiles: ProfileSet) -> None:
        self.profiles = profiles
        self._built: dict[int, CurveModel] = {}  # by id of the Loaded
        self._by_ref: dict[str, CurveModel] = {}

    def of(self, job: str, ref: str, where: str | None = None) -> CurveModel:
        """The model of the profile `ref` names (a path, id, or given profile's job name)."""
        if ref in self._by_ref:
            return self._by_ref[ref]
        where = where or f"job {job}: field 'profile'"
        loaded = self.loaded(ref, where)
        key = id(loaded)
        if key not in self._built:
            try:
                self._built[key] = curve_model(loaded.profile)
            except ValueError as exc:  # the profile cannot price a job: bad input
                raise FileError(f"{where}: {loaded.path}: {exc}") from None
        self._by_ref[ref] = self._built[key]
        return self._built[key]

    def loaded(self, ref: str, where: str) -> Loaded:
        return self.profiles.one(ref, where, kind="train", by_job_name=True)


def _inline(job: PackJob) -> CurveModel:
    assert job.throughput is not None
    pts = [(p.cpus, p.memory_gb, p.throughput) for p in job.throughput]
    try:
        unit = max(job.throughput_gpus, 1)
        ipi = job.images_per_iteration * unit / job.gpus  # scaled back up per job
        return inline_model(pts, job.throughput_gpus, ipi)
    except ValueError as exc:
        raise ProblemError(f"job {job.name}: field 'throughput': {exc}") from None


def _kind_tables(job: PackJob, kinds: list[ServerKind], models: CurveModels) -> list[JobTable]:
    """A job's table on each server kind, from its per-kind profiles (else its 'profile'). The
    profiles must be of one job; a job larger than a server (split across servers, possibly of
    several kinds) cannot have them."""
    assert job.profiles
    out: list[JobTable] = []
    job_names: dict[str, str] = {}
    for k in kinds:
        if k.name in job.profiles:
            ref, where = job.profiles[k.name], f"job {job.name}: field 'profiles.{k.name}'"
        else:
            assert job.profile is not None  # the problem's validator says so
            ref, where = job.profile, f"job {job.name}: field 'profile'"
        loaded = models.loaded(ref, where)
        job_names.setdefault(loaded.profile.job.name, f"{where}: {loaded.path}")
        if len(job_names) > 1:
            first, other = list(job_names.items())[:2]
            raise FileError(
                f"{other[1]}: a profile of job '{other[0]}', but {first[1]} is of job "
                f"'{first[0]}' (expected the profiles of one job, one per server kind)"
            )
        model = models.of(job.name, ref, where)
        try:
            out.append(table_for(job.name, job.gpus, model, kinds))
        except ValueError as exc:
            raise ProblemError(str(exc)) from None
    if job.gpus > max(k.gpus for k in kinds):
        raise ProblemError(
            f"job {job.name}: field 'profiles': {job.gpus} GPUs is more than one server holds; "
            "per-kind profiles are for jobs that fit on one server"
        )
    return out


def build_instance(problem: PackingProblem, profiles: ProfileSet | None = None) -> Instance:
    """The plain instance: one configuration table per job, one Server per machine. Jobs of
    one profile at one GPU count share their table's making (10,000 jobs of seven profiles:
    about 100 s made one by one)."""
    models = CurveModels(profiles if profiles is not None else ProfileSet())
    kinds = problem.cluster
    tables: list[JobTable] = []
    by_kind: dict[int, list[JobTable]] = {}
    made: dict[tuple[int, int], JobTable] = {}
    for job in problem.jobs:
        if job.profiles:  # a table per server kind; the best kind's normalises
            by_kind[len(tables)] = per = _kind_tables(job, kinds, models)
            tables.append(max(per, key=lambda t: t.prop_throughput))
            continue
        model = _inline(job) if job.profile is None else models.of(job.name, job.profile)
        key = (id(model), job.gpus)
        try:
            if key not in made or job.profile is None:
                made[key] = table_for(job.name, job.gpus, model, kinds)
                tables.append(made[key])
            else:
                first = made[key]
                tables.append(
                    replace(
                        first, name=job.name, configs=list(first.configs), notes=list(first.notes)
                    )
                )
        except ValueError as exc:
            raise ProblemError(str(exc)) from None
    cpg, mpg = reference_share(kinds)
    return Instance(
        by_kind=by_kind,
        kinds=kinds,
        servers=servers_of(kinds),
        jobs=tables,
        work=[j.work_iterations for j in problem.jobs],
        cpus_per_gpu=cpg,
        memory_per_gpu=mpg,
        interference=[k.interference or 1.0 for k in kinds],
    )


# ---------------------------------------------------------------- from profiles alone


def unusable(loaded: Loaded) -> str | None:
    """Why a profile cannot price a packing job (None: it can)."""
    if loaded.profile.kind != "train" or loaded.profile.train is None:
        return f"kind '{loaded.profile.kind}', not a training profile"
    try:
        curve_model(loaded.profile)
    except ValueError as exc:
        return str(exc)
    return None


def default_problem(profiles: ProfileSet, jobs_per_profile: int = 1) -> PackingProblem:
    """One job per usable training profile (at the most GPUs it was profiled with, at least 1)
    on Synergy's evaluation cluster; ProblemError when no training profile is usable."""
    jobs: list[PackJob] = []
    names: set[str] = set()
    why: list[str] = []
    for it in profiles.of_kind("train"):
        reason = unusable(it)
        if reason is not None:
            why.append(f"{it.path}: {reason}")
            continue
        assert it.profile.train is not None
        gpus = max([1] + [pr.caps.gpus for pr in it.profile.train.probes])
        for i in range(jobs_per_profile):
            base = it.profile.job.name + (f"-{i}" if jobs_per_profile > 1 else "")
            name, n = base, 1
            while name in names:  # two profiles of one job: the second is base-2, ...
                n += 1
                name = f"{base}-{n}"
            names.add(name)
            jobs.append(PackJob(name=name, gpus=gpus, profile=str(it.path)))
    if not jobs:
        detail = f" ({'; '.join(why)})" if why else ""
        raise ProblemError(f"no usable training profile to pack{detail}")
    return PackingProblem(name="training", jobs=jobs)
