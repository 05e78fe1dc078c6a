"""Cheap lower bounds for free splits, computed first (milliseconds), so a bound never collapses.

Every bound here holds for every schedule of the batch whatever split each job takes, so the
reported lower bound is never weaker than the best of them, however early a time limit stops
the later phases. With a_j(s), b_j(s), c_j(s) the local, link and remote times of job j at its
option s (the kept options: dropping dominated ones changes no optimum):

- machine m: it cannot start before the first job's earlier stages (its head) nor end after the
  last job's later stages (its tail) have run, so C >= head + load_m + tail. Each job at its
  own least time on m, the least head and tail of two different jobs: `joint_lower_bound`.
- Lagrangian (a convex combination lambda of the three machine bounds; it separates by job):
  C >= sum_j min_s lambda . t_j(s) + sum_m lambda_m (least head_m + least tail_m). Every
  lambda of the simplex gives a valid bound; the best of a grid refined twice around its best
  point is taken. Its vertices are the per-machine bounds, and its best lambda is what the
  balance relaxation's LP finds: the three machines share one split per job.
- two-machine (Johnson): machines 1-2 alone are a two-machine flow shop, whose optimum
  Johnson's rule gives exactly, plus the least remote time after it (and machines 2-3 plus the
  least local time before them). A makespan never decreases when a processing time grows, so
  each job at its least time on each machine (over its options) gives a bound for every split.
- one job: its least total time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from solver.pipeline.bounds import fixed_lower_bound, joint_lower_bound
from solver.pipeline.jobs import Job

_GRID = 24  # the first grid's step is 1 / _GRID on each side of the simplex
_REFINE = 2  # rounds of a finer grid around the best lambda so far


@dataclass(frozen=True)
class QuickBound:
    """The best cheap bound, what each one gave, and the Lagrangian's split per job (option
    index, the least lambda* . t: the machines' shared choice at the best lambda)."""

    value: float
    parts: dict[str, float]
    splits: list[int]
    lam: tuple[float, float, float]


def quick_lower_bound(jobs: Sequence[Job], options: Sequence[Sequence[int]]) -> QuickBound:
    """The best of the cheap bounds of the module docstring, for any split choice among
    `options` (per job, the option indices allowed)."""
    n = len(jobs)
    if n == 0:
        return QuickBound(0.0, {}, [], (1 / 3, 1 / 3, 1 / 3))
    t = [np.asarray([jobs[j].options[s].times for s in options[j]], float) for j in range(n)]
    parts = {"machine": joint_lower_bound(jobs, options)}
    lag, lam = _lagrangian(t)
    parts["lagrangian"] = lag
    mins = [tuple(float(v) for v in tj.min(axis=0)) for tj in t]
    parts["johnson"] = fixed_lower_bound(mins)  # type: ignore[arg-type]
    parts["one job"] = max(float(tj.sum(axis=1).min()) for tj in t)
    splits = [int(options[j][int(np.argmin(t[j] @ np.asarray(lam)))]) for j in range(n)]
    return QuickBound(max(parts.values()), parts, splits, lam)


def _lagrangian(t: Sequence[np.ndarray]) -> tuple[float, tuple[float, float, float]]:
    """max over lambda in the simplex of the Lagrangian bound (a grid, refined around its best)."""
    stacked = np.concatenate(t)  # (K, 3) every kept option of every job
    first = np.r_[0, np.cumsum([len(tj) for tj in t])[:-1]]
    a, b, c = stacked[:, 0], stacked[:, 1], stacked[:, 2]
    # least head + least tail on each machine (heads 0, a, a + b; tails b + c, c, 0)
    ends = np.array([float((b + c).min()), float(a.min() + c.min()), float((a + b).min())])

    def value(lams: np.ndarray) -> np.ndarray:
        per = stacked @ lams.T  # (K, G)
        least = np.minimum.reduceat(per, first, axis=0)  # (n, G): each job's best option
        return least.sum(axis=0) + lams @ ends

    lams = _simplex(_GRID)
    vals = value(lams)
    best = int(np.argmax(vals))
    step = 1.0 / _GRID
    for _ in range(_REFINE):
        centre = lams[best]
        step /= 6.0
        offs = np.arange(-6, 7) * step
        pts = np.array([(centre[0] + x, centre[1] + y) for x in offs for y in offs])
        pts = np.c_[pts, 1.0 - pts.sum(axis=1)]
        pts = pts[(pts >= 0).all(axis=1)]
        lams = np.vstack([centre[None, :], pts])
        vals = value(lams)
        best = int(np.argmax(vals))
    lam = lams[best]
    return float(vals[best]), (float(lam[0]), float(lam[1]), float(lam[2]))


def _simplex(k: int) -> np.ndarray:
    pts = [(i / k, j / k, (k - i - j) / k) for i in range(k + 1) for j in range(k + 1 - i)]
    return np.asarray(pts, dtype=float)
