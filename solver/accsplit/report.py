"""Plain points of the instance -> the solution's pydantic parts (ChoiceOut, FrontPointOut).

The plan is written step by step as the split kind writes it: each profiled bundle the edge
runs, the transfer of the tensor at the cut (its latency includes the link's propagation
delay), each bundle the server runs. Pure: no SCIP.
"""

from __future__ import annotations

import math

from solver.accsplit.instance import AccInstance, Point, Run
from solver.accsplit.solution import AccuracyOut, ChoiceOut, FrontPointOut, StagesOut
from solver.split.solution import PlanOut, ProfileRef, StepOut


def accuracy_out(inst: AccInstance, v: int, domain: str, loo: float | None) -> AccuracyOut:
    a = inst.variants[v].accuracy[domain]
    return AccuracyOut(
        value=a.value,
        source="measured" if a.source == "measured" else "surrogate",
        samples=a.samples,
        correct=a.correct,
        surrogate_loo_error=loo if a.source == "surrogate" else None,
    )


def _energy(x: float, known: bool) -> float | None:
    return None if not known or math.isnan(x) else x


def _compute_steps(
    inst: AccInstance, v: int, run: Run, device: int, freq: float | None
) -> list[StepOut]:
    names = inst.variants[v].layer_names
    return [
        StepOut(
            kind="compute",
            layers=(a, b),
            first_layer=names[a],
            last_layer=names[b - 1],
            device=inst.devices[device],
            frequency_mhz=freq,
            latency_s=lat,
            energy_j=_energy(en, inst.energy_known),
            busy_s=busy if busy > lat else None,
        )
        for a, b, lat, en, busy in run.bundles
    ]


def plan_of(inst: AccInstance, p: Point) -> PlanOut:
    steps = _compute_steps(inst, p.variant, p.edge, inst.edge, p.f_edge)
    comm = 0.0
    if p.server is not None:
        var = inst.variants[p.variant]
        comm = p.link_s + p.link_latency_s
        steps.append(
            StepOut(
                kind="transfer",
                device=inst.devices[inst.edge],
                to_device=inst.devices[p.server],
                cut=p.cut,
                bytes=var.cut_bytes[p.cut],
                latency_s=comm,
                energy_j=_energy(p.link_energy, inst.energy_known),
            )
        )
        steps += _compute_steps(inst, p.variant, p.srv, p.server, p.f_server)
    known = inst.energy_known and not math.isnan(p.energy)
    return PlanOut(
        steps=steps,
        latency_s=p.latency,
        compute_latency_s=p.edge.latency + p.srv.latency,
        comm_latency_s=comm,
        energy_j=p.energy if known else None,
        compute_energy_j=(p.edge.energy + p.srv.energy) if known else None,
        comm_energy_j=p.link_energy if known else None,
    )


def choice_of(inst: AccInstance, p: Point, domain: str, loo: float | None) -> ChoiceOut:
    var = inst.variants[p.variant]
    info = var.info
    freqs: dict[str, float | None] = {}
    if p.cut > 0:
        freqs[inst.devices[inst.edge]] = p.f_edge
    if p.server is not None:
        freqs[inst.devices[p.server]] = p.f_server
    used = [inst.edge] + ([p.server] if p.server is not None else [])
    refs = [
        ProfileRef(
            path=str(it.path),
            id=it.profile.id,
            device_name=it.profile.infer.device_name if it.profile.infer else "?",
            model=it.profile.infer.model if it.profile.infer else "?",
        )
        for d in used
        for it in var.profiles.get(d, [])[:1]
    ]
    plan = plan_of(inst, p)
    return ChoiceOut(
        variant=var.id,
        family=info.family,
        reference=info.reference,
        weights=info.weights,
        weights_sha256=info.weights_sha256,
        cut=p.cut,
        n_layers=var.n_layers,
        cut_after=None if p.cut == 0 else var.layer_names[p.cut - 1],
        edge_device=inst.devices[inst.edge],
        server_device=None if p.server is None else inst.devices[p.server],
        frequencies_mhz=freqs,
        plan=plan,
        stages=StagesOut(
            edge_s=p.edge.stage_s,
            link_s=p.link_s,
            server_s=p.srv.stage_s,
            link_latency_s=p.link_latency_s,
            bottleneck=p.bottleneck,  # type: ignore[arg-type]
        ),
        throughput_rps=inst.throughput(p),
        latency_s=p.latency,
        energy_j=plan.energy_j,
        accuracy=accuracy_out(inst, p.variant, domain, loo),
        profiles=refs,
    )


def front_of(
    inst: AccInstance, best: dict[int, Point], domain: str, chosen: Point | None
) -> list[FrontPointOut]:
    """Every variant with an accuracy here, at its best point for the objective; on the front
    when no other is at least as accurate and at least as fast (strictly better in one)."""
    bound = inst.bound(domain) - 1e-12
    rows = []
    for v, p in sorted(best.items()):
        a = inst.variants[v].accuracy[domain]
        rows.append((v, p, a.value, inst.throughput(p), a.source))
    out = []
    for v, p, acc, thr, src in rows:
        dominated = any(
            a2 >= acc and t2 >= thr and (a2 > acc or t2 > thr)
            for v2, _, a2, t2, _ in rows
            if v2 != v
        )
        out.append(
            FrontPointOut(
                variant=inst.variants[v].id,
                accuracy=acc,
                accuracy_source="measured" if src == "measured" else "surrogate",
                throughput_rps=thr,
                latency_s=p.latency,
                energy_j=None if not inst.energy_known else p.energy,
                feasible=acc >= bound,
                on_front=not dominated,
                chosen=chosen is not None and chosen.variant == v,
            )
        )
    return out
