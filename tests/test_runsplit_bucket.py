"""The application-level token bucket and the sender's pacer, on a fake clock."""

from __future__ import annotations

import time

import pytest

from harness.runsplit.bucket import Pacer, TokenBucket


class FakeClock:
    def __init__(self) -> None:
        self.t = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.t

    def sleep(self, s: float) -> None:
        self.slept.append(s)
        self.t += s


def test_bytes_beyond_the_burst_take_bytes_over_rate() -> None:
    clk = FakeClock()
    tb = TokenBucket(1e6, burst_bytes=10_000, clock=clk, sleep=clk.sleep)
    for _ in range(100):
        tb.consume(10_000)  # 1 MB in 10 kB pieces
    assert clk.t == pytest.approx((1_000_000 - 10_000) / 1e6)


def test_idle_time_refills_up_to_the_burst_only() -> None:
    clk = FakeClock()
    tb = TokenBucket(1000.0, burst_bytes=500, clock=clk, sleep=clk.sleep)
    tb.consume(500)
    clk.t += 100.0  # a long idle: still only one burst
    assert tb.consume(500) == 0.0
    assert tb.consume(250) == pytest.approx(0.25)


def test_bad_rate_is_refused() -> None:
    with pytest.raises(ValueError, match="rate"):
        TokenBucket(0)


def test_pacer_delays_each_message_and_shapes_only_with_a_rate() -> None:
    clk = FakeClock()
    p = Pacer(8.0, latency_ms=20, burst_bytes=1000, sleep=clk.sleep, clock=clk)  # 1 MB/s
    assert p.shapes_bytes
    p.before_message()
    assert clk.slept == [pytest.approx(0.02)]
    p.consume(101_000)
    assert clk.t == pytest.approx(0.02 + 0.1)
    plain = Pacer(None, latency_ms=0)
    assert not plain.shapes_bytes
    t0 = time.monotonic()
    plain.before_message()
    plain.consume(10**9)
    assert time.monotonic() - t0 < 0.05


def test_the_delay_is_a_line_back_to_back_messages_overlap_it() -> None:
    """Propagation is not occupancy: a message handed over while others were being sent leaves
    once it is `latency` old, so a saturated link carries bytes at its rate."""
    clk = FakeClock()
    p = Pacer(8.0, latency_ms=20, burst_bytes=1000, sleep=clk.sleep, clock=clk)  # 1 MB/s
    handed = [clk() for _ in range(5)]  # five messages handed over at once
    for h in handed:
        p.before_message(h)
        p.consume(101_000)
    # one latency, then the bytes back to back: not five latencies
    assert clk.t == pytest.approx(0.02 + (5 * 101_000 - 1000) / 1e6)
    lone = FakeClock()
    q = Pacer(None, latency_ms=20, sleep=lone.sleep, clock=lone)
    lone.t = 3.0
    q.before_message(3.0)
    assert lone.slept == [pytest.approx(0.02)]
