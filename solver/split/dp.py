"""The check that cannot lie: shortest paths over the bundle graph, with no solver.

Nodes are (cut k, device d); edges only go from cut k to a later cut (compute) or stay at cut k
(transfer), so one sweep over the cuts settles every node. `shortest_path` gives the
unconstrained optimum of any non-negative mix of latency and energy; `pareto_labels` the exact
latency-energy front by bicriteria labels (small instances: it keeps every label);
`pareto_plans` the same front with a plan per point, fast enough for the full-size instances
(numpy label sets per node; a node's arrivals merged once by the compiled `frontmerge`, pruned
by the known supported plans).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from itertools import chain
from operator import attrgetter
from typing import Any

import numpy as np

from solver.split.instance import Option, SplitInstance, Transfer

Step = Option | Transfer


@dataclass(frozen=True)
class PlanPath:
    steps: tuple[Step, ...]
    latency: float
    energy: float

    @property
    def options(self) -> list[Option]:
        return [s for s in self.steps if isinstance(s, Option)]

    @property
    def transfers(self) -> list[Transfer]:
        return [s for s in self.steps if isinstance(s, Transfer)]


def path_of(steps: list[Step] | tuple[Step, ...]) -> PlanPath:
    """Totals in path order: the DP and the SCIP side add the same numbers the same way."""
    ordered = tuple(sorted(steps, key=_order))
    lat = math.fsum(s.latency for s in ordered)
    en = math.fsum(s.energy for s in ordered)
    return PlanPath(ordered, lat, en)


def _cost(s: Step, w_lat: float, w_en: float) -> float:
    """w_lat * latency + w_en * energy; energy left out at w_en = 0 (it may be unknown: NaN)."""
    return w_lat * s.latency + (w_en * s.energy if w_en else 0.0)


def _order(s: Step) -> tuple[int, int]:
    return (s.cut, 0) if isinstance(s, Transfer) else (s.start, 1)


def shortest_path(inst: SplitInstance, w_lat: float = 1.0, w_en: float = 0.0) -> PlanPath | None:
    """Minimum of w_lat * latency + w_en * energy from (0, source) to (L, sink); None if no path."""
    n, nd = inst.n_layers, len(inst.devices)
    dist = [[math.inf] * nd for _ in range(n + 1)]
    pred: list[list[Step | None]] = [[None] * nd for _ in range(n + 1)]
    dist[0][inst.source] = 0.0
    by_cut: dict[int, list[Transfer]] = {}
    for t in inst.transfers:
        by_cut.setdefault(t.cut, []).append(t)
    by_start: dict[int, list[Option]] = {}
    for o in inst.options:
        by_start.setdefault(o.start, []).append(o)

    def cost(s: Step) -> float:
        c = w_lat * s.latency
        if w_en:
            c += w_en * s.energy
        return c

    for k in range(n + 1):
        row = dist[k]
        # transfers at one cut may relay a -> b -> c; D - 1 rounds settle them (costs >= 0)
        for _ in range(max(1, nd - 1)):
            changed = False
            for t in by_cut.get(k, ()):
                c = row[t.src] + cost(t)
                if c < row[t.dst]:
                    row[t.dst] = c
                    pred[k][t.dst] = t
                    changed = True
            if not changed:
                break
        for o in by_start.get(k, ()):
            c = row[o.device] + cost(o)
            if c < dist[o.end][o.device]:
                dist[o.end][o.device] = c
                pred[o.end][o.device] = o
    if math.isinf(dist[n][inst.sink]):
        return None
    steps: list[Step] = []
    k, d = n, inst.sink
    while (k, d) != (0, inst.source) or pred[k][d] is not None:
        s = pred[k][d]
        if s is None:
            break
        steps.append(s)
        if isinstance(s, Transfer):
            d = s.src
        else:
            k = s.start
        if len(steps) > 4 * (n + 1) * nd:  # a zero-cost cycle; cannot happen with costs > 0
            raise RuntimeError("cycle in shortest-path predecessors")
    return path_of(steps)


def distances(
    inst: SplitInstance, w_lat: float, w_en: float, *, to_sink: bool = False
) -> list[list[float]]:
    """Least cost w_lat * latency + w_en * energy from the source to every node (k, d), or from
    every node to the sink: the potentials that price each edge in reduced-cost fixing."""
    n, nd = inst.n_layers, len(inst.devices)
    dist = [[math.inf] * nd for _ in range(n + 1)]
    by_cut: dict[int, list[Transfer]] = {}
    for t in inst.transfers:
        by_cut.setdefault(t.cut, []).append(t)
    rounds = max(1, nd - 1)
    if not to_sink:
        by_start: dict[int, list[Option]] = {}
        for o in inst.options:
            by_start.setdefault(o.start, []).append(o)
        dist[0][inst.source] = 0.0
        for k in range(n + 1):
            row = dist[k]
            for _ in range(rounds):
                changed = False
                for t in by_cut.get(k, ()):
                    c = row[t.src] + w_lat * t.latency + w_en * t.energy
                    if c < row[t.dst]:
                        row[t.dst], changed = c, True
                if not changed:
                    break
            for o in by_start.get(k, ()):
                c = row[o.device] + _cost(o, w_lat, w_en)
                if c < dist[o.end][o.device]:
                    dist[o.end][o.device] = c
        return dist
    by_end_start: dict[int, list[Option]] = {}
    for o in inst.options:
        by_end_start.setdefault(o.start, []).append(o)
    dist[n][inst.sink] = 0.0
    for k in range(n, -1, -1):
        row = dist[k]
        for o in by_end_start.get(k, ()):
            c = dist[o.end][o.device] + _cost(o, w_lat, w_en)
            if c < row[o.device]:
                row[o.device] = c
        for _ in range(rounds):
            changed = False
            for t in by_cut.get(k, ()):
                c = row[t.dst] + w_lat * t.latency + w_en * t.energy
                if c < row[t.src]:
                    row[t.src], changed = c, True
            if not changed:
                break
    return dist


def through(
    inst: SplitInstance, steps: list[Step], w_lat: float, w_en: float
) -> tuple[list[float], float]:
    """For each edge, the least cost of a whole plan that uses it; and the optimum."""
    fwd = distances(inst, w_lat, w_en)
    bwd = distances(inst, w_lat, w_en, to_sink=True)
    out = []
    for s in steps:
        c = _cost(s, w_lat, w_en)
        if isinstance(s, Transfer):
            out.append(fwd[s.cut][s.src] + c + bwd[s.cut][s.dst])
        else:
            out.append(fwd[s.start][s.device] + c + bwd[s.end][s.device])
    return out, fwd[inst.n_layers][inst.sink]


def pareto_labels(inst: SplitInstance) -> list[tuple[float, float]]:
    """Exact non-dominated (latency, energy) pairs of all plans, by keeping every label."""
    n, nd = inst.n_layers, len(inst.devices)
    labels: list[list[list[tuple[float, float]]]] = [[[] for _ in range(nd)] for _ in range(n + 1)]
    labels[0][inst.source] = [(0.0, 0.0)]
    by_cut: dict[int, list[Transfer]] = {}
    for t in inst.transfers:
        by_cut.setdefault(t.cut, []).append(t)
    by_start: dict[int, list[Option]] = {}
    for o in inst.options:
        by_start.setdefault(o.start, []).append(o)
    for k in range(n + 1):
        for _ in range(max(1, nd - 1)):
            changed = False
            for t in by_cut.get(k, ()):
                new = [(a + t.latency, b + t.energy) for a, b in labels[k][t.src]]
                merged = _front(labels[k][t.dst] + new)
                if merged != labels[k][t.dst]:
                    labels[k][t.dst] = merged
                    changed = True
            if not changed:
                break
        for o in by_start.get(k, ()):
            new = [(a + o.latency, b + o.energy) for a, b in labels[k][o.device]]
            labels[o.end][o.device] = _front(labels[o.end][o.device] + new)
    return labels[n][inst.sink]


def _front(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    out: list[tuple[float, float]] = []
    best = math.inf
    for lat, en in sorted(set(points)):
        if en < best:
            out.append((lat, en))
            best = en
    return out


# ---------------------------------------------------------------- the exact front with plans

_SLACK = 1e-9  # pruning keeps a label unless it misses a bound by more than this (relative)


MAX_LABELS = 50_000_000  # labels kept over all cuts: the front's work bound (memory too)


class LabelLimit(RuntimeError):
    """The label sweep kept more than its label bound: the front is not given (work, not time:
    the same on any machine)."""


def pareto_plans(
    inst: SplitInstance, *, deadline: float | None = None, max_labels: int = MAX_LABELS
) -> list[PlanPath]:
    """Every non-dominated (latency, energy) pair of all plans with one plan each, fastest first:
    the pairs of `pareto_labels` (same tie rule as `_front`: of equal latencies the least energy,
    of equal pairs one), each plan's totals recomputed by `path_of`.

    One sweep over the cuts. At cut k the labels arriving at (k, d) by a compute edge (the
    label sets of the earlier nodes, each shifted by each clock of the bundle) are merged into
    their non-dominated set once (`frontmerge`: no shifted label is built unless it is kept);
    then transfers at cut k relay labels between devices, in D - 1 rounds (a relay a -> b -> c
    is one path; costs >= 0, so longer relays are dominated). Every kept label records its
    predecessor label and the edge taken, so each front point's plan is read back from the sink.
    A label is dropped when even its best completion (least latency, least energy to the sink,
    each alone) is dominated by a known plan (the two extremes and the supported points between
    them, `_Completion`): every plan through it is then dominated by that plan. Bounded by its
    work: LabelLimit once more than `max_labels` labels are kept; `deadline` (a
    time.perf_counter() value, the cap) raises TimeoutError when passed."""
    if not inst.energy_known:
        raise ValueError(inst.energy_note or "energy unknown: no latency-energy front")
    fast = shortest_path(inst, 1.0, 0.0)
    if fast is None:
        return []
    lean = shortest_path(inst, 0.0, 1.0)
    assert lean is not None
    edges = _LabelEdges.of(inst)
    bound = _Completion(inst, fast, lean)
    n, nd = inst.n_layers, len(inst.devices)
    # per node: the non-dominated labels (latency, energy, label index in the cut), fastest first
    nodes: list[list[_Labels]] = []
    # per cut: the kept labels' predecessor (a label index in the predecessor's cut) and edge
    prev_of: list[Any] = []
    step_of: list[Any] = []
    kept = 0
    for k in range(n + 1):
        if deadline is not None and time.perf_counter() > deadline:
            raise TimeoutError(f"Pareto labels stopped at cut {k} of {n}")
        pool = _Pool()
        cur = [_arrivals(inst, edges, bound, nodes, pool, k, d) for d in range(nd)]
        nodes.append(_relays(edges, bound, pool, cur, k))
        kept += pool.size
        if kept > max_labels:
            raise LabelLimit(f"more than {max_labels:,} labels by cut {k} of {n}")
        prev_of.append(pool.array(pool.prev))
        step_of.append(pool.array(pool.step))
    return _read_back(inst, edges, nodes[n][inst.sink][2], prev_of, step_of)


_Labels = tuple[Any, Any, Any]  # latency, energy, label index in the cut (numpy arrays)
_EMPTY_F, _EMPTY_I = np.zeros(0), np.zeros(0, dtype=np.int64)


@dataclass
class _LabelEdges:
    """The edges as the label sweep reads them; `steps[i]` is the edge a label id names."""

    steps: list[Step]
    # into[k][d]: (start, latencies, energies, ids) of the compute edges ending at (k, d),
    # per bundle only its non-dominated clocks
    into: list[list[list[tuple[int, Any, Any, Any]]]]
    # relays[k][d]: (src, latency, energy, id) of the transfers into (k, d)
    relays: list[list[list[tuple[int, float, float, int]]]]

    @classmethod
    def of(cls, inst: SplitInstance) -> _LabelEdges:
        n, nd = inst.n_layers, len(inst.devices)
        steps: list[Step] = []
        groups: dict[tuple[int, int, int], list[Option]] = {}
        for o in inst.options:
            groups.setdefault((o.device, o.start, o.end), []).append(o)
        into: list[list[list[tuple[int, Any, Any, Any]]]] = [
            [[] for _ in range(nd)] for _ in range(n + 1)
        ]
        for (d, start, end), group in groups.items():
            lat = np.array([o.latency for o in group])
            en = np.array([o.energy for o in group])
            keep = _nondominated(lat, en)
            ids = np.arange(len(steps), len(steps) + len(keep), dtype=np.int64)
            steps.extend(group[int(i)] for i in keep)
            into[end][d].append((start, lat[keep], en[keep], ids))
        relays: list[list[list[tuple[int, float, float, int]]]] = [
            [[] for _ in range(nd)] for _ in range(n + 1)
        ]
        for t in inst.transfers:
            if t.src != t.dst:
                relays[t.cut][t.dst].append((t.src, t.latency, t.energy, len(steps)))
                steps.append(t)
        return cls(steps, into, relays)


MAX_SWEEPS = 64  # weighted-sum shortest paths that seed the front's pruning (a work bound)


class _Completion:
    """Drops the labels at (k, d) whose best completion (least latency, least energy to the
    sink, each alone: a point no completion beats) is dominated by a known plan, beyond the
    slack: every plan through such a label is dominated by that plan. The known plans: the
    fastest, the least-energy one and the supported points between them (weighted-sum shortest
    paths, Aneja-Nair, at most MAX_SWEEPS sweeps), kept as a staircase."""

    def __init__(self, inst: SplitInstance, fast: PlanPath, lean: PlanPath) -> None:
        graph = FastGraph(inst)
        self.h_lat = graph.backward(1.0, 0.0)
        self.h_en = graph.backward(0.0, 1.0)
        known = [(fast.latency, fast.energy), (lean.latency, lean.energy)]
        todo = [((fast.latency, fast.energy), (lean.latency, lean.energy))]
        sweeps = 0
        while todo and sweeps < MAX_SWEEPS:
            (l0, e0), (l1, e1) = todo.pop()
            if not (l0 < l1 and e0 > e1):
                continue
            lam = (l1 - l0) / (e0 - e1)
            p = graph.shortest_path(1.0, lam)
            sweeps += 1
            if p is None:
                break
            here = p.latency + lam * p.energy
            line = l0 + lam * e0
            if here < line - 1e-12 * max(1.0, abs(line)):
                known.append((p.latency, p.energy))
                todo += [((l0, e0), (p.latency, p.energy)), ((p.latency, p.energy), (l1, e1))]
        lat = np.array([x for x, _ in known])
        en = np.array([y for _, y in known])
        keep = _nondominated(lat, en)
        self.lat, self.en = lat[keep], en[keep]  # latency up, energy down
        self.lat_slack = self.lat * (1 + _SLACK) + 1e-300

    def useful(self, lat: Any, en: Any, k: int, d: int) -> Any:
        a = lat + self.h_lat[k, d]
        b = en + self.h_en[k, d]
        # a known plan strictly faster (beyond the slack) and no hungrier...
        i = np.searchsorted(self.lat_slack, a, side="left") - 1
        out = (i < 0) | (self.en[np.maximum(i, 0)] > b)
        # ...or no slower and strictly leaner (beyond the slack)
        j = np.searchsorted(self.lat, a, side="right") - 1
        out &= (j < 0) | (self.en[np.maximum(j, 0)] * (1 + _SLACK) + 1e-300 >= b)
        return out


def _arrivals(
    inst: SplitInstance,
    edges: _LabelEdges,
    bound: _Completion,
    nodes: list[list[_Labels]],
    pool: _Pool,
    k: int,
    d: int,
) -> _Labels:
    """The labels reaching (k, d) by a compute edge (or the start), merged once: a run per
    (bundle, clock), the label set of the bundle's start node shifted by that clock's cost."""
    sets: list[_Labels] = []
    runs: list[tuple[int, Any, Any]] = []  # (label set, latencies, energies): a run per cost
    ids: list[Any] = []  # the edge each run takes
    if k == 0 and d == inst.source:
        sets.append((np.zeros(1), np.zeros(1), np.full(1, -1)))
        runs.append((0, np.zeros(1), np.zeros(1)))
        ids.append(np.full(1, -1))
    for start, olat, oen, oid in edges.into[k][d]:
        if len(nodes[start][d][0]):
            runs.append((len(sets), olat, oen))
            ids.append(oid)
            sets.append(nodes[start][d])
    if not runs:
        return (_EMPTY_F, _EMPTY_F, _EMPTY_I)
    run, pos, lat, en = _merge(sets, runs)
    # merge first, then prune: a label that dominates another has the better completion
    # bound, so pruning the non-dominated set keeps the same labels as the other way round
    ok = bound.useful(lat, en, k, d)
    prev = np.concatenate([s[2] for s in sets])[pos[ok]]
    return (lat[ok], en[ok], pool.store(prev, np.concatenate(ids)[run[ok]]))


def _merge(sets: list[_Labels], runs: list[tuple[int, Any, Any]]) -> tuple[Any, Any, Any, Any]:
    """`frontmerge.merge_front` over label sets, each shifted by a few costs (a run per cost:
    set index, latencies, energies): the non-dominated labels' run, position in the sets laid
    end to end, latency and energy. Ties go to the first run, in the order given."""
    from solver.split.frontmerge import merge_front  # numba, loaded when a front is swept

    offsets = np.cumsum([0] + [len(s[0]) for s in sets])
    which = np.concatenate([np.full(len(r[1]), r[0], dtype=np.int64) for r in runs])
    return merge_front(
        np.concatenate([s[0] for s in sets]),
        np.concatenate([s[1] for s in sets]),
        offsets[which],
        offsets[which + 1],
        np.concatenate([r[1] for r in runs]).astype(float),
        np.concatenate([r[2] for r in runs]).astype(float),
    )


def _relays(
    edges: _LabelEdges, bound: _Completion, pool: _Pool, cur: list[_Labels], k: int
) -> list[_Labels]:
    """Transfers at cut k relay labels between devices, in D - 1 rounds. A round relays only
    the labels the round before added: the others were relayed already, and what beat them
    then beats them still."""
    nd = len(cur)
    zero = np.zeros(1)
    added = [np.ones(len(c[0]), dtype=bool) for c in cur]
    for _ in range(max(1, nd - 1)):
        new: list[_Labels] = []
        new_added: list[Any] = []
        for d in range(nd):
            here = cur[d]
            relayed = _relayed(edges, bound, cur, added, k, d)
            if relayed is None:
                new.append(here)
                new_added.append(np.zeros(len(here[0]), dtype=bool))
                continue
            sets, steps = [here, *relayed[0]], np.concatenate(relayed[1])
            run, pos, lat, en = _merge(sets, [(i, zero, zero) for i in range(len(sets))])
            fresh = run > 0
            idx = np.concatenate([s[2] for s in sets])[pos]
            if fresh.any():
                idx[fresh] = pool.store(idx[fresh], steps[pos[fresh] - len(here[0])])
            new.append((lat, en, idx))
            new_added.append(fresh)
        cur, added = new, new_added
        if not any(a.any() for a in added):
            break
    return cur


def _relayed(
    edges: _LabelEdges, bound: _Completion, cur: list[_Labels], added: list[Any], k: int, d: int
) -> tuple[list[_Labels], list[Any]] | None:
    """The newly added labels of the other devices at cut k relayed into (k, d), those with a
    useful completion: a label set per transfer (label indices: the predecessors), and each
    set's edge ids. None when there are none."""
    sets: list[_Labels] = []
    steps: list[Any] = []
    for src, tl, te, tid in edges.relays[k][d]:
        m = added[src]
        if not m.any():
            continue
        lat, en = cur[src][0][m] + tl, cur[src][1][m] + te
        ok = bound.useful(lat, en, k, d)
        if ok.any():
            sets.append((lat[ok], en[ok], cur[src][2][m][ok]))
            steps.append(np.full(int(ok.sum()), tid))
    return (sets, steps) if sets else None


def _read_back(
    inst: SplitInstance, edges: _LabelEdges, ends: Any, prev_of: list[Any], step_of: list[Any]
) -> list[PlanPath]:
    """Each label at the sink, followed back edge by edge to the start."""
    plans: list[PlanPath] = []
    for i in ends.tolist():
        path: list[Step] = []
        k = inst.n_layers
        while True:
            s = int(step_of[k][i])
            if s < 0:
                break
            st = edges.steps[s]
            path.append(st)
            i = int(prev_of[k][i])
            if isinstance(st, Option):
                k = st.start
        path.reverse()  # relays at one cut keep their order through path_of's stable sort
        plans.append(path_of(path))
    return plans


class _Pool:
    """The labels kept at one cut: each one's predecessor label and edge, by label index."""

    def __init__(self) -> None:
        self.prev: list[Any] = []
        self.step: list[Any] = []
        self.size = 0

    def store(self, prev: Any, step: Any) -> Any:
        """Add labels; returns their indices."""
        self.prev.append(prev)
        self.step.append(step)
        self.size += len(prev)
        return np.arange(self.size - len(prev), self.size, dtype=np.int64)

    @staticmethod
    def array(parts: list[Any]) -> Any:
        return np.concatenate(parts) if parts else _EMPTY_I


def _nondominated(lat: Any, en: Any) -> Any:
    """Indices of the non-dominated labels, fastest first: sorted by (latency, energy), a label
    is kept when its energy is below every energy before it (the rule of `_front`; of equal
    pairs the first). Sorted by latency alone (stable); of equal latencies the least energy is
    the last one kept, so a kept label followed by a kept one of the same latency is dropped.
    Used on small sets (a bundle's clocks, the known plans); the label sweep's merge
    (`frontmerge`) keeps the same rule and is tested against this one."""
    if len(lat) <= 1:
        return np.arange(len(lat), dtype=np.int64)
    order = np.argsort(lat, kind="stable")
    e = en[order]
    keep = np.empty(len(e), dtype=bool)
    keep[0] = True
    np.less(e[1:], np.minimum.accumulate(e)[:-1], out=keep[1:])
    kept = order[keep]
    lk = lat[kept]
    last = np.ones(len(kept), dtype=bool)
    last[:-1] = lk[:-1] != lk[1:]
    return kept[last]


@dataclass(frozen=True)
class Lagrange:
    """min objective s.t. resource <= bound, relaxed: L(lam) = min objective + lam (res - bound)."""

    lam: float
    lower_bound: float
    incumbent: PlanPath | None  # best plan found that meets the bound
    infeasible: bool = False


def _metric(p: PlanPath, name: str) -> float:
    return p.latency if name == "latency" else p.energy


def lagrangian(
    inst: SplitInstance,
    objective: str,
    bound: float,
    tol: float = 1e-12,
    graph: FastGraph | None = None,
) -> Lagrange:
    """Best multiplier by walking the lower convex hull of (resource, objective) (Aneja-Nair):
    each step is one shortest path, so it takes a handful of sweeps."""
    res = "energy" if objective == "latency" else "latency"

    def weights(w_obj: float, w_res: float) -> tuple[float, float]:
        return (w_obj, w_res) if objective == "latency" else (w_res, w_obj)

    def shortest_path(inst: SplitInstance, w_lat: float, w_en: float) -> PlanPath | None:
        if graph is not None:
            return graph.shortest_path(w_lat, w_en)
        return _plain_shortest_path(inst, w_lat, w_en)

    p0 = shortest_path(inst, *weights(1.0, 0.0))
    if p0 is None:
        return Lagrange(0.0, math.inf, None, infeasible=True)
    if _metric(p0, res) <= bound:
        return Lagrange(0.0, _metric(p0, objective), p0)
    p1 = shortest_path(inst, *weights(0.0, 1.0))
    if p1 is None or _metric(p1, res) > bound * (1 + 1e-12) + tol:
        return Lagrange(0.0, math.inf, None, infeasible=True)
    best = p1
    lam_best, lb = 0.0, _metric(p0, objective)
    for _ in range(100):
        dr = _metric(p0, res) - _metric(p1, res)
        if dr <= 0:
            break
        lam = (_metric(p1, objective) - _metric(p0, objective)) / dr
        p = shortest_path(inst, *weights(1.0, lam))
        if p is None:
            break
        value = _metric(p, objective) + lam * (_metric(p, res) - bound)
        if value > lb:
            lb, lam_best = value, lam
        here = _metric(p, objective) + lam * _metric(p, res)
        hull = _metric(p0, objective) + lam * _metric(p0, res)
        if here >= hull - tol * max(1.0, abs(hull)):
            break
        if _metric(p, res) <= bound:
            p1 = p
            if _metric(p, objective) < _metric(best, objective):
                best = p
        else:
            p0 = p
    return Lagrange(lam_best, lb, best)


def option_table(options: list[Option]) -> Any:
    """The options as one float array, a row each: device, start, end, latency, energy,
    memory (read in one pass; layer and device numbers are exact in a float)."""
    get = attrgetter("device", "start", "end", "latency", "energy", "memory_mb")
    flat = chain.from_iterable(map(get, options))
    return np.fromiter(flat, dtype=float, count=6 * len(options)).reshape(len(options), 6)


class FastGraph:
    """The same sweeps with numpy per cut, for pricing inside the SCIP loop (tens of sweeps per
    front point). shortest_path above stays the plain reference the tests trust. Edges are held
    as arrays (options in the instance's order, then transfers), read once from the instance."""

    def __init__(self, inst: SplitInstance, table: Any = None) -> None:
        """`table`: `option_table(inst.options)` when the caller has it already."""
        self.np = np
        self.inst = inst
        n = inst.n_layers
        self.nd = len(inst.devices)
        trs = inst.transfers
        tab = option_table(inst.options) if table is None else table
        o_dev, o_start, o_end = (tab[:, c].astype(np.int64) for c in range(3))
        o_lat, o_en = tab[:, 3].copy(), tab[:, 4].copy()
        self.o_dev, self.o_start, self.o_end = o_dev, o_start, o_end
        self.o_lat, self.o_en = o_lat, o_en
        # per start cut: the options' positions, in the instance's order
        order = np.argsort(o_start, kind="stable")
        bounds = np.searchsorted(o_start[order], np.arange(n + 2))
        self.by_start = [order[bounds[k] : bounds[k + 1]] for k in range(n + 1)]
        self.dev = [o_dev[ix] for ix in self.by_start]
        self.end = [o_end[ix] for ix in self.by_start]
        self.lat = [o_lat[ix] for ix in self.by_start]
        self.en = [o_en[ix] for ix in self.by_start]
        self.trs: list[list[Transfer]] = [[] for _ in range(n + 1)]
        for t in trs:
            self.trs[t.cut].append(t)
        ttab = np.array(
            list(map(attrgetter("cut", "src", "dst", "latency", "energy"), trs)), dtype=float
        ).reshape(len(trs), 5)
        self.t_cut, self.t_src, self.t_dst = (ttab[:, c].astype(np.int64) for c in range(3))
        self.t_lat, self.t_en = ttab[:, 3].copy(), ttab[:, 4].copy()
        self._into: dict[tuple[int, int], list[Option]] | None = None

    @property
    def into(self) -> dict[tuple[int, int], list[Option]]:
        """The options ending at each node (k, d), built on first use (the walk back)."""
        if self._into is None:
            self._into = {}
            for o in self.inst.options:
                self._into.setdefault((o.end, o.device), []).append(o)
        return self._into

    def forward(self, w_lat: float, w_en: float) -> Any:
        n, nd, inst = self.inst.n_layers, self.nd, self.inst
        dist = np.full((n + 1, nd), math.inf)
        dist[0, inst.source] = 0.0
        for k in range(n + 1):
            row = dist[k]
            for _ in range(max(1, nd - 1)):
                changed = False
                for t in self.trs[k]:
                    c = row[t.src] + (w_lat * t.latency + w_en * t.energy)
                    if c < row[t.dst]:
                        row[t.dst], changed = c, True
                if not changed:
                    break
            if len(self.dev[k]):
                cand = row[self.dev[k]] + (
                    w_lat * self.lat[k] + (w_en * self.en[k] if w_en else 0.0)
                )
                np.minimum.at(dist, (self.end[k], self.dev[k]), cand)
        return dist

    def backward(self, w_lat: float, w_en: float) -> Any:
        n, nd, inst = self.inst.n_layers, self.nd, self.inst
        dist = np.full((n + 1, nd), math.inf)
        dist[n, inst.sink] = 0.0
        for k in range(n, -1, -1):
            row = dist[k]
            if len(self.dev[k]):
                cand = dist[self.end[k], self.dev[k]] + (
                    w_lat * self.lat[k] + (w_en * self.en[k] if w_en else 0.0)
                )
                np.minimum.at(row, self.dev[k], cand)
            for _ in range(max(1, nd - 1)):
                changed = False
                for t in self.trs[k]:
                    c = row[t.dst] + (w_lat * t.latency + w_en * t.energy)
                    if c < row[t.src]:
                        row[t.src], changed = c, True
                if not changed:
                    break
        return dist

    def shortest_path(self, w_lat: float = 1.0, w_en: float = 0.0) -> PlanPath | None:
        """Forward sweep, then walk back along edges that are tight (equal within 1e-12)."""
        inst = self.inst
        fwd = self.forward(w_lat, w_en)
        n = inst.n_layers
        if math.isinf(fwd[n, inst.sink]):
            return None
        steps: list[Step] = []
        k, d = n, inst.sink
        for _ in range(4 * (n + 1) * self.nd):
            if (k, d) == (0, inst.source):
                return path_of(steps)
            here = fwd[k, d]
            tol = 1e-12 * max(1.0, abs(here))
            found: Step | None = None
            for o in self.into.get((k, d), ()):
                if abs(fwd[o.start, d] + _cost(o, w_lat, w_en) - here) <= tol:
                    found = o
                    break
            if found is None:
                for t in self.trs[k]:
                    if (
                        t.dst == d
                        and abs(fwd[k, t.src] + (w_lat * t.latency + w_en * t.energy) - here) <= tol
                    ):
                        found = t
                        break
            if found is None:
                raise RuntimeError(f"no tight edge into node {(k, d)}")
            steps.append(found)
            k, d = (found.cut, found.src) if isinstance(found, Transfer) else (found.start, d)
        raise RuntimeError("walk back did not reach the source")

    def through_all(self, w_lat: float, w_en: float) -> tuple[Any, float]:
        """For every edge (the instance's options, then its transfers), the least cost of a
        whole plan that uses it, as one array; and the optimum."""
        fwd = self.forward(w_lat, w_en)
        bwd = self.backward(w_lat, w_en)
        o_cost = w_lat * self.o_lat + (w_en * self.o_en if w_en else 0.0)
        t_cost = w_lat * self.t_lat + w_en * self.t_en
        o_val = fwd[self.o_start, self.o_dev] + o_cost + bwd[self.o_end, self.o_dev]
        t_val = fwd[self.t_cut, self.t_src] + t_cost + bwd[self.t_cut, self.t_dst]
        return np.concatenate([o_val, t_val]), float(fwd[self.inst.n_layers, self.inst.sink])

    def through(self, steps: list[Step], w_lat: float, w_en: float) -> tuple[list[float], float]:
        fwd = self.forward(w_lat, w_en)
        bwd = self.backward(w_lat, w_en)
        out = []
        for s in steps:
            c = _cost(s, w_lat, w_en)
            if isinstance(s, Transfer):
                out.append(float(fwd[s.cut, s.src] + c + bwd[s.cut, s.dst]))
            else:
                out.append(float(fwd[s.start, s.device] + c + bwd[s.end, s.device]))
        return out, float(fwd[self.inst.n_layers, self.inst.sink])


_plain_shortest_path = shortest_path
