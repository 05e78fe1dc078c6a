"""Application-level link shaping, for when tc cannot be used on the container's interface.

A token bucket in the sender: tokens (bytes) refill at the link's rate up to `burst`; sending n
bytes takes n tokens and may drive the count negative, and the sender then sleeps until it is
back to zero. From a full bucket, n bytes therefore take max(0, n - burst) / rate seconds,
which is the solver's bytes / bandwidth up to one burst. The link's one-way latency is a delay
line in the sender (tc's netem is not in every kernel; this one has none): a message leaves no
earlier than `latency` after it was handed to the link. A lone message therefore costs latency +
bytes / bandwidth, the solver's transfer model, whichever shaping is in force; back-to-back
messages overlap their latencies, as propagation does on a real link, so a saturated link
carries bytes at its rate (the throughput model's link stage: bytes / bandwidth).
"""

from __future__ import annotations

import time
from collections.abc import Callable

DEFAULT_BURST = 16 * 1024


class TokenBucket:
    def __init__(
        self,
        rate_bytes_s: float,
        burst_bytes: float = DEFAULT_BURST,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate_bytes_s <= 0:
            raise ValueError(f"token bucket rate must be > 0 bytes/s, got {rate_bytes_s:g}")
        self.rate = float(rate_bytes_s)
        self.burst = float(max(burst_bytes, 1.0))
        self.clock = clock
        self.sleep = sleep
        self.tokens = self.burst
        self.stamp = clock()

    def _refill(self) -> None:
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now

    def consume(self, n: int) -> float:
        """Take n bytes' worth of tokens, sleeping off any debt; returns the seconds slept."""
        self._refill()
        self.tokens -= n
        if self.tokens >= 0:
            return 0.0
        wait = -self.tokens / self.rate
        self.sleep(wait)
        self._refill()
        return wait


class Pacer:
    """One direction of the link as the sender applies it: a delay per message, and a token
    bucket on the bytes when tc is not shaping them."""

    def __init__(
        self,
        rate_mbps: float | None = None,
        latency_ms: float = 0.0,
        burst_bytes: float = DEFAULT_BURST,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate_mbps = rate_mbps
        self.delay_s = max(0.0, latency_ms) / 1e3
        self.sleep = sleep
        self.clock = clock
        self.bucket = (
            TokenBucket(rate_mbps * 1e6 / 8.0, burst_bytes, clock=clock, sleep=sleep)
            if rate_mbps
            else None
        )

    def before_message(self, handed_at: float | None = None) -> None:
        """Hold a message until `delay` after it was handed to the link (now, if not given);
        a message that already waited that long behind others leaves at once."""
        if self.delay_s <= 0:
            return
        if handed_at is None:
            self.sleep(self.delay_s)
            return
        wait = handed_at + self.delay_s - self.clock()
        if wait > 0:
            self.sleep(wait)

    def consume(self, n: int) -> None:
        if self.bucket is not None:
            self.bucket.consume(n)

    @property
    def shapes_bytes(self) -> bool:
        return self.bucket is not None
