"""The containers of a packing validation: each job alone, then the server's jobs together.

Alone (first, so that each job's dataset is made before the together run): each job by itself
on a lease of its own cores, at the same caps. Together: one lease of disjoint cores for all
the jobs (harness/cores.py: around what other harness probes hold; refused in one line when
they do not fit, unless oversubscription was allowed, and then the shared cores are recorded),
every container started at once, one thread each. Each run is a fixed count of measured
batches (after warm-up ones); in the together run a job whose batches are shorter (alone:
measured; else predicted) runs proportionally more of them (at most MAX_STRETCH times the
count), so the jobs end near one another and most batches overlap. Records are stamped with
the host clock as they arrive (measure.py picks the overlapping ones).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.backends.base import ProbeRequest, ProbeRun
from harness.packrun.measure import Stamped, batches_of, rate_alone
from harness.packrun.plan import PackPlan, PlannedJob
from harness.profile import Caps, CoreShare

if TYPE_CHECKING:
    from harness.backends.docker import DockerBackend

MAX_STRETCH = 4


@dataclass
class RunOptions:
    batches: int = 6  # measured batches per job (the slowest job's, together)
    warmup: int = 2
    timeout_s: float = 900.0
    alone: bool = True


@dataclass
class JobRun:
    run: ProbeRun | None
    stamped: Stamped
    cpuset: list[int]
    batches: int


@dataclass
class PackRun:
    together: dict[str, JobRun]
    alone: dict[str, JobRun]
    shared: list[CoreShare] = field(default_factory=list)


def together_counts(
    jobs: list[PlannedJob], batches: int, alone: dict[str, float] | None = None
) -> dict[str, int]:
    """Measured batches per job in the together run: the slowest job's batch (by its images/s
    measured alone, else predicted) sets the time; the others fill it, up to MAX_STRETCH times
    `batches`."""
    rate = {j.name: (alone or {}).get(j.name) or j.predicted for j in jobs}
    secs = {j.name: _batch_images(j) / max(rate[j.name], 1e-9) for j in jobs}
    longest = max(secs.values())
    return {
        n: min(MAX_STRETCH * batches, max(batches, round(batches * longest / s)))
        for n, s in secs.items()
    }


def _batch_images(j: PlannedJob) -> float:
    return float(j.spec.get("batch_size") or 1)


def request_of(job: PlannedJob, work: Path, tag: str, count: int, opts: RunOptions) -> ProbeRequest:
    spec = dict(job.spec)
    its = dict(spec.get("iterations") or {})
    its.update(warmup=opts.warmup, measured=count, min_duration_s=0.0, stop="fixed")
    spec["iterations"] = its
    caps = Caps(
        cpus=job.cpus,
        memory_gb=job.memory_gb,
        gpus=job.gpus,
        gpu_ids=None,
    )
    return ProbeRequest(
        spec=spec, caps=caps, workdir=work / f"{tag}-{_safe(job.name)}", timeout_s=opts.timeout_s
    )


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in name)[:60]


def _one(
    backend: DockerBackend, req: ProbeRequest, cpuset: list[int], out: JobRun, name: str
) -> None:
    from harness.backends.docker import Placement

    def stamp(rec: dict[str, Any]) -> None:
        out.stamped.append((time.monotonic(), rec))

    place = Placement(cpuset=cpuset, name=f"harness-{backend.session}-{name}"[:120])
    out.run = backend.run_placed(req, stamp, place)


def run_together(
    backend: DockerBackend,
    plan: PackPlan,
    work: Path,
    opts: RunOptions,
    alone: dict[str, float] | None = None,
) -> tuple[dict[str, JobRun], list[CoreShare]]:
    from harness.cores import Want

    counts = together_counts(plan.jobs, opts.batches, alone)
    wants = [Want(j.name, j.cpus) for j in plan.jobs]
    what = f"server {plan.server}'s {len(plan.jobs)} jobs"
    runs: dict[str, JobRun] = {}
    with backend.lease(wants, what=what) as grant:
        threads = []
        for gi, j in enumerate(plan.jobs):
            req = request_of(j, work, "together", counts[j.name], opts)
            if j.gpus:
                req.caps.gpu_ids = list(range(gi * j.gpus, (gi + 1) * j.gpus))
            runs[j.name] = JobRun(None, [], grant.cpusets[j.name], counts[j.name])
            t = threading.Thread(
                target=_one,
                args=(backend, req, grant.cpusets[j.name], runs[j.name], f"together-{gi}"),
                daemon=True,
            )
            threads.append(t)
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        shared = list(grant.shared)
    return runs, shared


def run_alone(
    backend: DockerBackend, plan: PackPlan, work: Path, opts: RunOptions
) -> dict[str, JobRun]:
    from harness.cores import Want

    runs: dict[str, JobRun] = {}
    for gi, j in enumerate(plan.jobs):
        req = request_of(j, work, "alone", opts.batches, opts)
        if j.gpus:
            req.caps.gpu_ids = list(range(j.gpus))
        with backend.lease([Want(j.name, j.cpus)], what=f"job {j.name} alone") as grant:
            runs[j.name] = JobRun(None, [], grant.cpusets[j.name], opts.batches)
            _one(backend, req, grant.cpusets[j.name], runs[j.name], f"alone-{gi}")
    return runs


def run_plan(backend: DockerBackend, plan: PackPlan, work: Path, opts: RunOptions) -> PackRun:
    """Alone first: each job's dataset is made then (once per session), so that the together
    run's containers reach their batches at about the same time."""
    alone = run_alone(backend, plan, work, opts) if opts.alone else {}
    rates = {n: rate_alone(batches_of(r.stamped)).images_per_s for n, r in alone.items()}
    known = {n: r for n, r in rates.items() if r}
    together, shared = run_together(backend, plan, work, opts, known)
    return PackRun(together, alone, shared)
