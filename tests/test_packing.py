"""The SCIP packing model: exact against brute force, valid, bounded, and its CLI."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from harness.profile import save_profile
from solver.packing import solve
from solver.packing_baselines import greedy, proportional
from solver.packing_check import check
from solver.packing_cli import solve_command
from solver.packing_problem import (
    Instance,
    PackingProblem,
    PackJob,
    ServerKind,
    ThroughputPoint,
    build_instance,
)
from solver.problem import read_problem
from tests.factory.train_profiles import synthetic_profiles

ROOT = Path(__file__).resolve().parents[1]


def small_problem(seed: int) -> PackingProblem:
    """3 tiny servers (two kinds) and 4 jobs with random saturating CPU x memory tables."""
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
        ServerKind(name="a", count=2, gpus=2, cpus=4, memory_gb=32),
        ServerKind(name="b", count=1, gpus=2, cpus=5, memory_gb=40),
    ]
    return PackingProblem(servers=servers, jobs=jobs)


def brute_force(inst: Instance) -> float:
    """Best total normalised throughput over every (server, CPUs, memory) per job."""
    mems: set[float] = set()
    for tab in inst.jobs:
        mems.update(c.memory_gb for c in tab.configs)
        mems.add(tab.prop_memory_gb)
    options = []
    for tab in inst.jobs:
        opts = []
        for s, srv in enumerate(inst.servers):
            if srv.gpus < tab.gpus:
                continue
            for c in range(1, int(srv.cpus) + 1):
                for m in sorted(mems):
                    if m > srv.memory_gb:
                        continue
                    v = tab.normalised_at(float(c), m)
                    if v >= 1 - 1e-9:
                        opts.append((s, tab.gpus, float(c), m, v))
        options.append(opts)
    free = [[s.gpus, s.cpus, s.memory_gb] for s in inst.servers]
    best = [-1.0]

    def rec(j: int, acc: float) -> None:
        if j == len(options):
            best[0] = max(best[0], acc)
            return
        for s, g, c, m, v in options[j]:
            f = free[s]
            if f[0] >= g and f[1] >= c - 1e-9 and f[2] >= m - 1e-9:
                f[0] -= g
                f[1] -= c
                f[2] -= m
                rec(j + 1, acc + v)
                f[0] += g
                f[1] += c
                f[2] += m

    rec(0, 0.0)
    return best[0]


@pytest.mark.parametrize("seed", range(6))
def test_scip_optimum_equals_brute_force(seed: int) -> None:
    inst = build_instance(small_problem(seed))
    pl = solve(inst, time_limit=20)
    assert pl.method == "enumerated patterns"
    assert not check(inst, pl)
    assert pl.admitted == len(inst.jobs)
    assert pl.objective == pytest.approx(brute_force(inst), abs=1e-6)
    assert pl.status == "optimal"
    assert pl.bound == pytest.approx(pl.objective, abs=1e-6)


def factory_instance(n_jobs: int, n_servers: int, seed: int = 0) -> Instance:
    profs = {p.job.name: p for p in synthetic_profiles()}
    rng = random.Random(seed)
    jobs = [
        PackJob(
            name=f"j{i}",
            gpus=rng.choices([1, 2, 4, 8], [0.6, 0.2, 0.15, 0.05])[0],
            profile=rng.choice(sorted(profs)),
        )
        for i in range(n_jobs)
    ]
    kinds = [ServerKind(name="s", count=n_servers, gpus=8, cpus=24, memory_gb=500)]
    return build_instance(PackingProblem(servers=kinds, jobs=jobs), profiles=profs)


def test_column_generation_bound_gap_and_checker() -> None:
    inst = factory_instance(40, 5)
    pl = solve(inst, time_limit=20, target_gap=0.01)
    assert pl.method == "column generation + dive"
    assert not check(inst, pl)
    assert pl.bound is not None and pl.gap is not None
    assert pl.bound >= pl.objective - 1e-6
    assert pl.gap <= 0.01
    assert proportional(inst).objective <= pl.objective + 1e-6
    assert greedy(inst).objective <= pl.objective + 1e-6


def test_job_larger_than_a_server_is_split_at_its_share() -> None:
    pts = [ThroughputPoint(cpus=1, throughput=100), ThroughputPoint(cpus=4, throughput=400)]
    prob = PackingProblem(
        servers=[ServerKind(count=3, gpus=4, cpus=12, memory_gb=100)],
        jobs=[
            PackJob(name="big", gpus=6, throughput=pts),
            PackJob(name="small", gpus=2, throughput=pts),
            PackJob(name="one", gpus=1, throughput=pts),
        ],
    )
    inst = build_instance(prob)
    pl = solve(inst, time_limit=10)
    assert not check(inst, pl)
    big = next(j for j in pl.jobs if j.job == "big")
    assert sorted(p.gpus for p in big.parts) == [2, 4]
    assert all(p.cpus == pytest.approx(3 * p.gpus) for p in big.parts)
    assert big.normalised == pytest.approx(1.0)


def test_checker_catches_capacity_and_floor_violations() -> None:
    inst = build_instance(small_problem(1))
    pl = solve(inst, time_limit=10)
    bad = pl.model_copy(deep=True)
    placed = next(j for j in bad.jobs if j.placed)
    placed.parts[0].cpus = 100.0
    assert any("CPUs used" in e for e in check(inst, bad))
    low = pl.model_copy(deep=True)
    placed = next(j for j in low.jobs if j.placed)
    placed.parts[0].cpus = 0.5
    assert any("fairness floor" in e for e in check(inst, low))


def test_cli_problem_file_writes_json_and_png(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = ROOT / "problems" / "packing.yaml"
    rc = solve_command(read_problem(path), path, [], tmp_path, "json", {"time_limit": 10})
    assert rc == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out["placements"]) == {"proportional", "greedy", "scip"}
    assert all(not v for v in out["checks"].values())
    assert (tmp_path / "packing-placement.json").exists()
    assert (tmp_path / "packing-servers.png").stat().st_size > 1000


def test_cli_default_problem_from_train_profiles(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    paths = []
    for prof in synthetic_profiles()[:3]:
        p = tmp_path / f"{prof.job.name}.json"
        save_profile(prof, p)
        paths.append(p)
    rc = solve_command(None, None, paths, tmp_path / "out", "table", {"time_limit": 10})
    text = capsys.readouterr().out
    assert rc == 0
    assert "No problem file: solving" in text
    assert "synergy-0" in text


def test_cli_bad_problem_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    raw = {"kind": "packing", "servers": [{"gpus": 8, "cpus": 24}], "jobs": []}
    rc = solve_command(raw, tmp_path / "p.yaml", [], tmp_path, "table", {})
    err = capsys.readouterr().err.strip()
    assert rc == 1
    assert len(err.splitlines()) == 1
    assert "p.yaml" in err and "memory_gb" in err
