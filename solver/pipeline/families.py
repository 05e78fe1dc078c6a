"""Named families of batch-pipeline instances, beyond the seed's sampler, for benches and tests.

Each family is a function (num_jobs, seed) -> jobs, deterministic in its seed (one numpy
Generator). They stress shapes the sampler never makes:

    sampled        the seed's experiment (sample.py: alpha in [1, 10], 100 Mbit/s)
    bandwidth-10x  per-job link bandwidths log-uniform over a factor 10 (20-200 Mbit/s)
    local-remote   each job's best option is all-local (a fast local device) or all-remote
                   (a slow one beside a fast link), half and half
    near-equal     options whose stage sums are within 1% of each other, spread differently
                   over the three machines (the split choice is all about balance)
    dominated      30 options per job, of which 4 are on the Pareto front and 26 are worse
                   on every stage (the pruning's work)
    few-options    2 options per job
    random-a       untuned: 1-6 options per job, stage times exponential with random means
    random-b       untuned: 3 options per job, lognormal stage times, 20% of them zero

The two random families were written once and not tuned on: their seeds are the bench's.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from solver.pipeline.jobs import Job, SplitOption
from solver.pipeline.sample import comm_seconds, default_chain, sample_jobs

Family = Callable[[int, int], list[Job]]


def _chain_jobs(
    alphas: np.ndarray, bandwidths: np.ndarray, remote_scale: np.ndarray | None = None
) -> list[Job]:
    """Jobs on the default chain: job j's local device alpha_j times slower than the remote
    one (times remote_scale_j), its link bandwidths_j Mbit/s."""
    ch = default_chain()
    n_layers = ch.num_layers
    jobs = []
    for j, (alpha, bw) in enumerate(zip(alphas, bandwidths, strict=True)):
        rs = 1.0 if remote_scale is None else float(remote_scale[j])
        opts = tuple(
            SplitOption(
                cut=k,
                local_s=float(alpha) * ch.prefix_s[k],
                comm_s=comm_seconds(ch.cut_bytes[k], float(bw)) if k < n_layers else 0.0,
                remote_s=rs * ch.suffix_s[k],
            )
            for k in range(n_layers + 1)
        )
        jobs.append(Job(f"job-{j}", opts))
    return jobs


def sampled(n: int, seed: int) -> list[Job]:
    return sample_jobs(num_jobs=n, seed=seed)


def bandwidth_10x(n: int, seed: int) -> list[Job]:
    rng = np.random.default_rng(seed)
    alphas = rng.uniform(1.0, 10.0, n)
    bw = np.exp(rng.uniform(np.log(20.0), np.log(200.0), n))
    return _chain_jobs(alphas, bw)


def local_remote(n: int, seed: int) -> list[Job]:
    rng = np.random.default_rng(seed)
    local = rng.random(n) < 0.5
    # a local device as fast as the server and a slow link: all-local is best; a local device
    # 20-40x slower beside a gigabit link: all-remote is best
    alphas = np.where(local, rng.uniform(0.6, 1.0, n), rng.uniform(20.0, 40.0, n))
    bw = np.where(local, rng.uniform(5.0, 20.0, n), rng.uniform(800.0, 1200.0, n))
    return _chain_jobs(alphas, bw)


def near_equal(n: int, seed: int) -> list[Job]:
    rng = np.random.default_rng(seed)
    jobs = []
    for j in range(n):
        total = rng.uniform(1.0, 3.0)
        opts = []
        for k in range(6):
            share = rng.dirichlet((1.0, 1.0, 1.0))
            times = share * total * rng.uniform(0.995, 1.005)
            opts.append(SplitOption(k, *(float(x) for x in times)))
        jobs.append(Job(f"job-{j}", tuple(opts)))
    return jobs


def dominated(n: int, seed: int) -> list[Job]:
    rng = np.random.default_rng(seed)
    jobs = []
    for j in range(n):
        front = []
        for _ in range(4):
            front.append(rng.uniform(0.1, 2.0, 3))
        opts = [SplitOption(k, *(float(x) for x in t)) for k, t in enumerate(front)]
        for k in range(4, 30):
            base = front[int(rng.integers(4))]
            worse = base + rng.uniform(0.0, 0.5, 3) + 1e-3
            opts.append(SplitOption(k, *(float(x) for x in worse)))
        order = rng.permutation(len(opts))
        opts = [SplitOption(i, *opts[o].times) for i, o in enumerate(order)]
        jobs.append(Job(f"job-{j}", tuple(opts)))
    return jobs


def few_options(n: int, seed: int) -> list[Job]:
    rng = np.random.default_rng(seed)
    jobs = []
    for j in range(n):
        a = rng.uniform(0.5, 2.0, 3)
        b = a[[1, 2, 0]] * rng.uniform(0.7, 1.3, 3)  # the work moved between the machines
        jobs.append(
            Job(f"job-{j}", (SplitOption(0, *map(float, a)), SplitOption(1, *map(float, b))))
        )
    return jobs


def random_a(n: int, seed: int) -> list[Job]:
    rng = np.random.default_rng(seed)
    means = rng.uniform(0.2, 2.0, 3)
    jobs = []
    for j in range(n):
        k = int(rng.integers(1, 7))
        opts = tuple(SplitOption(i, *(float(x) for x in rng.exponential(means))) for i in range(k))
        jobs.append(Job(f"job-{j}", opts))
    return jobs


def random_b(n: int, seed: int) -> list[Job]:
    rng = np.random.default_rng(seed)
    jobs = []
    for j in range(n):
        t = rng.lognormal(0.0, 0.8, (3, 3)) * (rng.random((3, 3)) >= 0.2)
        jobs.append(Job(f"job-{j}", tuple(SplitOption(i, *map(float, t[i])) for i in range(3))))
    return jobs


FAMILIES: dict[str, Family] = {
    "sampled": sampled,
    "bandwidth-10x": bandwidth_10x,
    "local-remote": local_remote,
    "near-equal": near_equal,
    "dominated": dominated,
    "few-options": few_options,
    "random-a": random_a,
    "random-b": random_b,
}
