"""A side's compute while the next request arrives (pure: numbers in, numbers out).

Streamed, a split side receives the next request while it computes this one: every packet
wakes its reader thread, which takes the core and the interpreter's lock from the compute for
a moment. On this VM, p50 at batch 32 computed x1.10 beside a thread woken 3,500 times a
second and x1.48 beside one woken 7,600 times, and a 100 Mbit/s link delivers about 8,600
full-size packets a second. Each inference profile measures the whole model beside a sibling
thread woken at a few rates (InferSection.beside_wakeups); here a streamed prediction slows
each side by that ratio at the rate its packets arrive: the packets of what it receives per
batch over the period the busiest resource sets, found by damped fixed-point rounds (a slower
side lengthens the period). One request at a time, a side receives while it waits, not while
it computes: nothing to slow (runsplit/idle.py covers the wait).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from harness.runsplit.compare import Prediction
from harness.runsplit.idle import Curve, settle
from harness.runsplit.plan import Mode, PlanStep

MSS = 1448  # payload bytes of a full TCP segment on a 1500-byte MTU (a Docker bridge's)


def received(steps: Sequence[PlanStep]) -> dict[str, float]:
    """Bytes each side takes in per batch: the server what goes up, the edge what comes down."""
    up = sum(st.nbytes for st in steps if st.kind == "transfer" and st.up)
    down = sum(st.nbytes for st in steps if st.kind == "transfer" and not st.up)
    return {"server": up, "edge": down}


def wake_rates(
    pred: Prediction, mode: Mode, window: int | None, got: Mapping[str, float]
) -> dict[str, float]:
    """Packets a second each side's reader is woken by, streamed: its packets per batch over
    the period; none one at a time."""
    if mode == "latency" or window == 1:
        return dict.fromkeys(got, 0.0)
    rate = pred.throughput(mode, window)
    period = pred.batch_size / rate if rate > 0 else 0.0
    return {r: math.ceil(b / MSS) / period if period > 0 else 0.0 for r, b in got.items()}


def beside_wakeups(
    pred: Prediction,
    mode: Mode,
    window: int | None,
    curves: Mapping[str, Curve],
    got: Mapping[str, float],
) -> tuple[Prediction, dict[str, float]]:
    """`pred` with each computing side that receives while it computes slowed by its ratio at
    the rate its packets arrive, and the ratios; unchanged one at a time or without curves."""
    if mode == "latency" or window == 1:
        return pred, {}
    live = {r: c for r, c in curves.items() if got.get(r, 0.0) > 0}
    return settle(pred, live, lambda p: wake_rates(p, mode, window, got))
