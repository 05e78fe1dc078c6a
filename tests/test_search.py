"""The CPU-step search on synthetic throughput curves: error against the exhaustive sweep,
probe counts against the seed's algorithm, the knee, the budget, the trace and resuming."""

from __future__ import annotations

import math
import random
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.profile import SearchResult
from harness.search import STRATEGIES, Measured, SearchError, run_search

Curve = Callable[[int], float]
SIZES = (8, 24, 64)


def amdahl(p: float) -> Curve:
    return lambda c: 100 / ((1 - p) + p / c)


def curves(n: int) -> dict[str, Curve]:
    """Synthetic throughput (images/s) over 1..n CPUs."""
    rng = random.Random(n)
    noise = {c: 1 + rng.uniform(-0.02, 0.02) for c in range(1, n + 1)}  # seeded, ~2%
    cap = max(2, round(0.4 * n))
    return {
        "linear": lambda c: 50.0 * c,
        "capped": lambda c: 60.0 * min(c, cap),
        "amdahl": amdahl(0.95),
        "saturating": lambda c: 1000 * (1 - math.exp(-5 * c / n)),
        "noisy": lambda c: amdahl(0.95)(c) * noise[c],
        # a 15% drop half-way up a rising curve (a NUMA crossing), then rising again
        "dip": lambda c: amdahl(0.97)(c) * (0.85 if c > n // 2 else 1.0),
        # contention past the optimum: non-monotone
        "hump": lambda c: amdahl(0.97)(c) * (1 - 0.4 * max(0.0, c / n - 0.5)),
        "flat": lambda c: 400.0,
    }


CASES = [(n, name) for n in SIZES for name in curves(n)]


class Counting:
    """A measure function that records every call."""

    def __init__(self, f: Callable[[int], float | None]):
        self.f = f
        self.calls: list[int] = []

    def __call__(self, cpus: int) -> float | None:
        self.calls.append(cpus)
        return self.f(cpus)


def max_rel_error(res: SearchResult, f: Curve) -> float:
    return max(abs(p.throughput - f(int(p.cpus))) / f(int(p.cpus)) for p in res.curve)


def true_knee(f: Curve, n: int, fraction: float = 0.9) -> int:
    values = {c: f(c) for c in range(1, n + 1)}
    peak = max(values.values())
    return min(c for c, v in values.items() if v >= fraction * peak)


def trace_cpus(res: SearchResult) -> list[int]:
    return [int(t.cpus) for t in res.trace]


# ---------------------------------------------------------------- adaptive against the others


@pytest.mark.parametrize(("n", "name"), CASES)
def test_adaptive_curve_is_close_to_the_exhaustive_curve(n: int, name: str) -> None:
    f = curves(n)[name]
    res = run_search(f, n)
    exhaustive = run_search(f, n, strategy="exhaustive")
    assert [int(p.cpus) for p in res.curve] == list(range(1, n + 1))
    assert all(p.source == "measured" for p in exhaustive.curve)
    err = max(
        abs(a.throughput - b.throughput) / b.throughput
        for a, b in zip(res.curve, exhaustive.curve, strict=True)
    )
    # an 8-CPU curve with a drop at 5 CPUs is the one a 4-probe search cannot see
    limit = 0.15 if (n, name) == (8, "dip") else 0.05
    assert err <= limit, f"{name} on {n} CPUs: {err:.1%} off the exhaustive curve"


@pytest.mark.parametrize(("n", "name"), CASES)
def test_adaptive_uses_fewer_probes_than_the_seed(n: int, name: str) -> None:
    f = curves(n)[name]
    adaptive = run_search(f, n)
    seed = run_search(f, n, strategy="seed")
    assert adaptive.probes_used < seed.probes_used, (trace_cpus(adaptive), trace_cpus(seed))


@pytest.mark.parametrize("name", list(curves(24)))
def test_24_cpu_curve_in_at_most_10_probes(name: str) -> None:
    f = curves(24)[name]
    res = run_search(f, 24)
    assert res.probes_used <= 10
    assert max_rel_error(res, f) <= 0.05


@pytest.mark.parametrize(("n", "name"), [c for c in CASES if c[1] != "noisy"])
def test_knee_within_one_cpu_of_the_true_knee(n: int, name: str) -> None:
    f = curves(n)[name]
    res = run_search(f, n)
    assert res.knee is not None
    if (n, name) == (8, "dip"):
        return  # the drop it cannot see lowers the peak (checked above)
    assert abs(int(res.knee.cpus) - true_knee(f, n)) <= 1
    assert res.knee.fraction == 0.9
    assert res.knee.peak_throughput == pytest.approx(max(f(c) for c in range(1, n + 1)), rel=0.05)


def test_knee_fraction_moves_the_knee() -> None:
    f = curves(24)["capped"]  # 60 images/s per CPU up to 10 CPUs
    assert run_search(f, 24, knee_fraction=0.5).knee.cpus == 5  # type: ignore[union-attr]
    assert run_search(f, 24, knee_fraction=1.0).knee.cpus == 10  # type: ignore[union-attr]


def test_confidence_reflects_what_is_left_unmeasured() -> None:
    f = curves(24)["amdahl"]
    adaptive = run_search(f, 24)
    exhaustive = run_search(f, 24, strategy="exhaustive")
    assert exhaustive.confidence == 1.0 and exhaustive.max_rel_uncertainty == 0.0
    assert 0.9 < adaptive.confidence < 1.0
    assert 1 - adaptive.confidence >= max_rel_error(adaptive, f)  # the estimate is an upper bound
    assert adaptive.max_rel_uncertainty > 0
    tight = run_search(f, 24, budget=3)
    assert tight.confidence < adaptive.confidence


def test_interpolated_points_carry_a_band_around_the_estimate() -> None:
    res = run_search(curves(24)["saturating"], 24)
    for p in res.curve:
        assert p.lo is not None and p.hi is not None
        assert p.lo <= p.throughput <= p.hi
        if p.source == "measured":
            assert p.lo == p.hi == p.throughput
    assert {p.source for p in res.curve} == {"measured", "interpolated"}


# ---------------------------------------------------------------- budget, trace, resume, failures


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("budget", [1, 3, 5])
def test_budget_is_respected(strategy: str, budget: int) -> None:
    measure = Counting(curves(24)["amdahl"])
    res = run_search(measure, 24, strategy=strategy, budget=budget)
    assert len(measure.calls) <= budget
    assert res.probes_used == len(res.trace) <= budget
    assert res.budget == budget
    assert len(res.curve) == 24  # still a full curve, extrapolated where it must be


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_trace_records_every_probe_with_a_reason(strategy: str) -> None:
    measure = Counting(curves(24)["dip"])
    res = run_search(measure, 24, strategy=strategy)
    assert trace_cpus(res) == measure.calls
    assert len(set(measure.calls)) == len(measure.calls)  # never the same point twice
    assert [t.step for t in res.trace] == list(range(len(res.trace)))
    for t in res.trace:
        assert t.reason
        assert t.value == pytest.approx(curves(24)["dip"](int(t.cpus)))
    assert res.strategy == strategy


def test_adaptive_trace_says_why() -> None:
    res = run_search(curves(24)["dip"], 24)
    reasons = [t.reason for t in res.trace]
    assert reasons[:2] == ["endpoint: max CPUs", "endpoint: min CPUs"]
    assert any(r.startswith("coverage:") for r in reasons)
    assert any(r.startswith("refine interval [") and "est err" in r for r in reasons)


def test_knee_bracket_probes_when_the_curve_is_vague_there() -> None:
    f = curves(64)["saturating"]
    res = run_search(f, 64)
    assert res.trace[-1].reason.startswith("knee bracket")
    assert res.knee is not None and abs(int(res.knee.cpus) - true_knee(f, 64)) <= 1


# ---------------------------------------------------------------- the hard shapes of the bench


def hard(n: int) -> dict[str, Curve]:
    """bench/search_cost.py's hard shapes: a 15% cliff on the plateau, a smooth dip whose
    edges fall on the coarse probes, and a job that barely scales."""
    tau = n / 5

    def smooth(c: int) -> float:
        return 1000 * (1 - math.exp(-c / tau))

    return {
        "step": lambda c: smooth(c) * (0.85 if c > round(0.6 * n) else 1.0),
        "wide-dip": lambda c: (
            smooth(c) * (1 - 0.15 * math.exp(-(((c - 0.6 * n) / (0.2 * n)) ** 2)))
        ),
        "weak": amdahl(0.5),
    }


@pytest.mark.parametrize(("n", "name"), [(n, name) for n in (8, 24, 64, 128) for name in hard(n)])
def test_hard_shapes_cost_fewer_probes_than_the_seed(n: int, name: str) -> None:
    f = hard(n)[name]
    adaptive = run_search(f, n)
    seed = run_search(f, n, strategy="seed")
    assert adaptive.probes_used < seed.probes_used, (trace_cpus(adaptive), trace_cpus(seed))
    if n == 24:  # the target: <= 10 probes, every point within 5%
        assert adaptive.probes_used <= 10
        assert max_rel_error(adaptive, f) <= 0.05


def test_a_cliff_is_bracketed_by_bisection() -> None:
    f = hard(24)["step"]  # drops between 14 and 15 CPUs
    res = run_search(f, 24)
    assert any(t.reason.startswith("drop: bisect [") for t in res.trace)
    assert {14, 15} <= set(trace_cpus(res))  # both sides of the cliff measured
    assert max_rel_error(res, f) <= 0.05


def test_a_drop_inside_the_noise_is_no_evidence_but_a_sure_one_is_bisected() -> None:
    """A probe's median comes with its interval: a 'drop' whose intervals overlap its
    neighbour's could be noise and earns no bisection; the same drop, measured tightly, does."""
    f = hard(24)["step"]

    def with_interval(rel: float) -> Callable[[int], Measured]:
        return lambda c: Measured(f(c), f(c) * (1 - rel), f(c) * (1 + rel))

    sure = run_search(with_interval(0.01), 24)
    assert any(t.reason.startswith("drop: bisect [") for t in sure.trace)
    assert {14, 15} <= set(trace_cpus(sure))
    vague = run_search(with_interval(0.5), 24)
    assert not any(t.reason.startswith("drop: bisect [") for t in vague.trace)
    step = vague.trace[0]
    assert step.lo == pytest.approx(f(24) * 0.5) and step.hi == pytest.approx(f(24) * 1.5)


def test_stops_one_probe_short_of_the_seed_and_says_how_sure_it_is() -> None:
    # 8 CPUs, flat from 3 up but for a 15% cliff: the seed walks 8, 7, 3, 1
    f = hard(8)["step"]
    res = run_search(f, 8)
    assert res.probes_used == run_search(f, 8, strategy="seed").probes_used - 1 == 3
    err = max_rel_error(res, f)
    assert err > 0.05  # three probes cannot resolve it ...
    assert res.confidence <= 1 - err  # ... and the search does not claim they do


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_known_points_are_reused_not_rerun(strategy: str) -> None:
    f = curves(24)["hump"]
    full = run_search(f, 24, strategy=strategy)
    # an interrupted sweep: the first half of the probes are on disk
    half = full.trace[: len(full.trace) // 2]
    known = {int(t.cpus): t.value for t in half}
    measure = Counting(f)
    resumed = run_search(measure, 24, strategy=strategy, known=known)
    assert not set(measure.calls) & set(known)
    assert trace_cpus(resumed) == trace_cpus(full)  # same decisions as the uninterrupted run
    assert [p.throughput for p in resumed.curve] == [p.throughput for p in full.curve]
    assert any("reused" in t.reason for t in resumed.trace)


def test_known_failed_point_is_not_retried() -> None:
    measure = Counting(curves(24)["amdahl"])
    res = run_search(measure, 24, known={12: None})
    assert 12 not in measure.calls
    assert next(t for t in res.trace if t.cpus == 12).value is None


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_failing_probes_are_holes_not_crashes(strategy: str) -> None:
    f = curves(24)["saturating"]
    bad = {1, 6, 12, 13, 23}
    measure = Counting(lambda c: None if c in bad else f(c))
    res = run_search(measure, 24, strategy=strategy)
    failed = [t for t in res.trace if t.value is None]
    assert {int(t.cpus) for t in failed} <= bad
    assert all("failed" in t.reason for t in failed)
    assert len(res.curve) == 24
    for p in res.curve:
        assert p.source != "measured" or int(p.cpus) not in bad
    assert res.curve[0].source == "extrapolated"  # 1 CPU never measured
    assert res.curve[0].lo <= f(1) <= res.curve[0].hi  # type: ignore[operator]
    if strategy in ("adaptive", "exhaustive"):
        inside = [p for p in res.curve if p.source != "extrapolated"]
        assert max(abs(p.throughput - f(int(p.cpus))) / f(int(p.cpus)) for p in inside) <= 0.1


def test_adaptive_moves_inward_when_an_endpoint_fails() -> None:
    f = curves(24)["amdahl"]
    res = run_search(lambda c: None if c in (1, 24) else f(c), 24)
    cpus = trace_cpus(res)
    assert cpus[:4] == [24, 23, 1, 2]
    ends = [p for p in res.curve if p.cpus in (1, 24)]
    assert all(p.source == "extrapolated" for p in ends)
    assert res.confidence < 1.0


def test_every_probe_failing_gives_an_empty_curve() -> None:
    res = run_search(lambda c: None, 8, budget=4)
    assert res.curve == [] and res.knee is None and res.confidence == 0.0
    assert res.probes_used == 4


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -1.0])
def test_nonsense_measurements_count_as_failures(bad: float) -> None:
    f = curves(8)["linear"]
    res = run_search(lambda c: bad if c == 8 else f(c), 8)
    assert next(t for t in res.trace if t.cpus == 8).value is None


# ---------------------------------------------------------------- the other strategies


def seed_pseudocode(run: Callable[[int], float], max_cpu: int) -> list[int]:
    """offline-profiler-todo.md, line by line (prev_perf updated after each run)."""
    seen = []
    cpu = max_cpu
    prev_perf = -1.0
    while cpu > 0:
        perf = run(cpu)
        seen.append(cpu)
        within10 = prev_perf >= 0 and abs(perf - prev_perf) <= 0.1 * prev_perf
        cpu = cpu // 2 if within10 else cpu - 1
        prev_perf = perf
    return seen


@pytest.mark.parametrize(("n", "name"), CASES)
def test_seed_strategy_follows_the_seed_pseudocode(n: int, name: str) -> None:
    f = curves(n)[name]
    assert trace_cpus(run_search(f, n, strategy="seed")) == seed_pseudocode(f, n)


def test_seed_sequence_on_simple_curves() -> None:
    assert trace_cpus(run_search(lambda c: 100.0, 24, strategy="seed")) == [24, 23, 11, 5, 2, 1]
    linear = trace_cpus(run_search(lambda c: 10.0 * c, 24, strategy="seed"))
    assert linear == [24, 23, 11, 10, 5, 4, 3, 2, 1]


def test_halving_and_exhaustive_sequences() -> None:
    f = curves(24)["flat"]
    assert trace_cpus(run_search(f, 24, strategy="halving")) == [24, 12, 6, 3, 1]
    assert trace_cpus(run_search(f, 24, strategy="exhaustive")) == list(range(24, 0, -1))
    assert trace_cpus(run_search(f, 24, strategy="halving", min_cpus=4)) == [24, 12, 6, 4]


def test_min_cpus_bounds_every_strategy() -> None:
    for strategy in STRATEGIES:
        res = run_search(curves(24)["amdahl"], 24, strategy=strategy, min_cpus=4)
        assert min(trace_cpus(res)) >= 4
        assert [int(p.cpus) for p in res.curve] == list(range(4, 25))


def test_a_single_cpu_range() -> None:
    res = run_search(lambda c: 7.0, 1)
    assert trace_cpus(res) == [1]
    assert res.knee is not None and res.knee.cpus == 1


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"strategy": "random"}, "strategy"),
        ({"min_cpus": 0}, "cpus"),
        ({"min_cpus": 30}, "cpus"),
        ({"budget": 0}, "budget"),
        ({"knee_fraction": 1.5}, "knee_fraction"),
        ({"tolerance": 0.0}, "tolerance"),
    ],
)
def test_bad_arguments_fail_with_one_line(kwargs: dict, field: str) -> None:
    with pytest.raises(SearchError) as info:
        run_search(lambda c: 1.0, 24, **kwargs)
    assert str(info.value).startswith(field) and "\n" not in str(info.value)


# ---------------------------------------------------------------- random saturating curves


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(min_value=2, max_value=64),
    shape=st.sampled_from(["capped", "amdahl", "exp"]),
    x=st.floats(min_value=0.05, max_value=0.99),
    scale=st.floats(min_value=1.0, max_value=1000.0),
)
def test_random_saturating_curves(n: int, shape: str, x: float, scale: float) -> None:
    if shape == "capped":
        cap = 1 + x * (n - 1)
        f: Curve = lambda c: scale * min(c, cap)  # noqa: E731
    elif shape == "amdahl":
        f = lambda c: scale / ((1 - x) + x / c)  # noqa: E731
    else:
        f = lambda c: scale * (1 - math.exp(-c / (x * n)))  # noqa: E731
    measure = Counting(f)
    res = run_search(measure, n)
    assert [int(p.cpus) for p in res.curve] == list(range(1, n + 1))
    # within 5%, or (stopped one probe short of the seed's cost on a curve flat from a few
    # CPUs up) the search says how far off it may be
    err = max_rel_error(res, f)
    assert err <= 0.05 or err <= 1 - res.confidence
    assert res.knee is not None and abs(int(res.knee.cpus) - true_knee(f, n)) <= 1
    assert len(measure.calls) == res.probes_used <= n
    # never more than the seed; fewer on every bench curve (the seed's cost is estimated from
    # the curve as measured so far, and on about 1 curve in 200 that estimate is one too high;
    # at n <= 4 the seed can spend 3, the fewest the search uses to test its model)
    assert res.probes_used <= run_search(f, n, strategy="seed").probes_used
