"""The SCIP packing model: exact against brute force, valid, bounded, splits large jobs."""

from __future__ import annotations

import time

import pytest

from solver.packing.baselines import greedy, proportional
from solver.packing.check import check
from solver.packing.master import build_master
from solver.packing.model import column_generation, pack
from solver.packing.problem import (
    PackingProblem,
    PackJob,
    ServerKind,
    ThroughputPoint,
    build_instance,
)
from tests.factory.packing import brute_force, factory_instance, small_problem


@pytest.mark.parametrize("seed", range(6))
def test_scip_optimum_equals_brute_force(seed: int) -> None:
    inst = build_instance(small_problem(seed))
    pl = pack(inst, time_limit=20)
    assert pl.method == "enumerated patterns"
    assert not check(inst, pl)
    assert pl.admitted == len(inst.jobs)
    assert pl.objective == pytest.approx(brute_force(inst), abs=1e-6)
    assert pl.status == "optimal"
    assert pl.bound == pytest.approx(pl.objective, abs=1e-6)


def test_column_generation_bound_gap_and_checker() -> None:
    inst = factory_instance(40, 5)
    pl = pack(inst, time_limit=20, target_gap=0.01)
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
    pl = pack(inst, time_limit=10)
    assert not check(inst, pl)
    big = next(j for j in pl.jobs if j.job == "big")
    assert sorted(p.gpus for p in big.parts) == [2, 4]
    assert all(p.cpus == pytest.approx(3 * p.gpus) for p in big.parts)
    assert big.normalised == pytest.approx(1.0)


def test_checker_catches_capacity_and_floor_violations() -> None:
    inst = build_instance(small_problem(1))
    pl = pack(inst, time_limit=10)
    bad = pl.model_copy(deep=True)
    placed = next(j for j in bad.jobs if j.placed)
    placed.parts[0].cpus = 100.0
    assert any("CPUs used" in e for e in check(inst, bad))
    low = pl.model_copy(deep=True)
    placed = next(j for j in low.jobs if j.placed)
    placed.parts[0].cpus = 0.5
    assert any("fairness floor" in e for e in check(inst, low))


def test_column_generation_gives_the_same_bound_whatever_time_it_has() -> None:
    # bounded by rounds and pricing nodes, not seconds: a generous cap changes nothing
    inst = factory_instance(120, 16, seed=3)
    admitted = list(range(len(inst.jobs)))[:60]
    runs = []
    for cap in (60.0, 600.0):
        m, _rows = build_master(inst, admitted)
        st, _lam = column_generation(m, time.perf_counter() + cap, 0.005)
        runs.append((st.iterations, st.bound, len(m.columns), st.cut_by_time))
    assert runs[0] == runs[1] and not runs[0][3]


def test_a_table_shared_by_jobs_of_one_profile_carries_each_jobs_name() -> None:
    inst = factory_instance(30, 4, seed=1)
    assert [t.name for t in inst.jobs] == [f"j{i}" for i in range(30)]
    same = [t for t in inst.jobs if t.model is inst.jobs[0].model and t.gpus == inst.jobs[0].gpus]
    assert len(same) >= 2 and same[0].configs == same[1].configs


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("factor", [0.5, 0.85])
def test_interference_optimum_equals_brute_force(seed: int, factor: float) -> None:
    inst = build_instance(small_problem(seed, interference=factor))
    pl = pack(inst, time_limit=20)
    assert pl.method == "enumerated patterns"
    assert not check(inst, pl)
    assert pl.objective == pytest.approx(brute_force(inst), abs=1e-6)
    assert pl.bound == pytest.approx(pl.objective, abs=1e-6)
    for base in (greedy(inst), proportional(inst)):
        assert not check(inst, base)
        assert base.objective <= pl.objective + 1e-6


def test_a_strong_interference_spreads_the_jobs() -> None:
    """Two 1-GPU jobs, two servers: together they lose half their rate, so SCIP keeps them
    apart; without a factor both placements are worth the same."""
    pts = [ThroughputPoint(cpus=1, throughput=10), ThroughputPoint(cpus=2, throughput=10)]
    jobs = [PackJob(name=f"j{i}", gpus=1, throughput=pts) for i in range(2)]
    kinds = [ServerKind(name="s", count=2, gpus=2, cpus=2, memory_gb=8, interference=0.5)]
    inst = build_instance(PackingProblem(servers=kinds, jobs=jobs))
    pl = pack(inst, time_limit=20)
    assert not check(inst, pl)
    assert all(len(s.jobs) == 1 for s in pl.servers)
    assert pl.objective == pytest.approx(2.0)
