"""Throughput tables from training profiles: measured, interpolated, extrapolated, scaled."""

from __future__ import annotations

import pytest

from harness.profile import Caps, Outcome, Probe, Stat
from solver.packing.check import check
from solver.packing.model import pack
from solver.packing.problem import (
    SYNERGY_CLUSTER,
    PackingProblem,
    PackJob,
    build_instance,
    table_for,
)
from solver.packing.table import EXTRAPOLATION_REACH, Curve, build_table, curve_model
from tests.factory.packing import no_throughput_profile, profile_set
from tests.factory.train_profiles import T0, curve_value, make_train_profile, memory_factor


def test_measured_points_are_the_profile_and_flagged_measured() -> None:
    prof = make_train_profile(peak=400, sat=6, max_cpus=12, knee_gb=None)
    model = curve_model(prof)
    for c in (1, 3, 6, 12):
        t, src = model.unit(c, 100.0)
        assert t == pytest.approx(curve_value(c, 400, 6))
        assert src == "measured"


def test_memory_axis_knee_and_oom() -> None:
    prof = make_train_profile(peak=400, sat=6, knee_gb=40, min_gb=8, floor_frac=0.5)
    model = curve_model(prof)
    full, _ = model.unit(6, 125.0)
    assert full == pytest.approx(400)
    knee, _ = model.unit(6, 32.0)
    assert knee == pytest.approx(400 * memory_factor(32, 40, 8, 0.5))
    assert knee < full
    assert model.unit(6, 4.0)[0] == 0.0  # below the smallest memory that ran: cannot run


def test_extrapolation_is_flagged_bounded_and_flat_past_reach() -> None:
    # Profiled only at 1 and 2 CPUs, as on a 2-core host: everything past 2 is extrapolated.
    curve = Curve.from_points([(1.0, 100.0), (2.0, 180.0)])
    t3, src = curve(3.0)
    assert src == "extrapolated"
    assert 180.0 <= t3 <= 180.0 + 80.0 + 1e-9  # never steeper than the last measured slope
    far = curve(2.0 * EXTRAPOLATION_REACH)[0]
    assert curve(50.0)[0] == pytest.approx(far)  # flat past the reach
    ts = [curve(c / 2)[0] for c in range(1, 40)]
    assert all(b >= a - 1e-9 for a, b in zip(ts, ts[1:], strict=False))


def test_saturating_curve_extrapolates_near_its_plateau() -> None:
    pts = [(c, 300 * c / (2 + c)) for c in (1.0, 2.0, 4.0, 8.0)]
    curve = Curve.from_points(pts)
    t, src = curve(12.0)
    assert src == "extrapolated"
    assert t == pytest.approx(300 * 12 / 14, rel=0.02)


def test_table_floor_pareto_and_proportional_first() -> None:
    prof = make_train_profile(peak=900, sat=9, knee_gb=60)
    tab = table_for("j", 1, curve_model(prof), SYNERGY_CLUSTER)
    assert (tab.prop_cpus, tab.prop_memory_gb) == (3.0, 62.5)
    assert tab.configs[0].normalised == pytest.approx(1.0)
    assert all(c.normalised >= 1 - 1e-9 for c in tab.configs)
    rest = tab.configs[1:]
    for a in rest:
        for b in rest:
            if a is b:
                continue
            dominated = (
                b.cpus <= a.cpus and b.memory_gb <= a.memory_gb and b.throughput >= a.throughput
            )
            assert not dominated, (a, b)
    best = max(tab.configs, key=lambda c: c.normalised)
    assert best.normalised == pytest.approx(3.0)  # 9 CPUs saturate it: 3x its 3-CPU share
    assert best.cpus == 9


def test_gpu_scaling_from_a_one_gpu_profile() -> None:
    prof = make_train_profile(peak=300, sat=2, knee_gb=20, gpus=1)
    model = curve_model(prof)
    one = model.job_throughput(1, 2.0, 32.0)[0]
    four = model.job_throughput(4, 8.0, 128.0)[0]
    assert four == pytest.approx(4 * one)
    tab = table_for("j4", 4, model, SYNERGY_CLUSTER)
    assert tab.images_per_iteration == pytest.approx(4 * prof.job.batch_size)


def test_no_memory_axis_uses_peak_rss_as_the_memory_needed() -> None:
    prof = make_train_profile(knee_gb=None, peak_rss_gb=10.0)
    model = curve_model(prof)
    assert model.min_memory_gb == pytest.approx(11.0)
    tab = build_table("j", 1, model, 3.0, 62.5, 24.0, 500.0)
    assert min(c.memory_gb for c in tab.configs) == pytest.approx(11.0)


def test_probes_only_profile_without_search() -> None:
    prof = make_train_profile(knee_gb=None, max_cpus=2, measured_cpus=(1, 2))
    assert prof.train is not None
    prof.train.search = None
    prof.train.probes.append(
        Probe(
            id="failed",
            caps=Caps(cpus=2.0),
            backend="local",
            outcome=Outcome.crashed,
            started=T0,
            duration_s=1.0,
            throughput=Stat.of([1.0]),
        )
    )
    tab = table_for("j", 1, curve_model(prof), SYNERGY_CLUSTER)
    assert any(c.source == "extrapolated" for c in tab.configs)
    assert "extrapolated" in " ".join(tab.notes)


def test_non_train_profile_is_a_one_line_error() -> None:
    with pytest.raises(ValueError, match="no ok probe"):
        curve_model(no_throughput_profile())


def test_two_core_host_profile_packs_on_a_synergy_server() -> None:
    """Like the profiles this 2-core host makes: 1-2 CPUs, a small memory axis, no GPU."""
    prof = make_train_profile(
        name="host",
        peak=60,
        sat=4,
        max_cpus=2,
        gpus=0,
        knee_gb=3.0,
        min_gb=1.0,
        memory_levels=(1.0, 2.0, 4.0),
        matrix_cpus=(1.0, 2.0),
    )
    model = curve_model(prof)
    assert model.unit_gpus == 0
    tab = table_for("host", 1, model, SYNERGY_CLUSTER)
    assert tab.configs[0].source == "extrapolated"  # 3 CPUs per GPU is past the 2 profiled
    assert not any("scaled" in n for n in tab.notes)  # a 0-GPU profile serves 1 GPU as is
    prob = PackingProblem(
        servers=SYNERGY_CLUSTER, jobs=[PackJob(name=f"h{i}", profile="host") for i in range(4)]
    )
    inst = build_instance(prob, profile_set([prof]))
    pl = pack(inst, time_limit=5)
    assert check(inst, pl) == []
    assert pl.objective >= 4.0 - 1e-9
