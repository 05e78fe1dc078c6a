"""Profile: the JSON the harness writes and the only thing the solver reads.

Versioned (`schema_version`) and exported as JSON Schema (`harness schema`). A profile made on
a Jetson, an H100 or a 2-core laptop is solvable the same way. Units: seconds, bytes, joules,
MHz, GiB for memory caps. No torch import.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Final, Literal

from pydantic import ConfigDict, Field, model_validator

from harness.spec import JobSpec, Strict
from harness.stopping import DEFAULT_CONFIDENCE, median_interval

SCHEMA_VERSION: Final = "1.0"


# ---------------------------------------------------------------- statistics


class Stat(Strict):
    """Summary of repeated measurements of one quantity."""

    n: Annotated[int, Field(ge=0)]
    median: float
    mean: float
    p5: float
    p95: float
    p90: float | None = None
    p99: float | None = None
    min: float
    max: float
    cv: float = Field(description="coefficient of variation: std / mean (0 when mean is 0)")

    @classmethod
    def of(cls, values: list[float]) -> Stat:
        """Summary of a non-empty list; pure Python so the host never needs numpy for it."""
        if not values:
            raise ValueError("Stat.of needs at least one value")
        xs = sorted(float(v) for v in values)
        n = len(xs)
        mean = sum(xs) / n
        var = sum((x - mean) ** 2 for x in xs) / (n - 1) if n > 1 else 0.0
        cv = (var**0.5) / mean if mean else 0.0
        return cls(
            n=n,
            median=_quantile(xs, 0.5),
            mean=mean,
            p5=_quantile(xs, 0.05),
            p95=_quantile(xs, 0.95),
            p90=_quantile(xs, 0.90),
            p99=_quantile(xs, 0.99),
            min=xs[0],
            max=xs[-1],
            cv=cv,
        )


def _quantile(sorted_xs: list[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    if len(sorted_xs) == 1:
        return sorted_xs[0]
    pos = q * (len(sorted_xs) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(sorted_xs) - 1)
    frac = pos - lo
    return sorted_xs[lo] + (sorted_xs[hi] - sorted_xs[lo]) * frac


# ---------------------------------------------------------------- host


class GpuFact(Strict):
    index: int
    name: str
    uuid: str | None = None
    memory_gb: float | None = None
    driver_version: str | None = None
    sm_clock_mhz: float | None = None
    mem_clock_mhz: float | None = None
    supported_sm_clocks_mhz: list[float] = Field(default_factory=list)


class HostFacts(Strict):
    hostname: str
    cpu_model: str
    cores: int = Field(description="logical CPUs the host has")
    memory_gb: float
    os: str
    python_version: str
    torch_version: str | None = None
    torchvision_version: str | None = None
    cuda_version: str | None = None
    driver_version: str | None = None
    gpus: list[GpuFact] = Field(default_factory=list)
    cgroup_version: Literal["v1", "v2", "none"] = "none"
    docker_version: str | None = None
    node_label: str | None = Field(
        default=None, description="user-chosen name of the machine (e.g. 'jetson-nano', 'h100-a')"
    )


# ---------------------------------------------------------------- probes


class Outcome(StrEnum):
    ok = "ok"
    oom = "oom"
    crashed = "crashed"
    timed_out = "timed_out"
    refused = "refused"  # the probe could not be run as asked (e.g. clock locking not permitted)


class Caps(Strict):
    """What the harness asked for."""

    cpus: Annotated[float, Field(gt=0)]
    memory_gb: Annotated[float, Field(gt=0)] | None = None
    gpus: Annotated[int, Field(ge=0)] = 0
    gpu_ids: list[int] | None = None
    frequency_mhz: float | None = None


class Enforcement(Strict):
    """What was actually enforced, and how: a cap that was only asked for is not a cap."""

    cpu: str = Field(description="e.g. 'affinity(0,1)+cfs_quota(100000/100000)', 'docker --cpus'")
    cpuset: list[int] | None = None
    cpu_quota: float | None = Field(default=None, description="CPUs of CFS quota enforced")
    memory: str | None = Field(default=None, description="how memory was capped, or why it was not")
    memory_enforced: bool = False
    gpus: str | None = None
    frequency: str | None = None
    disk: str | None = Field(
        default=None, description="how the dataset disk's read bandwidth was capped, if it was"
    )
    torch_threads: int | None = None
    loader_workers: int | None = None


class CoreShare(Strict):
    """Cores that probes or nodes running on one host at the same time were given together:
    what they measured, they measured while competing for these cores."""

    cores: list[int]
    by: list[str] = Field(
        description="who shared them: the nodes of this probe (node0, node1, ...) and other "
        "probes running on the host then (their probe id and process)"
    )
    host: str | None = Field(default=None, description="the host the cores belong to")


class Grant(Strict):
    """What the probe was granted, read from inside it (harness/telemetry/grant.py): the CPUs
    it may run on, its cpuset cgroup, the tightest memory limit above it, its GPUs and node.
    Under Slurm these are the cluster's cgroup plugin's doing, not the harness's request."""

    node: str = Field(description="Slurm node name (SLURMD_NODENAME), else the host name")
    host: str | None = Field(default=None, description="the machine's host name")
    at: float | None = Field(default=None, description="when it was read, unix seconds")
    slurm_job: str | None = None
    affinity: list[int] = Field(default_factory=list, description="CPUs it may run on")
    cpuset: list[int] | None = Field(default=None, description="its cpuset cgroup's CPUs")
    cpuset_cgroup: str | None = None
    memory_limit_bytes: int | None = Field(
        default=None, description="tightest memory limit of its cgroup and their parents"
    )
    memory_cgroup: str | None = None
    gpus: str | None = Field(default=None, description="CUDA_VISIBLE_DEVICES as it saw it")


class BatchRecord(Strict):
    """One measured batch, the columns of the hybrid-scheduler seed. The one model that takes
    NaN: a diverging run's `loss` is NaN, a measurement, not an input error (it is written as
    null and read back as None, so the record stays readable)."""

    model_config = ConfigDict(extra="allow", allow_inf_nan=True)

    epoch: int = 0
    batch_idx: int
    global_step: int
    warmup: bool = False
    batch_size: int
    data_s: float | None = None
    forward_s: float | None = None
    backward_s: float | None = None
    step_s: float | None = None
    allreduce_s: float | None = None
    batch_s: float
    images_per_s: float
    loss: float | None = None
    lr: float | None = None
    rss_mb: float | None = None
    cuda_alloc_mb: float | None = None
    cuda_reserved_mb: float | None = None
    wall_s: float
    node_rank: int = 0
    device_type: Literal["cpu", "cuda"] | None = None
    device_index: int | None = None
    precision: Literal["fp32", "amp"] | None = None
    num_workers: int | None = None


class MedianCI(Strict):
    """How sure a measured median is, and why its stream stopped (harness/stopping.py).

    The order-statistic interval of the median at `confidence` (distribution-free); lo and hi
    are None below the fewest draws that have one (6 at 95%)."""

    quantity: Literal["images_per_s", "latency_s"]
    n: Annotated[int, Field(ge=0)] = Field(description="draws the interval is made of")
    lo: float | None = None
    hi: float | None = None
    rel_half_width: float | None = Field(default=None, description="(hi - lo) / (2 median)")
    confidence: float = Field(gt=0, lt=1)
    target_rel_ci: float | None = Field(default=None, description="the half-width aimed at")
    mode: Literal["fixed", "confidence"] = "fixed"
    stopped: Literal["target_met", "max_duration", "max_count", "fixed_count"] = Field(
        description="target_met: the interval reached the target; max_count / max_duration: "
        "the rule's bounds ended it first; fixed_count: fixed mode's count was done"
    )

    @classmethod
    def of(
        cls,
        values: list[float],
        quantity: Literal["images_per_s", "latency_s"],
        stop: dict[str, Any] | None = None,
    ) -> MedianCI:
        """The interval of `values`' median; the mode, target, confidence and reason from the
        workload's stop record (a fixed count at 95% when there is none: an external script
        runs its own loop)."""
        stop = stop or {}
        conf = float(stop.get("confidence") or DEFAULT_CONFIDENCE)
        iv = median_interval(values, conf)
        return cls(
            quantity=quantity,
            n=len(values),
            lo=iv.lo if iv else None,
            hi=iv.hi if iv else None,
            rel_half_width=iv.rel_half_width if iv and iv.median else None,
            confidence=conf,
            target_rel_ci=stop.get("target_rel_ci"),
            mode=stop.get("mode") or "fixed",
            stopped=stop.get("stopped") or "fixed_count",
        )


class MemoryCounters(Strict):
    """The probe's memory cgroup over its measured window (harness/telemetry/memcg.py).

    Counters are deltas over the window, None where this cgroup version does not report them;
    pages are the kernel's (4 KiB here), MB are 10^6 bytes."""

    cgroup_version: Literal["v1", "v2"]
    cgroup: str = Field(description="the cgroup dir read, as the probe saw it")
    own: bool = Field(description="the probe's own cgroup (False: one it shares with others)")
    window_s: float
    pgmajfault: int | None = Field(default=None, description="major page faults (read from disk)")
    pgfault: int | None = None
    pgpgin: int | None = Field(default=None, description="v1: pages charged to the cgroup")
    pgpgout: int | None = Field(default=None, description="v1: pages uncharged (freed, reclaimed)")
    pgscan: int | None = Field(default=None, description="pages reclaim scanned")
    pgsteal: int | None = Field(default=None, description="pages reclaim took")
    workingset_refault_file: int | None = Field(
        default=None, description="page-cache pages faulted back in soon after being reclaimed"
    )
    workingset_refault_anon: int | None = None
    failcnt: int | None = Field(
        default=None, description="v1: times a charge hit the limit (some kernels leave it 0)"
    )
    events_high: int | None = Field(default=None, description="v2: times over memory.high")
    events_max: int | None = Field(default=None, description="v2: times at memory.max")
    oom_kill: int | None = None
    pressure_some_s: float | None = Field(default=None, description="v2: some-task stall time")
    pressure_full_s: float | None = Field(default=None, description="v2: all-task stall time")
    cpu_user_s: float | None = None
    cpu_system_s: float | None = Field(default=None, description="kernel time (reclaim is here)")
    nr_throttled: int | None = Field(default=None, description="CFS periods throttled")
    throttled_s: float | None = None
    cache_mb_start: float | None = Field(default=None, description="page cache held at the start")
    cache_mb_end: float | None = None
    usage_mb_start: float | None = None
    usage_mb_end: float | None = None
    limit_mb: float | None = None

    @classmethod
    def of(cls, rec: dict[str, Any]) -> MemoryCounters:
        """From the workload's `memcg` record (harness.telemetry.memcg.window)."""
        d = rec.get("deltas") or {}
        start, end = rec.get("start") or {}, rec.get("end") or {}

        def s(key: str) -> float | None:
            return d[key] / 1e6 if d.get(key) is not None else None

        def mb(levels: dict[str, Any], key: str) -> float | None:
            return levels[key] / 1e6 if levels.get(key) is not None else None

        ints = [
            "pgmajfault",
            "pgfault",
            "pgpgin",
            "pgpgout",
            "pgscan",
            "pgsteal",
            "workingset_refault_file",
            "workingset_refault_anon",
            "failcnt",
            "events_high",
            "events_max",
            "oom_kill",
            "nr_throttled",
        ]
        return cls(
            cgroup_version=rec.get("cgroup_version", "v1"),
            cgroup=str(rec.get("cgroup", "")),
            own=bool(rec.get("own")),
            window_s=float(rec.get("window_s") or 0.0),
            **{k: d.get(k) for k in ints},
            pressure_some_s=s("pressure_some_us"),
            pressure_full_s=s("pressure_full_us"),
            cpu_user_s=s("cpu_user_us"),
            cpu_system_s=s("cpu_system_us"),
            throttled_s=s("throttled_us"),
            cache_mb_start=mb(start, "cache_bytes"),
            cache_mb_end=mb(end, "cache_bytes"),
            usage_mb_start=mb(start, "usage_bytes"),
            usage_mb_end=mb(end, "usage_bytes"),
            limit_mb=mb(end, "limit_bytes"),
        )


class NodeResult(Strict):
    """Per-node part of a multi-node probe."""

    rank: int
    host: str
    caps: Caps
    throughput: Stat | None = None
    comm_share: float | None = Field(
        default=None, description="share of a step spent in gradient all-reduce"
    )
    cpuset: list[int] | None = Field(
        default=None, description="the node's cores, read inside it (else the ones asked for)"
    )


class Probe(Strict):
    id: str = Field(description="stable key of the caps, used by --resume")
    caps: Caps
    enforced: Enforcement | None = None
    granted: Grant | None = Field(
        default=None, description="what the probe saw it was granted, read inside it"
    )
    backend: str
    image: str | None = None
    container: str | None = None
    outcome: Outcome
    exit_code: int | None = None
    reason: str | None = Field(default=None, description="why it ended that way (one line)")
    log_tail: list[str] = Field(default_factory=list)
    started: datetime
    duration_s: float
    startup_s: float | None = Field(default=None, description="probe start to first measured batch")
    throughput: Stat | None = Field(default=None, description="images/s over measured batches")
    timing: Literal["steps", "process"] | None = Field(
        default=None,
        description="external scripts: how throughput was timed. 'steps': per optimizer step "
        "(batch / step time, statistics over the measured steps); 'process': no step was seen, "
        "so batch x iterations over the script's whole process, start-up and imports included "
        "(a lower bound). None for the built-in workloads and in profiles written before it",
    )
    timings: dict[str, Stat] = Field(
        default_factory=dict,
        description="seconds per batch: data, forward, backward, allreduce, step, batch",
    )
    peak_rss_mb: float | None = None
    cpu_time_s: float | None = Field(default=None, description="CPU seconds used during the probe")
    disk_read_mb: float | None = Field(
        default=None,
        description="MB the measured batches read from storage (page-cache hits excluded); "
        "above the dataset's size when the memory cap leaves too little page cache",
    )
    records: list[BatchRecord] | None = None
    records_file: str | None = Field(default=None, description="sidecar with per-batch records")
    nodes: list[NodeResult] = Field(default_factory=list)
    comm_share: float | None = Field(
        default=None,
        description="multi-node probes: share of a step spent in gradient all-reduce, the "
        "median of the nodes' own (see nodes[].comm_share)",
    )
    median_ci: MedianCI | None = Field(
        default=None, description="interval of the median images/s and why the probe stopped"
    )
    memory_counters: MemoryCounters | None = Field(
        default=None, description="the memory cgroup's counters over the measured window"
    )
    shared_cores: list[CoreShare] = Field(
        default_factory=list,
        description="cores this probe (or its nodes) shared with others running on the same "
        "host at the same time; empty when its cores were its own. Only --allow-oversubscribe "
        "lets a probe run so (else it is refused), except under Slurm, which picks the cores: "
        "there it is recorded from the grants read inside the probes",
    )


# ---------------------------------------------------------------- search


class TraceStep(Strict):
    step: int
    cpus: float
    memory_gb: float | None = None
    value: float | None = Field(description="measured throughput (images/s); None if it failed")
    lo: float | None = Field(default=None, description="interval of the median, where known")
    hi: float | None = None
    reason: str


class CurvePoint(Strict):
    cpus: float
    throughput: float
    lo: float | None = None
    hi: float | None = None
    source: Literal["measured", "interpolated", "extrapolated"]


class Knee(Strict):
    fraction: float = Field(description="share of peak throughput the knee reaches")
    cpus: float
    throughput: float
    peak_throughput: float


class SearchResult(Strict):
    strategy: str
    budget: int | None = None
    probes_used: int
    trace: list[TraceStep]
    curve: list[CurvePoint]
    knee: Knee | None = None
    confidence: float = Field(
        ge=0, le=1, description="estimated max relative error bound, as 1-err"
    )
    max_rel_uncertainty: float = Field(
        ge=0, description="largest relative width of the curve's uncertainty band between probes"
    )


class MatrixCell(Strict):
    cpus: float
    memory_gb: float
    gpus: int = 0
    throughput: float | None
    outcome: Outcome
    probe_id: str | None = None
    source: Literal["measured", "interpolated", "extrapolated"] = "measured"
    disk_read_mb: float | None = Field(
        default=None, description="MB read from storage by the measured batches at this cap"
    )


class TrainSection(Strict):
    probes: list[Probe]
    search: SearchResult | None = None
    memory_axis: list[MatrixCell] = Field(
        default_factory=list, description="throughput matrix: CPUs x memory (x GPUs)"
    )
    dataset_bytes: int | None = None
    nnodes: int = 1


# ---------------------------------------------------------------- inference


class CutPoint(Strict):
    """The tensor crossing between layer `index-1` and layer `index` (index 0 = input)."""

    index: int
    after: str | None = Field(description="name of the layer before the cut; None at the input")
    shape: list[int] = Field(description="per-sample shape, batch dimension excluded")
    numel: int
    bytes_fp32: int
    bytes_fp16: int


class Layer(Strict):
    index: int
    name: str
    kind: str = Field(description="module class name")
    params: int = 0


class BundleTiming(Strict):
    """Latency (and energy) of running layers [start, end) as one unit."""

    start: int
    end: int
    batch_size: int
    frequency_mhz: float | None = None
    observed_frequency_mhz: float | None = None
    latency: Stat = Field(description="seconds per batch")
    cpu_s: float | None = Field(
        default=None,
        description="CPU seconds per batch (the process's, all threads; median over the timed "
        "calls; CPU devices only). Under a CFS quota of q CPUs, batches streamed back to back "
        "take at least cpu_s / q each, however short the latency of one call",
    )
    energy_j: float | None = Field(default=None, description="joules per batch; None if unmeasured")
    energy_reason: str | None = None
    peak_mem_mb: float | None = None
    median_ci: MedianCI | None = Field(
        default=None, description="interval of the median latency and why its timing stopped"
    )
    rounds: int = Field(
        default=1,
        description="rounds over the pass's bundles its calls were taken in (infer.rounds): "
        "above 1 they span the pass, not one stretch",
    )

    def busy_s(self, quota_cpus: float | None) -> float:
        """Seconds the device is occupied per batch when batches stream: the latency, or the
        CPU time over the quota when that is longer (a quota lets a short call run at full
        speed, then throttles the stream)."""
        lat = self.latency.median
        if self.cpu_s is None or not quota_cpus or quota_cpus <= 0:
            return lat
        return max(lat, self.cpu_s / quota_cpus)


class IdleTiming(Strict):
    """The whole model at one batch size, called after an idle gap, against the same calls back
    to back in the same rounds. A split side computes after waiting for the link, and a core
    that idled (its caches taken by others, its clock let down) computes slower than one timed
    back to back, as every bundle latency is: the ratio says by how much, here."""

    batch_size: int
    gap_s: float = Field(ge=0, description="seconds slept before each timed call")
    calls: Annotated[int, Field(gt=0)] = Field(description="timed calls after the gap")
    after_s: float = Field(description="median seconds per call after the gap")
    back_to_back_s: float = Field(description="median seconds per call back to back, same rounds")
    ratio: float = Field(gt=0, description="after_s / back_to_back_s")


class WakeTiming(Strict):
    """The whole model at one batch size with a sibling thread of the process woken this often
    (a sleep loop), against it alone in the same rounds. Streamed, a split side receives the
    next request while it computes: each packet wakes its reader thread, which takes the core
    and the interpreter's lock from the compute for a moment; the ratio says what that costs
    at a rate of wake-ups, here."""

    batch_size: int
    wakes_per_s: float = Field(ge=0, description="the sibling's wake-ups per second, as counted")
    calls: Annotated[int, Field(gt=0)] = Field(description="timed calls beside the sibling")
    beside_s: float = Field(description="median seconds per call beside the waking sibling")
    alone_s: float = Field(description="median seconds per call alone, same rounds")
    ratio: float = Field(gt=0, description="beside_s / alone_s")


class FrequencyInfo(Strict):
    domain: Literal["gpu", "cpu", "none"] = "none"
    available_mhz: list[float] = Field(default_factory=list)
    requested_mhz: list[float] = Field(default_factory=list)
    default_observed_mhz: float | None = None
    locking: str = Field(default="not requested", description="how clocks were set, or why not")


class InferSection(Strict):
    device_name: str
    device_kind: Literal["cpu", "cuda"] = "cpu"
    model: str
    layers: list[Layer]
    cuts: list[CutPoint] = Field(description="len(layers) + 1 entries: input, between, output")
    batch_sizes: list[int]
    max_bundle_len: int
    frequencies: FrequencyInfo = Field(default_factory=FrequencyInfo)
    energy_source: str | None = Field(default=None, description="nvml / rapl / powerlog / None")
    energy_reason: str | None = None
    bundles: list[BundleTiming]
    caps: Caps | None = None
    enforced: Enforcement | None = None
    probes: list[Probe] = Field(default_factory=list)
    total_s: float | None = None
    after_idle: list[IdleTiming] = Field(
        default_factory=list,
        description="the whole model after idle gaps, per batch size (default clock); empty in "
        "profiles made before it was measured, or with infer.idle_gaps_ms empty",
    )
    beside_wakeups: list[WakeTiming] = Field(
        default_factory=list,
        description="the whole model beside a sibling thread woken at a few rates, per batch "
        "size (default clock); empty in profiles made before it was measured, or with "
        "infer.wake_periods_us empty",
    )

    @model_validator(mode="after")
    def _consistent(self) -> InferSection:
        n = len(self.layers)
        if len(self.cuts) != n + 1:
            raise ValueError(
                f"cuts must have len(layers)+1 = {n + 1} entries, got {len(self.cuts)}"
            )
        for b in self.bundles:
            if not (0 <= b.start < b.end <= n):
                raise ValueError(f"bundle [{b.start},{b.end}) outside 0..{n}")
        return self

    def bundle(
        self, start: int, end: int, batch_size: int, frequency_mhz: float | None = None
    ) -> BundleTiming | None:
        for b in self.bundles:
            if (b.start, b.end, b.batch_size, b.frequency_mhz) == (
                start,
                end,
                batch_size,
                frequency_mhz,
            ):
                return b
        return None

    def idle_curve(self, batch_size: int) -> list[tuple[float, float]]:
        """(gap seconds, ratio) at `batch_size`, shortest gap first; empty when not measured."""
        return sorted((t.gap_s, t.ratio) for t in self.after_idle if t.batch_size == batch_size)

    def wake_curve(self, batch_size: int) -> list[tuple[float, float]]:
        """(wake-ups per second, ratio) at `batch_size`, slowest rate first; empty: not measured."""
        return sorted(
            (t.wakes_per_s, t.ratio) for t in self.beside_wakeups if t.batch_size == batch_size
        )


# ---------------------------------------------------------------- model variants (accuracy)


class DomainSplit(Strict):
    """How a labelled data set's held-out part is cut into seeded non-IID domains (Dirichlet
    label skew, as the accuracy-aware split seed runs its 10 domains). The same fields always
    give the same domains: the solver and `harness run-split` rebuild them from this alone."""

    dataset: str = Field(description="e.g. 'sklearn-digits' (1,797 real 8x8 scans, shipped)")
    holdout_fraction: float = Field(gt=0, lt=1, description="share of samples held out")
    split_seed: int = Field(description="seed of the stratified train / held-out split")
    count: Annotated[int, Field(gt=0, le=1000)] = Field(description="number of domains")
    alpha: float = Field(gt=0, description="Dirichlet concentration: small = strong label skew")
    seed: int = Field(description="seed of the Dirichlet draw")


class DomainAccuracy(Strict):
    """Accuracy measured on one domain's held-out samples (a share in [0, 1])."""

    accuracy: float = Field(ge=0, le=1)
    samples: Annotated[int, Field(ge=0)]
    correct: Annotated[int, Field(ge=0)]


class VariantInfo(Strict):
    """One real model variant (the reference, or a pruned / branch-configured copy of it):
    what it is, where its weights are, its size and its accuracy as measured on every domain.
    Recorded in each inference profile of the variant (`Profile.variant`), so the profile alone
    says what the solver may promise about accuracy."""

    family: str = Field(description="the reference model's name; every variant of it shares it")
    id: str = Field(pattern=r"^[A-Za-z0-9_.\-]+$", description="e.g. 'ref', 'p30', 'p30-b2'")
    reference: bool = Field(description="the unpruned reference the accuracy bound is taken from")
    method: str = Field(description="how it was made, e.g. 'torch-pruning L1 magnitude, 3 epochs'")
    ratios: dict[str, Annotated[float, Field(ge=0, lt=1)]] = Field(
        default_factory=dict, description="per stage: share of channels removed (0: untouched)"
    )
    branches: list[str] | None = Field(
        default=None, description="per block, the branch configuration it runs, where it has them"
    )
    params: Annotated[int, Field(ge=0)]
    macs: Annotated[int, Field(ge=0)] = Field(description="multiply-accumulates per sample")
    weights: str = Field(description="the saved weights (a path, as written by the harness)")
    weights_sha256: str
    finetune_epochs: Annotated[int, Field(ge=0)] = 0
    domains: DomainSplit
    accuracy: float = Field(ge=0, le=1, description="on the whole held-out set")
    domain_accuracy: dict[str, DomainAccuracy] = Field(
        description="domain id ('d0', 'd1', ...) -> its measured accuracy"
    )


# ---------------------------------------------------------------- the profile


class Profile(Strict):
    schema_version: Literal["1.0"] = SCHEMA_VERSION
    id: str = Field(description="content hash of job + host + created; stable across rewrites")
    created: datetime
    harness_version: str
    kind: Literal["train", "infer"]
    job: JobSpec
    host: HostFacts
    backend: str
    options: dict[str, Any] = Field(default_factory=dict, description="CLI options of the run")
    train: TrainSection | None = None
    infer: InferSection | None = None
    variant: VariantInfo | None = Field(
        default=None, description="the model variant profiled, with its measured accuracy"
    )
    complete: bool = Field(
        default=True,
        description="False while a sweep is still running, or when it ended with no probe ok",
    )

    @model_validator(mode="after")
    def _section(self) -> Profile:
        if self.kind == "train" and self.train is None:
            raise ValueError("a 'train' profile needs a 'train' section")
        if self.kind == "infer" and self.infer is None:
            raise ValueError("an 'infer' profile needs an 'infer' section")
        return self


def make_profile_id(job_name: str, hostname: str, created: datetime, extra: str = "") -> str:
    h = hashlib.sha256(f"{job_name}|{hostname}|{created.isoformat()}|{extra}".encode())
    return f"{job_name}-{h.hexdigest()[:10]}"


def now() -> datetime:
    return datetime.now(UTC)


class ProfileError(ValueError):
    """A profile that cannot be loaded; the message is one line naming file and field."""

    def __init__(self, msg: str) -> None:
        super().__init__(" ".join(str(msg).split()))


def parse_json(text: str, where: str, error: type[ValueError] = ValueError) -> Any:
    """JSON text -> Python values; every failure is one `error` line: the parser's message with
    its line and column, an integer of more than 4,300 digits, or nesting too deep. NaN,
    Infinity and 1e400 parse (as Python's json does) so that the model refuses them at their
    field: no float of a `Strict` model is infinite or NaN."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise error(
            f"{where}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from None
    except RecursionError:
        raise error(f"{where}: invalid JSON: nested too deeply to read") from None
    except ValueError as exc:  # an integer of more than 4,300 digits
        raise error(f"{where}: invalid JSON: {_first_clause(exc)}") from None


def read_json(path: str | Path, expected: str, error: type[ValueError] = ValueError) -> Any:
    """A JSON file's values (see `parse_json`); a file that cannot be read or is not UTF-8 text
    is one `error` line naming it and what was `expected` (e.g. "a JSON profile")."""
    from harness.spec import read_text

    return parse_json(read_text(path, expected, error), str(path), error)


def load_profile(path: str | Path) -> Profile:
    """Read and validate a profile; every failure becomes a one-line ProfileError."""
    from pydantic import ValidationError

    p = Path(path)
    raw = read_json(p, "a JSON profile", ProfileError)
    if not isinstance(raw, dict):
        raise ProfileError(f"{p}: expected a JSON object, got {type(raw).__name__}")
    version = raw.get("schema_version")
    if version != SCHEMA_VERSION:
        raise ProfileError(
            f"{p}: field 'schema_version': expected '{SCHEMA_VERSION}', got {version!r}"
        )
    try:
        return Profile.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(x) for x in err["loc"]) or "(top level)"
        more = f" (and {len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
        raise ProfileError(f"{p}: field '{loc}': {err['msg']}{more}") from None


def _first_clause(exc: BaseException) -> str:
    text = str(exc) or "nested too deeply"
    return text.split(";")[0]


class WriteError(OSError):
    """A file that cannot be written, named as the user gave it (not its temp file)."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"cannot write {path}: {reason}")
        self.path = path
        self.reason = reason


def write_atomic(path: str | Path, text: str) -> None:
    """Write via a temp file in the same folder and rename: readers never see half a file.

    Every failure is a WriteError that names `path` and why (a folder, a parent that is a
    file, no permission), and leaves nothing behind."""
    p = Path(path)
    if p.is_dir():
        raise WriteError(p, "it is a folder (expected a file path)")
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=p.parent, prefix=f".{p.name}.", suffix=".tmp")
    except OSError as exc:
        raise WriteError(p, _why(exc, p)) from None
    try:
        _write_and_rename(fd, tmp, p, text)
    except OSError as exc:
        raise WriteError(p, _why(exc, p)) from None


def check_writable(path: str | Path, *, folder: bool = False, probe: bool = False) -> None:
    """Before any work: WriteError when `path` (a file, or with `folder` a folder to write
    into) clearly cannot be written: a folder where a file is meant (or a file where a folder
    is), a file above it, or a first existing folder above it that is not writable. Touches
    nothing, unless `probe`: then the folder is made and a temporary file written in it and
    removed, which finds what only a write can (a read-only mount, /proc, root's rights), for a
    command whose work is long (`write_atomic` reports those at the end otherwise)."""
    p = Path(path)
    if folder and p.exists() and not p.is_dir():
        raise WriteError(p, "it is a file (expected a folder)")
    if not folder and p.is_dir():
        raise WriteError(p, "it is a folder (expected a file path)")
    base = p if folder else p.parent
    above = next((q for q in (base, *base.parents) if q.exists()), None)
    if above is None:
        return
    if not above.is_dir():
        raise WriteError(p, f"{above} is a file, not a folder")
    if not os.access(above, os.W_OK | os.X_OK):
        raise WriteError(p, f"no permission to write in {above}")
    if probe:
        try:
            base.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=base, prefix=".harness-probe.", suffix=".tmp")
            os.close(fd)
            os.unlink(tmp)
        except OSError as exc:
            raise WriteError(p, _why(exc, p)) from None


def _why(exc: OSError, p: Path) -> str:
    if isinstance(exc, FileExistsError | NotADirectoryError):
        above = next((q for q in p.parents if q.is_file()), None)
        if above is not None:
            return f"{above} is a file, not a folder"
    return exc.strerror or str(exc)


def _write_and_rename(fd: int, tmp: str, p: Path, text: str) -> None:
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; a profile is meant to be shared
        os.replace(tmp, p)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_profile(profile: Profile, path: str | Path) -> None:
    write_atomic(path, profile.model_dump_json(indent=1, exclude_none=False) + "\n")


def json_schema() -> dict[str, Any]:
    schema = Profile.model_json_schema()
    schema["$id"] = f"https://harness.dev/schema/profile-{SCHEMA_VERSION}.json"
    return schema
