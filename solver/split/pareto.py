"""The exact latency-energy Pareto front: by epsilon-constraints on one SCIP model, or by the
label DP, certified by SCIP at its two ends. The problem file picks (`front: {method: ...}`).

method="auto" (the default): the DP when the instance has no memory limits (it is the fast
one: one sweep, whatever the number of points), else the SCIP walk. The two agree point for
point (tests/test_pareto.py compares them on random instances).

method="dp": `dp.pareto_plans` gives every non-dominated point with a plan
in one sweep over the cuts (exact: it keeps every label that can still reach the front). SCIP
then solves the two extremes on the same model as every other solve, least latency and least
energy under the problem's bounds, and they must agree with the DP's ends (the same optimum,
and SCIP's plan no better than a DP point); a disagreement raises FrontMismatch, never a
silent pick. The problem's latency_max / energy_max keep the points within them. The DP does
not see memory limits: asking for it on an instance with any is an error.

method="scip": start with no latency bound, minimise energy, then bound latency just below the
plan found and repeat until no plan is left. Ties are broken lexicographically without a second
solve: the energies found never decrease, so when a round returns the same energy at lower
latency it replaces the previous point, which was only weakly non-dominated. Each round finds
the next front point in order of decreasing latency, so the front is complete when the loop
stops, up to the latency resolution (two plans closer than that in latency count as one point).
The model is reused: SplitModel.solve calls freeTransform() and changes a bound between
solves, never a rebuild.

Both return the points from the least-energy plan to the fastest one (decreasing latency).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Literal

from solver.budget import MIN_PHASE_S
from solver.split.dp import LabelLimit, PlanPath, pareto_plans
from solver.split.instance import SplitInstance
from solver.split.model import SolveOutcome, SolveStats, SplitModel

Method = Literal["auto", "dp", "scip"]

_BOUND_TOL = 1e-12  # a plan meets a problem bound within this (relative), as flow.check_bounds
_MATCH_TOL = 1e-9  # SCIP's and the DP's optima agree within this (relative)


class FrontMismatch(RuntimeError):
    """SCIP and the DP disagree on an end of the front: one of them is wrong."""


@dataclass(frozen=True)
class FrontPoint:
    path: PlanPath
    stats: SolveStats | None = None  # the SCIP solve that found it (None: found by the DP)

    @property
    def latency(self) -> float:
        return self.path.latency

    @property
    def energy(self) -> float:
        return self.path.energy


@dataclass
class Front:
    points: list[FrontPoint] = field(default_factory=list)
    solves: int = 0
    time_s: float = 0.0
    complete: bool = True
    reason: str = ""
    method: Literal["dp", "scip"] = "scip"  # the algorithm that produced the points
    checks: dict[str, SolveStats] = field(default_factory=dict)  # DP: SCIP's solve of each end

    def pairs(self) -> list[tuple[float, float]]:
        return sorted((p.latency, p.energy) for p in self.points)


def pareto_front(
    model: SplitModel,
    *,
    resolution: float = 0.0,
    max_points: int = 5000,
    time_limit: float | None = None,
    method: Method = "auto",
) -> Front:
    """Walk the front from the least-energy plan to the fastest one.

    resolution = 0 finds every non-dominated point (the SCIP walk: latency step 1e-7 relative,
    below profile precision). resolution = r > 0 reports a point only when it is at least
    (1 + r) times faster than the previous one: every point skipped is then matched by a
    reported one at most (1 + r) slower and no hungrier. With the DP, the exact front is
    thinned by that rule, which picks the same points the SCIP walk does.
    """
    used = resolve_method(model.inst, method)
    if model.E is None:
        return Front(complete=False, reason=model.inst.energy_note or "energy unknown", method=used)
    if used == "scip":
        return _scip_walk(model, resolution, max_points, time_limit)
    return _dp_front(model, resolution, max_points, time_limit)


def resolve_method(inst: SplitInstance, method: str) -> Literal["dp", "scip"]:
    """Which algorithm a requested method runs on this instance: 'auto' is the DP unless memory
    limits exist (they are no sum along the path, so the DP cannot see them)."""
    memory = any(c is not None for c in inst.memory_mb)
    if method == "auto":
        return "scip" if memory else "dp"
    if method == "dp":
        if memory:
            raise ValueError(
                "front.method 'dp' cannot see memory limits: use 'scip' (or 'auto') for the front"
            )
        return "dp"
    if method == "scip":
        return "scip"
    raise ValueError(f"front.method must be 'auto', 'dp' or 'scip', not {method!r}")


def _dp_front(
    model: SplitModel, resolution: float, max_points: int, time_limit: float | None
) -> Front:
    t0 = time.perf_counter()
    inst = model.inst
    front = Front(method="dp")
    try:
        plans = pareto_plans(inst, deadline=None if time_limit is None else t0 + time_limit)
    except TimeoutError:
        front.complete, front.reason = False, f"the time limit ({time_limit} s) cut the DP short"
        front.time_s = time.perf_counter() - t0
        return front
    except LabelLimit as exc:  # the work bound: the same on any machine
        front.complete, front.reason = False, f"the DP stopped at its label bound: {exc}"
        front.time_s = time.perf_counter() - t0
        return front
    kept = [p for p in plans if _meets(p, inst.latency_max, inst.energy_max)]
    fast = model.solve("latency", time_limit=_rest(t0, time_limit, 2))
    lean = model.solve("energy", time_limit=_rest(t0, time_limit, 1))
    front.solves = 2
    front.checks = {"latency": fast.stats, "energy": lean.stats}
    stopped = _certify("latency", fast, kept, plans) + _certify("energy", lean, kept, plans)
    pts = [FrontPoint(p) for p in reversed(kept)]
    if resolution > 0:
        pts = _thin(pts, resolution)
    if len(pts) > max_points:
        pts = pts[:max_points]
        front.complete, front.reason = False, f"stopped at max_points={max_points}"
    elif stopped:
        front.reason = f"exact by the DP; SCIP's check of its ends stopped: {stopped.strip()}"
    front.points = pts
    front.time_s = time.perf_counter() - t0
    return front


def _rest(t0: float, time_limit: float | None, solves: int = 1) -> float | None:
    """SCIP's limit for the next solve: the front's time left, shared by `solves` solves."""
    if time_limit is None:
        return None
    return max(MIN_PHASE_S, (time_limit - (time.perf_counter() - t0)) / solves)


def _meets(p: PlanPath, lat_max: float | None, en_max: float | None) -> bool:
    return (lat_max is None or p.latency <= lat_max * (1 + _BOUND_TOL)) and (
        en_max is None or p.energy <= en_max * (1 + _BOUND_TOL)
    )


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=_MATCH_TOL, abs_tol=1e-15)


def _certify(objective: str, out: SolveOutcome, kept: list[PlanPath], plans: list[PlanPath]) -> str:
    """SCIP's optimum of one objective against the DP front (kept: within the problem's bounds,
    fastest first; plans: all of it). Returns why it could not check ('' when it did)."""
    status = out.stats.status
    if out.path is None:
        if status == "infeasible":
            if kept:
                raise FrontMismatch(
                    f"SCIP finds no plan for least {objective} within the problem's bounds, "
                    f"the DP front has {len(kept)} points there"
                )
            return ""
        return f"{objective}: {status} "
    p = out.path
    covered = any(
        q.latency <= p.latency * (1 + _MATCH_TOL) and q.energy <= p.energy * (1 + _MATCH_TOL)
        for q in plans
    )
    if not covered:
        raise FrontMismatch(
            f"SCIP's plan for least {objective} ({p.latency:.12g} s, {p.energy:.12g} J) is "
            "dominated by no point of the DP front"
        )
    if not kept:
        raise FrontMismatch(
            f"SCIP finds a plan for least {objective} within the problem's bounds "
            f"({p.latency:.12g} s, {p.energy:.12g} J), the DP front has none there"
        )
    if status != "optimal":
        return f"{objective}: {status} "
    mine = kept[0].latency if objective == "latency" else kept[-1].energy
    scip = p.latency if objective == "latency" else p.energy
    if not _close(mine, scip):
        raise FrontMismatch(f"least {objective}: SCIP {scip:.12g}, the DP front's end {mine:.12g}")
    return ""


def _thin(points: list[FrontPoint], r: float) -> list[FrontPoint]:
    """Points in decreasing latency: keep the next one only once it is (1 + r) times faster."""
    out = points[:1]
    for p in points[1:]:
        if p.latency <= out[-1].latency / (1 + r):
            out.append(p)
    return out


def _scip_walk(
    model: SplitModel, resolution: float, max_points: int, time_limit: float | None
) -> Front:
    rel = max(resolution, 1e-7)
    t0 = time.perf_counter()
    front = Front(method="scip")
    eps: float | None = None
    while True:
        if len(front.points) >= max_points:
            front.complete, front.reason = False, f"stopped at max_points={max_points}"
            break
        if time_limit is not None and time.perf_counter() - t0 > time_limit:
            front.complete, front.reason = False, f"stopped at time_limit={time_limit} s"
            break
        hint = front.points[-1].path if front.points else None
        out = model.solve("energy", latency_max=eps, hint=hint, time_limit=_rest(t0, time_limit))
        front.solves += 1
        if out.path is None:
            if out.stats.status != "infeasible":
                front.complete, front.reason = False, f"SCIP stopped: {out.stats.status}"
            break
        path = out.path
        step = max(1e-9, path.latency - path.latency / (1 + rel))
        if front.points and path.latency > front.points[-1].latency - step / 2:
            # the feasibility tolerance let the previous point back in: step further
            eps = front.points[-1].latency - 4 * step
            continue
        point = FrontPoint(path, out.stats)
        if front.points and path.energy <= front.points[-1].energy * (1 + 1e-9) + 1e-12:
            # same energy, less latency: the previous point was only weakly non-dominated
            front.points[-1] = point
        else:
            front.points.append(point)
        eps = path.latency - step
    front.time_s = time.perf_counter() - t0
    return front
