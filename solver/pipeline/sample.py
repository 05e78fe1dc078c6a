"""Jobs for the batch pipeline: from real inference profiles, or sampled as the seed does.

A chain is what one device's profile says about a network: the time of every prefix [0, k)
and suffix [k, L) of layers, and the bytes of the tensor at every cut. Times of runs of layers
come from a shortest path over the measured bundles (DIME: a run of layers does not cost the
sum of its layers), so a profile with bundles up to length B still prices every prefix.

Sampling (the seed's experiment): the remote device's chain is fixed (a profile's, or the
built-in resnet18-like default); job j's local device is alpha_j times slower, alpha_j drawn
uniformly (or log-uniformly) from [alpha_min, alpha_max]; the communication time at cut k is
bytes(k) / bandwidth + latency, or uniform in [lower, upper] per job and cut. Cut L (all
local) sends nothing. Everything draws from one numpy Generator seeded with `seed` (numpy is
imported when sampling, so that the problem model stays light).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from solver.pipeline.jobs import Job, SplitOption

if TYPE_CHECKING:
    import numpy as np

    from harness.profile import InferSection


@dataclass(frozen=True)
class Chain:
    name: str
    cut_names: list[str]
    prefix_s: list[float]  # L + 1 entries: time of layers [0, k)
    suffix_s: list[float]  # L + 1 entries: time of layers [k, L)
    cut_bytes: list[int]  # L + 1 entries: bytes crossing at cut k, per batch

    @property
    def num_layers(self) -> int:
        return len(self.prefix_s) - 1


# A resnet18-like chain at batch 1 on a modest server: stem, four stages, pool, fc.
# Remote seconds per layer and the fp32 bytes of the tensor entering each layer.
_DEFAULT_LAYERS = ["stem", "layer1", "layer2", "layer3", "layer4", "avgpool", "fc"]
_DEFAULT_REMOTE_S = [0.0030, 0.0040, 0.0035, 0.0035, 0.0040, 0.0002, 0.0005]
_DEFAULT_BYTES = [602112, 802816, 802816, 401408, 200704, 100352, 2048, 4000]


def default_chain() -> Chain:
    pre = [0.0]
    for t in _DEFAULT_REMOTE_S:
        pre.append(pre[-1] + t)
    total = pre[-1]
    return Chain(
        name="default-resnet18-like",
        cut_names=["input", *_DEFAULT_LAYERS],
        prefix_s=pre,
        suffix_s=[total - p for p in pre],
        cut_bytes=list(_DEFAULT_BYTES),
    )


def _run_times(
    section: InferSection, batch_size: int, frequency_mhz: float | None
) -> dict[tuple[int, int], float]:
    return {
        (b.start, b.end): b.latency.median
        for b in section.bundles
        if b.batch_size == batch_size and b.frequency_mhz == frequency_mhz
    }


def _shortest(runs: dict[tuple[int, int], float], start: int, n: int) -> list[float]:
    """dist[k] = least time to run layers [start, k) as a sequence of measured bundles."""
    inf = float("inf")
    dist = [inf] * (n + 1)
    dist[start] = 0.0
    for a in range(start, n):
        if dist[a] == inf:
            continue
        for (s, e), t in runs.items():
            if s == a and dist[a] + t < dist[e]:
                dist[e] = dist[a] + t
    return dist


def chain_from_infer(
    section: InferSection,
    *,
    batch_size: int | None = None,
    frequency_mhz: float | None = None,
    precision: str = "fp32",
    where: str = "profile",
) -> Chain:
    """The chain of one device's inference profile; ValueError (one line) when it cannot."""
    bs = batch_size if batch_size is not None else min(section.batch_sizes)
    runs = _run_times(section, bs, frequency_mhz)
    n = len(section.layers)
    if not runs:
        raise ValueError(
            f"{where}: field 'infer.bundles': no bundle at batch size {bs} and frequency "
            f"{frequency_mhz} (have batch sizes {section.batch_sizes})"
        )
    pre = _shortest(runs, 0, n)
    suf = [_shortest(runs, k, n)[n] for k in range(n + 1)]
    missing = [k for k in range(n + 1) if pre[k] == float("inf") or suf[k] == float("inf")]
    if missing:
        raise ValueError(
            f"{where}: field 'infer.bundles': layers around cut {missing[0]} are not covered "
            f"by bundles at batch size {bs}"
        )
    per = "bytes_fp16" if precision == "fp16" else "bytes_fp32"
    return Chain(
        name=f"{section.model}@{section.device_name}",
        cut_names=["input"] + [layer.name for layer in section.layers],
        prefix_s=pre,
        suffix_s=suf,
        cut_bytes=[int(getattr(c, per)) * bs for c in section.cuts],
    )


def comm_seconds(nbytes: float, bandwidth_mbps: float, latency_ms: float = 0.0) -> float:
    return nbytes * 8.0 / (bandwidth_mbps * 1e6) + latency_ms / 1e3


def jobs_from_chains(
    local: Chain,
    remote: Chain,
    *,
    count: int,
    bandwidth_mbps: float,
    latency_ms: float = 0.0,
    name: str = "job",
    local_scale: float = 1.0,
    first_index: int = 0,
) -> list[Job]:
    """`count` identical jobs split between two measured devices over one link."""
    if local.num_layers != remote.num_layers:
        raise ValueError(
            f"local chain {local.name} has {local.num_layers} layers, remote chain "
            f"{remote.name} has {remote.num_layers}: not the same network"
        )
    n = local.num_layers
    opts = tuple(
        SplitOption(
            cut=k,
            local_s=local.prefix_s[k] * local_scale,
            comm_s=comm_seconds(remote.cut_bytes[k], bandwidth_mbps, latency_ms) if k < n else 0.0,
            remote_s=remote.suffix_s[k],
        )
        for k in range(n + 1)
    )
    return [Job(f"{name}-{first_index + i}", opts) for i in range(count)]


def sample_alphas(
    rng: np.random.Generator, n: int, alpha_min: float, alpha_max: float, log_uniform: bool
) -> np.ndarray:
    import numpy as np

    if alpha_min <= 0 or alpha_max < alpha_min:
        raise ValueError(
            f"alpha range: expected 0 < alpha-min <= alpha-max, got [{alpha_min}, {alpha_max}]"
        )
    if log_uniform:
        return np.exp(rng.uniform(np.log(alpha_min), np.log(alpha_max), size=n))
    return rng.uniform(alpha_min, alpha_max, size=n)


def sample_jobs(
    chain: Chain | None = None,
    *,
    num_jobs: int = 5,
    seed: int = 1,
    alpha_min: float = 1.0,
    alpha_max: float = 10.0,
    log_uniform: bool = False,
    comms_uniform: bool = False,
    lower_bound: float = 0.005,
    upper_bound: float = 0.05,
    bandwidth_mbps: float = 100.0,
    latency_ms: float = 0.0,
) -> list[Job]:
    """The seed's sampled batch: alpha-scaled local times, bandwidth or uniform comms."""
    if num_jobs < 1:
        raise ValueError(f"num-jobs: expected >= 1, got {num_jobs}")
    if comms_uniform and not 0 <= lower_bound <= upper_bound:
        raise ValueError(
            "comms bounds: expected 0 <= lower-bound <= upper-bound, "
            f"got [{lower_bound}, {upper_bound}]"
        )
    if not comms_uniform and bandwidth_mbps <= 0:
        raise ValueError(f"bandwidth: expected > 0 Mbps, got {bandwidth_mbps}")
    import numpy as np

    ch = chain or default_chain()
    rng = np.random.default_rng(seed)
    alphas = sample_alphas(rng, num_jobs, alpha_min, alpha_max, log_uniform)
    n = ch.num_layers
    jobs: list[Job] = []
    for j in range(num_jobs):
        if comms_uniform:
            comm: Sequence[float] = [*rng.uniform(lower_bound, upper_bound, size=n).tolist(), 0.0]
        else:
            comm = [comm_seconds(ch.cut_bytes[k], bandwidth_mbps, latency_ms) for k in range(n)]
            comm = [*comm, 0.0]
        opts = tuple(
            SplitOption(
                cut=k,
                local_s=float(alphas[j]) * ch.prefix_s[k],
                comm_s=float(comm[k]),
                remote_s=ch.suffix_s[k],
            )
            for k in range(n + 1)
        )
        jobs.append(Job(f"job-{j}", opts))
    return jobs
