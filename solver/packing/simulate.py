"""Round-based cluster simulator: a job trace replayed with a packing policy, as in Synergy.

Each round (default 300 s) the jobs that have arrived and not finished are offered, in
arrival order (FIFO), to the policy: `admit` takes them while GPUs can be found, and the
policy (proportional | greedy | scip) gives each admitted job its CPUs and memory. A placed
job advances at its throughput (images/s / images per iteration); a job that finishes inside a
round completes at that instant, but its resources come free only at the next round. Reported:
average job-completion time (finish - arrival), makespan, utilisation of GPU, CPU and memory
(allocated share, time-averaged to the end of the last round), and solver time.

Every placement a policy makes is held against the independent checker (`check.py`:
capacities, GPU counts, fairness floor, the admitted jobs all placed and no queued one) before
the round runs on it; a violation raises PlacementError (`verify=False` skips the check).
A trace job names its training profile as a packing job does (a path relative to the trace,
a profile id, or the job name of a given profile), resolved by `solver.profiles`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

import solver.packing.check as checker
from harness.spec import read_yaml
from solver.packing.baselines import admit
from solver.packing.problem import (
    SYNERGY_CLUSTER,
    CurveModels,
    GpuCount,
    Instance,
    Server,
    ServerKind,
    check_cluster,
    reference_share,
    servers_of,
    table_for,
)
from solver.packing.solution import Placement
from solver.packing.table import JobTable, curve_model
from solver.problem import (
    MAX_JOBS,
    PositiveAmount,
    ProblemError,
    Seconds,
    Strict,
    validate_as,
)
from solver.profiles import ProfileSet

Policy = Literal["proportional", "greedy", "scip"]


class PlacementError(RuntimeError):
    """A policy's placement failed the independent checker."""


class Cluster(Strict):
    """A cluster file (`harness simulate --cluster`): the server kinds alone."""

    servers: list[ServerKind] = Field(min_length=1)

    @model_validator(mode="after")
    def _size(self) -> Cluster:
        check_cluster(self.servers)
        return self


class TraceJob(Strict):
    name: Annotated[str, Field(min_length=1)]
    arrival_s: Seconds = 0.0
    gpus: GpuCount = 1
    work_iterations: PositiveAmount
    profile: str = Field(description="train profile: path (relative to the trace) or id/job name")


class Trace(Strict):
    jobs: list[TraceJob] = Field(min_length=1, max_length=MAX_JOBS)


class JobResult(Strict):
    name: str
    arrival_s: float
    gpus: int
    start_s: float | None
    finish_s: float | None
    jct_s: float | None


class SimResult(Strict):
    policy: str
    round_s: float
    jobs: int
    finished: int
    avg_jct_s: float
    median_jct_s: float
    makespan_s: float
    rounds: int
    solves: int
    solver_time_s: float
    utilisation: dict[str, float]
    max_gap: float | None = None
    mean_gap: float | None = None
    checked: int = Field(default=0, description="placements that passed the independent checker")
    stopped: str | None = Field(
        default=None,
        description="why the replay ended with jobs unfinished (the round cap); None: all done",
    )
    per_job: list[JobResult] = Field(default_factory=list)

    @property
    def complete(self) -> bool:
        return self.finished == self.jobs


# ---------------------------------------------------------------- reading traces and clusters


def load_yaml_or_json(path: Path, expected: str) -> Any:
    """A YAML (or JSON, which YAML reads too) file's values; bad input is one ProblemError."""
    return read_yaml(path, expected, ProblemError)


def load_trace(path: Path) -> Trace:
    raw = load_yaml_or_json(path, "a YAML or JSON trace")
    if isinstance(raw, list):
        raw = {"jobs": raw}
    if not isinstance(raw, dict):
        raise ProblemError(f"{path}: expected a mapping with 'jobs' (or a list of jobs)")
    return validate_as(Trace, raw, path)


def load_cluster(path: Path | None) -> list[ServerKind]:
    if path is None:
        return list(SYNERGY_CLUSTER)
    raw = load_yaml_or_json(path, "a YAML cluster file")
    if not isinstance(raw, dict):
        raise ProblemError(f"{path}: expected a mapping with 'servers'")
    return validate_as(Cluster, raw, path).servers


def job_tables(trace: Trace, kinds: list[ServerKind], profiles: ProfileSet) -> list[JobTable]:
    """Each trace job's configuration table; its profile resolved through `profiles` (paths
    relative to its base_dir, the trace's folder)."""
    models = CurveModels(profiles)
    tables = []
    for tj in trace.jobs:
        model = models.of(tj.name, tj.profile)
        try:
            tables.append(table_for(tj.name, tj.gpus, model, kinds))
        except ValueError as exc:
            raise ProblemError(str(exc)) from None
    return tables


# ---------------------------------------------------------------- the replay


def policy_fn(policy: Policy, time_limit: float) -> Callable[[Instance, list[int]], Placement]:
    from solver.packing.baselines import greedy, proportional

    if policy == "proportional":
        return proportional
    if policy == "greedy":
        return greedy
    if policy == "scip":
        from solver.packing.model import pack

        return lambda inst, order: pack(inst, order, time_limit=time_limit)
    raise ValueError(f"unknown policy {policy!r}: expected proportional, greedy or scip")


@dataclass
class _Replay:
    """The state of one replay, round by round."""

    trace: Trace
    tables: list[JobTable]
    kinds: list[ServerKind]
    policy: str
    round_s: float
    verify: bool
    fn: Callable[[Instance, list[int]], Placement]
    left: list[float] = field(init=False)  # iterations still to run, per job
    start: list[float | None] = field(init=False)
    finish: list[float | None] = field(init=False)
    t: float = 0.0
    rounds: int = 0
    solves: int = 0
    checked: int = 0
    solver_time: float = 0.0
    used: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.0])  # GPU-, CPU-, mem-s
    gaps: list[float] = field(default_factory=list)
    cache: dict[tuple[int, ...], Placement] = field(default_factory=dict)
    arrival: list[float] = field(init=False)
    by_arrival: list[int] = field(init=False)
    servers: list[Server] = field(init=False)
    share: tuple[float, float] = field(init=False)  # per-GPU CPUs and memory

    def __post_init__(self) -> None:
        n = len(self.trace.jobs)
        self.arrival = [tj.arrival_s for tj in self.trace.jobs]
        self.by_arrival = sorted(range(n), key=lambda j: (self.arrival[j], j))
        self.left = [tj.work_iterations for tj in self.trace.jobs]
        self.start = [None] * n
        self.finish = [None] * n
        self.servers = servers_of(self.kinds)
        self.share = reference_share(self.kinds)

    def active(self) -> list[int]:
        """The jobs arrived and not finished, in arrival order."""
        t = self.t
        return [
            j for j in self.by_arrival if self.arrival[j] <= t + 1e-9 and self.finish[j] is None
        ]

    def skip_idle(self) -> None:
        """Nothing to run: on to the round in which the next job arrives."""
        nxt = min(self.arrival[j] for j in range(len(self.finish)) if self.finish[j] is None)
        self.t = max(self.t, math.ceil(nxt / self.round_s - 1e-9) * self.round_s)

    def placement(self, active: list[int]) -> Placement:
        """The policy's placement of `active` (the last one again when the set is unchanged),
        held against the checker."""
        key = tuple(active)
        pl = self.cache.get(key)
        if pl is not None:
            return pl
        cpg, mpg = self.share
        inst = Instance(self.kinds, self.servers, [self.tables[j] for j in active], [], cpg, mpg)
        order = list(range(len(active)))  # FIFO: `active` is in arrival order
        t0 = time.perf_counter()
        pl = self.fn(inst, order)
        self.solver_time += time.perf_counter() - t0
        self.solves += 1
        if self.verify:
            must, _ = admit(inst, order)  # the jobs this round must run, by the rule
            errs = checker.check(inst, pl, must)
            if errs:
                more = f" (+{len(errs) - 3} more)" if len(errs) > 3 else ""
                raise PlacementError(
                    f"policy {self.policy}, round {self.rounds + 1} (t = {self.t:g} s): placement "
                    f"fails the checker: {'; '.join(errs[:3])}{more}"
                )
            self.checked += 1
        self.cache.clear()
        self.cache[key] = pl
        if pl.gap is not None:
            self.gaps.append(pl.gap)
        return pl

    def advance(self, pl: Placement, active: list[int]) -> None:
        """One round on `pl`: each placed job advances (or finishes) at its rate."""
        round_s, t = self.round_s, self.t
        for local, jp in enumerate(pl.jobs):
            if not jp.placed or jp.throughput <= 0:
                continue
            j = active[local]
            if self.start[j] is None:
                self.start[j] = t
            rate = jp.throughput / self.tables[j].images_per_iteration
            need = self.left[j] / rate
            dt = min(need, round_s)
            self.left[j] -= rate * dt
            if need <= round_s + 1e-9:
                self.finish[j] = t + need
                self.left[j] = 0.0
            self.used[0] += jp.gpus * round_s
            self.used[1] += jp.cpus * round_s
            self.used[2] += jp.memory_gb * round_s

    def result(self) -> SimResult:
        n = len(self.trace.jobs)
        finish = self.finish
        done = [j for j in range(n) if finish[j] is not None]
        jcts = sorted(float(finish[j]) - self.arrival[j] for j in done)  # type: ignore[arg-type]
        makespan = max((float(finish[j]) for j in done), default=0.0)  # type: ignore[arg-type]
        span = max(self.t, 1e-9)  # to the end of the last round: allocations last whole rounds
        caps = [sum(s.gpus for s in self.servers), sum(s.cpus for s in self.servers)]
        caps.append(sum(s.memory_gb for s in self.servers))
        util = {
            r: u / (cap * span)
            for r, u, cap in zip(("gpu", "cpu", "memory"), self.used, caps, strict=True)
        }
        return SimResult(
            policy=self.policy,
            round_s=self.round_s,
            jobs=n,
            finished=len(done),
            avg_jct_s=sum(jcts) / len(jcts) if jcts else 0.0,
            median_jct_s=jcts[len(jcts) // 2] if jcts else 0.0,
            makespan_s=makespan,
            rounds=self.rounds,
            solves=self.solves,
            solver_time_s=self.solver_time,
            utilisation=util,
            max_gap=max(self.gaps) if self.gaps else None,
            mean_gap=sum(self.gaps) / len(self.gaps) if self.gaps else None,
            checked=self.checked,
            per_job=[
                JobResult(
                    name=tj.name,
                    arrival_s=tj.arrival_s,
                    gpus=tj.gpus,
                    start_s=self.start[j],
                    finish_s=finish[j],
                    jct_s=None if finish[j] is None else float(finish[j]) - tj.arrival_s,  # type: ignore[arg-type]
                )
                for j, tj in enumerate(self.trace.jobs)
            ],
        )


MAX_ROUNDS = 100_000  # rounds of one replay: 347 days at the default 300 s


def simulate(
    trace: Trace,
    tables: list[JobTable],
    kinds: list[ServerKind],
    policy: Policy = "scip",
    round_s: float = 300.0,
    time_limit: float = 5.0,
    max_rounds: int | None = None,
    progress: Callable[[int, float, int], None] | None = None,
    verify: bool = True,
) -> SimResult:
    """Replay `trace` (its jobs' tables in `tables`) on `kinds`, re-packing every round. A
    replay that reaches `max_rounds` (default MAX_ROUNDS) with jobs unfinished stops there and
    says so in `stopped` (never a result that looks finished)."""
    max_rounds = MAX_ROUNDS if max_rounds is None else max_rounds
    fn = policy_fn(policy, time_limit)
    run = _Replay(trace, tables, kinds, policy, round_s, verify, fn)
    while any(f is None for f in run.finish) and run.rounds < max_rounds:
        active = run.active()
        if not active:
            run.skip_idle()
            continue
        pl = run.placement(active)
        run.rounds += 1
        run.advance(pl, active)
        run.t += round_s
        if progress is not None:
            progress(run.rounds, run.t, sum(f is not None for f in run.finish))
    result = run.result()
    if not result.complete:
        left = [r.name for r in result.per_job if r.finish_s is None]
        never = [r.name for r in result.per_job if r.start_s is None]
        result.stopped = (
            f"stopped at the round cap ({max_rounds:,} rounds of {round_s:g} s, t = "
            f"{run.t:.4g} s) with {len(left):,} of {result.jobs:,} jobs unfinished (first: "
            f"{left[0]}; {len(never):,} never placed)"
        )
    return result


# ---------------------------------------------------------------- synthetic traces


def make_trace(
    profiles: ProfileSet,
    n_jobs: int,
    kinds: list[ServerKind],
    seed: int = 0,
    load: float = 1.2,
    mean_hours: float = 1.0,
    gpu_mix: tuple[tuple[int, float], ...] = ((1, 0.6), (2, 0.2), (4, 0.15), (8, 0.05)),
) -> Trace:
    """A Philly-like synthetic trace over the given training profiles (each job names its
    profile by the profiled job's name): Poisson arrivals at `load` times what the cluster's
    GPUs serve at the proportional share, GPU demands from `gpu_mix`, durations (at the
    proportional share) exponential with a heavy tail, capped at 8x the mean."""
    import random

    rng = random.Random(seed)
    by_name: dict[str, Any] = {}
    for it in profiles.of_kind("train"):
        by_name.setdefault(it.profile.job.name, it.profile)
    names = sorted(by_name)
    cap_g = sum(k.gpus * k.count for k in kinds)
    sizes = [g for g, _ in gpu_mix]
    weights = [w for _, w in gpu_mix]
    mean_g = sum(g * w for g, w in gpu_mix) / sum(weights)
    rate = load * cap_g / (mean_g * mean_hours * 3600.0)  # jobs per second
    models = {k: curve_model(by_name[k]) for k in names}
    t = 0.0
    jobs = []
    for i in range(n_jobs):
        t += rng.expovariate(rate)
        g = rng.choices(sizes, weights)[0]
        key = rng.choice(names)
        hours = min(rng.expovariate(1.0 / mean_hours), 8 * mean_hours) + 0.05
        tab = table_for(f"job{i}", g, models[key], kinds)
        iters = hours * 3600.0 * tab.prop_throughput / tab.images_per_iteration
        jobs.append(
            TraceJob(
                name=f"job{i}", arrival_s=round(t, 1), gpus=g, work_iterations=iters, profile=key
            )
        )
    return Trace(jobs=jobs)
