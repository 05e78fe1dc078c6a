"""The stopping rule on synthetic streams of batch times (pure: no torch, no probe).

A stream is lognormal around a known median (batch times are skewed: stragglers are long), so
the true median is known exactly and the interval's coverage can be counted over many seeds.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator

import pytest

from harness.spec import IterationSpec
from harness.stopping import (
    StopRule,
    Stream,
    coverage,
    median_interval,
    min_count_for,
    order_rank,
)

MEDIAN_S = 0.25  # seconds per batch; images/s = 32 / seconds


def batch_times(seed: int, spread: float) -> Iterator[float]:
    """An endless seeded stream of batch seconds with median MEDIAN_S."""
    rng = random.Random(seed)
    while True:
        yield MEDIAN_S * math.exp(rng.gauss(0.0, spread))


def run_stream(rule: StopRule, seed: int, spread: float) -> Stream:
    """Feed batches until the rule stops; elapsed is the sum of the batch times so far."""
    stream, elapsed = Stream(rule), 0.0
    for t in batch_times(seed, spread):
        elapsed += t
        if stream.add(32 / t, elapsed) is not None:
            return stream
    raise AssertionError("unreachable")


def test_ranks_and_coverage_are_the_binomial_ones() -> None:
    assert min_count_for(0.95) == 6 and min_count_for(0.99) == 8 and min_count_for(0.9) == 5
    assert order_rank(5, 0.95) == 0  # below the fewest draws: no interval
    assert order_rank(6, 0.95) == 1 and coverage(6, 1) == pytest.approx(1 - 2 / 64)
    for n in (6, 10, 25, 50, 200, 1000):
        k = order_rank(n, 0.95)
        assert coverage(n, k) >= 0.95 > coverage(n, k + 1)  # the tightest that still covers
    assert median_interval([1.0] * 5) is None
    iv = median_interval([5.0, 1.0, 4.0, 2.0, 3.0, 6.0])
    assert iv is not None and (iv.lo, iv.median, iv.hi) == (1.0, 3.5, 6.0)


@pytest.mark.parametrize("n", [8, 30])
def test_a_fixed_count_interval_covers_the_median_at_least_at_its_confidence(n: int) -> None:
    seeds = 2000
    hits = 0
    for seed in range(seeds):
        xs = [32 / t for _, t in zip(range(n), batch_times(seed, 0.1), strict=False)]
        iv = median_interval(xs)
        assert iv is not None
        hits += iv.lo <= 32 / MEDIAN_S <= iv.hi
    # exact coverage of the ranks is 0.99 (n=8) / 0.957 (n=30); 2000 draws: +-1.5% at 3 sigma
    assert hits / seeds >= coverage(n, order_rank(n, 0.95)) - 0.015


@pytest.mark.parametrize("spread", [0.02, 0.05])
def test_at_the_stop_the_interval_still_covers_the_median_about_as_often(spread: float) -> None:
    """Stopping on a narrow interval picks moments when the draws agree: coverage at the stop
    falls a little below the nominal 95% (measured 93-97% on these streams), not far."""
    rule = StopRule(max_count=400)
    seeds = 1500
    hits = 0
    for seed in range(seeds):
        iv = run_stream(rule, seed, spread).interval()
        assert iv is not None
        hits += iv.lo <= 32 / MEDIAN_S <= iv.hi
    assert hits / seeds >= 0.91


def test_a_tight_stream_stops_at_the_minimum_count_with_the_target_met() -> None:
    for seed in range(50):
        s = run_stream(StopRule(), seed, spread=0.005)
        assert s.stopped == "target_met" and len(s.values) == 6
        iv = s.interval()
        assert iv is not None and iv.rel_half_width <= 0.02


def test_a_noisy_stream_runs_to_the_maximum_count() -> None:
    for seed in range(50):
        s = run_stream(StopRule(max_count=40), seed, spread=0.3)
        assert s.stopped == "max_count" and len(s.values) == 40


def test_a_middling_stream_stops_when_the_interval_first_reaches_the_target() -> None:
    """Spread 5%: the half-width is near 2.46 * 5% / sqrt(n), the target near n = 38."""
    counts = []
    for seed in range(100):
        s = run_stream(StopRule(max_count=400), seed, spread=0.05)
        assert s.stopped == "target_met"
        before = median_interval(_replay(seed, 0.05, len(s.values) - 1))
        assert before is None or before.rel_half_width > 0.02  # not one batch later than needed
        counts.append(len(s.values))
    counts.sort()
    assert 20 <= counts[len(counts) // 2] <= 60


def _replay(seed: int, spread: float, n: int) -> list[float]:
    return [32 / t for _, t in zip(range(n), batch_times(seed, spread), strict=False)]


def test_minimum_duration_and_maximum_duration_bound_the_stream() -> None:
    s = run_stream(StopRule(min_duration_s=5.0), 0, spread=0.005)  # 0.25 s a batch
    assert s.stopped == "target_met" and _crosses(0, 0.005, len(s.values), 5.0)  # not at 6
    s = run_stream(StopRule(max_duration_s=3.0, max_count=1000), 0, spread=0.3)
    assert s.stopped == "max_duration" and _crosses(0, 0.3, len(s.values), 3.0)


def _crosses(seed: int, spread: float, n: int, seconds: float) -> bool:
    """Whether the n-th batch is the first to bring the elapsed time to `seconds`."""
    before, upto = (sum(32 / x for x in _replay(seed, spread, k)) for k in (n - 1, n))
    return before < seconds <= upto


def test_fixed_mode_is_the_old_count() -> None:
    s = run_stream(StopRule(mode="fixed", count=8), 0, spread=0.3)
    assert s.stopped == "fixed_count" and len(s.values) == 8
    assert s.record("images_per_s")["lo"] == min(s.values)  # 8 draws: [x(1), x(8)]


def test_the_spec_defaults_and_max_iterations() -> None:
    assert IterationSpec().rule().mode == "fixed"  # what a profile made before the field was
    rule = IterationSpec(stop="confidence").rule()
    assert (rule.mode, rule.target_rel_ci, rule.confidence) == ("confidence", 0.02, 0.95)
    assert (rule.least, rule.max_count) == (6, 80)  # 4 x measured (20)
    capped = IterationSpec(stop="confidence", measured=8).rule(max_iterations=2)
    assert (capped.least, capped.max_count) == (2, 2)  # --max-iterations caps either mode
    fixed = IterationSpec(stop="fixed", measured=8).rule(max_iterations=3)
    assert (fixed.mode, fixed.count) == ("fixed", 3)
