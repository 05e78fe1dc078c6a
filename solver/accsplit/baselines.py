"""The answers every decision is compared with, as plain points of the instance.

- `seed_gradient_descent`: the seed's own method. Its pruning step picks the variant (prune
  progressively: the variant with the fewest MACs that still meets the domain's bound), then
  gradient descent over the latency LUT chooses the split and the clocks: each choice relaxed
  to a softmax over its options (the branch configuration too, where variants differ only in
  it), the three stage times taken in expectation, their smooth
  maximum (log-sum-exp, the seed's throughput objective) minimised for a fixed number of
  steps, then every choice rounded to its most likely option. Bounded by steps, not seconds.
- `best_restricted`: the best point under a restriction, by enumeration: all on the edge (cut
  L), all on a server (cut 0), each over the variants that meet the bound.
The unpruned best split (the reference alone, any cut and clocks) is solved by SCIP in flow.py
with the same model as the decision. Pure Python.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from solver.accsplit.instance import AccInstance, Point, Run
from solver.accsplit.problem import GradientSpec


def feasible_variants(inst: AccInstance, domain: str) -> list[int]:
    """The candidate variants whose accuracy on `domain` meets its bound."""
    bound = inst.bound(domain) - 1e-12
    return [
        v
        for v in inst.candidates
        if domain in inst.variants[v].accuracy and inst.variants[v].accuracy[domain].value >= bound
    ]


def best_restricted(
    inst: AccInstance, variants: list[int], keep: Callable[[Point], bool]
) -> Point | None:
    """The least objective among `variants`' points that `keep` and the limits allow."""
    best: Point | None = None
    for v in variants:
        for p in inst.points(v):
            if not (keep(p) and inst.within_limits(p)):
                continue
            if best is None or (inst.value(p), p.latency) < (inst.value(best), best.latency):
                best = p
    return best


def progressive_pruning(inst: AccInstance, variants: list[int]) -> int | None:
    """The seed's pruning step: the most pruned variant (fewest MACs) that meets the bound."""
    if not variants:
        return None
    return min(variants, key=lambda v: (inst.variants[v].info.macs, inst.variants[v].id))


def seed_gradient_descent(
    inst: AccInstance, domain: str, spec: GradientSpec
) -> tuple[Point | None, int | None]:
    """(the rounded point, the variant progressive pruning picked). Where the family has branch
    configurations, the variants that share the picked one's pruning ratios are the gamma
    choices the descent relaxes too (the seed's gamma); otherwise gamma is that variant."""
    feas = feasible_variants(inst, domain)
    v = progressive_pruning(inst, feas)
    if v is None:
        return None, None
    ratios = inst.variants[v].info.ratios
    gammas = [u for u in feas if inst.variants[u].info.ratios == ratios] or [v]
    points = [p for u in gammas for p in inst.points(u)]
    if not points:
        return None, v
    return _descend(inst, points, spec), v


Place = tuple[int, int, int | None]  # variant, cut, server


def _descend(inst: AccInstance, points: list[Point], spec: GradientSpec) -> Point:
    """Gradient descent on the relaxed placement (variant, cut, server) and clocks, then
    rounding."""
    places: list[Place] = sorted(
        {(p.variant, p.cut, p.server) for p in points}, key=lambda x: (x[0], x[1], x[2] or -1)
    )
    fe_opts = sorted({p.f_edge for p in points}, key=_fkey)
    fs_opts = sorted({p.f_server for p in points if p.server is not None}, key=_fkey)
    energy = inst.objective == "energy"

    def cost(run: Run) -> float:
        if energy:
            return 0.0 if math.isnan(run.energy) else run.energy
        return run.stage_s if inst.objective == "throughput" else run.latency

    edge: dict[tuple[int, int, float | None], float] = {}
    srv: dict[tuple[Place, float | None], float] = {}
    link: dict[Place, float] = {}
    for p in points:
        pl = (p.variant, p.cut, p.server)
        edge[p.variant, p.cut, p.f_edge] = cost(p.edge)
        srv[pl, p.f_server] = cost(p.srv)
        link[pl] = p.link_energy if energy else p.link_s + p.link_latency_s * (not smooth_of(inst))
    big = 2.0 * max([*edge.values(), *srv.values(), *link.values(), 1e-12])
    scale = max(big / 2.0, 1e-12)
    a_e = [
        [edge.get((v, k, f), 0.0 if k == 0 else big) / scale for f in fe_opts] for v, k, _ in places
    ]
    a_s = [
        [0.0 if pl[2] is None else srv.get((pl, g), big) / scale for g in fs_opts] for pl in places
    ]
    a_l = [link[pl] / scale for pl in places]
    theta = [0.0] * len(places)
    phi = [0.0] * len(fe_opts)
    psi = [0.0] * len(fs_opts)
    tau = spec.temperature
    smooth = smooth_of(inst)
    for _ in range(spec.steps):
        pr, qe, qs = _softmax(theta), _softmax(phi), _softmax(psi)
        ee = [sum(q * a for q, a in zip(qe, row, strict=True)) for row in a_e]
        ss = [sum(q * a for q, a in zip(qs, row, strict=True)) for row in a_s]
        t = [
            sum(pj * x for pj, x in zip(pr, ee, strict=True)),
            sum(pj * x for pj, x in zip(pr, a_l, strict=True)),
            sum(pj * x for pj, x in zip(pr, ss, strict=True)),
        ]
        w = _softmax([x / tau for x in t]) if smooth else [1.0, 1.0, 1.0]
        g_p = [w[0] * ee[j] + w[1] * a_l[j] + w[2] * ss[j] for j in range(len(places))]
        g_e = [w[0] * sum(pr[j] * a_e[j][i] for j in range(len(places))) for i in range(len(phi))]
        g_s = [w[2] * sum(pr[j] * a_s[j][i] for j in range(len(places))) for i in range(len(psi))]
        d_theta, d_phi, d_psi = _back(pr, g_p), _back(qe, g_e), _back(qs, g_s)
        norm = max(map(abs, [*d_theta, *d_phi, *d_psi, 1e-12]))
        step = spec.learning_rate / norm
        theta = [x - step * g for x, g in zip(theta, d_theta, strict=True)]
        phi = [x - step * g for x, g in zip(phi, d_phi, strict=True)]
        psi = [x - step * g for x, g in zip(psi, d_psi, strict=True)]
    return _round(points, places, fe_opts, fs_opts, theta, phi, psi)


def smooth_of(inst: AccInstance) -> bool:
    """The throughput objective is the smooth max of the stages (the others are sums)."""
    return inst.objective == "throughput"


def _round(
    points: list[Point],
    places: list[Place],
    fe_opts: list[float | None],
    fs_opts: list[float | None],
    theta: list[float],
    phi: list[float],
    psi: list[float],
) -> Point:
    """Each relaxed choice to its most likely option; where that clock pair was not measured
    at the chosen cut, the measured pair the relaxation liked best."""
    best = places[max(range(len(places)), key=lambda j: theta[j])]
    pe = dict(zip(fe_opts, phi, strict=True))
    ps = dict(zip(fs_opts, psi, strict=True))
    here = [p for p in points if (p.variant, p.cut, p.server) == best]
    return max(here, key=lambda p: pe.get(p.f_edge, 0.0) + ps.get(p.f_server, 0.0))


def _softmax(x: list[float]) -> list[float]:
    if not x:
        return []
    m = max(x)
    ex = [math.exp(v - m) for v in x]
    total = sum(ex)
    return [v / total for v in ex]


def _back(p: list[float], g: list[float]) -> list[float]:
    """d/dlogits of sum p_i g_i through the softmax."""
    mean = sum(a * b for a, b in zip(p, g, strict=True))
    return [a * (b - mean) for a, b in zip(p, g, strict=True)]


def _fkey(f: float | None) -> float:
    return -1.0 if f is None else f
