"""The SCIP model of one domain's decision: variant x cut x server x clocks.

Formulation (on the tables of instance.py). Binary z[v,k,s] picks variant v, cut k and server
s (s = none at k = L: everything on the edge); binary e[v,k,f] picks the edge clock that runs
the prefix [0, k), binary q[v,k,s,g] the server clock that runs the suffix [k, L):

    sum z = 1,    sum_f e[v,k,f] = sum_s z[v,k,s],    sum_g q[v,k,s,g] = z[v,k,s]
    T_edge = sum e * t_edge,  T_link = sum z * t_link,  T_server = sum q * t_server
    accuracy:  sum z[v,k,s] * acc_v(domain) >= acc_ref(domain) - epsilon

(only variants with an accuracy on the domain get variables). Throughput: min B with B >=
T_edge, T_link, T_server (the slowest stage bounds the stream: the seed's objective), then,
with B held at its optimum, min latency (ties among equally fast plans go to the quickest).
Latency: min T_edge + T_link + T_server + propagation; energy: min the summed energies.
Limits (latency_max_s, energy_max_j) are linear constraints on the same expressions.

Why it is exact: the stage times depend on (v, k, s) and one clock each, and every measured
combination has its variables, so every point of the measured decision space is a feasible
assignment with exactly its own costs and vice versa; SCIP proves the optimum (gap 0) over
them. A stage at one clock runs as its cheapest chain of profiled bundles for the objective
(instance.py: fastest for throughput and latency, least energy for energy), so under an energy
objective with a latency limit a faster but hungrier chain of the same stage is not offered:
exact over those chains, which is what the tests' brute force enumerates too. Times enter in
milliseconds so that SCIP's tolerances are far below any difference
that matters. One function builds the model from plain data; solving and reading out are
separate (pyscipopt's examples' shape).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

from pyscipopt import Model, quicksum

from solver.accsplit.instance import EMPTY, AccInstance, Point

SCALE = 1e3  # seconds -> milliseconds (joules -> millijoules) inside the model


@dataclass(frozen=True)
class SolveStats:
    status: str
    objective: float | None  # in the objective's own units (seconds, joules)
    dual_bound: float | None
    gap: float | None
    solve_time_s: float
    nodes: int
    build_time_s: float
    variables: int
    constraints: int


@dataclass
class DomainModel:
    """One domain's SCIP model with its variables kept on it."""

    model: Model
    inst: AccInstance
    z: dict[tuple[int, int, int | None], Any]
    e: dict[tuple[int, int, float | None], Any]
    q: dict[tuple[int, int, int, float | None], Any]
    t_edge: Any
    t_link: Any
    t_server: Any
    latency: Any
    energy: Any
    bottleneck: Any
    build_time_s: float
    empty: bool  # no variant may run here: nothing to solve
    variables: int = 0
    constraints: int = 0


def build(inst: AccInstance, variants: list[int], bound: float | None, domain: str) -> DomainModel:
    """The model over `variants` (each with an accuracy on `domain`), accuracy >= `bound`
    (None: no accuracy constraint, e.g. the reference alone)."""
    t0 = time.perf_counter()
    m = Model(f"accsplit-{domain}")
    m.hideOutput()
    m.setParam("limits/gap", 0.0)
    m.setParam("limits/absgap", 0.0)
    m.setParam("numerics/feastol", 1e-9)
    z: dict[tuple[int, int, int | None], Any] = {}
    e: dict[tuple[int, int, float | None], Any] = {}
    q: dict[tuple[int, int, int, float | None], Any] = {}
    # the plain costs, keyed like the variables: (seconds, joules) and the accuracy
    zc: dict[tuple[int, int, int | None], tuple[float, float, float, float]] = {}
    # latency, energy, streamed occupancy
    ec: dict[tuple[int, int, float | None], tuple[float, float, float]] = {}
    qc: dict[tuple[int, int, int, float | None], tuple[float, float, float]] = {}
    for v in variants:
        a = inst.variants[v].accuracy[domain].value
        for p in inst.points(v):
            zk = (v, p.cut, p.server)
            if zk not in z:
                z[zk] = m.addVar(vtype="B", name=f"z_{v}_{p.cut}_{p.server}")
                zc[zk] = (p.link_s, p.link_latency_s, p.link_energy, a)
            ek = (v, p.cut, p.f_edge)
            if ek not in e:
                e[ek] = m.addVar(vtype="B", name=f"e_{v}_{p.cut}_{p.f_edge}")
                ec[ek] = (p.edge.latency, _energy(p.edge.energy), p.edge.stage_s)
            if p.server is not None:
                qk = (v, p.cut, p.server, p.f_server)
                if qk not in q:
                    q[qk] = m.addVar(vtype="B", name=f"q_{v}_{p.cut}_{p.server}_{p.f_server}")
                    qc[qk] = (p.srv.latency, _energy(p.srv.energy), p.srv.stage_s)
    empty = not z
    if not empty:
        m.addCons(quicksum(z.values()) == 1, "one")
        e_of: dict[tuple[int, int], list[Any]] = {}
        z_of: dict[tuple[int, int], list[Any]] = {}
        q_of: dict[tuple[int, int, int], list[Any]] = {}
        for (v, k, _), x in e.items():
            e_of.setdefault((v, k), []).append(x)
        for (v, k, _), x in z.items():
            z_of.setdefault((v, k), []).append(x)
        for (v, k, s, _), x in q.items():
            q_of.setdefault((v, k, s), []).append(x)
        for (v, k), zs in z_of.items():
            m.addCons(quicksum(e_of[v, k]) == quicksum(zs), f"edge_clock_{v}_{k}")
        for (v, k, srv), zv in z.items():
            if srv is not None:
                m.addCons(quicksum(q_of[v, k, srv]) == zv, f"server_clock_{v}_{k}_{srv}")
        if bound is not None:
            m.addCons(quicksum(zc[k][3] * x for k, x in z.items()) >= bound - 1e-12, "accuracy")
    t_edge = m.addVar(lb=0, name="T_edge")
    t_link = m.addVar(lb=0, name="T_link")
    t_server = m.addVar(lb=0, name="T_server")
    latency = m.addVar(lb=0, name="latency")
    energy = m.addVar(lb=0, name="energy")
    bneck = m.addVar(lb=0, name="B")
    m.addCons(t_edge == quicksum(SCALE * ec[k][0] * x for k, x in e.items()), "T_edge")
    m.addCons(t_link == quicksum(SCALE * zc[k][0] * x for k, x in z.items()), "T_link")
    m.addCons(t_server == quicksum(SCALE * qc[k][0] * x for k, x in q.items()), "T_server")
    prop = quicksum(SCALE * zc[k][1] * x for k, x in z.items())
    m.addCons(latency == t_edge + t_link + t_server + prop, "latency")
    m.addCons(
        energy
        == quicksum(SCALE * ec[k][1] * x for k, x in e.items())
        + quicksum(SCALE * zc[k][2] * x for k, x in z.items())
        + quicksum(SCALE * qc[k][1] * x for k, x in q.items()),
        "energy",
    )
    # the streamed rate is set by each stage's occupancy (latency, or CPU time over a quota)
    m.addCons(bneck >= quicksum(SCALE * ec[k][2] * x for k, x in e.items()), "B_edge")
    m.addCons(bneck >= t_link, "B_link")
    m.addCons(bneck >= quicksum(SCALE * qc[k][2] * x for k, x in q.items()), "B_server")
    if inst.latency_max is not None:
        m.addCons(latency <= SCALE * inst.latency_max * (1 + 1e-9), "latency_max")
    if inst.energy_max is not None:
        m.addCons(energy <= SCALE * inst.energy_max * (1 + 1e-9), "energy_max")
    return DomainModel(
        m, inst, z, e, q, t_edge, t_link, t_server, latency, energy, bneck,
        time.perf_counter() - t0, empty, m.getNVars(), m.getNConss(),
    )  # fmt: skip


def _energy(x: float) -> float:
    return 0.0 if math.isnan(x) else x


def solve(
    dm: DomainModel, time_limit: float | None, start: Point | None = None
) -> tuple[SolveStats, Point | None]:
    """Optimise for the instance's objective (throughput: lexicographically, then latency).
    `start`: a known point (a heuristic's) handed to SCIP as a partial solution, so that a
    time limit still leaves a plan."""
    if dm.empty:
        return _stats(dm, "infeasible", None, 0.0), None
    m = dm.model
    target = {"throughput": dm.bottleneck, "latency": dm.latency, "energy": dm.energy}
    m.setObjective(target[dm.inst.objective], "minimize")
    if start is not None:
        _give_start(dm, start)
    started = time.perf_counter()
    m.setParam("limits/time", 1e20 if time_limit is None else float(time_limit))
    m.optimize()
    stats = _read_stats(dm)
    if m.getNSols() == 0:
        return stats, None
    point = read_point(dm)
    if dm.inst.objective == "throughput" and stats.status == "optimal":
        best = m.getObjVal()
        m.freeTransform()
        m.addCons(dm.bottleneck <= best * (1 + 1e-9) + 1e-12, "B_at_optimum")
        m.setObjective(dm.latency, "minimize")
        left = None if time_limit is None else time_limit - (time.perf_counter() - started)
        m.setParam("limits/time", 1e20 if left is None else max(0.05, left))
        m.optimize()
        if m.getNSols() > 0 and str(m.getStatus()) == "optimal":
            point = read_point(dm)
    return stats, point


def _give_start(dm: DomainModel, p: Point) -> None:
    """`p` as a complete solution (every variable set), checked by SCIP before it starts."""
    keys = (p.variant, p.cut, p.server)
    if keys not in dm.z:
        return
    m = dm.model
    sol = m.createSol()
    for zk, x in dm.z.items():
        m.setSolVal(sol, x, 1.0 if zk == keys else 0.0)
    for ek, x in dm.e.items():
        m.setSolVal(sol, x, 1.0 if ek == (p.variant, p.cut, p.f_edge) else 0.0)
    for qk, x in dm.q.items():
        m.setSolVal(sol, x, 1.0 if qk == (p.variant, p.cut, p.server, p.f_server) else 0.0)
    te, tl, ts = SCALE * p.edge.latency, SCALE * p.link_s, SCALE * p.srv.latency
    energy = SCALE * (_energy(p.edge.energy) + p.link_energy + _energy(p.srv.energy))
    for var, val in (
        (dm.t_edge, te),
        (dm.t_link, tl),
        (dm.t_server, ts),
        (dm.latency, te + tl + ts + SCALE * p.link_latency_s),
        (dm.energy, energy),
        (dm.bottleneck, SCALE * p.bottleneck_s),
    ):
        m.setSolVal(sol, var, val)
    m.addSol(sol, free=True)


def _read_stats(dm: DomainModel) -> SolveStats:
    m = dm.model
    has = m.getNSols() > 0
    return _stats(
        dm,
        str(m.getStatus()),
        m.getObjVal() / SCALE if has else None,
        m.getSolvingTime(),
        dual=_finite(m.getDualbound()),
        gap=_finite(m.getGap()) if has else None,
        nodes=m.getNNodes(),
    )


def _stats(
    dm: DomainModel,
    status: str,
    objective: float | None,
    solve_time: float,
    dual: float | None = None,
    gap: float | None = None,
    nodes: int = 0,
) -> SolveStats:
    return SolveStats(
        status=status,
        objective=objective,
        dual_bound=None if dual is None else dual / SCALE,
        gap=gap,
        solve_time_s=solve_time,
        nodes=nodes,
        build_time_s=dm.build_time_s,
        variables=dm.variables,
        constraints=dm.constraints,
    )


def read_point(dm: DomainModel) -> Point:
    """The chosen point, re-priced from the instance's tables (not from SCIP's values)."""
    m = dm.model
    (v, k, s) = next(key for key, x in dm.z.items() if m.getVal(x) > 0.5)
    fe = next(f for (vv, kk, f), x in dm.e.items() if (vv, kk) == (v, k) and m.getVal(x) > 0.5)
    fs = (
        None
        if s is None
        else next(
            g
            for (vv, kk, ss, g), x in dm.q.items()
            if (vv, kk, ss) == (v, k, s) and m.getVal(x) > 0.5
        )
    )
    for p in dm.inst.points(v):
        if (p.cut, p.server, p.f_edge, p.f_server) == (k, s, fe, fs):
            return p
    raise RuntimeError(f"SCIP chose a point the instance does not have: {(v, k, s, fe, fs)}")


def _finite(v: float) -> float | None:
    return None if v is None or math.isinf(v) or abs(v) >= 1e19 else float(v)


__all__ = ["EMPTY", "DomainModel", "SolveStats", "build", "read_point", "solve"]
