"""The independent placement checker: each violation it exists for, one at a time.

The faulty placements are built by hand (make_placement from parts, as a fake policy would), so
that each test breaks exactly one rule and the checker must name exactly that one.
"""

from __future__ import annotations

import pytest

from solver.packing.baselines import admit, greedy, proportional
from solver.packing.check import check
from solver.packing.problem import (
    Instance,
    PackingProblem,
    PackJob,
    PartTuple,
    ServerKind,
    ThroughputPoint,
    build_instance,
)
from solver.packing.solution import Placement, make_placement

# Flat curves: one CPU already gives the full rate, so a job may take less than its
# proportional share (3 CPUs, 25 GB per GPU here) and still meet the fairness floor; that lets
# a test overflow one resource of a server without overflowing the others.
FLAT = [ThroughputPoint(cpus=1, throughput=100), ThroughputPoint(cpus=4, throughput=100)]


def flat_instance() -> Instance:
    """3 servers of 4 GPUs, 12 CPUs, 100 GB; a 6-GPU job (split over two servers), five 1-GPU."""
    jobs = [PackJob(name="big", gpus=6, throughput=FLAT)]
    jobs += [PackJob(name=f"f{i}", gpus=1, throughput=FLAT) for i in range(1, 6)]
    kinds = [ServerKind(name="s", count=3, gpus=4, cpus=12, memory_gb=100)]
    return build_instance(PackingProblem(servers=kinds, jobs=jobs))


def valid_parts() -> dict[int, list[PartTuple]]:
    parts: dict[int, list[PartTuple]] = {0: [(0, 4, 12.0, 100.0), (1, 2, 6.0, 50.0)]}
    for j in range(1, 5):
        parts[j] = [(2, 1, 1.0, 10.0)]
    parts[5] = [(1, 1, 1.0, 10.0)]
    return parts


def fake(inst: Instance, parts: dict[int, list[PartTuple]], admitted: list[int]) -> Placement:
    return make_placement(inst, "fake", admitted, parts, "fake", 0.0)


ALL = list(range(6))


def test_the_hand_made_placement_is_valid() -> None:
    inst = flat_instance()
    assert check(inst, fake(inst, valid_parts(), ALL), ALL) == []
    assert check(inst, fake(inst, valid_parts(), ALL)) == []


def test_an_admitted_job_left_unplaced_is_flagged() -> None:
    inst = flat_instance()
    parts = valid_parts()
    del parts[3]
    bad = fake(inst, parts, ALL)
    assert check(inst, bad, ALL) == ["f3: admitted but left unplaced"]
    # without the admitted set, the placement's own report gives it away
    assert check(inst, bad) == ["f3: admitted (the placement says) but left unplaced"]
    # a policy that also hides it from its report is caught only by the caller's admitted set
    hidden = bad.model_copy(update={"unplaced": [], "admitted": 5})
    assert check(inst, hidden) == []
    assert check(inst, hidden, ALL) == ["f3: admitted but left unplaced"]
    # and one that under-reports its admitted count is caught by the count
    assert check(inst, bad.model_copy(update={"unplaced": []})) == [
        "5 jobs placed and 0 reported unplaced, but 6 admitted"
    ]


def test_a_queued_job_placed_or_a_job_missing_is_flagged() -> None:
    inst = flat_instance()
    ok = fake(inst, valid_parts(), ALL)
    assert check(inst, ok, ALL[:-1]) == ["f5: placed but not admitted (it is queued this round)"]
    gone = ok.model_copy(update={"jobs": [j for j in ok.jobs if j.job != "f5"], "objective": 5.0})
    assert "f5: missing from the placement" in check(inst, gone, ALL)


def test_gpu_overflow_is_flagged() -> None:
    inst = flat_instance()
    parts = valid_parts()
    parts[5] = [(2, 1, 1.0, 10.0)]  # a fifth 1-GPU job on server 2: 5 GPUs, 5 CPUs, 50 GB
    assert check(inst, fake(inst, parts, ALL), ALL) == ["s-2: 5 GPUs used of 4"]


def test_memory_overflow_is_flagged() -> None:
    inst = flat_instance()
    parts = valid_parts()
    for j in range(1, 5):
        parts[j] = [(2, 1, 1.0, 30.0)]  # 4 GPUs, 4 CPUs, 120 GB on server 2
    assert check(inst, fake(inst, parts, ALL), ALL) == ["s-2: 120 GB used of 100"]


def test_cpu_overflow_is_flagged() -> None:
    inst = flat_instance()
    parts = valid_parts()
    for j in range(1, 5):
        parts[j] = [(2, 1, 4.0, 10.0)]  # 16 CPUs on server 2
    assert check(inst, fake(inst, parts, ALL), ALL) == ["s-2: 16 CPUs used of 12"]


@pytest.mark.parametrize(
    ("part", "resource"), [((1, 2, 5.0, 50.0), "CPUs"), ((1, 2, 6.0, 40.0), "memory")]
)
def test_split_part_below_its_share_is_flagged(part: PartTuple, resource: str) -> None:
    # a split job runs at its slowest part: 2 GPUs need 6 CPUs and 50 GB there (3, 25 per GPU)
    inst = flat_instance()
    parts = valid_parts()
    parts[0] = [(0, 4, 12.0, 100.0), part]
    errs = check(inst, fake(inst, parts, ALL), ALL)
    assert errs == ["big: part on s-1 below its proportional share"], resource


def test_split_job_with_gpus_missing_is_flagged() -> None:
    inst = flat_instance()
    parts = valid_parts()
    parts[0] = [(0, 4, 12.0, 100.0), (1, 1, 3.0, 25.0)]
    assert check(inst, fake(inst, parts, ALL), ALL) == ["big: 5 GPUs placed, 6 requested"]


def test_reported_throughput_must_be_the_parts_one() -> None:
    inst = flat_instance()
    bad = fake(inst, valid_parts(), ALL).model_copy(deep=True)
    bad.jobs[1].throughput *= 2  # the simulator would run f1 twice as fast as its allocation
    assert check(inst, bad, ALL) == ["f1: reports 200 images/s, its parts give 100"]


def test_real_policies_place_exactly_the_admitted_jobs() -> None:
    # more GPUs asked (6 + 5 + 8 = 19) than the 12 there are: some jobs must queue
    inst = flat_instance()
    more = [
        PackJob(name="eight", gpus=4, throughput=FLAT),
        PackJob(name="nine", gpus=4, throughput=FLAT),
    ]
    kinds = inst.kinds
    jobs = [PackJob(name=t.name, gpus=t.gpus, throughput=FLAT) for t in inst.jobs] + more
    inst = build_instance(PackingProblem(servers=kinds, jobs=jobs))
    must, _ = admit(inst)
    assert len(must) < len(inst.jobs)
    for pl in (proportional(inst), greedy(inst)):
        assert check(inst, pl, must) == [], pl.policy
        assert check(inst, pl, list(range(len(inst.jobs)))) != []


def interfering_instance(factor: float) -> Instance:
    """flat_instance with a measured interference factor on its one server kind."""
    jobs = [PackJob(name="big", gpus=6, throughput=FLAT)]
    jobs += [PackJob(name=f"f{i}", gpus=1, throughput=FLAT) for i in range(1, 6)]
    kinds = [ServerKind(name="s", count=3, gpus=4, cpus=12, memory_gb=100, interference=factor)]
    return build_instance(PackingProblem(servers=kinds, jobs=jobs))


def test_interference_scales_the_jobs_that_share_a_server_only() -> None:
    inst = interfering_instance(0.8)
    pl = fake(inst, valid_parts(), ALL)
    assert check(inst, pl, ALL) == []
    rate = {j.job: j.throughput for j in pl.jobs}
    # f1..f4 share server 2 -> 0.8 x 100; big has 4 GPUs alone on s-0 and 2 shared on s-1 with
    # f5: its parts weighted by GPUs, (4 x 1 + 2 x 0.8) / 6
    assert rate["f1"] == pytest.approx(80.0)
    assert rate["f5"] == pytest.approx(80.0)
    big = next(j for j in pl.jobs if j.job == "big")
    assert big.normalised == pytest.approx((4 + 2 * 0.8) / 6)
    alone = fake(inst, {1: [(0, 1, 1.0, 10.0)]}, [1])
    assert alone.jobs[1].throughput == pytest.approx(100.0)


def test_a_rate_that_ignores_interference_is_flagged() -> None:
    inst = interfering_instance(0.5)
    pl = fake(inst, valid_parts(), ALL)
    # a policy that reports f1 at its images/s alone, though it shares s-2 with three jobs
    jobs = [j.model_copy(update={"throughput": 100.0}) if j.job == "f1" else j for j in pl.jobs]
    bad = pl.model_copy(update={"jobs": jobs})
    assert check(inst, bad, ALL) == ["f1: reports 100 images/s, its parts give 50"]
