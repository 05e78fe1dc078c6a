"""A job's images/s from its per-batch records, over the batches every job overlapped.

Jobs started together do not end together (each runs its fixed count of batches at its own
pace), so a job's last batches may run alone. Each record is stamped with the host's clock as
it arrives (the backend hands records over as they are written, within its poll interval);
the overlap window runs from the latest first measured batch's start to the earliest last
measured batch's end, and a job's images/s together is the median over its measured batches
inside it (all of them, flagged, when none is). Alone: the median over all measured batches.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Any

SLACK_S = 0.25  # the backend's poll interval and then some: a batch's end is known to this


@dataclass(frozen=True)
class Batch:
    start: float  # host clock, s
    end: float
    images_per_s: float


@dataclass(frozen=True)
class Rate:
    images_per_s: float | None
    batches: int  # batches the median is over
    measured: int  # measured batches in all
    in_window: bool  # False: no batch inside the overlap window, all were used


Stamped = list[tuple[float, dict[str, Any]]]  # (host time at arrival, record)


def batches_of(stamped: Stamped) -> list[Batch]:
    out = []
    for t, rec in stamped:
        if rec.get("type") != "batch" or rec.get("warmup") or not rec.get("images_per_s"):
            continue
        dur = float(rec.get("batch_s") or 0.0)
        out.append(Batch(t - dur, t, float(rec["images_per_s"])))
    return out


def overlap(jobs: list[list[Batch]]) -> tuple[float, float] | None:
    """The window in which every job was in its measured batches (None: some job has none)."""
    if not jobs or any(not bs for bs in jobs):
        return None
    return max(bs[0].start for bs in jobs), min(bs[-1].end for bs in jobs)


def rate_alone(bs: list[Batch]) -> Rate:
    if not bs:
        return Rate(None, 0, 0, False)
    return Rate(statistics.median(b.images_per_s for b in bs), len(bs), len(bs), True)


def rate_within(bs: list[Batch], window: tuple[float, float] | None) -> Rate:
    if not bs:
        return Rate(None, 0, 0, False)
    if window is not None:
        lo, hi = window
        inside = [b for b in bs if b.start >= lo - SLACK_S and b.end <= hi + SLACK_S]
        if inside:
            return Rate(
                statistics.median(b.images_per_s for b in inside), len(inside), len(bs), True
            )
    return Rate(statistics.median(b.images_per_s for b in bs), len(bs), len(bs), False)
