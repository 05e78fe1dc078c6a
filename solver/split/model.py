"""The SCIP model for split points, device assignment and DVFS frequencies.

Formulation (on the graph of instance.py): binary x_o per compute option o = (device,
frequency, bundle [i, j)), binary y_t per transfer t = (cut k, src -> dst). Flow conservation
at every node (k, d): in - out = -1 at (0, input device), +1 at (L, output device), else 0; a
path covers each layer exactly once and pays communication exactly where consecutive bundles
sit on different devices (and at cut 0 / cut L when the pins differ from the chosen device).
T = sum latency * (x, y), E = sum energy * (x, y) are continuous variables, so an objective or
an epsilon bound is a change of one coefficient or one bound. For latency or energy alone
the constraint matrix is a network matrix (totally unimodular): the LP optimum is already a
path and SCIP closes at the root; side constraints (latency, energy, memory) make it a
resource-constrained shortest path, which branching handles.

Before each solve, shortest paths price every edge (the DP labels are an optimal dual of the
network LP): an edge whose best plan through it breaks a bound, or costs more than a known
plan (with the Lagrangian multiplier of the one side constraint), is fixed to 0. Only the
edges left free get a variable (columns are added as later solves need them), so for one
objective without side constraints SCIP sees the few edges on optimal paths and proves the
optimum at the root; with memory limits pricing fixes only what a bound rules out and most
of the model is built. `fixing=False` builds and hands SCIP the whole model (the tests
compare both against the DP). Pricing and pruning read the edges as numpy arrays.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from pyscipopt import SCIP_PARAMSETTING, Model, quicksum

from solver.split.dp import FastGraph, PlanPath, Step, lagrangian, option_table, path_of
from solver.split.instance import Option, SplitInstance, Transfer
from solver.split.problem import Objective


@dataclass(frozen=True)
class SolveStats:
    """What SCIP itself reported for one solve."""

    status: str
    objective: float | None
    dual_bound: float | None
    gap: float | None
    solve_time_s: float
    nodes: int


@dataclass(frozen=True)
class SolveOutcome:
    stats: SolveStats
    path: PlanPath | None


def prune_options(inst: SplitInstance) -> list[Option]:
    """Drop an option when another one of the same bundle on the same device is no slower, no
    hungrier and no bigger: no objective or constraint here can prefer it. Of equal ones the
    first is kept. Vectorised: the options of a bundle are compared pairwise in numpy."""
    return [inst.options[i] for i in _undominated(inst, option_table(inst.options)).tolist()]


def _undominated(inst: SplitInstance, table: Any) -> Any:
    """Positions (in the instance's order) of the options `prune_options` keeps; `table` is
    `option_table(inst.options)`."""
    m = len(table)
    if not m:
        return np.zeros(0, dtype=np.int64)
    n1 = inst.n_layers + 1
    dev, start, end = (table[:, c].astype(np.int64) for c in range(3))
    key = (dev * n1 + start) * n1 + end
    lat, mem = table[:, 3], table[:, 5]
    en = table[:, 4] if inst.energy_known else np.zeros(m)
    order = np.lexsort((np.arange(m), mem, en, lat, key))  # by bundle, then (lat, en, mem)
    k = key[order]
    first = np.flatnonzero(np.r_[True, k[1:] != k[:-1]])
    size = np.diff(np.r_[first, m])
    rank = np.arange(m) - np.repeat(first, size)
    width = int(size.max())
    groups = len(first)
    gid = np.repeat(np.arange(groups), size)
    # sorted so, an option's earlier ones in its bundle are no slower: each is dominated by
    # an earlier one that is also no hungrier and no bigger (padding: inf, never no worse)
    e_pad = np.full((groups, width), np.inf)
    m_pad = np.full((groups, width), np.inf)
    e_pad[gid, rank] = en[order]
    m_pad[gid, rank] = mem[order]
    earlier = np.tril(np.ones((width, width), dtype=bool), -1)  # [i, j]: j sorted before i
    dominated = np.zeros((groups, width), dtype=bool)
    chunk = max(1, 4_000_000 // (width * width))
    for g0 in range(0, groups, chunk):
        e, mm = e_pad[g0 : g0 + chunk], m_pad[g0 : g0 + chunk]
        le = (e[:, None, :] <= e[:, :, None]) & (mm[:, None, :] <= mm[:, :, None])
        dominated[g0 : g0 + chunk] = np.any(le & earlier[None], axis=2)
    keep = ~dominated[gid, rank]
    return np.sort(order[keep])


class SplitModel:
    """One SCIP model of an instance, re-solved with different objectives and epsilon bounds.

    Columns are built lazily: before each solve, shortest-path pricing fixes the edges no
    optimal plan can use, and only the edges still free get a variable (once; a later solve
    adds what it needs and fixes what it does not). An edge without a variable is an edge fixed
    to 0, so the model is the full formulation with those fixings; without pricing
    (`fixing=False`) or where pricing fixes nothing (memory limits), every edge is built."""

    def __init__(
        self,
        inst: SplitInstance,
        *,
        exact: bool = True,
        time_limit: float | None = None,
        prune: bool = True,
        quiet: bool = True,
        fixing: bool = True,
    ) -> None:
        t0 = time.perf_counter()
        self.inst = inst
        table = option_table(inst.options)
        if prune:
            kept = _undominated(inst, table)
            self.options = [inst.options[i] for i in kept.tolist()]
            table = table[kept]
        else:
            self.options = list(inst.options)
        self._sub = replace(inst, options=self.options)
        self._alts_of: dict[tuple[int, int, int], list[Option]] | None = None
        self._hint: PlanPath | None = None
        self._graph = FastGraph(self._sub, table)
        self.transfers = list(inst.transfers)
        self.edges: list[Step] = [*self.options, *self.transfers]
        self._index: dict[int, int] | None = None
        m = Model("split")
        if quiet:
            m.hideOutput()
        if exact:
            m.setParam("limits/gap", 0.0)
            m.setParam("limits/absgap", 0.0)
            m.setParam("numerics/feastol", 1e-9)
        self.time_limit = time_limit  # each solve's, unless the solve is given its own
        # separation finds nothing on a network matrix; fast presolve drops the fixed edges
        m.setSeparating(SCIP_PARAMSETTING.OFF)
        m.setPresolve(SCIP_PARAMSETTING.FAST)
        self.fixing = fixing
        self.fixed = 0
        self.prep_time_s = 0.0
        n, nd = inst.n_layers, len(inst.devices)
        g = self._graph
        has_edge = np.zeros((n + 1, nd), dtype=bool)
        has_edge[g.o_start, g.o_dev] = True
        has_edge[g.o_end, g.o_dev] = True
        has_edge[g.t_cut, g.t_src] = True
        has_edge[g.t_cut, g.t_dst] = True
        self.no_path = not (has_edge[0, inst.source] and has_edge[n, inst.sink])
        # the node rows, made when an edge at the node first gets a variable; the two ends
        # from the start (an end with no edge built is infeasible, as it should be)
        self._flow: dict[tuple[int, int], Any] = {}
        self._vars: dict[int, Any] = {}  # edge position in self.edges -> its variable
        self.model = m
        self.T = m.addVar(lb=0.0, ub=None, name="latency")
        self._lat_def = m.addCons(-1.0 * self.T == 0.0, name="latency_def")
        self.E = None
        self._en_def = None
        if inst.energy_known:
            self.E = m.addVar(lb=0.0, ub=None, name="energy")
            self._en_def = m.addCons(-1.0 * self.E == 0.0, name="energy_def")
        self._mem: dict[int, Any] = {}
        for d, cap in enumerate(inst.memory_mb):
            if cap is not None:
                self._mem[d] = m.addCons(quicksum([]) <= cap, name=f"memory_{d}")
        if not self.no_path:
            self._node(0, inst.source)
            self._node(n, inst.sink)
        if not fixing:
            self._build(range(len(self.edges)))
        self.build_time_s = time.perf_counter() - t0
        self._solved = False

    @property
    def steps(self) -> list[tuple[Any, Step]]:
        """The edges that have a variable, with it."""
        return [(v, self.edges[i]) for i, v in sorted(self._vars.items())]

    @property
    def variables(self) -> int:
        """The edges of the formulation (those without a variable are fixed to 0)."""
        return len(self.edges)

    def _node(self, k: int, d: int) -> Any:
        cons = self._flow.get((k, d))
        if cons is None:
            inst = self.inst
            rhs = (1 if (k, d) == (inst.n_layers, inst.sink) else 0) - (
                1 if (k, d) == (0, inst.source) else 0
            )
            cons = self.model.addCons(quicksum([]) == rhs, name=f"flow_{k}_{d}")
            self._flow[(k, d)] = cons
        return cons

    def _build(self, positions: Any) -> None:
        """Variables for these edges (the ones not built yet), in every row they enter."""
        m = self.model
        n_opt = len(self.options)
        t0 = time.perf_counter()
        for i in positions:
            i = int(i)
            if i in self._vars:
                continue
            s = self.edges[i]
            v = m.addVar(vtype="B", name=f"x{i}" if i < n_opt else f"y{i - n_opt}")
            self._vars[i] = v
            if isinstance(s, Option):
                tail, head = (s.start, s.device), (s.end, s.device)
                if s.device in self._mem:
                    m.addConsCoeff(self._mem[s.device], v, s.memory_mb)
            else:
                tail, head = (s.cut, s.src), (s.cut, s.dst)
            m.addConsCoeff(self._node(*tail), v, -1.0)
            m.addConsCoeff(self._node(*head), v, 1.0)
            m.addConsCoeff(self._lat_def, v, s.latency)
            if self._en_def is not None:
                m.addConsCoeff(self._en_def, v, s.energy)
        self.build_time_s = getattr(self, "build_time_s", 0.0) + (time.perf_counter() - t0)

    @property
    def _alts(self) -> dict[tuple[int, int, int], list[Option]]:
        if self._alts_of is None:
            self._alts_of = {}
            for o in self.options:
                self._alts_of.setdefault((o.device, o.start, o.end), []).append(o)
        return self._alts_of

    def _position(self, s: Step) -> int:
        if self._index is None:
            self._index = {id(e): i for i, e in enumerate(self.edges)}
        return self._index[id(s)]

    def solve(
        self,
        objective: Objective = "latency",
        *,
        eta: float = 0.5,
        norms: tuple[float, float] = (1.0, 1.0),
        latency_max: float | None = None,
        energy_max: float | None = None,
        hint: PlanPath | None = None,
        time_limit: float | None = None,
    ) -> SolveOutcome:
        """Minimise `objective` under the instance's bounds tightened by the given ones.
        `hint`: a nearby plan (the previous front point) to repair into a first solution.
        `time_limit`: SCIP's seconds for this solve (default: the model's)."""
        m = self.model
        if self.no_path:
            return SolveOutcome(SolveStats("infeasible", None, None, None, 0.0, 0), None)
        if self._solved:
            m.freeTransform()
        lat_ub = _tighter(self.inst.latency_max, latency_max)
        en_ub = _tighter(self.inst.energy_max, energy_max)
        m.chgVarUb(self.T, m.infinity() if lat_ub is None else lat_ub)
        if self.E is not None:
            m.chgVarUb(self.E, m.infinity() if en_ub is None else en_ub)
        elif objective != "latency" or en_ub is not None:
            raise ValueError(self.inst.energy_note or "energy unknown")
        t0 = time.perf_counter()
        self._incumbent: PlanPath | None = None
        self._hint = hint
        if self.fixing:
            fix = self._fixings(objective, eta, norms, lat_ub, en_ub)
        else:
            fix = np.zeros(len(self.edges), dtype=bool)
        self.fixed = int(fix.sum())
        need = np.flatnonzero(~fix)
        if self._incumbent is not None:
            on = [self._position(s) for s in self._incumbent.steps]
            need = np.union1d(need, np.array(on, dtype=np.int64))
        self._build(need)
        for i, v in self._vars.items():
            m.chgVarUb(v, 0.0 if fix[i] else 1.0)
        if self._incumbent is not None:
            self._give_start(self._incumbent)
        self.prep_time_s = time.perf_counter() - t0
        if objective == "latency":
            m.setObjective(self.T, "minimize")
        elif objective == "energy":
            assert self.E is not None
            m.setObjective(self.E, "minimize")
        else:
            assert self.E is not None
            m.setObjective(eta / norms[0] * self.T + (1 - eta) / norms[1] * self.E, "minimize")
        limit = time_limit if time_limit is not None else self.time_limit
        m.setParam("limits/time", 1e20 if limit is None else float(limit))
        m.optimize()
        self._solved = True
        status = str(m.getStatus())
        has_sol = m.getNSols() > 0
        stats = SolveStats(
            status=status,
            objective=m.getObjVal() if has_sol else None,
            dual_bound=_finite(m.getDualbound()),
            gap=_finite(m.getGap()) if has_sol else None,
            solve_time_s=m.getSolvingTime(),
            nodes=m.getNNodes(),
        )
        return SolveOutcome(stats, self._path() if has_sol else None)

    def _fixings(
        self,
        objective: Objective,
        eta: float,
        norms: tuple[float, float],
        lat_ub: float | None,
        en_ub: float | None,
    ) -> Any:
        """Edges no optimal plan uses (a mask over self.edges), priced by shortest paths (LP
        reduced-cost fixing with the DP's labels as the dual): the plan is a path, so its cost
        through an edge is at least (best to the edge) + edge + (best from the edge)."""
        inst = self.inst
        sub = self._sub
        graph = self._graph
        fix = np.zeros(len(self.edges), dtype=bool)

        def drop_above(values: Any, limit: float) -> None:
            tol = 1e-9 * max(1.0, abs(limit))
            fix[values > limit + tol] = True

        memory = any(c is not None for c in inst.memory_mb)
        if lat_ub is not None:
            drop_above(graph.through_all(1.0, 0.0)[0], lat_ub)
        if en_ub is not None:
            drop_above(graph.through_all(0.0, 1.0)[0], en_ub)
        if memory:
            return fix
        if objective == "weighted":
            if lat_ub is None and en_ub is None:
                w = (eta / norms[0], (1 - eta) / norms[1])
                values, best = graph.through_all(*w)
                drop_above(values, best)
            return fix
        other_ub = en_ub if objective == "latency" else lat_ub
        w_obj = (1.0, 0.0) if objective == "latency" else (0.0, 1.0)
        if other_ub is None:
            values, best = graph.through_all(*w_obj)
            drop_above(values, best)
            return fix
        lg = lagrangian(sub, objective, other_ub, graph=graph)
        if lg.infeasible or lg.incumbent is None:
            return fix
        self._incumbent = lg.incumbent
        ub = lg.incumbent.latency if objective == "latency" else lg.incumbent.energy
        if objective == "energy" and self._hint is not None:
            fixed_up = self._repair(self._hint, other_ub)
            if fixed_up is not None and fixed_up.energy < ub:
                self._incumbent, ub = fixed_up, fixed_up.energy
        lam = lg.lam
        w = (1.0, lam) if objective == "latency" else (lam, 1.0)
        values, _ = graph.through_all(*w)
        drop_above(values - lam * other_ub, ub)
        return fix

    def _repair(self, path: PlanPath, lat_ub: float) -> PlanPath | None:
        """Speed a plan up to meet lat_ub by changing bundles' clocks, cheapest energy first:
        the next front point is often the previous one with one bundle a step faster."""
        steps = list(path.steps)
        for _ in range(4 * len(steps) + 1):
            cur = path_of(steps)
            if cur.latency <= lat_ub:
                return cur
            need = cur.latency - lat_ub
            best: tuple[float, int, Option] | None = None
            single: tuple[float, int, Option] | None = None
            for n, s in enumerate(steps):
                if not isinstance(s, Option):
                    continue
                for a in self._alts.get((s.device, s.start, s.end), ()):
                    dl, de = a.latency - s.latency, a.energy - s.energy
                    if dl >= 0:
                        continue
                    if -dl >= need and (single is None or de < single[0]):
                        single = (de, n, a)
                    ratio = de / -dl
                    if best is None or ratio < best[0]:
                        best = (ratio, n, a)
            pick = single or best
            if pick is None:
                return None
            steps[pick[1]] = pick[2]
        return None

    def _give_start(self, path: PlanPath) -> None:
        """Hand SCIP the Lagrangian walk's best feasible plan as a first solution."""
        m = self.model
        on = {id(s) for s in path.steps}
        sol = m.createSol()
        for i, v in self._vars.items():
            m.setSolVal(sol, v, 1.0 if id(self.edges[i]) in on else 0.0)
        m.setSolVal(sol, self.T, path.latency)
        if self.E is not None:
            m.setSolVal(sol, self.E, path.energy)
        m.addSol(sol, free=True)

    def _path(self) -> PlanPath:
        """Follow the flow from the source; a stray zero-cost transfer cycle is left out."""
        m, inst = self.model, self.inst
        sol = m.getBestSol()
        chosen = [self.edges[i] for i, v in self._vars.items() if m.getSolVal(sol, v) > 0.5]
        chosen_o = [s for s in chosen if isinstance(s, Option)]
        chosen_t = [s for s in chosen if isinstance(s, Transfer)]
        out: dict[tuple[int, int], list[Step]] = {}
        for o in chosen_o:
            out.setdefault((o.start, o.device), []).append(o)
        for t in chosen_t:
            out.setdefault((t.cut, t.src), []).append(t)
        steps: list[Step] = []
        node = (0, inst.source)
        while node != (inst.n_layers, inst.sink):
            nxt = out.get(node)
            if not nxt:
                raise RuntimeError(f"SCIP solution has no edge out of node {node}")
            s = nxt.pop()
            steps.append(s)
            node = (s.cut, s.dst) if isinstance(s, Transfer) else (s.end, s.device)
            if len(steps) > len(chosen_o) + len(chosen_t):
                raise RuntimeError("SCIP solution does not form a path")
        return path_of(steps)


def _tighter(a: float | None, b: float | None) -> float | None:
    if a is None:
        return b
    if b is None:
        return a
    return min(a, b)


def _finite(v: float) -> float | None:
    return None if v is None or math.isinf(v) or abs(v) >= 1e19 else float(v)
