"""Predicted vs measured, and worker records -> results (pure)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from harness.runsplit.compare import (
    at_compute,
    compare_makespan,
    compare_phase,
    compute_ratio,
    median_abs,
    predict,
    relative_error,
    speed_note,
    transfer_s,
)
from harness.runsplit.plan import LinkSetting, Phase, PipelineJob, PlanSpec, PlanStep, Segment
from harness.runsplit.summary import phase_result, stage_shares

STEPS = [
    PlanStep("compute", "edge", 0.010, 0, 3),
    PlanStep("transfer", "edge", 0.999, nbytes=100_000),
    PlanStep("compute", "server", 0.004, 3, 8),
    PlanStep("transfer", "server", 0.999, nbytes=4_000),
]
LINK = LinkSetting(up_mbps=8.0, down_mbps=16.0, latency_ms=5.0)


def test_transfers_are_repriced_at_the_link_each_way() -> None:
    p = predict(STEPS, 1, LINK)
    assert p.up_s == pytest.approx(0.005 + 100_000 * 8 / 8e6)
    assert p.down_s == pytest.approx(0.005 + 4_000 * 8 / 16e6)
    assert p.latency_s == pytest.approx(0.010 + 0.004 + p.up_s + p.down_s)
    same = predict(STEPS, 1, None)  # the solver's own transfer latencies
    assert same.up_s == 0.999 and same.down_s == 0.999
    assert transfer_s(1e6, 8.0, 0.0) == pytest.approx(1.0)


def test_throughput_sequential_vs_pipelined() -> None:
    p = predict(STEPS, 4, LINK)
    assert p.throughput("latency") == pytest.approx(4 / p.latency_s)
    # the uplink is busiest: its bytes / bandwidth, the propagation delay overlapping
    assert p.throughput("throughput") == pytest.approx(4 / (100_000 * 8 / 8e6))
    assert p.up_busy_s == pytest.approx(p.up_s - 0.005)
    # a window of one request is sequential; a small window caps the rate at window / latency
    assert p.throughput("throughput", window=1) == pytest.approx(p.throughput("latency"))
    assert p.throughput("throughput", window=64) == pytest.approx(p.throughput("throughput"))
    fast = predict(STEPS, 4, LinkSetting(up_mbps=800.0, down_mbps=800.0, latency_ms=5.0))
    assert fast.throughput("throughput") == pytest.approx(4 / 0.010)  # the edge is busiest
    assert fast.throughput("throughput", window=2) == pytest.approx(2 * 4 / fast.latency_s)


def test_a_result_needed_on_the_server_frees_its_window_slot_when_the_reply_is_back() -> None:
    """Output on the server: the client learns of each completion from the server's reply,
    one link latency plus its bytes later, and only then may it send the next request."""
    steps = [
        PlanStep("compute", "edge", 0.010, 0, 2),
        PlanStep("transfer", "edge", 0.0, nbytes=100_000),
        PlanStep("compute", "server", 0.020, 2, 5),
    ]
    link = LinkSetting(up_mbps=8.0, down_mbps=8.0, latency_ms=5.0)
    p = predict(steps, 4, link, reply_bytes=1_000)
    assert p.latency_s == pytest.approx(0.010 + 0.105 + 0.020)  # the reply is not in it
    assert p.notice_s == pytest.approx(0.005 + 0.001) and p.cycle_s == p.latency_s + p.notice_s
    assert p.throughput("latency") == pytest.approx(4 / p.cycle_s)
    assert p.throughput("throughput", window=1) == pytest.approx(4 / p.cycle_s)
    assert p.throughput("throughput") == pytest.approx(4 / 0.1)  # the uplink: 100 kB at 8 Mbit/s
    # two in flight: a cycle (0.141 s) per two requests is faster than the uplink; one is not
    assert p.throughput("throughput", window=2) == pytest.approx(4 / 0.1)
    slow = predict(steps, 4, LinkSetting(up_mbps=8.0, down_mbps=8.0, latency_ms=200.0), 1_000)
    assert slow.throughput("throughput", window=2) == pytest.approx(2 * 4 / slow.cycle_s)
    # the result back on the edge: its return is a step of the plan, no notice beside it
    back = [*steps, PlanStep("transfer", "server", 0.0, nbytes=1_000)]
    q = predict(back, 4, link, reply_bytes=1_000)
    assert q.notice_s == 0.0 and q.throughput("latency") == pytest.approx(4 / q.latency_s)
    # no link to price it on: no notice
    assert predict(steps, 4, None, reply_bytes=1_000).notice_s == 0.0


def test_relative_error_and_median() -> None:
    assert relative_error(0.9, 1.0) == pytest.approx(-0.1)
    assert relative_error(1.0, None) is None and relative_error(1.0, 0.0) is None
    assert median_abs([0.1, -0.3, None, 0.2]) == pytest.approx(0.2)
    assert median_abs([0.1, -0.3]) == pytest.approx(0.2)
    assert median_abs([None]) is None


def _req(phase: int, lat: float, **kw: float) -> dict[str, Any]:
    return {"type": "request", "phase": phase, "latency_s": lat, **kw}


def test_stage_shares_add_up_and_keep_the_rest_as_other() -> None:
    reqs = [
        _req(0, 0.10, edge_s=0.02, up_s=0.05, server_s=0.01, down_s=0.01),
        _req(0, 0.12, edge_s=0.02, up_s=0.06, server_s=0.01, down_s=0.01),
    ]
    s = stage_shares(reqs)
    assert s is not None
    assert s.transfer_s == pytest.approx(0.055)
    assert s.other_s == pytest.approx(0.015)
    assert sum(s.share.values()) == pytest.approx(1.0)
    assert s.edge_on_cpu is None  # no CPU times recorded
    assert stage_shares([]) is None
    shared = stage_shares(
        [_req(0, 0.1, edge_s=0.04, edge_cpu_s=0.02, server_s=0.01, server_cpu_s=0.01)]
    )
    assert shared is not None
    assert shared.edge_on_cpu == pytest.approx(0.5) and shared.server_on_cpu == pytest.approx(1.0)


def test_phase_result_and_comparisons_from_records() -> None:
    plan = PlanSpec(
        name="p",
        model="m",
        segments=[Segment(role="edge", start=0, end=3), Segment(role="server", start=3, end=8)],
    )
    ph = Phase(name="p (latency)", link=LINK, plan=plan, requests=2)
    recs = [
        _req(0, 0.10, edge_s=0.02, up_s=0.05, server_s=0.01, down_s=0.01),
        _req(0, 0.12, edge_s=0.02, up_s=0.06, server_s=0.01, down_s=0.01),
        _req(1, 9.0),
        {
            "type": "phase_done",
            "phase": 0,
            "samples": 2,
            "wall_s": 0.25,
            "outputs_match": True,
            "max_abs_diff": 0.0,
            "inputs": "jpeg:/data",
        },
    ]
    res = phase_result(0, ph, recs, SimpleNamespace(shaping="tc", detail="tbf"))
    assert res.requests == 2 and res.latency is not None
    assert res.latency.median == pytest.approx(0.11)
    assert res.throughput_per_s == pytest.approx(8.0)
    assert res.shaping == "tc" and res.outputs_match is True
    pred = predict(STEPS, 1, LINK)
    row = compare_phase("p", pred, res)
    assert row.latency_error == pytest.approx((pred.latency_s - 0.11) / 0.11)
    assert row.measured_stages is not None and row.measured_stages["up"] == pytest.approx(0.055)
    # edge 0.02 + server 0.01 measured against 0.010 + 0.004 profiled
    assert row.compute_ratio == pytest.approx(0.03 / 0.014)
    # with that compute the model predicts a latency of 0.03 + its link times
    known = pred.latency_s + 0.016
    assert row.throughput_error_at_compute == pytest.approx((1 / known - 8.0) / 8.0)


def test_at_its_compute_the_error_left_is_the_link_and_pipeline_models() -> None:
    """A run whose sides computed 1.5x their profiles, on a link that behaved as modelled:
    the plain error is the machine's, and the prediction remade at the run's compute is
    exact; streamed, the busiest resource is found again at the new compute."""
    pred = predict(STEPS, 4, LinkSetting(up_mbps=800.0, down_mbps=800.0, latency_ms=5.0))
    meas = {"edge": 0.015, "up": pred.up_s, "server": 0.006, "down": pred.down_s}
    k = at_compute(pred, meas)
    assert k is not None
    assert (k.edge_s, k.server_s) == pytest.approx((0.015, 0.006))
    assert k.latency_s == pytest.approx(pred.latency_s + 0.005 + 0.002)
    assert k.up_s == pred.up_s and k.down_s == pred.down_s  # the link as predicted
    assert k.throughput("throughput") == pytest.approx(4 / 0.015)  # the edge, slower
    assert pred.throughput("throughput") == pytest.approx(4 / 0.010)
    busy = predict([PlanStep("compute", "server", 0.01, 0, 8, busy_s=0.02)], 1, None)
    k2 = at_compute(busy, {"server": 0.015})
    assert k2 is not None and k2.server_busy_s == pytest.approx(0.03)  # occupancy scaled alike
    assert at_compute(pred, None) is None
    assert at_compute(pred, {"edge": 0.015, "server": None}) is None  # a side not measured
    only_server = predict(STEPS[2:3], 1, None)
    assert at_compute(only_server, {"edge": None, "server": 0.008}) is not None


def test_compute_ratio_sets_both_sides_against_their_profiles_and_needs_both() -> None:
    pred = {"edge": 0.010, "up": 0.5, "server": 0.030, "down": 0.1}
    meas = {"edge": 0.015, "up": 9.0, "server": 0.045, "down": 9.0, "other": 1.0}
    assert compute_ratio(pred, meas) == pytest.approx(1.5)  # the link's stages do not count
    assert compute_ratio(pred, None) is None and compute_ratio(None, meas) is None
    assert compute_ratio({"edge": 0.0, "server": 0.0}, meas) is None  # nothing was predicted
    assert compute_ratio(pred, {"edge": None, "server": 0.0}) is None  # nothing was measured


def test_streamed_rate_is_the_steady_state_not_the_fill_and_drain() -> None:
    """A throughput phase's rate counts completions after the warm-up's last one, so the
    pipeline's fill and drain (which the streamed-rate model leaves out) do not dilute it."""
    plan = PlanSpec(name="p", model="m", segments=[Segment(role="server", start=0, end=8)])
    ph = Phase(name="p (throughput)", mode="throughput", link=LINK, plan=plan, requests=8)
    done = {
        "type": "phase_done",
        "phase": 0,
        "samples": 8 * 4,
        "wall_s": 1.2,
        "steady_wall_s": 0.8,
        "steady_samples": 8 * 4,
    }
    res = phase_result(0, ph, [done], None)
    assert res.window == 4
    assert res.throughput_per_s == pytest.approx(40.0)
    assert res.throughput_span_per_s == pytest.approx(32 / 1.2)


def test_steady_span_counts_completions_after_the_warm_up() -> None:
    from harness.runsplit.worker import steady_span

    reqs = [SimpleNamespace(t_done=t) for t in (0.5, 0.6, 0.7, 0.8, 0.9, 1.0)]
    assert steady_span(reqs, warmup=2) == (pytest.approx(0.4), 4)  # type: ignore[arg-type]
    assert steady_span(reqs, warmup=0) == (pytest.approx(0.5), 5)  # type: ignore[arg-type]
    assert steady_span(reqs[:1], warmup=2) == (0.0, 0)  # type: ignore[arg-type]


def test_pipeline_phase_makespan() -> None:
    jobs = [PipelineJob(name=f"j{i}", model="m", cut=c, n_layers=4) for i, c in enumerate([0, 4])]
    ph = Phase(name="OPT", mode="pipeline", link=LINK, jobs=jobs, repeats=3)
    recs = [
        {
            "type": "pipeline",
            "phase": 0,
            "repeat": r,
            "makespan_s": m,
            "jobs": [
                {"name": "j0", "cut": 0, "comm": [0, 1], "remote": [1, 2]},
                {"name": "j1", "cut": 4, "local": [0, 1.5]},
            ],
        }
        for r, m in enumerate([2.0, 2.2, 2.1])
    ] + [{"type": "phase_done", "phase": 0, "samples": 6, "wall_s": None, "outputs_match": True}]
    res = phase_result(0, ph, recs, None)
    assert res.makespan is not None and res.makespan.median == pytest.approx(2.1)
    assert res.schedule[1].local == (0, 1.5) and res.schedule[0].local is None
    assert res.throughput_per_s is None and res.shaping is None
    row = compare_makespan("OPT", 1.89, res)
    assert row.makespan_error == pytest.approx(-0.1) and row.repeats == 3


def test_a_machine_off_its_profiled_speed_in_every_phase_is_named_once() -> None:
    slow = speed_note([1.51, 1.67, 1.34, None])
    assert slow is not None and "slower" in slow and "x1.34-x1.67" in slow
    fast = speed_note([0.7, 0.8])
    assert fast is not None and "faster" in fast
    # one phase near its profile: the machine's speed is not what the errors say
    assert speed_note([1.26, 0.86, 0.95, 0.94]) is None
    assert speed_note([None, None]) is None and speed_note([]) is None
