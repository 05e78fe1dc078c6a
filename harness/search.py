"""Which CPU counts to probe: recover the throughput-vs-CPU curve and its knee with few probes.

Pure Python (no torch, no Docker, no numpy): a strategy only sees `measure(cpus) -> images/s`
(None when the probe failed), so the same code drives the local backend, Docker, or a synthetic
curve in a test. Every strategy returns a `SearchResult` with the full curve (one point per
integer CPU count), the knee, the trace of probes and an honest uncertainty estimate.

The adaptive strategy is a sandwich search:
1. probe both ends, then midpoints of intervals wider than max(7, range/4) CPUs in which the
   curve moves by more than `tolerance` (coverage: a feature narrower than the gap between two
   probes is invisible to any model; a flat stretch is left to the model, as the seed does);
2. an interval whose right end is more than `tolerance` below its left end holds a cliff or a
   decline: bisect it (a cliff is bracketed to one CPU in log2(width) probes);
3. between two probes a and b, the chords of the neighbouring intervals bound the curve (exactly
   so for a concave curve, the usual shape of throughput against CPUs: slopes only fall), with
   the origin as the left neighbour of the first interval and a flat continuation to the right
   of the last; a dip or a step breaks concavity, and the band there becomes a symmetric one
   from the same slopes, so the search bisects into it;
4. each band is scaled by how much of its band the probes nearby actually used (between 1/2 and
   1: a smooth curve uses a fraction of the worst case, a surprise keeps it whole), and the
   interval with the largest estimated error is split at its band's apex until every estimate
   is below `tolerance`; then the model is tested once, in the widest interval;
5. the knee (smallest CPU count reaching `knee_fraction` of peak) is bracketed until the CPU
   counts its band allows span at most one CPU either side of the reported knee.
A probe may come with the interval of its median (`Measured`): where the intervals of two
neighbouring probes overlap, the difference between them is no evidence of a change, so steps
1 and 2 do not spend probes on it (the bands of steps 3-5 still use the medians).
Throughout, the search stops one probe short of what the seed's walk would spend on the curve
as estimated so far (never fewer than three probes): it never costs more than the algorithm
it replaces, and where that cuts it short, `confidence` says how far off the curve may be.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from harness.profile import CurvePoint, Knee, SearchResult, TraceStep

STRATEGIES: tuple[str, ...] = ("adaptive", "seed", "exhaustive", "halving")


@dataclass(frozen=True)
class Measured:
    """A probe's median and the interval of it (harness/stopping.py); lo/hi None if unknown."""

    value: float
    lo: float | None = None
    hi: float | None = None


Measure = Callable[[int], float | Measured | None]
Known = Mapping[int, float | Measured | None]


class SearchError(ValueError):
    """Bad arguments to the search (one line)."""


# ---------------------------------------------------------------- probing and book-keeping


class _Prober:
    """Runs probes (or reuses known ones), keeps the trace and enforces the budget."""

    def __init__(self, measure: Measure, budget: int | None, known: Known):
        self.measure = measure
        self.budget = budget
        self.known = dict(known)
        self.values: dict[int, float] = {}
        self.intervals: dict[int, tuple[float, float]] = {}
        self.failed: set[int] = set()
        self.trace: list[TraceStep] = []
        self.surprises: dict[int, float] = {}  # probe -> |value - prediction| / predicted band

    def exhausted(self) -> bool:
        return self.budget is not None and len(self.trace) >= self.budget

    def tried(self, cpus: int) -> bool:
        return cpus in self.values or cpus in self.failed

    def probe(self, cpus: int, reason: str) -> float | None:
        """Measure once; a repeated point or a spent budget measures nothing."""
        if self.tried(cpus):
            return self.values.get(cpus)
        if self.exhausted():
            return None
        if cpus in self.known:
            raw = self.known[cpus]
            reason = f"{reason} (reused from a previous run)"
        else:
            raw = self.measure(cpus)
        lo, hi = (raw.lo, raw.hi) if isinstance(raw, Measured) else (None, None)
        value = _clean(raw.value if isinstance(raw, Measured) else raw)
        if value is None:
            self.failed.add(cpus)
            reason = f"{reason}; probe failed"
        else:
            self.values[cpus] = value
            if lo is not None and hi is not None:
                self.intervals[cpus] = (lo, hi)
        self.trace.append(
            TraceStep(step=len(self.trace), cpus=cpus, value=value, lo=lo, hi=hi, reason=reason)
        )
        return value

    def overlap(self, a: int, b: int) -> bool:
        """Whether the intervals of probes a and b overlap (then a - b is no evidence)."""
        if a not in self.intervals or b not in self.intervals:
            return False
        (lo_a, hi_a), (lo_b, hi_b) = self.intervals[a], self.intervals[b]
        return lo_a <= hi_b and lo_b <= hi_a


def _clean(value: float | None) -> float | None:
    """A failed, non-finite or negative measurement counts as a failed probe."""
    if value is None:
        return None
    v = float(value)
    if not math.isfinite(v) or v < 0:
        return None
    return v


# ---------------------------------------------------------------- the uncertainty model


class _Model:
    """The curve through the successful probes, with an uncertainty band per interval.

    Inside an interval (a, b) with chord slope s, the neighbouring chords' slopes s_l and s_r
    bound the curve (the origin (0, 0) stands in for the left neighbour of the first interval,
    a flat continuation for the right neighbour of the last: throughput at 0 CPUs is 0, and a
    concave curve that rose to the last probe cannot fall below flat before it).
    Where the data is locally concave (s_l >= s >= s_r) the curve lies between the chord and
    min(f(a) + s_l (c - a), f(b) - s_r (b - c)): the estimate is the middle of that sandwich
    and its half-height the error bound. Elsewhere (a step, a dip, noise) the estimate is the
    chord, with the same lines mirrored as a symmetric band.
    """

    def __init__(self, values: dict[int, float], lo: int, hi: int):
        self.lo, self.hi = lo, hi
        self.xs = sorted(values)
        self.ys = [values[x] for x in self.xs]
        n = len(self.xs)
        self.slopes = [
            (self.ys[i + 1] - self.ys[i]) / (self.xs[i + 1] - self.xs[i]) for i in range(n - 1)
        ]

    def interval_slopes(self, i: int) -> tuple[float, float, float]:
        """(left neighbour, chord, right neighbour) slopes of interval i."""
        s = self.slopes[i]
        if i > 0:
            s_l = self.slopes[i - 1]
        else:
            x0 = self.xs[0]
            s_l = self.ys[0] / x0 if x0 > 0 else s
        s_r = self.slopes[i + 1] if i + 1 < len(self.slopes) else 0.0
        return s_l, s, s_r

    def band(self, i: int, c: float) -> tuple[float, float]:
        """(estimate, error bound) at c inside interval i."""
        a, b = self.xs[i], self.xs[i + 1]
        s_l, s, s_r = self.interval_slopes(i)
        chord = self.ys[i] + s * (c - a)
        if s_l >= s >= s_r:
            upper = min(self.ys[i] + s_l * (c - a), self.ys[i + 1] - s_r * (b - c))
            return (chord + upper) / 2, (upper - chord) / 2
        return chord, min(abs(s_l - s) * (c - a), abs(s - s_r) * (b - c))

    def interval_error(self, i: int, skip: set[int]) -> tuple[float, int | None]:
        """Largest relative half-width over the untried integers inside interval i, and the
        integer where the band is widest (None when nothing inside can be probed)."""
        a, b = self.xs[i], self.xs[i + 1]
        worst, at = 0.0, None
        for c in range(a + 1, b):
            if c in skip:
                continue
            est, half = self.band(i, c)
            rel = half / max(abs(est), 1e-12)
            if at is None or rel > worst:
                worst, at = rel, c
        return worst, at

    def point(self, c: int) -> CurvePoint:
        xs, ys = self.xs, self.ys
        if c <= xs[0] or c >= xs[-1]:
            if c == xs[0] or c == xs[-1]:
                v = ys[0] if c == xs[0] else ys[-1]
                return CurvePoint(cpus=c, throughput=v, lo=v, hi=v, source="measured")
            if c < xs[0]:  # concave through the origin: between proportional and flat
                v = ys[0]
                low = v * c / xs[0]
                est = v - self.slopes[0] * (xs[0] - c) if self.slopes else low
                est = min(max(est, low), v)  # the first chord extended, kept in the band
                return CurvePoint(cpus=c, throughput=est, lo=low, hi=v, source="extrapolated")
            v = ys[-1]  # beyond the last probe: flat, at most proportional growth
            return CurvePoint(cpus=c, throughput=v, lo=v, hi=v * c / xs[-1], source="extrapolated")
        i = _bisect_interval(xs, c)
        if xs[i] == c:
            return CurvePoint(cpus=c, throughput=ys[i], lo=ys[i], hi=ys[i], source="measured")
        est, half = self.band(i, c)
        return CurvePoint(
            cpus=c, throughput=est, lo=max(est - half, 0.0), hi=est + half, source="interpolated"
        )


def _bisect_interval(xs: list[int], c: int) -> int:
    """Index i with xs[i] <= c < xs[i+1] (or c == xs[i])."""
    lo, hi = 0, len(xs) - 1
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if xs[mid] <= c:
            lo = mid
        else:
            hi = mid
    return lo


# ---------------------------------------------------------------- curve, knee, result


def _curve(values: dict[int, float], lo: int, hi: int) -> list[CurvePoint]:
    if not values:
        return []
    model = _Model(values, lo, hi)
    return [model.point(c) for c in range(lo, hi + 1)]


def _knee(curve: list[CurvePoint], fraction: float) -> Knee | None:
    measured = [p for p in curve if p.source == "measured"]
    if not measured:
        return None
    peak = max(p.throughput for p in measured)
    target = fraction * peak
    for p in curve:
        if p.throughput >= target:
            return Knee(
                fraction=fraction, cpus=p.cpus, throughput=p.throughput, peak_throughput=peak
            )
    return None  # unreachable: the peak itself is on the curve


def _knee_range(curve: list[CurvePoint], fraction: float) -> tuple[int, int] | None:
    """CPU counts the knee could be at, given the bands: the smallest c whose band reaches the
    target, up to the smallest c whose band is surely above it."""
    measured = [p for p in curve if p.source == "measured"]
    if not measured:
        return None
    target = fraction * max(p.throughput for p in measured)
    first = next((p for p in curve if (p.hi if p.hi is not None else p.throughput) >= target), None)
    sure = next((p for p in curve if (p.lo if p.lo is not None else p.throughput) >= target), None)
    if first is None or sure is None:
        return None
    return int(first.cpus), int(sure.cpus)


def _estimated_error(prober: _Prober, curve: list[CurvePoint], lo: int, hi: int) -> float:
    """Largest relative error the curve is estimated to have: each interval's band scaled by
    how much of it the probes nearby actually used; extrapolated ends count in full."""
    if not curve:
        return 1.0
    worst = 0.0
    for p in curve:
        if p.source == "extrapolated" and p.hi is not None and p.lo is not None:
            worst = max(worst, (p.hi - p.lo) / max(p.throughput, 1e-12))
    model = _Model(prober.values, lo, hi)
    for i in range(len(model.xs) - 1):
        err, _ = model.interval_error(i, set())
        a, b = model.xs[i], model.xs[i + 1]
        worst = max(worst, err * _calibration(prober.surprises, a, b))
    return worst


def _result(
    strategy: str, prober: _Prober, lo: int, hi: int, fraction: float, budget: int | None
) -> SearchResult:
    curve = _curve(prober.values, lo, hi)
    widths = [
        (p.hi - p.lo) / max(p.throughput, 1e-12)
        for p in curve
        if p.hi is not None and p.lo is not None
    ]
    return SearchResult(
        strategy=strategy,
        budget=budget,
        probes_used=len(prober.trace),
        trace=prober.trace,
        curve=curve,
        knee=_knee(curve, fraction),
        confidence=min(max(1.0 - _estimated_error(prober, curve, lo, hi), 0.0), 1.0),
        max_rel_uncertainty=max(widths, default=1.0),
    )


# ---------------------------------------------------------------- strategies


def _seed(p: _Prober, lo: int, hi: int) -> None:
    """The seed profiler's walk: start at max, step down by one, halve when within 10% of the
    previous point (prev_perf taken as updated after every run, as the seed intends)."""
    cpu = hi
    prev: float | None = None
    reason = "seed: start at max"
    while cpu >= lo and not p.exhausted():
        perf = p.probe(cpu, reason)
        if perf is not None and prev is not None and abs(perf - prev) <= 0.1 * prev:
            cpu //= 2
            reason = "seed: within 10% of the previous point, halve"
        else:
            cpu -= 1
            reason = "seed: moved more than 10%, step -1"
        prev = perf


def _exhaustive(p: _Prober, lo: int, hi: int) -> None:
    for cpu in range(hi, lo - 1, -1):
        if p.exhausted():
            return
        p.probe(cpu, "exhaustive: every CPU count")


def _halving(p: _Prober, lo: int, hi: int) -> None:
    """Synergy's search: max, max/2, max/4, ... down to the floor."""
    cpu = hi
    while cpu >= lo and not p.exhausted():
        p.probe(cpu, "halving: max / 2^k")
        if cpu == lo:
            return
        cpu = max(cpu // 2, lo)


def _probe_endpoint(p: _Prober, order: range, reason: str) -> None:
    """Probe an end of the range, moving inward past failed probes."""
    for c in order:
        if p.exhausted() or c in p.values:
            return
        if c in p.failed:
            continue
        if p.probe(c, reason) is not None:
            return


def _adaptive(p: _Prober, lo: int, hi: int, tolerance: float, fraction: float) -> None:
    for c in list(p.known):  # a resumed sweep: everything already measured is information
        if lo <= c <= hi:
            p.probe(c, "resumed sweep")
    _probe_endpoint(p, range(hi, lo - 1, -1), "endpoint: max CPUs")
    _probe_endpoint(p, range(lo, hi + 1), "endpoint: min CPUs")
    checked = False
    while not p.exhausted() and p.values and not _at_seed_cost(p, lo, hi):
        step = _next_probe(p, lo, hi, tolerance, checked)
        if step is None:
            break
        model, i, c, reason = step
        if model is None:
            p.probe(c, reason)
            continue
        est, half = model.band(i, c)
        value = p.probe(c, reason)
        checked = checked or reason.startswith("check")
        # only a band already near the tolerance tests the model: a huge one (the first coarse
        # probes) is passed by anything and would earn a discount it does not deserve
        if value is not None and 0 < half <= 3 * tolerance * max(abs(est), 1e-12):
            p.surprises[c] = abs(value - est) / half
    _refine_knee(p, lo, hi, fraction)


def _next_probe(
    p: _Prober, lo: int, hi: int, tolerance: float, checked: bool
) -> tuple[_Model | None, int, int, str] | None:
    """(model, interval index, cpus, reason) of the next probe, or None when done."""
    xs = sorted(p.values)
    # a failure at an end leaves a gap the model cannot see into: probe it first
    gap = next((c for c in range(lo, xs[0]) if not p.tried(c)), None)
    if gap is None:
        gap = next((c for c in range(hi, xs[-1], -1) if not p.tried(c)), None)
    if gap is not None:
        return None, -1, gap, "endpoint gap after a failed probe"
    model = _Model(p.values, lo, hi)
    span = max(7, math.ceil((hi - lo) / 4))
    ys = [p.values[x] for x in xs]
    wide = [
        (xs[j + 1] - xs[j], j)
        for j in range(len(xs) - 1)
        if xs[j + 1] - xs[j] > span
        and abs(ys[j + 1] - ys[j]) > tolerance * max(ys[j], ys[j + 1])
        and not p.overlap(xs[j], xs[j + 1])
    ]
    for _, j in sorted(wide, reverse=True):
        c = _nearest_untried(p, (xs[j] + xs[j + 1]) // 2, xs[j], xs[j + 1])
        if c is not None:
            return model, j, c, f"coverage: [{xs[j]},{xs[j + 1]}] is wider than {span} CPUs"
    drops = [
        ((ys[j] - ys[j + 1]) / ys[j], j)
        for j in range(len(xs) - 1)
        if ys[j] > 0 and ys[j + 1] < ys[j] * (1 - tolerance) and not p.overlap(xs[j], xs[j + 1])
    ]
    for d, j in sorted(drops, reverse=True):
        c = _nearest_untried(p, (xs[j] + xs[j + 1] + 1) // 2, xs[j], xs[j + 1])
        if c is not None:
            return model, j, c, f"drop: bisect [{xs[j]},{xs[j + 1]}] ({d:.0%} lower)"
    candidates = []
    for i in range(len(xs) - 1):
        err, at = model.interval_error(i, p.failed)
        if at is not None:
            candidates.append((err * _calibration(p.surprises, xs[i], xs[i + 1]), i, at))
    if not candidates:
        return None
    err, i, at = max(candidates)
    if err >= tolerance:
        c = _split_point(model, i, at, p)
        return model, i, c, f"refine interval [{xs[i]},{xs[i + 1]}]: est err {err:.1%}"
    if checked:
        return None
    # the model says the chords suffice: test that once, in the widest interval
    ys = [p.values[x] for x in xs]
    i = max(
        range(len(xs) - 1),
        key=lambda j: (xs[j + 1] - xs[j], abs(ys[j + 1] - ys[j]) / max(ys[j], ys[j + 1])),
    )
    found = _nearest_untried(p, (xs[i] + xs[i + 1]) // 2, xs[i], xs[i + 1])
    if found is None:
        return None
    return model, i, found, f"check the model in [{xs[i]},{xs[i + 1]}]: est err {err:.1%}"


def _seed_cost(p: _Prober, lo: int, hi: int) -> int:
    """Probes the seed's walk would spend on the curve as estimated so far (measured values
    where probed, the model's estimate elsewhere)."""
    curve = {int(q.cpus): q.throughput for q in _curve(p.values, lo, hi)}
    steps, cpu, prev = 0, hi, None
    while cpu >= lo:
        perf = curve[cpu]
        steps += 1
        if prev is not None and abs(perf - prev) <= 0.1 * prev:
            cpu //= 2
        else:
            cpu -= 1
        prev = perf
    return steps


def _at_seed_cost(p: _Prober, lo: int, hi: int) -> bool:
    """The search never spends as much as the seed's walk would: stop one probe short of it
    (at least three probes, or every CPU count of a range of three or fewer)."""
    if len(p.values) < 2:
        return False
    return len(p.trace) >= max(_seed_cost(p, lo, hi) - 1, min(3, hi - lo + 1))


def _calibration(surprises: dict[int, float], a: int, b: int) -> float:
    """How much of its worst-case band the curve near [a, b] has used, between 1/2 and 1.

    The band bounds the worst concave curve; a smooth curve uses a fraction of it. Probes that
    landed well inside their predicted bands near [a, b] (within one interval length) are
    evidence that the region is smooth; one that landed outside (a dip, a step) keeps the full
    band. No evidence nearby, no discount.
    """
    reach = b - a
    seen = [r for x, r in surprises.items() if a - reach <= x <= b + reach]
    if not seen:
        return 1.0
    return min(1.0, max(0.5, max(seen)))


def _split_point(model: _Model, i: int, at: int, p: _Prober) -> int:
    """The band's apex, kept in the middle half of the interval so every split shrinks it."""
    a, b = model.xs[i], model.xs[i + 1]
    q = (b - a) / 4
    c = int(round(min(max(at, a + q), b - q)))
    c = min(max(c, a + 1), b - 1)
    found = _nearest_untried(p, c, a, b)
    return found if found is not None else at


def _nearest_untried(p: _Prober, c: int, a: int, b: int) -> int | None:
    """The untried integer strictly inside (a, b) closest to c."""
    for d in range(0, b - a):
        for x in (c - d, c + d):
            if a < x < b and not p.tried(x):
                return x
    return None


def _refine_knee(p: _Prober, lo: int, hi: int, fraction: float) -> None:
    """Bracket the knee until it is known to within one CPU."""
    while not p.exhausted() and p.values and not _at_seed_cost(p, lo, hi):
        curve = _curve(p.values, lo, hi)
        rng = _knee_range(curve, fraction)
        if rng is None:
            return
        first, sure = rng
        if sure - first <= 2:  # the curve's knee is then at most one CPU off
            return
        knee = _knee(curve, fraction)
        guess = int(knee.cpus) if knee is not None else (first + sure) // 2
        if not (first <= guess <= sure) or p.tried(guess):
            guess = (first + sure) // 2
        options = [c for c in range(first, sure + 1) if not p.tried(c)]
        if not options:
            return
        c = min(options, key=lambda x: (abs(x - guess), x))
        p.probe(c, f"knee bracket [{first},{sure}]")


# ---------------------------------------------------------------- entry point


def run_search(
    measure: Measure,
    max_cpus: int,
    *,
    strategy: str = "adaptive",
    budget: int | None = None,
    knee_fraction: float = 0.9,
    min_cpus: int = 1,
    tolerance: float = 0.05,
    known: Known | None = None,
) -> SearchResult:
    """Probe CPU counts in [min_cpus, max_cpus] with `strategy` and return the curve and knee.

    `measure(cpus)` runs one probe and returns images/s (a float, or a `Measured` with the
    interval of its median), or None when it failed (the search carries on around it).
    `known` holds probes of an interrupted sweep: they are reused, never re-run, and count
    towards `budget` (the total number of probes, reused ones included).
    """
    if strategy not in STRATEGIES:
        raise SearchError(f"strategy: expected one of {', '.join(STRATEGIES)}, got {strategy!r}")
    if min_cpus < 1 or max_cpus < min_cpus:
        raise SearchError(f"cpus: expected 1 <= min_cpus <= max_cpus, got {min_cpus}..{max_cpus}")
    if budget is not None and budget < 1:
        raise SearchError(f"budget: expected a positive number of probes, got {budget}")
    if not 0 < knee_fraction <= 1:
        raise SearchError(f"knee_fraction: expected a value in (0, 1], got {knee_fraction}")
    if tolerance <= 0:
        raise SearchError(f"tolerance: expected a positive relative error, got {tolerance}")
    prober = _Prober(measure, budget, {int(k): v for k, v in (known or {}).items()})
    if strategy == "seed":
        _seed(prober, min_cpus, max_cpus)
    elif strategy == "exhaustive":
        _exhaustive(prober, min_cpus, max_cpus)
    elif strategy == "halving":
        _halving(prober, min_cpus, max_cpus)
    else:
        _adaptive(prober, min_cpus, max_cpus, tolerance, knee_fraction)
    return _result(strategy, prober, min_cpus, max_cpus, knee_fraction, budget)
