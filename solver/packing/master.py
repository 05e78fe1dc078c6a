"""The pattern (configuration) formulation's data: rows, items, columns; no solver here.

A row is a (job type, part): the admitted jobs with the same GPU count and configuration table
(jobs built from one profile), or one part size of the split jobs of one GPU count; its demand
is how many such jobs (or parts) there are. An item is one choice for a row on one server
(GPUs, CPUs, memory, normalised throughput). A column is a pattern: a multiset of items that one
server of a kind holds. `build_master` lays out rows and items, `columns_from_parts` turns a
baseline's packing into columns (so it is a solution of the master), `enumerate_patterns` adds
every feasible pattern where there are few, `decode` turns column counts back into parts per
job and server.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from solver.packing.baselines import split_sizes
from solver.packing.problem import Instance, PartTuple

TOL = 1e-7


@dataclass(frozen=True)
class Item:
    row: int
    gpus: int
    cpus: float
    memory_gb: float
    value: float
    config: int  # index into the job table's configs (-1: proportional part of a split job)
    kind: int | None = None  # the one server kind it may go on (a job profiled per kind)


@dataclass
class Master:
    items: list[Item]
    demand: list[int]  # per row
    row_jobs: list[list[int]]  # per row, the job indices (repeated once per part they need)
    kinds: list[tuple[int, int, float, float]]  # count, gpus, cpus, memory
    rhs: list[int] = field(default_factory=list)  # demand still to cover (diving shrinks it)
    avail: list[int] = field(default_factory=list)  # servers per kind still free
    columns: list[tuple[int, tuple[tuple[int, int], ...]]] = field(default_factory=list)
    seen: set[tuple[int, tuple[tuple[int, int], ...]]] = field(default_factory=set)
    interference: list[float] = field(default_factory=list)  # per kind (Instance.interference)

    def add(self, kind: int, pattern: dict[int, int]) -> bool:
        key = (kind, tuple(sorted((i, n) for i, n in pattern.items() if n > 0)))
        if not key[1] or key in self.seen:
            return False
        self.seen.add(key)
        self.columns.append(key)
        return True

    def value(self, col: int) -> float:
        """The pattern's normalised throughput: its items' values, each times the kind's
        interference factor when the pattern holds two items or more (jobs sharing a server)."""
        kind, pat = self.columns[col]
        v = sum(self.items[i].value * n for i, n in pat)
        if sum(n for _, n in pat) >= 2 and kind < len(self.interference):
            v *= self.interference[kind]
        return v

    def fits(self, i: int, k: int) -> bool:
        it, (_, g, c, m) = self.items[i], self.kinds[k]
        if it.kind is not None and it.kind != k:
            return False
        return it.gpus <= g and it.cpus <= c + TOL and it.memory_gb <= m + TOL


def build_master(inst: Instance, admitted: list[int]) -> tuple[Master, dict[tuple[int, int], int]]:
    """Rows per (job type, part); returns the master and (job, part) -> row for decoding."""
    items: list[Item] = []
    demand: list[int] = []
    row_jobs: list[list[int]] = []
    type_row: dict[Any, list[int]] = {}
    job_row: dict[tuple[int, int], int] = {}
    for j in admitted:
        tab = inst.jobs[j]
        if inst.is_split(j):
            key: Any = ("split", tab.gpus)
            sizes = split_sizes(tab.gpus, inst.max_gpus)
            parts = sorted(set(sizes), reverse=True)
            if key not in type_row:
                rows = []
                for x in parts:
                    r = len(demand)
                    rows.append(r)
                    demand.append(0)
                    row_jobs.append([])
                    items.append(
                        Item(r, x, x * inst.cpus_per_gpu, x * inst.memory_per_gpu, x / tab.gpus, -1)
                    )
                type_row[key] = rows
            for q, x in enumerate(parts):
                r = type_row[key][q]
                n = sizes.count(x)
                demand[r] += n
                row_jobs[r].extend([j] * n)
                job_row[(j, q)] = r
            continue
        if j in inst.by_kind:
            # One item per (kind, configuration), valued against the job's reference table.
            per = inst.by_kind[j]
            key = ("kinds", tab.gpus, round(tab.prop_throughput, 9)) + tuple(
                tuple((c.cpus, c.memory_gb, round(c.throughput, 9)) for c in t.configs) for t in per
            )
            if key not in type_row:
                r = len(demand)
                demand.append(0)
                row_jobs.append([])
                for k, t in enumerate(per):
                    for ci, c in enumerate(t.configs):
                        v = c.throughput / tab.prop_throughput
                        items.append(Item(r, tab.gpus, c.cpus, c.memory_gb, v, ci, k))
                type_row[key] = [r]
        else:
            key = (
                tab.gpus,
                tuple((c.cpus, c.memory_gb, round(c.normalised, 9)) for c in tab.configs),
            )
        if key not in type_row:
            r = len(demand)
            demand.append(0)
            row_jobs.append([])
            for ci, c in enumerate(tab.configs):
                items.append(Item(r, tab.gpus, c.cpus, c.memory_gb, c.normalised, ci))
            type_row[key] = [r]
        r = type_row[key][0]
        demand[r] += 1
        row_jobs[r].append(j)
        job_row[(j, 0)] = r
    kinds = [(k.count, k.gpus, k.cpus, k.memory_gb) for k in inst.kinds]
    master = Master(items, demand, row_jobs, kinds, interference=list(inst.interference))
    master.rhs = list(demand)
    master.avail = [k[0] for k in kinds]
    return master, job_row


def item_of_part(
    inst: Instance, m: Master, job_row: dict[tuple[int, int], int], j: int, part: PartTuple
) -> int:
    _, g, c, mem = part
    if inst.is_split(j):
        q = 0 if g == inst.max_gpus else 1
        r = job_row.get((j, q), job_row.get((j, 0)))
        return next(i for i, it in enumerate(m.items) if it.row == r and it.gpus == g)
    r, kind = job_row[(j, 0)], inst.servers[part[0]].kind
    for i, it in enumerate(m.items):
        if it.kind is not None and it.kind != kind:
            continue
        if it.row == r and abs(it.cpus - c) < 1e-6 and abs(it.memory_gb - mem) < 1e-6:
            return i
    raise ValueError(f"part of job {inst.jobs[j].name} matches none of its configurations")


def columns_from_parts(
    inst: Instance,
    m: Master,
    job_row: dict[tuple[int, int], int],
    parts: dict[int, list[PartTuple]],
) -> dict[int, int] | None:
    """Add one column per distinct server content; return lam counts (None if not all placed)."""
    per_server: dict[int, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for j, ps in parts.items():
        for p in ps:
            per_server[p[0]][item_of_part(inst, m, job_row, j, p)] += 1
    counts: dict[tuple[int, tuple[tuple[int, int], ...]], int] = defaultdict(int)
    for s, pat in per_server.items():
        k = inst.servers[s].kind
        m.add(k, pat)
        counts[(k, tuple(sorted(pat.items())))] += 1
    got = [0] * len(m.demand)
    for (_, key), n in counts.items():
        for i, a in key:
            got[m.items[i].row] += a * n
    if got != m.demand:
        return None
    index = {c: ci for ci, c in enumerate(m.columns)}
    return {index[c]: n for c, n in counts.items()}


def enumerate_patterns(m: Master, limit: int) -> bool:
    """All feasible server contents of every kind; False (and nothing added) past `limit`."""
    found: list[tuple[int, dict[int, int]]] = []
    nodes = [0]

    def rec(
        k: int, idx: list[int], pos: int, left: tuple[int, float, float], cur: dict[int, int]
    ) -> bool:
        nodes[0] += 1
        if len(found) > limit or nodes[0] > 20 * limit:
            return False
        if pos == len(idx):
            if cur:
                found.append((k, dict(cur)))
            return True
        i = idx[pos]
        it = m.items[i]
        used_row = sum(n for ii, n in cur.items() if m.items[ii].row == it.row)
        g_left, c_left, m_left = left
        n = 0
        while True:
            if not rec(k, idx, pos + 1, (g_left, c_left, m_left), cur):
                return False
            n += 1
            g_left -= it.gpus
            c_left -= it.cpus
            m_left -= it.memory_gb
            if g_left < 0 or c_left < -TOL or m_left < -TOL or used_row + n > m.demand[it.row]:
                break
            cur[i] = n
        cur.pop(i, None)
        return True

    for k, (_, g, c, mem) in enumerate(m.kinds):
        idx = [i for i in range(len(m.items)) if m.fits(i, k)]
        if not rec(k, idx, 0, (g, c, mem), {}):
            return False
    for k, pat in found:
        m.add(k, pat)
    return True


def decode(inst: Instance, m: Master, counts: dict[int, int]) -> dict[int, list[PartTuple]]:
    queues = [list(js) for js in m.row_jobs]
    free_servers: dict[int, list[int]] = defaultdict(list)
    for s, srv in enumerate(inst.servers):
        free_servers[srv.kind].append(s)
    parts: dict[int, list[PartTuple]] = defaultdict(list)
    for ci, n in sorted(counts.items()):
        k, pat = m.columns[ci]
        for _ in range(n):
            s = free_servers[k].pop(0)
            for i, a in pat:
                it = m.items[i]
                for _ in range(a):
                    j = queues[it.row].pop(0)
                    parts[j].append((s, it.gpus, it.cpus, it.memory_gb))
    return dict(parts)


def value_of(m: Master, counts: dict[int, int]) -> float:
    return sum(m.value(ci) * n for ci, n in counts.items())
