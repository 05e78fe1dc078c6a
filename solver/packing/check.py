"""Independent checker for a placement: admission, capacities, GPU counts, the fairness floor.

It recomputes everything from the parts and the jobs' throughput models; it trusts none of
the numbers the policy reported (usage, throughput, objective). Which jobs must run is the
caller's to say (`admitted`, e.g. from `baselines.admit` on the round's queue): a
policy that drops an admitted job would otherwise pass every capacity test. A job sharing a
server is held to its table's images/s times the kind's interference factor (`shared_factor`),
the server's sharing counted from the parts.
"""

from __future__ import annotations

from collections.abc import Collection

from solver.packing.problem import Instance
from solver.packing.solution import JobPlacement, Placement, shared_factor

TOL = 1e-6


def check(
    inst: Instance, placement: Placement, admitted: Collection[int] | None = None
) -> list[str]:
    """Every violation, one line each; empty when the placement is valid.

    `admitted`: indices into inst.jobs of the jobs that must be placed; every other job must
    stay queued (unplaced). Without it, the placement's own claim is held against it: no job in
    its `unplaced` list, and as many jobs placed as it says it admitted.
    """
    errs: list[str] = []
    used: dict[str, list[float]] = {s.name: [0.0, 0.0, 0.0] for s in inst.servers}
    tables = {t.name: t for t in inst.jobs}
    job_of = {t.name: j for j, t in enumerate(inst.jobs)}
    seen: set[str] = set()
    placed: set[str] = set()
    total = 0.0
    jobs_on = _jobs_on(inst, placement)
    for jp in placement.jobs:
        tab = tables.get(jp.job)
        if tab is None:
            errs.append(f"{jp.job}: not a job of the instance")
            continue
        if jp.job in seen:
            errs.append(f"{jp.job}: listed twice")
            continue
        seen.add(jp.job)
        if not jp.placed:
            if jp.parts:
                errs.append(f"{jp.job}: unplaced but has parts")
            continue
        if not jp.parts:
            errs.append(f"{jp.job}: placed but has no parts")
            continue
        placed.add(jp.job)
        total += _placed_job(inst, job_of[jp.job], jp, used, errs, jobs_on)
    errs += _admission(inst, placement, admitted, seen, placed)
    errs += _capacity(inst, used)
    if abs(total - placement.objective) > 1e-4 * max(1.0, total):
        errs.append(f"objective {placement.objective:.6f} but the parts give {total:.6f}")
    return errs


def _jobs_on(inst: Instance, placement: Placement) -> dict[int, int]:
    """Jobs per server (by index), from the placed jobs' parts."""
    index = {s.name: i for i, s in enumerate(inst.servers)}
    out: dict[int, int] = {}
    for jp in placement.jobs:
        if not jp.placed:
            continue
        for name in {p.server for p in jp.parts if p.server in index}:
            out[index[name]] = out.get(index[name], 0) + 1
    return out


def _placed_job(
    inst: Instance,
    j: int,
    jp: JobPlacement,
    used: dict[str, list[float]],
    errs: list[str],
    jobs_on: dict[int, int],
) -> float:
    """One placed job's parts against its request and its floor; adds its use to `used`,
    appends its violations to `errs`, returns its normalised throughput by the parts. A job in
    one part runs at the table of its server's kind, normalised by its reference table."""
    tab = inst.jobs[j]
    index = {s.name: i for i, s in enumerate(inst.servers)}
    servers = [p.server for p in jp.parts]
    if len(set(servers)) != len(servers):
        errs.append(f"{jp.job}: two parts on one server")
    gpus = sum(p.gpus for p in jp.parts)
    if gpus != tab.gpus:
        errs.append(f"{jp.job}: {gpus} GPUs placed, {tab.gpus} requested")
    for p in jp.parts:
        if p.server not in used:
            errs.append(f"{jp.job}: unknown server {p.server}")
            continue
        if p.gpus <= 0 or p.cpus <= 0 or p.memory_gb <= 0:
            errs.append(f"{jp.job}: empty part on {p.server}")
        u = used[p.server]
        u[0] += p.gpus
        u[1] += p.cpus
        u[2] += p.memory_gb
    c = sum(p.cpus for p in jp.parts)
    m = sum(p.memory_gb for p in jp.parts)
    if len(jp.parts) > 1:
        # A split job runs at its slowest part: each must hold at least its share per GPU.
        for p in jp.parts:
            if p.cpus < p.gpus * inst.cpus_per_gpu * (
                1 - TOL
            ) or p.memory_gb < p.gpus * inst.memory_per_gpu * (1 - TOL):
                errs.append(f"{jp.job}: part on {p.server} below its proportional share")
        norm = 1.0
        floor = norm
    else:
        server = index.get(jp.parts[0].server)
        on = inst.table(j, inst.servers[server].kind) if server is not None else tab
        floor = on.normalised_at(c, m)  # the floor holds on the kind it runs on
        norm = on.throughput_at(c, m) / tab.prop_throughput
    if floor < 1 - TOL:
        errs.append(
            f"{jp.job}: normalised throughput {floor:.4f} below the fairness floor 1 "
            f"({c:g} CPUs, {m:g} GB)"
        )
    # the simulator advances jobs at the reported rate: it must be the parts' rate, times the
    # interference factor where the job shares a server
    factor = shared_factor(
        inst, [(index[p.server], p.gpus) for p in jp.parts if p.server in index], jobs_on
    )
    rate = norm * tab.prop_throughput * factor
    if abs(jp.throughput - rate) > 1e-6 * max(1.0, rate):
        errs.append(f"{jp.job}: reports {jp.throughput:g} images/s, its parts give {rate:g}")
    return norm * factor


def _admission(
    inst: Instance,
    placement: Placement,
    admitted: Collection[int] | None,
    seen: set[str],
    placed: set[str],
) -> list[str]:
    """Every job listed; the admitted ones placed and no other (or the placement's own claim)."""
    errs: list[str] = []
    names = [t.name for t in inst.jobs]
    for name in names:
        if name not in seen:
            errs.append(f"{name}: missing from the placement")
    if admitted is not None:
        must = {names[j] for j in admitted}
        for name in names:
            if name in must and name not in placed:
                errs.append(f"{name}: admitted but left unplaced")
            if name in placed and name not in must:
                errs.append(f"{name}: placed but not admitted (it is queued this round)")
        return errs
    for name in placement.unplaced:
        errs.append(f"{name}: admitted (the placement says) but left unplaced")
    if len(placed) + len(placement.unplaced) != placement.admitted:
        errs.append(
            f"{len(placed)} jobs placed and {len(placement.unplaced)} reported unplaced, "
            f"but {placement.admitted} admitted"
        )
    return errs


def _capacity(inst: Instance, used: dict[str, list[float]]) -> list[str]:
    errs: list[str] = []
    by_name = {s.name: s for s in inst.servers}
    for name, (g, c, m) in used.items():
        s = by_name[name]
        if g > s.gpus:
            errs.append(f"{name}: {g:g} GPUs used of {s.gpus}")
        if c > s.cpus * (1 + TOL) + TOL:
            errs.append(f"{name}: {c:g} CPUs used of {s.cpus:g}")
        if m > s.memory_gb * (1 + TOL) + TOL:
            errs.append(f"{name}: {m:g} GB used of {s.memory_gb:g}")
    return errs
