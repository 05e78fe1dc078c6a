"""Packing instances for tests and benches: tiny random ones with a brute-force optimum, and
ones built from the synthetic training profiles (as a profile set the resolver reads)."""

from __future__ import annotations

import random
from collections.abc import Iterable
from pathlib import Path

from harness.profile import Profile
from solver.packing.problem import (
    Instance,
    PackingProblem,
    PackJob,
    ServerKind,
    ThroughputPoint,
    build_instance,
)
from solver.profiles import Loaded, ProfileSet
from tests.factory.train_profiles import make_train_profile, synthetic_profiles


def profile_set(profiles: Iterable[Profile], base_dir: Path | None = None) -> ProfileSet:
    """Profiles as if given on the command line, each as `<job name>.json` (never read)."""
    return ProfileSet([Loaded(Path(f"{p.job.name}.json"), p) for p in profiles], base_dir)


def synthetic_set() -> ProfileSet:
    """The seven synthetic training profiles of tests/factory/train_profiles.py."""
    return profile_set(synthetic_profiles())


def no_throughput_profile(name: str = "empty") -> Profile:
    """A training profile with nothing to price a job with: no probe, no curve, no matrix."""
    prof = make_train_profile(name=name)
    assert prof.train is not None
    prof.train.probes = []
    prof.train.search = None
    prof.train.memory_axis = []
    return prof


def small_problem(seed: int, interference: float | None = None) -> PackingProblem:
    """3 tiny servers (two kinds) and 4 jobs with random saturating CPU x memory tables;
    `interference`: the measured factor of kind 'a' (kind 'b' has none)."""
    rng = random.Random(seed)
    jobs = []
    for j in range(4):
        sat = rng.choice([1.0, 2.0, 3.0, 4.0])
        knee = rng.choice([8.0, 16.0, 24.0])
        peak = rng.uniform(50, 200)
        pts = []
        for c in (1.0, 2.0, 4.0):
            for m in (8.0, 16.0, 24.0):
                f = 1.0 if m >= knee else 0.6
                pts.append(
                    ThroughputPoint(cpus=c, memory_gb=m, throughput=peak * min(1, c / sat) * f)
                )
        jobs.append(PackJob(name=f"j{j}", gpus=rng.choice([1, 1, 2]), throughput=pts))
    servers = [
        ServerKind(name="a", count=2, gpus=2, cpus=4, memory_gb=32, interference=interference),
        ServerKind(name="b", count=1, gpus=2, cpus=5, memory_gb=40),
    ]
    return PackingProblem(servers=servers, jobs=jobs)


def kind_profile(job: str, kind: str, peak: float, sat: float) -> Profile:
    """A small training profile of `job` measured on a node of type `kind` (1-8 CPUs, memory
    unconstrained), as `harness profile --partition` writes one per node type."""
    prof = make_train_profile(
        name=job, peak=peak, sat=sat, max_cpus=8, knee_gb=None, measured_cpus=(1, 2, 4, 8),
        peak_rss_gb=2.0,
    )  # fmt: skip
    prof.job = prof.job.model_copy(update={"name": job})
    prof.host = prof.host.model_copy(update={"node_label": kind})
    return prof


KINDS = [
    ServerKind(name="a", count=1, gpus=2, cpus=4, memory_gb=32),
    ServerKind(name="b", count=1, gpus=2, cpus=6, memory_gb=48),
]


def kinds_problem(seed: int) -> tuple[PackingProblem, ProfileSet]:
    """Two tiny server kinds and three 1-GPU jobs with random per-kind profiles: one with a
    single profile for both kinds, one with a profile per kind, one with kind b's own profile
    and a fallback for kind a. Profiles are given as `<job>-<kind>.json`."""
    rng = random.Random(seed)
    loaded: list[Loaded] = []

    def ref(job: str, kind: str) -> str:
        prof = kind_profile(job, kind, rng.uniform(50, 400), rng.choice([1.0, 2.0, 3.0, 5.0]))
        loaded.append(Loaded(Path(f"{job}-{kind}.json"), prof))
        return f"{job}-{kind}.json"

    jobs = [
        PackJob(name="same", profile=ref("same", "any")),
        PackJob(name="both", profiles={"a": ref("both", "a"), "b": ref("both", "b")}),
        PackJob(
            name="fallback", profile=ref("fallback", "a"), profiles={"b": ref("fallback", "b")}
        ),
    ]
    return PackingProblem(servers=KINDS, jobs=jobs), ProfileSet(loaded)


def brute_force(inst: Instance) -> float:
    """Best total normalised throughput over every (server, CPUs, memory) per job; a job that
    shares its server counts its value times the server kind's interference factor."""
    mems: set[float] = set()
    for j in range(len(inst.jobs)):
        for k in range(len(inst.kinds)):
            mems.update(c.memory_gb for c in inst.table(j, k).configs)
            mems.add(inst.table(j, k).prop_memory_gb)
    options = []
    for j, tab in enumerate(inst.jobs):
        opts = []
        for s, srv in enumerate(inst.servers):
            if srv.gpus < tab.gpus:
                continue
            on = inst.table(j, srv.kind)  # the floor on the server's kind, valued by tab
            for c in range(1, int(srv.cpus) + 1):
                for m in sorted(mems):
                    if m > srv.memory_gb:
                        continue
                    if on.normalised_at(float(c), m) >= 1 - 1e-9:
                        v = on.throughput_at(float(c), m) / tab.prop_throughput
                        opts.append((s, tab.gpus, float(c), m, v))
        options.append(opts)
    free = [[s.gpus, s.cpus, s.memory_gb] for s in inst.servers]
    best = [-1.0]
    chosen: list[tuple[int, float]] = []

    def value() -> float:
        on = [sum(1 for s, _ in chosen if s == t) for t in range(len(inst.servers))]
        return sum(
            v * (inst.factor(inst.servers[s].kind) if on[s] >= 2 else 1.0) for s, v in chosen
        )

    def rec(j: int) -> None:
        if j == len(options):
            best[0] = max(best[0], value())
            return
        for s, g, c, m, v in options[j]:
            f = free[s]
            if f[0] >= g and f[1] >= c - 1e-9 and f[2] >= m - 1e-9:
                f[0] -= g
                f[1] -= c
                f[2] -= m
                chosen.append((s, v))
                rec(j + 1)
                chosen.pop()
                f[0] += g
                f[1] += c
                f[2] += m

    rec(0)
    return best[0]


def factory_instance(n_jobs: int, n_servers: int, seed: int = 0, one_gpu: bool = False) -> Instance:
    """`n_jobs` jobs drawn from the synthetic profiles with Synergy-like GPU demands (60% 1,
    20% 2, 15% 4, 5% 8; all 1 with `one_gpu`) on `n_servers` of Synergy's servers."""
    profiles = synthetic_set()
    names = sorted({it.profile.job.name for it in profiles})
    rng = random.Random(seed)
    jobs = [
        PackJob(
            name=f"j{i}",
            gpus=1 if one_gpu else rng.choices([1, 2, 4, 8], [0.6, 0.2, 0.15, 0.05])[0],
            profile=rng.choice(names),
        )
        for i in range(n_jobs)
    ]
    kinds = [ServerKind(name="s", count=n_servers, gpus=8, cpus=24, memory_gb=500)]
    return build_instance(PackingProblem(servers=kinds, jobs=jobs), profiles)


def tiny_packing_solution(
    folder: Path,
    jobs: int = 2,
    server_cpus: float = 2.0,
    server_gpus: int = 2,
    spec_file: Path | None = None,
    interference: float | None = None,
) -> Path:
    """A packing solution (written by the solver) that places `jobs` 1-GPU training jobs on
    one server of `server_cpus` CPUs: each job's profile is a synthetic one (1 and 2 CPUs,
    no memory axis, 0.5 GB peak) whose job spec is `spec_file` (tests/data/docker-tiny.yaml),
    renamed. Each job gets server_cpus / server_gpus CPUs, its proportional share."""
    from harness.profile import save_profile
    from harness.spec import load_spec
    from solver.packing import solve
    from solver.problem import SolveOptions

    root = Path(__file__).resolve().parents[1]
    spec = load_spec(spec_file or root / "data" / "docker-tiny.yaml")
    loaded = []
    for i in range(jobs):
        name = f"tiny{i}"
        prof = make_train_profile(
            name=name,
            model=spec.model,
            peak=40.0 + 10 * i,
            sat=1.5,
            max_cpus=2,
            gpus=0,
            batch_size=spec.batch_size,
            knee_gb=None,
            measured_cpus=(1, 2),
            peak_rss_gb=0.5,
        )
        prof = prof.model_copy(update={"job": spec.model_copy(update={"name": name})})
        path = folder / f"train-{name}.json"
        save_profile(prof, path)
        loaded.append(Loaded(path, prof))
    kinds = [
        ServerKind(
            name="here",
            gpus=server_gpus,
            cpus=server_cpus,
            memory_gb=4.0 * server_gpus,
            interference=interference,
        )
    ]
    problem = PackingProblem(
        name="tiny",
        servers=kinds,
        jobs=[PackJob(name=f"tiny{i}", gpus=1, profile=f"train-tiny{i}.json") for i in range(jobs)],
        time_limit_s=10,
    )
    sol = solve(problem, ProfileSet(loaded, folder), SolveOptions())
    out = folder / "tiny-packing-solution.json"
    out.write_text(sol.model_dump_json(indent=1))
    return out
