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

from collections.abc import Mapping, Sequence

from harness.runsplit.compare import Prediction, scaled
from harness.runsplit.plan import Mode

Curve = Sequence[tuple[float, float]]  # (gap seconds, ratio), shortest gap first
ROUNDS = 60  # at most, damped fixed-point rounds (a side slowed into the busiest idles no more)
TOLERANCE = 1e-6


def factor(curve: Curve, gap_s: float) -> float:
    """The ratio after idling `gap_s`: 1 with no gap or no curve, linear between the measured
    gaps (from 1 at no gap), the longest gap's ratio beyond it."""
    if not curve or gap_s <= 0:
        return 1.0
    pts = [(0.0, 1.0), *curve]
    for (g0, r0), (g1, r1) in zip(pts, pts[1:], strict=False):
        if gap_s <= g1:
            return r1 if g1 <= g0 else r0 + (r1 - r0) * (gap_s - g0) / (g1 - g0)
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
    computes = {"edge": pred.edge_s, "server": pred.server_s}
    live = {r: c for r, c in curves.items() if c and computes.get(r)}
    if not live:
        return pred, {}
    idle = gaps(pred, mode, window)
    ratios = {r: factor(c, idle[r]) for r, c in live.items()}
    for _ in range(ROUNDS):
        out = scaled(pred, ratios.get("edge", 1.0), ratios.get("server", 1.0))
        idle = gaps(out, mode, window)
        new = {r: (ratios[r] + factor(c, idle[r])) / 2 for r, c in live.items()}
        if all(abs(new[r] - ratios[r]) < TOLERANCE for r in live):
            break
        ratios = new
    return scaled(pred, ratios.get("edge", 1.0), ratios.get("server", 1.0)), ratios
