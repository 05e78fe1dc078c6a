"""Baselines: admission, GPU-proportional and Synergy-TUNE greedy; all checked, none beat SCIP."""

from __future__ import annotations

import pytest

from solver.packing.baselines import admit, greedy, proportional, split_sizes
from solver.packing.check import check
from solver.packing.model import pack
from solver.packing.problem import (
    PackingProblem,
    PackJob,
    ServerKind,
    ThroughputPoint,
    build_instance,
)
from tests.factory.packing import brute_force, factory_instance, small_problem


@pytest.mark.parametrize("seed", range(4))
def test_every_policy_passes_the_checker_and_none_beats_the_optimum(seed: int) -> None:
    inst = build_instance(small_problem(seed))
    best = pack(inst, time_limit=10)
    opt = brute_force(inst)
    for pl in (proportional(inst), greedy(inst), best):
        assert check(inst, pl) == [], pl.policy
        assert pl.objective <= opt + 1e-6
    assert greedy(inst).objective <= best.objective + 1e-6


@pytest.mark.parametrize("seed", range(3))
def test_policies_on_profile_built_instances(seed: int) -> None:
    inst = factory_instance(30, 4, seed=seed)
    best = pack(inst, time_limit=4)
    prop = proportional(inst)
    gre = greedy(inst)
    for pl in (prop, gre, best):
        assert check(inst, pl) == [], pl.policy
    assert prop.objective == pytest.approx(prop.admitted - len(prop.unplaced))
    assert gre.objective <= best.objective + 1e-6
    assert prop.objective <= best.objective + 1e-6


def test_admission_keeps_order_and_gpu_capacity() -> None:
    inst = factory_instance(60, 2, seed=3)  # far more GPUs asked than 16
    admitted, witness = admit(inst)
    assert sum(inst.jobs[j].gpus for j in admitted) <= 16
    assert admitted == sorted(admitted)
    used = [0] * len(inst.servers)
    for parts in witness.values():
        for s, g in parts:
            used[s] += g
    assert all(u <= s.gpus for u, s in zip(used, inst.servers, strict=True))


def test_greedy_gives_cpu_hungry_jobs_more_than_their_share() -> None:
    inst = factory_instance(8, 2, seed=5)
    gre = greedy(inst)
    assert check(inst, gre) == []
    assert any(j.normalised > 1.0 + 1e-6 for j in gre.jobs if j.placed)


def test_split_sizes() -> None:
    assert split_sizes(12, 8) == [8, 4]
    assert split_sizes(16, 8) == [8, 8]


def test_proportional_split_job_uses_whole_servers() -> None:
    pts = [ThroughputPoint(cpus=1, throughput=10), ThroughputPoint(cpus=3, throughput=30)]
    prob = PackingProblem(
        servers=[ServerKind(count=2, gpus=8, cpus=24, memory_gb=500)],
        jobs=[PackJob(name="big", gpus=16, throughput=pts)],
    )
    inst = build_instance(prob)
    for pl in (proportional(inst), greedy(inst)):
        assert check(inst, pl) == []
        assert sorted(p.gpus for p in pl.jobs[0].parts) == [8, 8]
