"""How profiles become stage times: a fractional CPU quota throttles a stream, and a segment
measured whole is taken over a sum of its parts."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.profile import BundleTiming, Stat
from solver.accsplit.baselines import feasible_variants
from solver.accsplit.instance import _chains, build_instance
from solver.accsplit.model import build, solve
from solver.profiles import Loaded, ProfileSet
from tests.factory.accsplit import acc_problem, brute_force, make_variant_profiles


def _set(**kw: object) -> ProfileSet:
    profs = make_variant_profiles(n_layers=5, n_domains=2, **kw)  # type: ignore[arg-type]
    return ProfileSet([Loaded(Path(f"p{i}.json"), p) for i, p in enumerate(profs)])


def test_busy_is_cpu_time_over_the_quota_when_longer() -> None:
    b = BundleTiming(start=0, end=1, batch_size=1, latency=Stat.of([0.010]), cpu_s=0.009)
    assert b.busy_s(None) == pytest.approx(0.010)  # no quota: the latency
    assert b.busy_s(1.0) == pytest.approx(0.010)  # a whole CPU: the latency is longer
    assert b.busy_s(0.5) == pytest.approx(0.018)  # half a CPU: a stream is throttled
    assert b.model_copy(update={"cpu_s": None}).busy_s(0.5) == pytest.approx(0.010)


def test_a_half_cpu_edge_is_busy_twice_its_latency_when_streamed() -> None:
    plain = build_instance(acc_problem(), _set())
    capped = build_instance(acc_problem(), _set(quotas={"edge": 0.5}))
    for vp, vc in zip(plain.variants, capped.variants, strict=True):
        for f, runs in vc.runs[capped.edge].items():
            for rp, rc in zip(vp.runs[plain.edge][f], runs, strict=True):
                assert rp is not None and rc is not None
                assert rc.latency == pytest.approx(rp.latency)  # one batch alone: as fast
                assert rc.stage_s == pytest.approx(2 * rp.latency)  # streamed: throttled
    for p in capped.points(0):
        assert p.bottleneck_s == pytest.approx(max(p.edge.stage_s, p.link_s, p.srv.stage_s))
        assert p.latency == pytest.approx(
            p.edge.latency + p.link_s + p.link_latency_s + p.srv.latency
        )


@pytest.mark.parametrize("objective", ["throughput", "latency"])
def test_scip_matches_brute_force_under_a_quota(objective: str) -> None:
    inst = build_instance(acc_problem(objective=objective), _set(quotas={"edge": 0.5}))
    for d in inst.domains:
        best, _ = brute_force(inst, d)
        stats, point = solve(build(inst, feasible_variants(inst, d), inst.bound(d), d), None)
        assert point is not None and stats.status == "optimal"
        assert inst.value(point) == pytest.approx(best, rel=1e-9)


@pytest.mark.parametrize("mbps", [5.0, 20.0])
def test_the_quota_moves_a_throughput_decision_off_the_throttled_edge(mbps: float) -> None:
    devices = (("edge", 1.0, (None,)), ("server", 1.5, (None,)))  # a server barely faster
    plain = build_instance(acc_problem(bandwidth_mbps=mbps), _set(devices=devices))
    capped = build_instance(
        acc_problem(bandwidth_mbps=mbps), _set(devices=devices, quotas={"edge": 0.25})
    )
    d = plain.domains[0]
    _, p0 = brute_force(plain, d)
    _, p1 = brute_force(capped, d)
    assert p0 is not None and p1 is not None and p0.cut > 0  # unthrottled, the edge works
    # what runs on the edge costs four times its latency in a stream: less of it runs there
    assert p1.cut < p0.cut and p1.edge.latency < p0.edge.latency
    assert capped.value(p1) > plain.value(p0)


def _bundle(a: int, b: int, lat: float) -> tuple[int, int, float, float, float]:
    return (a, b, lat, 0.0, lat)


def test_a_segment_measured_whole_is_taken_over_a_cheaper_sum_of_parts() -> None:
    parts = [_bundle(0, 1, 0.004), _bundle(1, 2, 0.004), _bundle(2, 3, 0.004)]
    whole = [_bundle(0, 2, 0.011), _bundle(1, 3, 0.0105)]
    pre = _chains(parts + whole, 3, True, "throughput")
    assert pre[2] is not None and pre[2].latency == pytest.approx(0.011)  # [0, 2) measured
    assert pre[3] is not None and pre[3].latency == pytest.approx(0.012)  # no [0, 3): a chain
    assert [b[:2] for b in pre[3].bundles] == [(0, 1), (1, 2), (2, 3)]
    suf = _chains(parts + whole, 3, False, "latency")
    assert suf[1] is not None and suf[1].latency == pytest.approx(0.0105)  # [1, 3) measured
    assert suf[0] is not None and suf[0].latency == pytest.approx(0.012)
