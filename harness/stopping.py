"""When a probe has measured enough: a distribution-free confidence interval of the median.

Pure Python (no torch, no numpy): the workloads call it after every measured batch (or bundle
call), the sweep and the tests call it on recorded values.

The interval. For n independent draws from a continuous distribution with median m, the count
of draws below m is Binomial(n, 1/2), so for the sorted values x(1) <= ... <= x(n)

    P(x(k) <= m <= x(n+1-k)) = 1 - 2 P(B <= k - 1),   B ~ Binomial(n, 1/2),

whatever the distribution. The interval is [x(k), x(n+1-k)] with the largest k whose coverage
is still at least `confidence` (exact binomial sums, no normal approximation). It needs no
model of batch times (they are skewed, with stragglers) and it is invariant under monotone
maps: the interval of images/s is the image of the interval of seconds per batch. Below
`min_count_for(confidence)` draws (6 at 95%) no such interval exists.

The rule, in MLPerf LoadGen's habits: never stop before both a minimum count and a minimum
duration are met; then stop as soon as the interval's relative half-width,
(hi - lo) / (2 * median), is within `target_rel_ci` (`target_met`); stop in any case at a
maximum count (`max_count`) or duration (`max_duration`). `fixed` mode is the old count
(`fixed_count`: the count and the minimum duration met), its interval computed all the same so
that every probe says how sure it is.

Stopping on a narrow interval picks a moment when the draws happen to agree, so coverage at the
stop is slightly below the fixed-n figure; the tests measure it over many seeded streams.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass, field
from fractions import Fraction
from functools import lru_cache
from typing import Any, Literal

StopMode = Literal["fixed", "confidence"]
StopReason = Literal["target_met", "max_duration", "max_count", "fixed_count"]

DEFAULT_TARGET = 0.02
DEFAULT_CONFIDENCE = 0.95


@lru_cache(maxsize=4096)
def order_rank(n: int, confidence: float) -> int:
    """The largest k with P(x(k) <= median <= x(n+1-k)) >= confidence; 0 when none exists."""
    if n < 1 or not 0 < confidence < 1:
        return 0
    alpha = Fraction(1 - confidence).limit_denominator(10**9)  # exact integers throughout
    allowed = alpha.numerator * (1 << n)  # the two tails' mass may be alpha * 2^n
    k, tail = 0, 0  # tail = sum_{i < k} C(n, i)
    while k < (n + 1) // 2:
        nxt = tail + math.comb(n, k)  # the tail if k grows by one
        if 2 * nxt * alpha.denominator > allowed:
            break
        tail = nxt
        k += 1
    return k


def coverage(n: int, k: int) -> float:
    """P(x(k) <= median <= x(n+1-k)) for n draws (exact)."""
    if k < 1 or 2 * k > n + 1:
        return 0.0
    tail = sum(math.comb(n, i) for i in range(k))
    return 1.0 - 2.0 * tail / (1 << n)


def min_count_for(confidence: float) -> int:
    """The fewest draws with an interval at `confidence`: 2 / 2^n <= 1 - confidence."""
    return max(1, math.ceil(math.log2(2.0 / (1.0 - confidence)) - 1e-12))


def median(sorted_xs: list[float]) -> float:
    n = len(sorted_xs)
    mid = n // 2
    return sorted_xs[mid] if n % 2 else (sorted_xs[mid - 1] + sorted_xs[mid]) / 2


@dataclass(frozen=True)
class Interval:
    """The median of the draws and its interval at `confidence` (`coverage` is the exact
    figure the chosen ranks give, at least `confidence`)."""

    n: int
    median: float
    lo: float
    hi: float
    confidence: float
    coverage: float

    @property
    def rel_half_width(self) -> float:
        """(hi - lo) / (2 |median|); infinite at a zero median."""
        m = abs(self.median)
        return (self.hi - self.lo) / (2 * m) if m > 0 else math.inf


def median_interval(values: list[float], confidence: float = DEFAULT_CONFIDENCE) -> Interval | None:
    """The order-statistic interval of the median of `values`; None below the fewest draws."""
    xs = sorted(float(v) for v in values)
    return _interval(xs, confidence)


def _interval(xs: list[float], confidence: float) -> Interval | None:
    n = len(xs)
    k = order_rank(n, confidence)
    if k < 1:
        return None
    return Interval(n, median(xs), xs[k - 1], xs[n - k], confidence, coverage(n, k))


@dataclass(frozen=True)
class StopRule:
    """When a measured stream may end; see the module docstring.

    `count` is the fixed count (fixed mode); `min_count` and `max_count` bound confidence mode
    (min_count defaults to the fewest draws with an interval). Durations are seconds of the
    measured window.
    """

    mode: StopMode = "confidence"
    count: int = 20
    target_rel_ci: float = DEFAULT_TARGET
    confidence: float = DEFAULT_CONFIDENCE
    min_count: int | None = None
    max_count: int = 200
    min_duration_s: float = 0.0
    max_duration_s: float = math.inf

    def __post_init__(self) -> None:
        if self.mode not in ("fixed", "confidence"):
            raise ValueError(f"stop: expected fixed or confidence, got {self.mode!r}")
        if not 0 < self.confidence < 1:
            raise ValueError(f"confidence: expected a value in (0, 1), got {self.confidence}")
        if self.target_rel_ci <= 0:
            raise ValueError(f"target_rel_ci: expected > 0, got {self.target_rel_ci}")
        if self.count < 1 or self.max_count < 1:
            raise ValueError("count and max_count: expected >= 1")

    @property
    def least(self) -> int:
        """Draws confidence mode takes before it may stop on the target (never above max)."""
        least = self.min_count if self.min_count is not None else min_count_for(self.confidence)
        return min(max(1, least), self.max_count)

    def decide(self, n: int, elapsed_s: float, interval: Interval | None) -> StopReason | None:
        """Why to stop after `n` draws over `elapsed_s` seconds, or None to go on."""
        if elapsed_s >= self.max_duration_s:
            return "max_duration"
        if self.mode == "fixed":
            return "fixed_count" if n >= self.count and elapsed_s >= self.min_duration_s else None
        settled = interval is not None and interval.rel_half_width <= self.target_rel_ci
        if settled and n >= self.least and elapsed_s >= self.min_duration_s:
            return "target_met"
        if n >= self.max_count:
            return "max_count"
        return None


@dataclass
class Stream:
    """Draws as they come (kept sorted), the rule's verdict after each one.

    >>> s = Stream(StopRule(count=3, mode="fixed"))
    >>> [s.add(v, elapsed_s=t) for v, t in ((1.0, 0.1), (1.1, 0.2), (0.9, 0.3))]
    [None, None, 'fixed_count']
    """

    rule: StopRule
    values: list[float] = field(default_factory=list)
    stopped: StopReason | None = None

    def add(self, value: float, elapsed_s: float) -> StopReason | None:
        bisect.insort(self.values, float(value))
        self.stopped = self.rule.decide(len(self.values), elapsed_s, self.interval())
        return self.stopped

    def interval(self) -> Interval | None:
        return _interval(self.values, self.rule.confidence)

    def record(self, quantity: str) -> dict[str, Any]:
        """The workload's `stop` record: why the stream ended, the rule it ran under, and the
        interval of its median (lo, hi None below the fewest draws that have one)."""
        iv = self.interval()
        return {
            "type": "stop",
            "quantity": quantity,
            "mode": self.rule.mode,
            "stopped": self.stopped,
            "n": len(self.values),
            "target_rel_ci": self.rule.target_rel_ci,
            "confidence": self.rule.confidence,
            "lo": iv.lo if iv else None,
            "hi": iv.hi if iv else None,
        }
