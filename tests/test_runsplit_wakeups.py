"""A side's compute while the next request arrives: the packets each side takes in, the rate
they wake it at when streamed, and the slowdown from its profile's curve (pure)."""

from __future__ import annotations

import math

import pytest

from harness.runsplit.compare import predict
from harness.runsplit.idle import factor
from harness.runsplit.plan import LinkSetting, PlanStep
from harness.runsplit.wakeups import MSS, beside_wakeups, received, wake_rates

CURVE = [(800.0, 1.10), (3000.0, 1.12), (7000.0, 1.35)]
LINK = LinkSetting(up_mbps=100.0, down_mbps=100.0, latency_ms=5.0)
UP = 73_728  # a batch of 32 digits at 24 x 24, fp32


def _steps(server_s: float, edge_s: float = 0.0, down: int = 0) -> list[PlanStep]:
    steps = [PlanStep("compute", "edge", edge_s, 0, 2)] if edge_s else []
    steps += [
        PlanStep("transfer", "edge", 0.0, nbytes=UP),
        PlanStep("compute", "server", server_s, 2 if edge_s else 0, 7),
    ]
    if down:
        steps.append(PlanStep("transfer", "server", 0.0, nbytes=down))
    return steps


def test_each_side_takes_in_what_crosses_the_link_towards_it() -> None:
    assert received(_steps(0.006, down=1_280)) == {"server": UP, "edge": 1_280}
    assert received([PlanStep("compute", "edge", 0.07, 0, 7)]) == {"server": 0, "edge": 0}


def test_streamed_a_side_is_woken_by_its_packets_over_the_period() -> None:
    pred = predict(_steps(0.008), 32, LINK)  # server-bound: 8 ms a batch
    rates = wake_rates(pred, "throughput", 4, received(_steps(0.008)))
    assert rates["server"] == pytest.approx(math.ceil(UP / MSS) / 0.008)
    assert wake_rates(pred, "latency", 1, {"server": UP}) == {"server": 0.0}


def test_the_busiest_side_slowed_by_its_packets_lengthens_its_own_period() -> None:
    """The server sets the period; slowed, it is woken less often: the ratio settles where the
    rate over the slowed period and the curve agree."""
    steps = _steps(0.0066)
    pred = predict(steps, 32, LINK)
    out, ratios = beside_wakeups(pred, "throughput", 4, {"server": CURVE}, received(steps))
    rate = math.ceil(UP / MSS) / out.server_s
    assert ratios["server"] == pytest.approx(factor(CURVE, rate), rel=1e-3)
    assert 1.12 < ratios["server"] < 1.35
    assert out.throughput("throughput", 4) == pytest.approx(32 / out.server_s, rel=1e-6)


def test_one_request_at_a_time_or_without_a_curve_nothing_changes() -> None:
    steps = _steps(0.0066)
    pred = predict(steps, 32, LINK)
    got = received(steps)
    assert beside_wakeups(pred, "latency", 1, {"server": CURVE}, got) == (pred, {})
    assert beside_wakeups(pred, "throughput", 4, {}, got) == (pred, {})
    assert beside_wakeups(pred, "throughput", 4, {"edge": CURVE}, got) == (pred, {})  # edge idle
