"""A side's compute after waiting for the link: the ratio at a gap, and the gaps a plan leaves
each side one request at a time and streamed (pure)."""

from __future__ import annotations

import pytest

from harness.runsplit.compare import Prediction, predict
from harness.runsplit.idle import after_idle, factor, gaps
from harness.runsplit.plan import LinkSetting, PlanStep

CURVE = [(0.002, 1.05), (0.010, 1.20), (0.050, 1.30)]
LINK = LinkSetting(up_mbps=100.0, down_mbps=100.0, latency_ms=5.0)


def _server_only(compute_s: float = 0.0066, nbytes: int = 73_728) -> Prediction:
    steps = [
        PlanStep("transfer", "edge", 0.0, nbytes=nbytes),
        PlanStep("compute", "server", compute_s, 0, 7),
    ]
    return predict(steps, 32, LINK, reply_bytes=1_280)


def test_the_ratio_is_one_without_a_gap_linear_between_gaps_and_flat_beyond() -> None:
    assert factor(CURVE, 0.0) == 1.0 and factor([], 0.03) == 1.0
    assert factor(CURVE, 0.001) == pytest.approx(1.025)  # from 1 at no gap
    assert factor(CURVE, 0.010) == pytest.approx(1.20)
    assert factor(CURVE, 0.030) == pytest.approx(1.25)
    assert factor(CURVE, 5.0) == pytest.approx(1.30)


def test_one_request_at_a_time_the_server_idles_for_the_transfer_and_the_reply() -> None:
    pred = _server_only()
    out, ratios = after_idle(pred, "latency", 1, {"server": CURVE, "edge": CURVE})
    assert set(ratios) == {"server"}  # the edge computes nothing: nothing to slow
    idle = gaps(out, "latency", 1)["server"]
    assert idle == pytest.approx(pred.up_s + pred.notice_s, rel=1e-9)
    assert ratios["server"] == pytest.approx(factor(CURVE, idle), rel=1e-3)  # the fixed point
    assert out.server_s == pytest.approx(pred.server_s * ratios["server"])
    assert out.latency_s == pytest.approx(pred.latency_s + out.server_s - pred.server_s)
    assert out.up_s == pred.up_s  # the link is not the compute's business


def test_a_side_that_never_waits_computes_as_profiled() -> None:
    alone = predict([PlanStep("compute", "edge", 0.07, 0, 7)], 1, None)
    out, ratios = after_idle(alone, "latency", 1, {"edge": CURVE})
    assert ratios == {"edge": 1.0} and out.edge_s == alone.edge_s


def test_streamed_the_busiest_side_never_idles_and_the_others_do() -> None:
    busy_server = _server_only(compute_s=0.008)  # uplink busy 5.9 ms a batch, server 8 ms
    out, ratios = after_idle(busy_server, "throughput", 4, {"server": CURVE})
    assert ratios["server"] == pytest.approx(1.0, abs=1e-3)
    assert out.throughput("throughput", 4) == pytest.approx(32 / 0.008, rel=1e-3)
    split = predict(
        [
            PlanStep("compute", "edge", 0.002, 0, 2),
            PlanStep("transfer", "edge", 0.0, nbytes=250_000),  # 20 ms a batch at 100 Mbit/s
            PlanStep("compute", "server", 0.006, 2, 7),
        ],
        32,
        LINK,
    )
    out, ratios = after_idle(split, "throughput", 4, {"edge": CURVE, "server": CURVE})
    assert ratios["edge"] == pytest.approx(factor(CURVE, 0.020 - out.edge_s), rel=1e-2)
    assert ratios["server"] > 1.1  # each idles most of the uplink's 20 ms
    assert out.throughput("throughput", 4) == pytest.approx(split.throughput("throughput", 4))


def test_a_side_slowed_into_the_busiest_settles_where_its_gap_and_ratio_agree() -> None:
    """Server 5.5 ms against an uplink busy 5.9 ms: after a 0.4 ms gap it would be slower than
    the link, and then it would not idle: it settles in between, never below its profile."""
    steep = [(0.0005, 1.5)]
    pred = _server_only(compute_s=0.0055)
    out, ratios = after_idle(pred, "throughput", 4, {"server": steep})
    assert 1.0 < ratios["server"] < 1.5
    assert out.server_s >= pred.server_s


def test_no_curve_leaves_the_prediction_as_it_was() -> None:
    pred = _server_only()
    assert after_idle(pred, "latency", 1, {}) == (pred, {})
    assert after_idle(pred, "latency", 1, {"server": []}) == (pred, {})
