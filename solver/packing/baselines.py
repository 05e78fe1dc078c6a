"""Baselines: GPU-proportional allocation and a Synergy-TUNE style greedy best-fit.

Both start from `admit`: jobs are taken in the given order (the scheduling policy's) while a
GPU placement exists for them, found best-fit as they come; the admitted set is what every
policy (these two and SCIP) then packs, so their objectives compare like with like.
"""

from __future__ import annotations

import time

from solver.packing.problem import Instance, PartTuple
from solver.packing.solution import Placement, make_placement

GpuParts = dict[int, list[tuple[int, int]]]  # job -> [(server, gpus)]


def split_sizes(gpus: int, server_gpus: int) -> list[int]:
    """A job larger than a server: whole servers, then the remainder."""
    full, rem = divmod(gpus, server_gpus)
    return [server_gpus] * full + ([rem] if rem else [])


def _place_gpus(inst: Instance, free: list[int], g: int) -> list[tuple[int, int]] | None:
    """Best fit on GPUs: the server with the fewest free GPUs that still fits (or whole
    servers for a split job). Mutates `free` on success."""
    if g <= inst.max_gpus:
        best = None
        for s, f in enumerate(free):
            if f >= g and (best is None or f < free[best]):
                best = s
        if best is None:
            return None
        free[best] -= g
        return [(best, g)]
    sizes = split_sizes(g, inst.max_gpus)
    empties = [s for s, f in enumerate(free) if f == inst.servers[s].gpus == inst.max_gpus]
    n_full = sum(1 for x in sizes if x == inst.max_gpus)
    if len(empties) < n_full:
        return None
    chosen = [(s, inst.max_gpus) for s in empties[:n_full]]
    if len(sizes) > n_full:
        rem = sizes[-1]
        taken = {s for s, _ in chosen}
        cand = [s for s, f in enumerate(free) if f >= rem and s not in taken]
        if not cand:
            return None
        chosen.append((min(cand, key=lambda s: free[s]), rem))
    for s, x in chosen:
        free[s] -= x
    return chosen


def admit(inst: Instance, order: list[int] | None = None) -> tuple[list[int], GpuParts]:
    """Jobs in order while they fit on GPUs (later, smaller ones may backfill)."""
    order = list(range(len(inst.jobs))) if order is None else order
    free = [s.gpus for s in inst.servers]
    admitted: list[int] = []
    witness: GpuParts = {}
    for j in order:
        got = _place_gpus(inst, free, inst.jobs[j].gpus)
        if got is not None:
            admitted.append(j)
            witness[j] = got
    return admitted, witness


def proportional_parts(inst: Instance, witness: GpuParts) -> dict[int, list[PartTuple]]:
    return {
        j: [(s, g, g * inst.cpus_per_gpu, g * inst.memory_per_gpu) for s, g in ps]
        for j, ps in witness.items()
    }


def proportional(inst: Instance, order: list[int] | None = None) -> Placement:
    """Every job gets CPUs and memory in proportion to its GPUs (the fairness floor itself)."""
    t0 = time.perf_counter()
    admitted, witness = admit(inst, order)
    parts = proportional_parts(inst, witness)
    return make_placement(
        inst, "proportional", admitted, parts, "heuristic", time.perf_counter() - t0
    )


def greedy_parts(inst: Instance, admitted: list[int]) -> dict[int, list[PartTuple]]:
    """Synergy-TUNE: biggest demands first (GPU, then CPU, then memory), each on the tightest
    server that fits its ideal demand; else at its proportional share; else on a server with
    the GPUs free, pulling that server's over-share jobs back to their share until it fits."""
    n = len(inst.servers)
    free_g = [s.gpus for s in inst.servers]
    free_c = [s.cpus for s in inst.servers]
    free_m = [s.memory_gb for s in inst.servers]
    on: list[list[int]] = [[] for _ in range(n)]
    parts: dict[int, list[PartTuple]] = {}

    def demand(j: int) -> tuple[int, float, float]:
        ic = inst.jobs[j].ideal_config
        return inst.jobs[j].gpus, ic.cpus, ic.memory_gb

    def put(j: int, s: int, g: int, c: float, m: float) -> None:
        free_g[s] -= g
        free_c[s] -= c
        free_m[s] -= m
        on[s].append(j)
        parts.setdefault(j, []).append((s, g, c, m))

    def tightest(g: int, c: float, m: float) -> int | None:
        fits = [
            s
            for s in range(n)
            if free_g[s] >= g and free_c[s] >= c - 1e-9 and free_m[s] >= m - 1e-9
        ]
        if not fits:
            return None
        return min(fits, key=lambda s: (free_g[s], free_c[s], free_m[s]))

    def tightest_ideal(j: int) -> tuple[int, float, float] | None:
        """The tightest server fitting j's ideal demand on that server's kind."""
        g = inst.jobs[j].gpus
        best: tuple[tuple[int, float, float], int, float, float] | None = None
        for s in range(n):
            ic = inst.table(j, inst.servers[s].kind).ideal_config
            if free_g[s] >= g and free_c[s] >= ic.cpus - 1e-9 and free_m[s] >= ic.memory_gb - 1e-9:
                key = (free_g[s], free_c[s], free_m[s])
                if best is None or key < best[0]:
                    best = (key, s, ic.cpus, ic.memory_gb)
        return None if best is None else best[1:]

    for j in sorted(admitted, key=lambda j: tuple(-x for x in demand(j))):
        tab = inst.jobs[j]
        g = tab.gpus
        if g > inst.max_gpus:
            got = _place_gpus(inst, free_g, g)
            if got is None:
                continue
            for s, x in got:
                free_g[s] += x  # put() takes them again
                put(j, s, x, x * inst.cpus_per_gpu, x * inst.memory_per_gpu)
            continue
        if j in inst.by_kind:
            ideal = tightest_ideal(j)
            if ideal is not None:
                put(j, ideal[0], g, ideal[1], ideal[2])
                continue
        else:
            ic = tab.ideal_config
            fit = tightest(g, ic.cpus, ic.memory_gb)
            if fit is not None:
                put(j, fit, g, ic.cpus, ic.memory_gb)
                continue
        pc, pm = tab.prop_cpus, tab.prop_memory_gb
        fit = tightest(g, pc, pm)
        if fit is not None:
            put(j, fit, g, pc, pm)
            continue
        cand = [s for s in range(n) if free_g[s] >= g]
        if not cand:
            continue
        s = min(cand, key=lambda s: (free_g[s], free_c[s], free_m[s]))
        # Pull over-share jobs on s back to their proportional share, biggest excess first.
        over = sorted(
            on[s],
            key=lambda k: (
                -(parts[k][0][2] - inst.jobs[k].prop_cpus)
                - (parts[k][0][3] - inst.jobs[k].prop_memory_gb) / max(inst.memory_per_gpu, 1e-9)
            ),
        )
        for k in over:
            if free_c[s] >= pc - 1e-9 and free_m[s] >= pm - 1e-9:
                break
            if len(parts[k]) != 1:
                continue
            _, gk, ck, mk = parts[k][0]
            nk_c, nk_m = inst.jobs[k].prop_cpus, inst.jobs[k].prop_memory_gb
            if abs(ck - nk_c) > 1e-9 or abs(mk - nk_m) > 1e-9:
                free_c[s] += ck - nk_c
                free_m[s] += mk - nk_m
                parts[k] = [(s, gk, nk_c, nk_m)]
        if free_c[s] >= pc - 1e-9 and free_m[s] >= pm - 1e-9:
            put(j, s, g, pc, pm)
    return parts


def greedy(inst: Instance, order: list[int] | None = None) -> Placement:
    t0 = time.perf_counter()
    admitted, _ = admit(inst, order)
    parts = greedy_parts(inst, admitted)
    return make_placement(inst, "greedy", admitted, parts, "heuristic", time.perf_counter() - t0)
