"""The exact latency-energy Pareto front by epsilon-constraints on one SCIP model.

Start with no latency bound: minimise energy, then bound latency just below the plan found and
repeat until no plan is left. Ties are broken lexicographically without a second solve: the
energies found never decrease, so when a round returns the same energy at lower latency it
replaces the previous point, which was only weakly non-dominated. Each round finds the next
front point in order of decreasing latency, so the front is complete when the loop stops, up
to the latency resolution (two plans closer than that in latency count as one point). The
model is reused: freeTransform() and a bound change between solves, never a rebuild.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from solver.split import SolveStats, SplitModel
from solver.split_dp import PlanPath


@dataclass(frozen=True)
class FrontPoint:
    path: PlanPath
    stats: SolveStats

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

    def pairs(self) -> list[tuple[float, float]]:
        return sorted((p.latency, p.energy) for p in self.points)


def pareto_front(
    model: SplitModel,
    *,
    resolution: float = 0.0,
    max_points: int = 5000,
    time_limit: float | None = None,
) -> Front:
    """Walk the front from the least-energy plan to the fastest one.

    resolution = 0 finds every non-dominated point (latency step 1e-7 relative, below profile
    precision). resolution = r > 0 bounds the next point's latency by latency / (1 + r): every
    point skipped is then matched by a reported one at most (1 + r) slower and no hungrier.
    """
    if model.E is None:
        return Front(complete=False, reason=model.inst.energy_note or "energy unknown")
    rel = max(resolution, 1e-7)
    t0 = time.perf_counter()
    front = Front()
    eps: float | None = None
    while True:
        if len(front.points) >= max_points:
            front.complete, front.reason = False, f"stopped at max_points={max_points}"
            break
        if time_limit is not None and time.perf_counter() - t0 > time_limit:
            front.complete, front.reason = False, f"stopped at time_limit={time_limit} s"
            break
        hint = front.points[-1].path if front.points else None
        out = model.solve("energy", latency_max=eps, hint=hint)
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
