"""The plans every split answer is compared with (Neurosurgeon's and DIME's baselines).

All on one device at its default clock; the best single split (one cut, edge first, default
clocks, as Neurosurgeon picks it); and, where devices have several clocks, DVFS pinned to the
fastest or to the slowest one. Each is the best such plan for the answer's own objective, by
the DP on the instance restricted to those edges; the problem's constraints are not imposed
(the solution says which baseline meets them). Pure: no SCIP.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from solver.split.dp import PlanPath, shortest_path
from solver.split.instance import SplitInstance


@dataclass(frozen=True)
class Baseline:
    name: str
    path: PlanPath | None


def default_freq(inst: SplitInstance, device: int) -> float | None:
    """The clock a plan without DVFS runs at: the default one, else the fastest profiled."""
    freqs = inst.freqs_of(device)
    return None if None in freqs else (freqs[-1] if freqs else None)


def baselines(inst: SplitInstance, w_lat: float, w_en: float) -> list[Baseline]:
    """All on one device, the best single split (Neurosurgeon: one cut, default clocks, edge
    first), and DVFS pinned to the fastest or slowest clock; each the best such plan for the
    same objective (by the DP, ignoring the problem's constraints)."""
    out: list[Baseline] = []
    dflt = {d: default_freq(inst, d) for d in range(len(inst.devices))}
    for d, name in enumerate(inst.devices):
        sub = inst.restricted(lambda o, d=d: o.device == d and o.freq == dflt[d])
        out.append(Baseline(f"all on {name}", shortest_path(sub, w_lat, w_en)))
    edge = inst.source
    best: PlanPath | None = None
    best_cost = math.inf
    for other in range(len(inst.devices)):
        if other == edge:
            continue
        for k in range(1, inst.n_layers):
            sub = inst.restricted(
                lambda o, k=k, other=other: (
                    o.freq == dflt[o.device]
                    and ((o.device == edge and o.end <= k) or (o.device == other and o.start >= k))
                )
            )
            p = shortest_path(sub, w_lat, w_en)
            cost = math.inf if p is None else w_lat * p.latency + (w_en * p.energy if w_en else 0)
            if cost < best_cost:
                best, best_cost = p, cost
    if len(inst.devices) > 1:
        out.append(Baseline("best single split", best))
    numeric = {d: [f for f in inst.freqs_of(d) if f is not None] for d in range(len(inst.devices))}
    fast = {d: max(fs) if fs else None for d, fs in numeric.items()}
    slow = {d: min(fs) if fs else None for d, fs in numeric.items()}
    if any(len(fs) > 1 for fs in numeric.values()):
        sub = inst.restricted(lambda o: o.freq == fast[o.device])
        out.append(Baseline("fastest clock only", shortest_path(sub, w_lat, w_en)))
        sub = inst.restricted(lambda o: o.freq == slow[o.device])
        out.append(Baseline("slowest clock only", shortest_path(sub, w_lat, w_en)))
    return out
