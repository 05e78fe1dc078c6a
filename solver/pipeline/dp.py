"""Exact bounded dynamic programming for the batch pipeline (small N): order and splits jointly.

A state is a set of jobs already sequenced (a bit mask) with the completion times (C1, C2, C3)
of the three machines after them. Appending job j with split s gives
C1' = C1 + a, C2' = max(C2, C1') + b, C3' = max(C3, C2') + c; the makespan of any completion
is non-decreasing in (C1, C2, C3), so of two states of the same set, one no later on all three
machines dominates the other, which is dropped. The search goes layer by layer (set size
0, 1, ..., N) and drops every state whose lower bound reaches the incumbent (a heuristic
schedule given by the caller, improved by what the search completes). When the last layer is
reached, the incumbent is proven optimal; on a time or state limit, the least bound of the
unexpanded layer is a valid lower bound of the optimum (every schedule passes through one of
its states, one that dominates it, or one whose bound already reached the incumbent).

Lower bound of a state with the remaining jobs R (splits free): for every machine m, the
makespan is at least r_m + load_m(R, splits) + q_m, with r_m the earliest time machine m can
start R (C_m, or an earlier machine plus the least head of a job of R) and q_m the least tail
of a job of R. Any convex combination lambda of the three is a bound too, and it separates by
job: sum_m lambda_m (r_m + q_m) + sum_{j in R} min_s lambda . t(j, s). The bound is the best of
a fixed grid of lambdas (a Lagrangian relaxation of the split choice; the grid's vertices are
the plain per-machine bounds), computed for a whole layer at once with numpy.

Identical jobs (the same kept option times) are sequenced in index order (symmetry breaking).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from solver.pipeline.check import makespan_of
from solver.pipeline.jobs import Job

_REL_TOL = 1e-10  # a state is dropped once its bound reaches the incumbent minus this (relative)
_WINDOW = 24  # neighbours compared in the cheap dominance pass


@dataclass
class BdpResult:
    order: list[int]
    splits: list[int]
    makespan: float
    lower_bound: float
    optimal: bool
    status: str  # "optimal", "timelimit" or "statelimit"
    states: int  # states kept over all layers
    solve_s: float


def _lambda_grid(k: int = 8) -> np.ndarray:
    pts = [(i / k, j / k, (k - i - j) / k) for i in range(k + 1) for j in range(k + 1 - i)]
    return np.asarray(pts, dtype=float)  # (G, 3)


class _Bounds:
    """Per remaining set (a mask): the Lagrangian constants and the least heads/tails."""

    def __init__(self, opt_t: Sequence[np.ndarray]) -> None:
        self.lam = _lambda_grid()
        n = len(opt_t)
        # per job: min over splits of lambda . t, for every lambda of the grid -> (n, G)
        self.job_lag = np.stack([(t @ self.lam.T).min(axis=0) for t in opt_t]) if n else None
        # per job: least a, b, c, a + b, b + c over its splits -> (n, 5)
        self.job_min = np.stack(
            [
                np.array(
                    [
                        t[:, 0].min(),
                        t[:, 1].min(),
                        t[:, 2].min(),
                        (t[:, 0] + t[:, 1]).min(),
                        (t[:, 1] + t[:, 2]).min(),
                    ]
                )
                for t in opt_t
            ]
        )
        self.n = n
        self.bits = 1 << np.arange(n, dtype=np.int64)

    def of_masks(self, remaining: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(K (U, G), mins (U, 5)) for an array of remaining-set masks."""
        ind = (remaining[:, None] & self.bits[None, :]) != 0  # (U, n)
        k = ind.astype(float) @ self.job_lag
        mins = np.where(ind[:, :, None], self.job_min[None, :, :], np.inf).min(axis=1)
        mins[~ind.any(axis=1)] = 0.0
        return k, mins

    def lower(
        self, c: np.ndarray, k: np.ndarray, mins: np.ndarray, empty: np.ndarray
    ) -> np.ndarray:
        """Bounds of states c (M, 3) whose remaining sets have constants k (M, G), mins (M, 5)."""
        a_min, b_min, c_min, ab_min, bc_min = (mins[:, i] for i in range(5))
        b1 = c[:, 0] + bc_min
        b2 = np.maximum(c[:, 1], c[:, 0] + a_min) + c_min
        b3 = np.maximum(np.maximum(c[:, 2], c[:, 1] + b_min), c[:, 0] + ab_min)
        base = np.stack([b1, b2, b3], axis=1)  # (M, 3)
        lb = (base @ self.lam.T + k).max(axis=1)
        lb = np.maximum(lb, c[:, 2])
        return np.where(empty, c[:, 2], lb)


def _pareto_keep(x: np.ndarray) -> np.ndarray:
    """Boolean mask of the rows of x (F, 3) not dominated by another (ties: first kept)."""
    f = len(x)
    if f <= 1:
        return np.ones(f, dtype=bool)
    order = np.lexsort((x[:, 2], x[:, 1], x[:, 0]))
    xs = x[order]
    keep_sorted = np.ones(f, dtype=bool)
    chunk = max(1, 4_000_000 // f)
    for lo in range(0, f, chunk):
        hi = min(f, lo + chunk)
        # row i is dominated by an earlier row k (in lexicographic order) with k < i and
        # xs[k] <= xs[i] on every machine (earlier rows can't be strictly worse on all).
        le = (xs[None, :, :] <= xs[lo:hi, None, :]).all(axis=2)  # (h, F): k dominates i
        idx = np.arange(lo, hi)
        le &= np.arange(f)[None, :] < idx[:, None]
        keep_sorted[lo:hi] = ~le.any(axis=1)
    keep = np.empty(f, dtype=bool)
    keep[order] = keep_sorted
    return keep


@dataclass(frozen=True)
class _Layer:
    """States of one layer: set masks, completion times (M, 3), and the move that made each
    (parent state in the layer before, job appended, its option index)."""

    mask: np.ndarray
    c: np.ndarray
    parent: np.ndarray
    job: np.ndarray
    opt: np.ndarray

    def take(self, sel: np.ndarray) -> _Layer:
        return _Layer(self.mask[sel], self.c[sel], self.parent[sel], self.job[sel], self.opt[sel])


@dataclass(frozen=True)
class _Instance:
    """The DP's view of the jobs: kept option times, bounds, twins, the (job, option) moves."""

    opt_t: list[np.ndarray]  # per job: (kept options, 3) stage times
    options: Sequence[Sequence[int]]
    bounds: _Bounds
    twin_prev: list[int]  # job j may be appended only after its previous twin (-1: none)
    pairs: list[tuple[int, int]]  # (job, index into its kept options)
    full: int

    @classmethod
    def of(cls, jobs: Sequence[Job], options: Sequence[Sequence[int]]) -> _Instance:
        n = len(jobs)
        opt_t = [
            np.asarray([jobs[j].options[s].times for s in options[j]], float) for j in range(n)
        ]
        # identical jobs: job j may be appended only after its previous twin
        twin_prev = [-1] * n
        seen: dict[tuple[float, ...], int] = {}
        for j in range(n):
            key = tuple(float(v) for v in opt_t[j].ravel())
            if key in seen:
                twin_prev[j] = seen[key]
            seen[key] = j
        pairs = [(j, k) for j in range(n) for k in range(len(options[j]))]
        return cls(opt_t, options, _Bounds(opt_t), twin_prev, pairs, (1 << n) - 1)


def solve_bdp(
    jobs: Sequence[Job],
    options: Sequence[Sequence[int]],
    incumbent: tuple[Sequence[int], Sequence[int]],
    *,
    time_limit: float | None = None,
    max_states: int = 3_000_000,
    max_children: int = 30_000_000,
) -> BdpResult:
    """Minimum makespan over orders and the given split options per job (option indices).

    `incumbent` is (order, splits) of a valid schedule; its splits must be among `options`.
    Stops with status "statelimit" once the kept states exceed max_states or a layer would
    generate more than max_children children (memory), "timelimit" after time_limit seconds.
    """
    t0 = time.perf_counter()
    deadline = None if time_limit is None else t0 + time_limit
    n = len(jobs)
    inc_order, inc_splits = list(incumbent[0]), list(incumbent[1])
    ub = makespan_of(jobs, inc_order, inc_splits)
    if n == 0:
        return BdpResult([], [], 0.0, 0.0, True, "optimal", 0, 0.0)
    inst = _Instance.of(jobs, options)
    masks = np.zeros(1, dtype=np.int64)
    cs = np.zeros((1, 3))
    k0, m0 = inst.bounds.of_masks(np.array([inst.full], dtype=np.int64))
    lbs = inst.bounds.lower(cs, k0, m0, np.array([False]))
    history: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []  # (parent, job, option)
    total_states = 1
    status = "optimal"
    for _layer in range(n):
        if len(masks) == 0:
            break
        if len(masks) * len(inst.pairs) > max_children:
            status = "statelimit"
            break
        children = _expand(inst, masks, cs, deadline)
        if children is None:
            status = "timelimit"
            break
        if len(children.mask) == 0:
            masks = np.zeros(0, dtype=np.int64)
            break
        layer, lbs = _prune(inst, children, cutoff=ub * (1 - _REL_TOL))
        history.append((layer.parent, layer.job, layer.opt))
        masks, cs = layer.mask, layer.c
        total_states += len(masks)
        if total_states > max_states:
            status = "statelimit"
            break
    if len(history) == n and len(masks):
        best_final = int(np.argmin(cs[:, 2]))
        if cs[best_final, 2] < ub:
            order_, splits_ = _rebuild(history, best_final, n)
            ms = makespan_of(jobs, order_, splits_)
            if ms < ub:
                inc_order, inc_splits, ub = order_, splits_, ms
    if len(history) == n:
        status = "optimal"  # every state left is complete: the incumbent is the best of them
    lower = ub if status == "optimal" or not len(lbs) else min(ub, float(lbs.min()))
    optimal = status == "optimal" or lower >= ub * (1 - 1e-9)
    return BdpResult(
        inc_order,
        inc_splits,
        ub,
        ub if optimal else lower,
        optimal,
        "optimal" if optimal else status,
        total_states,
        time.perf_counter() - t0,
    )


def _expand(
    inst: _Instance, masks: np.ndarray, cs: np.ndarray, deadline: float | None
) -> _Layer | None:
    """Every child of the layer's states (each (job, option) appended); None on the deadline."""
    parts_mask, parts_c, parts_par, parts_job, parts_opt = [], [], [], [], []
    for j, k in inst.pairs:
        if deadline is not None and time.perf_counter() > deadline:
            return None
        bit = np.int64(1 << j)
        sel = (masks & bit) == 0
        if inst.twin_prev[j] >= 0:
            sel &= (masks & np.int64(1 << inst.twin_prev[j])) != 0
        if not sel.any():
            continue
        idx = np.nonzero(sel)[0]
        c = cs[idx]
        a, b, d = inst.opt_t[j][k]
        c1 = c[:, 0] + a
        c2 = np.maximum(c[:, 1], c1) + b
        c3 = np.maximum(c[:, 2], c2) + d
        parts_mask.append(masks[idx] | bit)
        parts_c.append(np.stack([c1, c2, c3], axis=1))
        parts_par.append(idx)
        parts_job.append(np.full(len(idx), j, dtype=np.int64))
        parts_opt.append(np.full(len(idx), inst.options[j][k], dtype=np.int64))
    if not parts_mask:
        empty = np.zeros(0, dtype=np.int64)
        return _Layer(empty, np.zeros((0, 3)), empty, empty, empty)
    return _Layer(
        np.concatenate(parts_mask),
        np.concatenate(parts_c),
        np.concatenate(parts_par),
        np.concatenate(parts_job),
        np.concatenate(parts_opt),
    )


def _prune(inst: _Instance, layer: _Layer, cutoff: float) -> tuple[_Layer, np.ndarray]:
    """Cheap partial dominance first (each state against its near neighbours in the order
    (set, C1, C2, C3)), then the bounds against the incumbent, then exact dominance within
    each set. Returns the states kept and their bounds."""
    nm, nc = layer.mask, layer.c
    layer = layer.take(np.lexsort((nc[:, 2], nc[:, 1], nc[:, 0], nm)))
    nm, nc = layer.mask, layer.c
    dom = np.zeros(len(nm), dtype=bool)
    for d in range(1, min(_WINDOW, len(nm))):
        same = nm[d:] == nm[:-d]
        le = (nc[:-d] <= nc[d:]).all(axis=1)
        dom[d:] |= same & le
    layer = layer.take(~dom)
    nm, nc = layer.mask, layer.c
    # bounds, by unique remaining set
    umask, inv = np.unique(nm, return_inverse=True)
    kk, mins = inst.bounds.of_masks(inst.full ^ umask)
    nlb = inst.bounds.lower(nc, kk[inv], mins[inv], (inst.full ^ nm) == 0)
    alive = nlb < cutoff
    layer, nlb = layer.take(alive), nlb[alive]
    nm, nc = layer.mask, layer.c
    # exact dominance within each set (nm is still sorted)
    keep = np.zeros(len(nm), dtype=bool)
    if len(nm):
        starts = np.flatnonzero(np.r_[True, nm[1:] != nm[:-1]])
        ends = np.r_[starts[1:], len(nm)]
        for s0, e0 in zip(starts, ends, strict=True):
            keep[s0:e0] = _pareto_keep(nc[s0:e0])
    return layer.take(keep), nlb[keep]


def _rebuild(
    history: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]], idx: int, n: int
) -> tuple[list[int], list[int]]:
    order: list[int] = []
    splits = [0] * n
    for par, job, opt in reversed(history):
        j = int(job[idx])
        order.append(j)
        splits[j] = int(opt[idx])
        idx = int(par[idx])
    order.reverse()
    return order, splits
