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
plan (with the Lagrangian multiplier of the one side constraint), is fixed to 0. SCIP then
proves optimality on what is left; `fixing=False` hands it the whole model (the tests compare
both against the DP).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace
from typing import Any

from pyscipopt import SCIP_PARAMSETTING, Model, quicksum

from solver.split.dp import FastGraph, PlanPath, Step, lagrangian, path_of
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
    hungrier and no bigger: no objective or constraint here can prefer it."""
    groups: dict[tuple[int, int, int], list[Option]] = {}
    for o in inst.options:
        groups.setdefault((o.device, o.start, o.end), []).append(o)
    kept: list[Option] = []
    for group in groups.values():

        def key(o: Option) -> tuple[float, float, float]:
            return (o.latency, o.energy if inst.energy_known else 0.0, o.memory_mb)

        group.sort(key=key)
        front: list[tuple[float, float, float]] = []
        for o in group:
            ko = key(o)
            if any(all(a <= b for a, b in zip(kf, ko, strict=True)) for kf in front):
                continue
            front.append(ko)
            kept.append(o)
    return kept


class SplitModel:
    """One SCIP model of an instance, re-solved with different objectives and epsilon bounds."""

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
        self.options = prune_options(inst) if prune else list(inst.options)
        self._sub = replace(inst, options=self.options)
        self._alts: dict[tuple[int, int, int], list[Option]] = {}
        for o in self.options:
            self._alts.setdefault((o.device, o.start, o.end), []).append(o)
        self._hint: PlanPath | None = None
        self._graph = FastGraph(self._sub)
        self.transfers = list(inst.transfers)
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
        self.x = [m.addVar(vtype="B", name=f"x{n}") for n in range(len(self.options))]
        self.y = [m.addVar(vtype="B", name=f"y{n}") for n in range(len(self.transfers))]
        n, nd = inst.n_layers, len(inst.devices)
        self.no_path = False
        inflow: list[list[list[Any]]] = [[[] for _ in range(nd)] for _ in range(n + 1)]
        outflow: list[list[list[Any]]] = [[[] for _ in range(nd)] for _ in range(n + 1)]
        for v, o in zip(self.x, self.options, strict=True):
            outflow[o.start][o.device].append(v)
            inflow[o.end][o.device].append(v)
        for v, t in zip(self.y, self.transfers, strict=True):
            outflow[t.cut][t.src].append(v)
            inflow[t.cut][t.dst].append(v)
        for k in range(n + 1):
            for d in range(nd):
                rhs = (1 if (k, d) == (n, inst.sink) else 0) - (
                    1 if (k, d) == (0, inst.source) else 0
                )
                if not inflow[k][d] and not outflow[k][d]:
                    self.no_path = self.no_path or rhs != 0
                    continue
                m.addCons(
                    quicksum(inflow[k][d]) - quicksum(outflow[k][d]) == rhs, name=f"flow_{k}_{d}"
                )
        steps: list[tuple[Any, Step]] = list(zip(self.x, self.options, strict=True))
        steps += list(zip(self.y, self.transfers, strict=True))
        self.steps = steps
        self.T = m.addVar(lb=0.0, ub=None, name="latency")
        m.addCons(quicksum(s.latency * v for v, s in steps) == self.T, name="latency_def")
        self.E = None
        if inst.energy_known:
            self.E = m.addVar(lb=0.0, ub=None, name="energy")
            m.addCons(quicksum(s.energy * v for v, s in steps) == self.E, name="energy_def")
        for d, cap in enumerate(inst.memory_mb):
            if cap is not None:
                m.addCons(
                    quicksum(
                        o.memory_mb * v
                        for v, o in zip(self.x, self.options, strict=True)
                        if o.device == d
                    )
                    <= cap,
                    name=f"memory_{d}",
                )
        self.model = m
        self.build_time_s = time.perf_counter() - t0
        self._solved = False

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
        fix = self._fixings(objective, eta, norms, lat_ub, en_ub) if self.fixing else set()
        self.fixed = len(fix)
        for n, (v, _) in enumerate(self.steps):
            m.chgVarUb(v, 0.0 if n in fix else 1.0)
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
    ) -> set[int]:
        """Edges no optimal plan uses, priced by shortest paths (LP reduced-cost fixing with the
        DP's labels as the dual): the plan is a path, so its cost through an edge is at least
        (best to the edge) + edge + (best from the edge)."""
        inst = self.inst
        sub = self._sub
        steps = [s for _, s in self.steps]
        fix: set[int] = set()

        def drop_above(values: list[float], limit: float) -> None:
            tol = 1e-9 * max(1.0, abs(limit))
            fix.update(n for n, v in enumerate(values) if v > limit + tol)

        memory = any(c is not None for c in inst.memory_mb)
        if lat_ub is not None:
            drop_above(self._graph.through(steps, 1.0, 0.0)[0], lat_ub)
        if en_ub is not None:
            drop_above(self._graph.through(steps, 0.0, 1.0)[0], en_ub)
        if memory:
            return fix
        if objective == "weighted":
            if lat_ub is None and en_ub is None:
                w = (eta / norms[0], (1 - eta) / norms[1])
                values, best = self._graph.through(steps, *w)
                drop_above(values, best)
            return fix
        other_ub = en_ub if objective == "latency" else lat_ub
        w_obj = (1.0, 0.0) if objective == "latency" else (0.0, 1.0)
        if other_ub is None:
            values, best = self._graph.through(steps, *w_obj)
            drop_above(values, best)
            return fix
        lg = lagrangian(sub, objective, other_ub, graph=self._graph)
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
        values, _ = self._graph.through(steps, *w)
        drop_above([v - lam * other_ub for v in values], ub)
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
        on = set(path.steps)
        sol = m.createSol()
        for v, s in self.steps:
            m.setSolVal(sol, v, 1.0 if s in on else 0.0)
        m.setSolVal(sol, self.T, path.latency)
        if self.E is not None:
            m.setSolVal(sol, self.E, path.energy)
        m.addSol(sol, free=True)

    def _path(self) -> PlanPath:
        """Follow the flow from the source; a stray zero-cost transfer cycle is left out."""
        m, inst = self.model, self.inst
        sol = m.getBestSol()
        chosen_o = [
            o for v, o in zip(self.x, self.options, strict=True) if m.getSolVal(sol, v) > 0.5
        ]
        chosen_t = [
            t for v, t in zip(self.y, self.transfers, strict=True) if m.getSolVal(sol, v) > 0.5
        ]
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
