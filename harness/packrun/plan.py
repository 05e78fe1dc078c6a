"""From a packing solution to the jobs of one server to run, with their caps and job specs.

The server: `--server NAME`, else the one holding the most whole jobs whose placed CPUs fit
this host side by side (each job takes ceil(cpus) cores of its own). A server whose jobs need
more cores than the host has would run them on shared cores and measure the fight: refused in
one line (PackPlanError, exit 2) before anything starts, unless `allow_oversubscribe`, and
then the plan says so (`oversubscribed`). Each job's spec is its training profile's `job`; the
prediction is the placement's images/s (the interference factor applied where one was used)
beside the table's images/s alone. Every bad input is one line naming the file and field.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.profile import Profile, ProfileError, load_profile, read_json
from solver.packing.solution import JobPlacement, PackingSolution, Placement


class PackPlanError(ValueError):
    """A packing solution that cannot be run here; one line naming file and field."""


@dataclass
class PlannedJob:
    name: str
    profile: Path
    spec: dict[str, Any]  # the profile's job (JobSpec as JSON)
    cpus: float
    memory_gb: float
    gpus: int  # GPUs given to the container (0: runs on the CPU)
    placed_gpus: int  # GPUs the decision placed
    predicted: float  # images/s the decision predicts on its server (factor applied)
    predicted_alone: float  # images/s of its table at these caps, no interference

    @property
    def cores(self) -> int:
        return max(1, math.ceil(self.cpus - 1e-9))


@dataclass
class PackPlan:
    solution: Path
    server: str
    kind: str
    factor: float | None  # interference factor the solution used on this kind
    jobs: list[PlannedJob]
    host_cpus: int
    oversubscribed: bool = False
    notes: list[str] = field(default_factory=list)


def read_packing(path: Path) -> PackingSolution:
    from pydantic import ValidationError

    raw = read_json(path, "a solution JSON (written by `harness solve`)", PackPlanError)
    try:
        return PackingSolution.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(x) for x in err["loc"]) or "(top level)"
        raise PackPlanError(f"{path}: field '{loc}': {err['msg']}") from None


def _whole_jobs(placement: Placement, server: str) -> list[JobPlacement]:
    """The jobs placed on `server` in one part (a split job's part is not a job to run)."""
    return [
        j for j in placement.jobs if j.placed and len(j.parts) == 1 and j.parts[0].server == server
    ]


def _cores(jobs: list[JobPlacement]) -> int:
    return sum(max(1, math.ceil(j.cpus - 1e-9)) for j in jobs)


def pick_server(
    path: Path, placement: Placement, host_cpus: int, server: str | None, allow: bool
) -> tuple[str, bool]:
    """The server to run and whether its jobs need more cores than the host has."""
    names = [s.server for s in placement.servers]
    if server is not None:
        if server not in names:
            shown = ", ".join(names[:8]) + (", ..." if len(names) > 8 else "")
            raise PackPlanError(f"--server: {server!r} is not a server of {path} ({shown})")
        jobs = _whole_jobs(placement, server)
        if not jobs:
            raise PackPlanError(f"--server: {server} holds no whole job in {path}")
        return server, _refuse_shared(path, server, jobs, host_cpus, allow)
    held = [(s, _whole_jobs(placement, s)) for s in names]
    held = [(s, js) for s, js in held if js]
    if not held:
        raise PackPlanError(f"{path}: field 'placements.scip': no server holds a whole job")
    fits = [(s, js) for s, js in held if _cores(js) <= host_cpus]
    if fits:
        return max(fits, key=lambda sj: len(sj[1]))[0], False
    s, js = max(held, key=lambda sj: len(sj[1]))
    return s, _refuse_shared(path, s, js, host_cpus, allow)


def _refuse_shared(
    path: Path, server: str, jobs: list[JobPlacement], host_cpus: int, allow: bool
) -> bool:
    need = _cores(jobs)
    if need <= host_cpus:
        return False
    if not allow:
        raise PackPlanError(
            f"{path}: server {server}'s {len(jobs)} jobs need {need} cores of their own "
            f"({', '.join(f'{j.job} {j.cpus:g}' for j in jobs)} CPUs), this host has "
            f"{host_cpus}: their containers would share cores; pick another --server or pass "
            "--allow-oversubscribe to run them anyway (recorded)"
        )
    return True


def find_profile(ref: str, path: Path, extra: list[Path], where: str) -> Path:
    """The profile file a job names: the path as given, beside the solution, in `extra`
    (--profiles, by path or job name), or under ./profiles (by file or job name)."""
    p = Path(ref)
    stripped = Path(*[x for x in p.parts if x != ".."]) if p.parts else p
    cands = [p, path.parent / p, path.parent / p.name, stripped, Path("profiles") / p.name]
    cands += [e for e in extra if e.name == p.name or str(e) == ref]
    for c in cands:
        if c.is_file():
            return c
    for c in [*extra, *sorted(Path("profiles").glob("*.json"))]:
        try:
            if c.is_file() and load_profile(c).job.name == ref:
                return c
        except ProfileError:
            continue
    raise PackPlanError(f"{path}: field '{where}': profile {ref!r} not found (try --profiles)")


def _load(p: Path, path: Path, where: str) -> Profile:
    try:
        prof = load_profile(p)
    except ProfileError as exc:
        raise PackPlanError(f"{path}: field '{where}': {exc}") from None
    if prof.kind != "train" or prof.train is None:
        raise PackPlanError(f"{path}: field '{where}': {p} is not a training profile")
    return prof


def _measured_gpus(prof: Profile) -> int:
    assert prof.train is not None
    return max([0] + [pr.caps.gpus for pr in prof.train.probes])


def _job_of(
    jp: JobPlacement, ref: str | None, path: Path, extra: list[Path], host_gpus: int, factor: float
) -> tuple[PlannedJob, str | None]:
    """One placed job to run (its profile's spec, its caps) and a note on its GPUs, if any."""
    where = f"problem.jobs.{jp.job}.profile"
    if ref is None:
        raise PackPlanError(
            f"{path}: field '{where}': job {jp.job} has an inline throughput table, no "
            "profile: there is no job spec to run"
        )
    pfile = find_profile(ref, path, extra, where)
    prof = _load(pfile, path, where)
    on_gpu = _measured_gpus(prof) > 0 and host_gpus >= jp.gpus
    note = None
    if not on_gpu:
        why = "not available on this host" if host_gpus < jp.gpus else "not used"
        note = (
            f"GPUs {why}: the jobs run on the CPU, as their profiles were measured (placed "
            "GPUs kept as slots)"
        )
    job = PlannedJob(
        name=jp.job,
        profile=pfile,
        spec=prof.job.model_dump(mode="json"),
        cpus=jp.cpus,
        memory_gb=jp.memory_gb,
        gpus=jp.gpus if on_gpu else 0,
        placed_gpus=jp.gpus,
        predicted=jp.throughput,
        predicted_alone=jp.throughput / factor,
    )
    return job, note


def plan_of(
    path: Path,
    host_cpus: int,
    host_gpus: int,
    server: str | None = None,
    allow_oversubscribe: bool = False,
    profiles: list[Path] | None = None,
) -> PackPlan:
    """The server to run, its jobs' caps, specs and predictions (see the module's doc)."""
    sol = read_packing(path)
    placement = sol.best
    if placement is None:
        raise PackPlanError(f"{path}: field 'placements.scip': no SCIP placement to run")
    name, over = pick_server(path, placement, host_cpus, server, allow_oversubscribe)
    use = next(s for s in placement.servers if s.server == name)
    factor = sol.interference.get(use.kind)
    # the factor the placement applied to these jobs (a server holding two jobs or more)
    applied = factor if factor is not None and len(use.jobs) >= 2 else 1.0
    refs = {j.name: j.profile for j in sol.problem.jobs}
    jobs: list[PlannedJob] = []
    notes: list[str] = []
    for jp in _whole_jobs(placement, name):
        job, note = _job_of(jp, refs.get(jp.job), path, profiles or [], host_gpus, applied)
        jobs.append(job)
        if note is not None and note not in notes:
            notes.append(note)
    if over:
        notes.append(
            f"oversubscribed: {sum(j.cores for j in jobs)} cores asked of {host_cpus} "
            "(--allow-oversubscribe); the jobs share cores, recorded per job"
        )
    if factor is None:
        notes.append("the solution used no interference factor: predicted = alone")
    return PackPlan(path, name, use.kind, factor, jobs, host_cpus, over, notes)
