"""Hybrid scheduling instances: random time matrices and their brute-force optimum, CPU-only
train profiles on disk, and a problem over them with a CPU/GPU mix."""

from __future__ import annotations

import itertools
import math
import random
from pathlib import Path
from typing import Any

from harness.profile import save_profile
from harness.spec import JobSpec
from tests.factory.timed_profiles import timed_train_profile


def brute_force(p: list[list[float]]) -> float:
    """The least makespan over every assignment (inf entries: the job cannot run there)."""
    n, m = len(p), len(p[0])
    best = math.inf
    for a in itertools.product(range(m), repeat=n):
        if any(math.isinf(p[j][a[j]]) for j in range(n)):
            continue
        best = min(best, max(sum(p[j][i] for j in range(n) if a[j] == i) for i in range(m)))
    return best


def random_instance(rng: random.Random, n: int, cpus: int, gpus: int) -> list[list[float]]:
    """CPU workers alike-ish, GPUs 3-30x faster per job, as a CPU/GPU mix looks."""
    p = []
    for _ in range(n):
        base = rng.uniform(1, 20)
        row = [base * rng.uniform(0.8, 1.3) for _ in range(cpus)]
        row += [base / rng.uniform(3, 30) for _ in range(gpus)]
        p.append(row)
    return p


def cpu_profiles(folder: Path) -> list[Path]:
    """CPU-only train profiles (no GPU here): a power law per model, batch and CPU cap,
    t = 0.001 + w * batch / cpus^0.8, at batches 8-64 and 1 and 2 CPUs."""
    paths = []
    for model, dims, w in [("simple_cnn", [3, 28, 28], 0.002), ("cnn3d", [1, 28, 28, 28], 0.02)]:
        job = JobSpec(name=f"{model}-j", model=model, input_shape=dims, num_classes=9)
        for batch in (8, 16, 32, 64):
            pts = [(c, [0.001 + w * batch / c**0.8] * 3) for c in (1.0, 2.0)]
            prof = timed_train_profile(job, "cpu", pts, batch_size=batch)
            path = folder / f"{model}-{batch}.json"
            save_profile(prof, path)
            paths.append(path)
    return paths


def problem() -> dict[str, Any]:
    """Two CPU workers and a GPU, four jobs of the models `cpu_profiles` measured (job 0 at a
    measured point, job 1 at a batch never measured), a GPU fallback of 20x + 2 ms."""
    return {
        "kind": "hybrid",
        "workers": [
            {"name": "cpu-a", "device": "cpu", "cpus": 2},
            {"name": "cpu-b", "device": "cpu", "cpus": 1},
            {"name": "gpu-0", "device": "cuda", "cpus": 2},
        ],
        "jobs": [
            {"name": f"j{i}", "model": m, "batch_size": b, "input_shape": d, "num_batches": nb}
            for i, (m, b, d, nb) in enumerate(
                [
                    ("simple_cnn", 32, [3, 28, 28], 100),
                    ("simple_cnn", 48, [3, 28, 28], 50),
                    ("cnn3d", 16, [1, 28, 28, 28], 20),
                    ("cnn3d", 64, [1, 28, 28, 28], 10),
                ]
            )
        ],
        "gpu_fallback": {"speedup": 20, "overhead_s": 0.002},
    }


def with_step_s(raw: dict[str, Any], step_s: dict[str, float]) -> dict[str, Any]:
    """The same problem with every job's seconds per batch given (no cost model needed)."""
    return dict(raw, jobs=[dict(j, step_s=step_s) for j in raw["jobs"]])
