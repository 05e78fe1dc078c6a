"""Gavel's throughputs file from training profiles, one per (job, node type).

Gavel's scheduler reads `{worker_type: {"('JOB TYPE', SCALE)": {"null": STEPS_PER_S, ...}}}`
(scheduler/utils.py `read_all_throughputs_json_v2`: the keys are `str((job_type, scale))`,
parsed back by `parse_job_type_tuple`; `null` is the job alone on the worker, other keys are
co-located pairs) and looks up `throughputs[worker_type][(job_type, scale_factor)]['null']`
for every worker type of the cluster it simulates, in steps (iterations) per second.

Here: the worker type is the profile's node (`host.node_label`, else the GPU model its probes
used, else the CPU model); the job type is `NAME (batch size B)`, as Gavel names its own; the
scale factor is the workers one run used (nodes x GPUs per node, at least 1); steps/s are the
images/s of the chosen probe over the images one step takes (a node's batch x nodes). The probe
is the one with the most CPUs (`at="max"`, the whole node given to the job) or the knee's
(`at="knee"`). Only `null` is written: co-located pairs were not measured (this harness runs
probes on cores of their own), so use Gavel without job packing. A job whose probes all
failed on a node type gets 0.0 there (it cannot run on it). Every job type must have a
profile on every worker type in the file: Gavel indexes them all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from harness.profile import Outcome, Probe, Profile

At = Literal["max", "knee"]


class GavelError(ValueError):
    """Profiles that cannot make a Gavel file; one line naming the profile and why."""


@dataclass(frozen=True)
class Entry:
    """One cell of the file: a job type's steps/s on a worker type at a scale factor."""

    worker_type: str
    job_type: str
    scale_factor: int
    steps_per_s: float
    source: str  # the profile (its file or id) it came from


def worker_type(profile: Profile) -> str:
    """The node type a profile was measured on: its label, else its GPU model, else CPU model."""
    host = profile.host
    if host.node_label:
        return host.node_label
    used_gpus = profile.train is not None and any(p.caps.gpus for p in profile.train.probes)
    if used_gpus and host.gpus:
        return host.gpus[0].name
    return host.cpu_model


def job_type(profile: Profile) -> str:
    batch = profile.options.get("batch_size") or profile.job.batch_size
    return f"{profile.job.name} (batch size {batch})"


def chosen_probe(profile: Profile, at: At = "max") -> Probe | None:
    """The probe whose rate goes in the file: the most CPUs (at the sweep's own memory cap,
    not a memory-axis cell), or the knee's; None when no such probe ended ok."""
    assert profile.train is not None
    cap = profile.options.get("memory")
    ok = [
        p
        for p in profile.train.probes
        if p.outcome == Outcome.ok and p.throughput is not None and p.caps.memory_gb == cap
    ]
    if not ok:
        return None
    if at == "knee":
        search = profile.train.search
        if search is None or search.knee is None:
            raise GavelError(f"profile {profile.id}: --at knee: the profile has no knee")
        at_knee = [p for p in ok if abs(p.caps.cpus - search.knee.cpus) < 1e-9]
        if not at_knee:
            raise GavelError(
                f"profile {profile.id}: --at knee: no ok probe at the knee's "
                f"{search.knee.cpus:g} CPUs"
            )
        return at_knee[0]
    return max(ok, key=lambda p: (p.caps.cpus, p.started))


def entry(profile: Profile, source: str, at: At = "max") -> Entry:
    """The profile's cell (GavelError for a profile that is not a training one)."""
    if profile.kind != "train" or profile.train is None:
        raise GavelError(f"{source}: expected a training profile (kind train), got {profile.kind}")
    if "'" in profile.job.name:
        raise GavelError(f"{source}: job name {profile.job.name!r} has a quote Gavel cannot parse")
    nnodes = profile.train.nnodes
    probe = chosen_probe(profile, at)
    gpus = probe.caps.gpus if probe is not None else int(profile.options.get("num_gpus") or 0)
    steps = 0.0
    if probe is not None and probe.throughput is not None:
        steps = probe.throughput.median / (images_per_step(profile, probe) * nnodes)
    return Entry(worker_type(profile), job_type(profile), nnodes * max(1, gpus), steps, source)


def images_per_step(profile: Profile, probe: Probe) -> int:
    """Images one node's step took: the measured batches' size (a node's batch is split over
    its GPUs), else the batch the profile asked for."""
    sizes = [r.batch_size for r in probe.records or [] if not r.warmup]
    if sizes:
        return max(set(sizes), key=sizes.count)
    return int(profile.options.get("batch_size") or profile.job.batch_size)


def throughputs(entries: Sequence[Entry]) -> dict[str, dict[str, dict[str, float]]]:
    """The file's content; GavelError for a cell given twice or a job type missing on a
    worker type (Gavel looks every job type up on every worker type)."""
    seen: dict[tuple[str, str, int], Entry] = {}
    for e in entries:
        key = (e.worker_type, e.job_type, e.scale_factor)
        if key in seen:
            raise GavelError(
                f"{e.source}: {e.job_type} at scale factor {e.scale_factor} on worker type "
                f"{e.worker_type!r} is also in {seen[key].source}; give one profile per cell"
            )
        seen[key] = e
    workers = sorted({e.worker_type for e in entries})
    jobs = sorted({(e.job_type, e.scale_factor) for e in entries})
    for w in workers:
        for j, s in jobs:
            if (w, j, s) not in seen:
                have = next(e for e in entries if (e.job_type, e.scale_factor) == (j, s))
                raise GavelError(
                    f"{have.source}: {j} at scale factor {s} has no profile on worker type "
                    f"{w!r} (Gavel looks every job type up on every worker type): profile it "
                    f"there or leave that worker type's profiles out"
                )
    return {
        w: {str((j, s)): {"null": seen[(w, j, s)].steps_per_s} for j, s in jobs} for w in workers
    }
