"""A side's compute after waiting for the link (pure: numbers in, numbers out).

A profile times each bundle back to back; a split side computes after waiting: one request at
a time, each side idles while the other side and the link work; streamed, every side but the
busiest idles between requests. A core that idled computes slower than one kept busy (its
caches taken by others, its clock let down: on this VM p50 at batch 32 read x1.19 after 11 ms
idle and x1.29 after 50 ms, bench/idle_gap.py). Each inference profile measures the whole
model after a few idle gaps against the same calls back to back (InferSection.after_idle);
here a plan's prediction takes each side's compute times that ratio at the gap the plan leaves
it, found by damped fixed-point rounds (the gap depends on the other side's compute, and a
side slowed into the busiest one idles no more). The whole model's ratio stands for any
segment of it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from harness.runsplit.compare import Prediction, scaled
from harness.runsplit.plan import Mode

Curve = Sequence[tuple[float, float]]  # (a gap in seconds or a rate a second, ratio), ascending
ROUNDS = 60  # at most, damped fixed-point rounds (a side slowed into the busiest idles no more)
TOLERANCE = 1e-6


def factor(curve: Curve, x: float) -> float:
    """The curve's ratio at `x` (a gap idled, a rate of wake-ups): 1 at none or without a
    curve, linear between the measured points (from 1 at zero), the last one's beyond it."""
    if not curve or x <= 0:
        return 1.0
    pts = [(0.0, 1.0), *curve]
    for (x0, r0), (x1, r1) in zip(pts, pts[1:], strict=False):
        if x <= x1:
            return r1 if x1 <= x0 else r0 + (r1 - r0) * (x - x0) / (x1 - x0)
    return pts[-1][1]


def gaps(pred: Prediction, mode: Mode, window: int | None) -> dict[str, float]:
    """Seconds each side idles per request: one at a time, the cycle less its own compute;
    streamed, the period the busiest resource sets less its own occupancy."""
    if mode == "latency" or window == 1:
        cycle = pred.cycle_s
        return {"edge": cycle - pred.edge_s, "server": cycle - pred.server_s}
    rate = pred.throughput(mode, window)
    period = pred.batch_size / rate if rate > 0 else 0.0
    edge = pred.edge_s if pred.edge_busy_s is None else pred.edge_busy_s
    server = pred.server_s if pred.server_busy_s is None else pred.server_busy_s
    return {"edge": period - edge, "server": period - server}


def after_idle(
    pred: Prediction, mode: Mode, window: int | None, curves: Mapping[str, Curve]
) -> tuple[Prediction, dict[str, float]]:
    """`pred` with each computing side slowed by its ratio at the gap it idles, and the ratios;
    unchanged where no side has a curve."""
    return settle(pred, curves, lambda p: gaps(p, mode, window))


def settle(
    pred: Prediction,
    curves: Mapping[str, Curve],
    where: Callable[[Prediction], Mapping[str, float]],
) -> tuple[Prediction, dict[str, float]]:
    """`pred` with each computing side that has a curve slowed by its curve's ratio at the
    point `where` reads off the slowed prediction (a gap, a rate), and the ratios: damped
    fixed-point rounds from the ratios at the unslowed prediction."""
    computes = {"edge": pred.edge_s, "server": pred.server_s}
    live = {r: c for r, c in curves.items() if c and computes.get(r)}
    if not live:
        return pred, {}
    at = where(pred)
    ratios = {r: factor(c, at[r]) for r, c in live.items()}
    for _ in range(ROUNDS):
        at = where(scaled(pred, ratios.get("edge", 1.0), ratios.get("server", 1.0)))
        new = {r: (ratios[r] + factor(c, at[r])) / 2 for r, c in live.items()}
        if all(abs(new[r] - ratios[r]) < TOLERANCE for r in live):
            break
        ratios = new
    return scaled(pred, ratios.get("edge", 1.0), ratios.get("server", 1.0)), ratios
