"""The reader/writer link: delay and token bucket on data frames only, stamps, closing."""

from __future__ import annotations

import socket
import time

import pytest

from harness.runsplit.bucket import Pacer
from harness.runsplit.link import Link
from harness.runsplit.wire import WireError


def test_data_frames_pay_the_link_control_frames_do_not() -> None:
    a, b = socket.socketpair()
    left, right = Link(a), Link(b)
    try:
        left.set_pacer(Pacer(rate_mbps=8.0, latency_ms=30.0, burst_bytes=1000))  # 1 MB/s
        t0 = time.time()
        left.send({"kind": "ping"}, control=True)
        ping = right.recv(timeout=5)
        assert ping.end_s - t0 < 0.025  # no delay, no bucket
        t1 = time.time()
        left.send({"kind": "work"}, b"x" * 101_000)
        fr = right.recv(timeout=5)
        took = fr.end_s - t1
        assert 0.03 + 0.09 <= took < 0.4  # 30 ms delay + (101000 - ~1000) bytes at 1 MB/s
        assert fr.header["t_wire"] - fr.header["t_out"] >= 0.029
        assert len(fr.payload) == 101_000
        assert right.poll() is None
        with pytest.raises(TimeoutError):
            right.recv(timeout=0.05)
    finally:
        left.close()
    with pytest.raises(WireError):  # the peer hung up: closed for every later call
        right.recv(timeout=5)
    with pytest.raises(WireError):
        right.poll()
    right.close()
