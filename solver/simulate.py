"""Round-based cluster simulator: a job trace replayed with a packing policy, as in Synergy.

Each round (default 300 s) the jobs that have arrived and not finished are offered, in
arrival order (FIFO), to the policy: `admit` takes them while GPUs can be found, and the
policy (proportional | greedy | scip) gives each admitted job its CPUs and memory. A placed
job advances at its throughput (images/s / images per iteration); a job that finishes inside a
round completes at that instant, but its resources come free only at the next round. Reported:
average job-completion time (finish - arrival), makespan, utilisation of GPU, CPU and memory
(allocated share, time-averaged to the end of the last round), and solver time.

Every placement a policy makes is held against the independent checker (solver/packing_check:
capacities, GPU counts, fairness floor, the admitted jobs all placed and no queued one) before
the round runs on it; a violation raises PlacementError (`verify=False` skips the check).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

from harness.profile import Profile
from solver import packing_check
from solver.packing_baselines import admit
from solver.packing_problem import (
    SYNERGY_CLUSTER,
    Cluster,
    Instance,
    Placement,
    ServerKind,
    reference_share,
    servers_of,
    table_for,
)
from solver.problem import ProblemError, validate_as
from solver.throughput_table import CurveModel, JobTable, curve_model

Policy = Literal["proportional", "greedy", "scip"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PlacementError(RuntimeError):
    """A policy's placement failed the independent checker."""


class TraceJob(Strict):
    name: Annotated[str, Field(min_length=1)]
    arrival_s: Annotated[float, Field(ge=0)] = 0.0
    gpus: Annotated[int, Field(gt=0)] = 1
    work_iterations: Annotated[float, Field(gt=0)]
    profile: str = Field(description="train profile: path (relative to the trace) or id/job name")


class Trace(Strict):
    jobs: list[TraceJob] = Field(min_length=1)


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
    per_job: list[JobResult] = Field(default_factory=list)


def load_yaml_or_json(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text())
    except OSError as exc:
        raise ProblemError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise ProblemError(f"{path}: invalid YAML/JSON: {exc}") from None


def load_trace(path: Path) -> Trace:
    raw = load_yaml_or_json(path)
    if isinstance(raw, list):
        raw = {"jobs": raw}
    if not isinstance(raw, dict):
        raise ProblemError(f"{path}: expected a mapping with 'jobs' (or a list of jobs)")
    return validate_as(Trace, raw, path)


def load_cluster(path: Path | None) -> list[ServerKind]:
    if path is None:
        return list(SYNERGY_CLUSTER)
    raw = load_yaml_or_json(path)
    if not isinstance(raw, dict):
        raise ProblemError(f"{path}: expected a mapping with 'servers'")
    raw = {"servers": raw.get("servers")}
    return validate_as(Cluster, raw, path).servers


def job_tables(
    trace: Trace,
    kinds: list[ServerKind],
    base_dir: Path | None,
    profiles: dict[str, Profile] | None = None,
) -> list[JobTable]:
    from harness.profile import ProfileError, load_profile

    models: dict[str, CurveModel] = {}
    tables = []
    for tj in trace.jobs:
        key = tj.profile
        if key not in models:
            prof = (profiles or {}).get(key)
            if prof is None:
                p = Path(key)
                if not p.is_absolute() and base_dir is not None:
                    p = base_dir / p
                try:
                    prof = load_profile(p)
                except ProfileError as exc:
                    raise ProblemError(f"job {tj.name}: field 'profile': {exc}") from None
            try:
                models[key] = curve_model(prof)
            except ValueError as exc:
                raise ProblemError(f"job {tj.name}: field 'profile': {exc}") from None
        try:
            tables.append(table_for(tj.name, tj.gpus, models[key], kinds))
        except ValueError as exc:
            raise ProblemError(str(exc)) from None
    return tables


def policy_fn(policy: Policy, time_limit: float) -> Callable[[Instance, list[int]], Placement]:
    from solver.packing_baselines import greedy, proportional

    if policy == "proportional":
        return proportional
    if policy == "greedy":
        return greedy
    if policy == "scip":
        from solver.packing import solve

        return lambda inst, order: solve(inst, order, time_limit=time_limit)
    raise ValueError(f"unknown policy {policy!r}: expected proportional, greedy or scip")


def simulate(
    trace: Trace,
    tables: list[JobTable],
    kinds: list[ServerKind],
    policy: Policy = "scip",
    round_s: float = 300.0,
    time_limit: float = 5.0,
    max_rounds: int = 100_000,
    progress: Callable[[int, float, int], None] | None = None,
    verify: bool = True,
) -> SimResult:
    servers = servers_of(kinds)
    cpg, mpg = reference_share(kinds)
    cap_g = sum(s.gpus for s in servers)
    cap_c = sum(s.cpus for s in servers)
    cap_m = sum(s.memory_gb for s in servers)
    fn = policy_fn(policy, time_limit)
    n = len(trace.jobs)
    left = [tj.work_iterations for tj in trace.jobs]
    start: list[float | None] = [None] * n
    finish: list[float | None] = [None] * n
    arrival = [tj.arrival_s for tj in trace.jobs]
    by_arrival = sorted(range(n), key=lambda j: (arrival[j], j))
    t = 0.0
    rounds = solves = 0
    solver_time = 0.0
    used = [0.0, 0.0, 0.0]  # GPU-, CPU-, memory-seconds allocated
    max_gap: float | None = None
    gaps: list[float] = []
    cache: dict[tuple[int, ...], Placement] = {}
    checked = 0
    while any(f is None for f in finish) and rounds < max_rounds:
        active = [j for j in by_arrival if arrival[j] <= t + 1e-9 and finish[j] is None]
        if not active:
            nxt = min(arrival[j] for j in range(n) if finish[j] is None)
            t = max(t, math.ceil(nxt / round_s - 1e-9) * round_s)
            continue
        key = tuple(active)
        pl = cache.get(key)
        if pl is None:
            inst = Instance(kinds, servers, [tables[j] for j in active], [], cpg, mpg)
            order = list(range(len(active)))  # FIFO: `active` is in arrival order
            t0 = time.perf_counter()
            pl = fn(inst, order)
            solver_time += time.perf_counter() - t0
            solves += 1
            if verify:
                must, _ = admit(inst, order)  # the jobs this round must run, by the rule
                errs = packing_check.check(inst, pl, must)
                if errs:
                    more = f" (+{len(errs) - 3} more)" if len(errs) > 3 else ""
                    raise PlacementError(
                        f"policy {policy}, round {rounds + 1} (t = {t:g} s): placement fails "
                        f"the checker: {'; '.join(errs[:3])}{more}"
                    )
                checked += 1
            cache.clear()
            cache[key] = pl
            if pl.gap is not None:
                gaps.append(pl.gap)
                max_gap = max(gaps)
        rounds += 1
        for local, jp in enumerate(pl.jobs):
            if not jp.placed or jp.throughput <= 0:
                continue
            j = active[local]
            if start[j] is None:
                start[j] = t
            rate = jp.throughput / tables[j].images_per_iteration
            need = left[j] / rate
            dt = min(need, round_s)
            left[j] -= rate * dt
            if need <= round_s + 1e-9:
                finish[j] = t + need
                left[j] = 0.0
            used[0] += jp.gpus * round_s
            used[1] += jp.cpus * round_s
            used[2] += jp.memory_gb * round_s
        t += round_s
        if progress is not None:
            progress(rounds, t, sum(f is not None for f in finish))
    done = [j for j in range(n) if finish[j] is not None]
    jcts = sorted(float(finish[j]) - arrival[j] for j in done)  # type: ignore[arg-type]
    makespan = max((float(finish[j]) for j in done), default=0.0)  # type: ignore[arg-type]
    span = max(t, 1e-9)  # to the end of the last round: allocations last whole rounds
    util = {
        "gpu": used[0] / (cap_g * span),
        "cpu": used[1] / (cap_c * span),
        "memory": used[2] / (cap_m * span),
    }
    return SimResult(
        policy=policy,
        round_s=round_s,
        jobs=n,
        finished=len(done),
        avg_jct_s=sum(jcts) / len(jcts) if jcts else 0.0,
        median_jct_s=jcts[len(jcts) // 2] if jcts else 0.0,
        makespan_s=makespan,
        rounds=rounds,
        solves=solves,
        solver_time_s=solver_time,
        utilisation=util,
        max_gap=max_gap,
        mean_gap=sum(gaps) / len(gaps) if gaps else None,
        checked=checked,
        per_job=[
            JobResult(
                name=tj.name,
                arrival_s=tj.arrival_s,
                gpus=tj.gpus,
                start_s=start[j],
                finish_s=finish[j],
                jct_s=None if finish[j] is None else float(finish[j]) - tj.arrival_s,  # type: ignore[arg-type]
            )
            for j, tj in enumerate(trace.jobs)
        ],
    )


def make_trace(
    profiles: dict[str, Profile],
    n_jobs: int,
    kinds: list[ServerKind],
    seed: int = 0,
    load: float = 1.2,
    mean_hours: float = 1.0,
    gpu_mix: tuple[tuple[int, float], ...] = ((1, 0.6), (2, 0.2), (4, 0.15), (8, 0.05)),
) -> Trace:
    """A Philly-like synthetic trace: Poisson arrivals at `load` times what the cluster's GPUs
    serve at the proportional share, GPU demands from `gpu_mix`, durations (at the
    proportional share) exponential with a heavy tail, capped at 8x the mean."""
    import random

    rng = random.Random(seed)
    names = sorted(profiles)
    cap_g = sum(k.gpus * k.count for k in kinds)
    sizes = [g for g, _ in gpu_mix]
    weights = [w for _, w in gpu_mix]
    mean_g = sum(g * w for g, w in gpu_mix) / sum(weights)
    rate = load * cap_g / (mean_g * mean_hours * 3600.0)  # jobs per second
    cpg, mpg = reference_share(kinds)
    models = {k: curve_model(profiles[k]) for k in names}
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
