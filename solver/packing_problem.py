"""The packing problem file (`kind: packing`) and the instance the models solve.

A problem names server kinds (identical servers come as a count, which the solver exploits)
and jobs (GPUs requested, a training profile or an inline throughput table, remaining work).
`build_instance` turns it into per-job configuration tables (solver/throughput_table.py)
and one Server per physical machine.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, model_validator

from harness.profile import Profile, ProfileError, load_profile
from solver.problem import ProblemError, Strict
from solver.throughput_table import CurveModel, JobTable, build_table, curve_model, inline_model


class ServerKind(Strict):
    name: str = "server"
    count: Annotated[int, Field(gt=0)] = 1
    gpus: Annotated[int, Field(gt=0)]
    cpus: Annotated[float, Field(gt=0)]
    memory_gb: Annotated[float, Field(gt=0)]


class ThroughputPoint(Strict):
    cpus: Annotated[float, Field(gt=0)]
    memory_gb: Annotated[float, Field(gt=0)] | None = Field(
        default=None, description="None: measured with memory unconstrained"
    )
    throughput: Annotated[float, Field(ge=0)]


class PackJob(Strict):
    name: Annotated[str, Field(min_length=1)]
    gpus: Annotated[int, Field(gt=0)] = 1
    profile: str | None = Field(default=None, description="train profile path (or profile id)")
    throughput: list[ThroughputPoint] | None = Field(
        default=None, description="inline table of images/s per (cpus, memory_gb) for this job"
    )
    throughput_gpus: Annotated[int, Field(ge=0)] = Field(
        default=1, description="GPU count the inline table was measured at"
    )
    images_per_iteration: Annotated[float, Field(gt=0)] = Field(
        default=1.0, description="inline tables only: images per iteration of the whole job"
    )
    work_iterations: Annotated[float, Field(gt=0)] = 1000.0

    @model_validator(mode="after")
    def _one_source(self) -> PackJob:
        if (self.profile is None) == (self.throughput is None):
            raise ValueError("give exactly one of 'profile' or 'throughput'")
        return self


class Cluster(Strict):
    servers: list[ServerKind] = Field(min_length=1)


class PackingProblem(Strict):
    kind: Literal["packing"] = "packing"
    servers: list[ServerKind] = Field(min_length=1)
    jobs: list[PackJob] = Field(min_length=1)
    round_s: Annotated[float, Field(gt=0)] = 300.0
    time_limit_s: Annotated[float, Field(gt=0)] | None = None

    @model_validator(mode="after")
    def _unique(self) -> PackingProblem:
        names = [j.name for j in self.jobs]
        if len(set(names)) != len(names):
            dup = next(n for n in names if names.count(n) > 1)
            raise ValueError(f"job names must be unique; '{dup}' repeats")
        kinds = [s.name for s in self.servers]
        if len(set(kinds)) != len(kinds):
            raise ValueError("server kind names must be unique")
        return self


SYNERGY_CLUSTER = [ServerKind(name="synergy", count=16, gpus=8, cpus=24, memory_gb=500)]


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

    @property
    def max_gpus(self) -> int:
        return max(k.gpus for k in self.kinds)

    def is_split(self, j: int) -> bool:
        return self.jobs[j].gpus > self.max_gpus


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


def build_instance(
    problem: PackingProblem,
    base_dir: Path | None = None,
    profiles: dict[str, Profile] | None = None,
) -> Instance:
    """Resolve profiles (paths relative to the problem file, or ids among `profiles`)."""
    profiles = dict(profiles or {})
    cache: dict[str, CurveModel] = {}
    tables = []
    for job in problem.jobs:
        if job.throughput is not None:
            pts = [(p.cpus, p.memory_gb, p.throughput) for p in job.throughput]
            try:
                unit = max(job.throughput_gpus, 1)
                ipi = job.images_per_iteration * unit / job.gpus  # scaled back up per job
                model = inline_model(pts, job.throughput_gpus, ipi)
            except ValueError as exc:
                raise ProblemError(f"job {job.name}: field 'throughput': {exc}") from None
        else:
            key = str(job.profile)
            if key not in cache:
                prof = profiles.get(key)
                if prof is None:
                    path = Path(key)
                    if not path.is_absolute() and base_dir is not None:
                        path = base_dir / path
                    try:
                        prof = load_profile(path)
                    except ProfileError as exc:
                        raise ProblemError(f"job {job.name}: field 'profile': {exc}") from None
                try:
                    cache[key] = curve_model(prof)
                except ValueError as exc:
                    raise ProblemError(f"job {job.name}: field 'profile': {exc}") from None
            model = cache[key]
        try:
            tables.append(table_for(job.name, job.gpus, model, problem.servers))
        except ValueError as exc:
            raise ProblemError(str(exc)) from None
    cpg, mpg = reference_share(problem.servers)
    return Instance(
        kinds=list(problem.servers),
        servers=servers_of(problem.servers),
        jobs=tables,
        work=[j.work_iterations for j in problem.jobs],
        cpus_per_gpu=cpg,
        memory_per_gpu=mpg,
    )


# ---------------------------------------------------------------- the result


class Part(Strict):
    server: str
    gpus: int
    cpus: float
    memory_gb: float


class JobPlacement(Strict):
    job: str
    gpus: int
    placed: bool
    cpus: float = 0.0
    memory_gb: float = 0.0
    throughput: float = Field(default=0.0, description="images/s at this allocation")
    normalised: float = Field(default=0.0, description="throughput / proportional-share one")
    source: str | None = None
    parts: list[Part] = Field(default_factory=list)


class ServerUse(Strict):
    server: str
    kind: str
    gpus: int
    cpus: float
    memory_gb: float
    gpus_used: int
    cpus_used: float
    memory_used_gb: float
    jobs: list[str]


class Placement(Strict):
    policy: str
    status: str
    objective: float = Field(description="total normalised throughput of placed jobs")
    bound: float | None = Field(default=None, description="proven upper bound on the objective")
    gap: float | None = Field(default=None, description="(bound - objective) / objective")
    time_s: float
    nodes: int | None = None
    method: str | None = None
    columns: int | None = None
    scip_status: str | None = None
    scip_gap: float | None = None
    admitted: int
    unplaced: list[str] = Field(default_factory=list)
    jobs: list[JobPlacement]
    servers: list[ServerUse]
    notes: list[str] = Field(default_factory=list)


PartTuple = tuple[int, int, float, float]  # server index, gpus, cpus, memory_gb


def make_placement(
    inst: Instance,
    policy: str,
    admitted: list[int],
    parts: dict[int, list[PartTuple]],
    status: str,
    time_s: float,
    **extra: object,
) -> Placement:
    """Assemble the result from per-job parts; throughput is read from each job's table."""
    jobs_out: list[JobPlacement] = []
    use = [[0, 0.0, 0.0, []] for _ in inst.servers]  # type: list[list]
    obj = 0.0
    for j, tab in enumerate(inst.jobs):
        ps = parts.get(j)
        if not ps:
            jobs_out.append(JobPlacement(job=tab.name, gpus=tab.gpus, placed=False))
            continue
        c = sum(p[2] for p in ps)
        m = sum(p[3] for p in ps)
        t = tab.throughput_at(c, m) if tab.gpus <= inst.max_gpus else tab.prop_throughput
        src = next(
            (
                x.source
                for x in tab.configs
                if abs(x.cpus - c) < 1e-6 and abs(x.memory_gb - m) < 1e-6
            ),
            None,
        )
        obj += t / tab.prop_throughput
        out_parts = []
        for s, g, pc, pm in ps:
            srv = inst.servers[s]
            out_parts.append(Part(server=srv.name, gpus=g, cpus=pc, memory_gb=pm))
            use[s][0] += g
            use[s][1] += pc
            use[s][2] += pm
            use[s][3].append(tab.name)
        jobs_out.append(
            JobPlacement(
                job=tab.name,
                gpus=tab.gpus,
                placed=True,
                cpus=c,
                memory_gb=m,
                throughput=t,
                normalised=t / tab.prop_throughput,
                source=src,
                parts=out_parts,
            )
        )
    servers_out = [
        ServerUse(
            server=s.name,
            kind=inst.kinds[s.kind].name,
            gpus=s.gpus,
            cpus=s.cpus,
            memory_gb=s.memory_gb,
            gpus_used=int(u[0]),
            cpus_used=float(u[1]),
            memory_used_gb=float(u[2]),
            jobs=list(u[3]),
        )
        for s, u in zip(inst.servers, use, strict=True)
    ]
    unplaced = [inst.jobs[j].name for j in admitted if not parts.get(j)]
    return Placement(
        policy=policy,
        status=status,
        objective=obj,
        time_s=time_s,
        admitted=len(admitted),
        unplaced=unplaced,
        jobs=jobs_out,
        servers=servers_out,
        **extra,  # type: ignore[arg-type]
    )
