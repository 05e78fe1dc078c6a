"""Train Profiles from measured seconds per batch, for the cost model's and the hybrid kind's
tests and benches: one ok probe per (CPU cap, [seconds per batch, ...]) point; and a set of
them that follows a known law (`true_step`), for the cost model to learn.

A profile names the host it was measured on: pass `host` (harness.telemetry.host.host_facts())
when the times were really measured here; synthetic times get the factory's made-up host.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from typing import Any

from harness import __version__
from harness.profile import (
    Caps,
    HostFacts,
    Outcome,
    Probe,
    Profile,
    Stat,
    TrainSection,
    make_profile_id,
    now,
)
from harness.spec import JobSpec

SYNTHETIC_HOST = HostFacts(
    hostname="factory",
    cpu_model="synthetic",
    cores=8,
    memory_gb=32.0,
    os="linux",
    python_version="3.11",
)


def timed_train_profile(
    job: JobSpec,
    device: str,
    points: Sequence[tuple[float, Sequence[float]]],
    batch_size: int | None = None,
    host: HostFacts | None = None,
    options: dict[str, Any] | None = None,
) -> Profile:
    """A train Profile of `job` on `device` ('cpu' or 'cuda': one GPU per probe).

    batch_size overrides the job's (one profile per batch size); `options` says how it was
    measured; `host` defaults to SYNTHETIC_HOST.
    """
    spec = job.model_copy(update={"batch_size": batch_size}) if batch_size else job
    created = now()
    gpus = 1 if device == "cuda" else 0
    facts = host if host is not None else SYNTHETIC_HOST
    probes = [
        Probe(
            id=f"cpus={cpus:g},gpus={gpus}",
            caps=Caps(cpus=cpus, gpus=gpus),
            backend="local",
            outcome=Outcome.ok,
            started=created,
            duration_s=float(sum(times)),
            throughput=Stat.of([spec.batch_size / t for t in times]),
            timings={"batch": Stat.of(list(times))},
        )
        for cpus, times in points
    ]
    return Profile(
        id=make_profile_id(spec.name, facts.hostname, created, f"{device}{spec.batch_size}"),
        created=created,
        harness_version=__version__,
        kind="train",
        job=spec,
        host=facts,
        backend="local",
        options=dict(options or {}),
        train=TrainSection(probes=probes),
    )


# ---------------------------------------------------------------- a known law to learn

WORK = {"simple_cnn": 2e-5, "resnet18_2d": 4e-4, "cnn3d": 1e-4}
SHAPES = {
    "simple_cnn": [[3, 28, 28], [1, 64, 64]],
    "resnet18_2d": [[3, 28, 28], [3, 64, 64]],
    "cnn3d": [[1, 28, 28, 28]],
}


def true_step(model: str, batch: int, dims: Sequence[int], cpus: float, device: str) -> float:
    """A plausible law with a fixed overhead (which a pure power law only approximates)."""
    spatial = math.prod(dims[1:]) / 784
    work = WORK[model] * batch * spatial * (1 + 0.1 * dims[0])
    if device == "cuda":
        return 0.003 + work / 40
    return 0.002 + work / cpus**0.8


def law_profiles(seed: int = 0, noise: float = 0.03) -> list[Profile]:
    """The law of `true_step` with lognormal noise: 5 shapes x cpu/cuda x 5 batch sizes, each
    profile with probes at 1, 2 and 4 CPUs of 5 steps."""
    rng = random.Random(seed)
    out = []
    for model, shapes in SHAPES.items():
        for dims in shapes:
            job = JobSpec(name=f"{model}-{dims[-1]}", model=model, input_shape=dims, num_classes=9)
            for device in ("cpu", "cuda"):
                for batch in (8, 16, 32, 64, 128):
                    pts = []
                    for cpus in (1.0, 2.0, 4.0):
                        t = true_step(model, batch, dims, cpus, device)
                        pts.append((cpus, [t * math.exp(rng.gauss(0, noise)) for _ in range(5)]))
                    out.append(timed_train_profile(job, device, pts, batch_size=batch))
    return out
