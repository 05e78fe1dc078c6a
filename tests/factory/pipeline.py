"""Batch-pipeline instances for the solver tests: random jobs, hand-written jobs, the
brute-force optimum (every order, every split: the oracle the exact methods are held to), and a
small inference profile whose chain times are known by hand.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Sequence

from harness.profile import (
    BundleTiming,
    CutPoint,
    HostFacts,
    InferSection,
    Layer,
    Profile,
    Stat,
    now,
)
from harness.spec import JobSpec
from solver.pipeline.check import makespan_of
from solver.pipeline.jobs import Job, SplitOption


def random_jobs(rng: random.Random, n: int, s: int) -> list[Job]:
    """n jobs of s split options each, every stage time uniform in [0, 10]."""
    return [
        Job(
            f"j{i}",
            tuple(
                SplitOption(k, rng.uniform(0, 10), rng.uniform(0, 10), rng.uniform(0, 10))
                for k in range(s)
            ),
        )
        for i in range(n)
    ]


def job(name: str, *times: tuple[float, float, float]) -> Job:
    """A job whose option k (cut k) has the k-th (local, comm, remote) times."""
    return Job(name, tuple(SplitOption(k, *t) for k, t in enumerate(times)))


def brute_force(jobs: Sequence[Job], fixed: Sequence[int] | None = None) -> float:
    """The least makespan over every order and every split choice (or the `fixed` splits)."""
    split_sets = [fixed] if fixed else itertools.product(*[range(len(j.options)) for j in jobs])
    return min(
        makespan_of(jobs, order, list(splits))
        for splits in split_sets
        for order in itertools.permutations(range(len(jobs)))
    )


CHAIN_LAYER_S = (0.010, 0.020, 0.005)  # per layer, times `scale`; a bundle costs 0.9 of its sum
CHAIN_CUT_BYTES = (4000, 8000, 2000, 400)


def chain_profile(device: str, scale: float, model: str = "tiny") -> Profile:
    """A generated (not measured) inference profile of a 3-layer chain on `device`: every
    bundle [a, b) at batch 1 takes scale * 0.9 * the sum of its layers' CHAIN_LAYER_S."""
    layers = [Layer(index=i, name=f"l{i}", kind="Conv2d") for i in range(3)]
    cuts = [
        CutPoint(
            index=i,
            after=None if i == 0 else f"l{i - 1}",
            shape=[s // 4],
            numel=s // 4,
            bytes_fp32=s,
            bytes_fp16=s // 2,
        )
        for i, s in enumerate(CHAIN_CUT_BYTES)
    ]
    bundles = [
        BundleTiming(
            start=a, end=b, batch_size=1, latency=Stat.of([scale * 0.9 * sum(CHAIN_LAYER_S[a:b])])
        )
        for a in range(3)
        for b in range(a + 1, 4)
    ]
    return Profile(
        id=f"{model}-{device}",
        created=now(),
        harness_version="test",
        kind="infer",
        job=JobSpec(name=model, kind="infer", model=model),
        host=HostFacts(
            hostname=device, cpu_model="x", cores=2, memory_gb=1, os="linux", python_version="3.11"
        ),
        backend="local",
        infer=InferSection(
            device_name=device,
            model=model,
            layers=layers,
            cuts=cuts,
            batch_sizes=[1],
            max_bundle_len=3,
            bundles=bundles,
        ),
    )
