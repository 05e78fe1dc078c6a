"""The packing solution: what each policy placed where, what the checker found, the plan row.

A `Placement` is one policy's answer (proportional, greedy or SCIP): per job its parts (server,
GPUs, CPUs, memory), throughput and normalised throughput (1.0 = its GPU-proportional share),
per server what is used; SCIP's adds its bound, gap, method and columns. `PackingSolution`
holds the three, each one's checker report, and the problem solved; `summary()` fills the plan
table's row. `make_placement` is the one way a policy turns its parts into a Placement (the
throughput is read from each job's table, never taken from the policy).

Interference: a job that shares a server with other jobs runs at its table's images/s times
that server kind's measured factor (`ServerKind.interference`; a split job: its parts' factors
weighted by their GPUs, as the pattern model counts them). `shared_factor` is that rule, used
here and by the checker; the fairness floor holds on the allocation (its images/s alone).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from solver.packing.problem import Instance, PackingProblem, PartTuple
from solver.problem import Strict
from solver.solution import Summary


class Part(Strict):
    server: str
    gpus: int
    cpus: float
    memory_gb: float


class JobPlacement(Strict):
    job: str
    gpus: int
    placed: bool
    cpus: float = 0.0
    memory_gb: float = 0.0
    throughput: float = Field(default=0.0, description="images/s at this allocation")
    normalised: float = Field(default=0.0, description="throughput / proportional-share one")
    source: str | None = None
    parts: list[Part] = Field(default_factory=list)


class ServerUse(Strict):
    server: str
    kind: str
    gpus: int
    cpus: float
    memory_gb: float
    gpus_used: int
    cpus_used: float
    memory_used_gb: float
    jobs: list[str]


class Placement(Strict):
    policy: str
    status: str
    objective: float = Field(description="total normalised throughput of placed jobs")
    bound: float | None = Field(default=None, description="proven upper bound on the objective")
    gap: float | None = Field(default=None, description="(bound - objective) / objective")
    time_s: float
    nodes: int | None = None
    method: str | None = None
    columns: int | None = None
    scip_status: str | None = None
    scip_gap: float | None = None
    admitted: int
    unplaced: list[str] = Field(default_factory=list)
    jobs: list[JobPlacement]
    servers: list[ServerUse]
    notes: list[str] = Field(default_factory=list)


OBJECTIVE = "max total normalised throughput"  # 1 per job: its GPU-proportional share


class PackingSolution(Strict):
    """The answer of `kind: packing`: SCIP's placement beside the two baselines, all checked."""

    kind: Literal["packing"] = "packing"
    name: str
    problem: PackingProblem
    interference: dict[str, float] = Field(
        default_factory=dict,
        description="measured interference factor used, by server kind (co-located jobs' "
        "images/s as a share of alone); empty: none used, co-located jobs priced as if alone",
    )
    placements: dict[str, Placement] = Field(description="by policy: proportional, greedy, scip")
    checks: dict[str, list[str]] = Field(description="by policy: the checker's violations")
    notes: list[str] = Field(default_factory=list)

    @property
    def best(self) -> Placement | None:
        return self.placements.get("scip")

    def best_baseline(self) -> tuple[str, Placement] | None:
        rest = [(k, p) for k, p in self.placements.items() if k != "scip"]
        return max(rest, key=lambda kp: kp[1].objective) if rest else None

    def summary(self) -> Summary:
        scip = self.best
        violations = [f"check {k}: {e}" for k, errs in self.checks.items() for e in errs]
        notes = violations + list(self.notes)
        base = self.best_baseline()
        gain = None
        if scip is not None and base is not None and base[1].objective > 0:
            gain = (scip.objective - base[1].objective) / base[1].objective
        if scip is not None:
            queued = len(scip.jobs) - scip.admitted
            if queued:
                notes.append(f"{queued} of {len(scip.jobs)} jobs queued: no GPUs left for them")
        return Summary(
            kind=self.kind,
            name=self.name,
            subjects=[j.name for j in self.problem.jobs],
            objective=OBJECTIVE,
            value=None if scip is None else scip.objective,
            status="no answer" if scip is None else scip.status,
            gap=None if scip is None else scip.gap,
            best_baseline=None if base is None else base[0],
            gain=gain,
            ok=scip is not None and not violations,
            notes=notes,
        )


# ---------------------------------------------------------------- building a placement


def shared_factor(inst: Instance, parts: list[tuple[int, int]], jobs_on: dict[int, int]) -> float:
    """A job's interference factor from its parts (server index, GPUs) and the number of jobs
    on each server: 1 alone; a part on a shared server counts its kind's factor, the parts
    weighted by their GPUs (a whole job has one part)."""
    gpus = sum(max(g, 0) for _, g in parts)
    if gpus <= 0:
        return 1.0
    total = 0.0
    for s, g in parts:
        f = inst.factor(inst.servers[s].kind) if jobs_on.get(s, 0) >= 2 else 1.0
        total += f * max(g, 0)
    return total / gpus


def jobs_per_server(parts: dict[int, list[PartTuple]]) -> dict[int, int]:
    out: dict[int, int] = {}
    for ps in parts.values():
        for s in {p[0] for p in ps}:
            out[s] = out.get(s, 0) + 1
    return out


def _job_out(inst: Instance, j: int, ps: list[PartTuple], jobs_on: dict[int, int]) -> JobPlacement:
    tab = inst.jobs[j]
    # a job in one part reads the table of its server's kind (jobs profiled per kind fit one
    # server); its throughput is normalised by its reference table either way
    on = inst.table(j, inst.servers[ps[0][0]].kind) if len(ps) == 1 else tab
    c = sum(p[2] for p in ps)
    m = sum(p[3] for p in ps)
    t = on.throughput_at(c, m) if tab.gpus <= inst.max_gpus else tab.prop_throughput
    t *= shared_factor(inst, [(p[0], p[1]) for p in ps], jobs_on)
    src = next(
        (x.source for x in on.configs if abs(x.cpus - c) < 1e-6 and abs(x.memory_gb - m) < 1e-6),
        None,
    )
    parts = [
        Part(server=inst.servers[s].name, gpus=g, cpus=pc, memory_gb=pm) for s, g, pc, pm in ps
    ]
    return JobPlacement(
        job=tab.name,
        gpus=tab.gpus,
        placed=True,
        cpus=c,
        memory_gb=m,
        throughput=t,
        normalised=t / tab.prop_throughput,
        source=src,
        parts=parts,
    )


def _servers_out(inst: Instance, parts: dict[int, list[PartTuple]]) -> list[ServerUse]:
    use: list[list] = [[0, 0.0, 0.0, []] for _ in inst.servers]  # type: ignore[type-arg]
    for j in range(len(inst.jobs)):
        for s, g, pc, pm in parts.get(j) or []:
            use[s][0] += g
            use[s][1] += pc
            use[s][2] += pm
            use[s][3].append(inst.jobs[j].name)
    return [
        ServerUse(
            server=s.name,
            kind=inst.kinds[s.kind].name,
            gpus=s.gpus,
            cpus=s.cpus,
            memory_gb=s.memory_gb,
            gpus_used=int(u[0]),
            cpus_used=float(u[1]),
            memory_used_gb=float(u[2]),
            jobs=list(u[3]),
        )
        for s, u in zip(inst.servers, use, strict=True)
    ]


def make_placement(
    inst: Instance,
    policy: str,
    admitted: list[int],
    parts: dict[int, list[PartTuple]],
    status: str,
    time_s: float,
    **extra: object,
) -> Placement:
    """Assemble the result from per-job parts; throughput is read from each job's table."""
    jobs_out: list[JobPlacement] = []
    obj = 0.0
    jobs_on = jobs_per_server(parts)
    for j, tab in enumerate(inst.jobs):
        ps = parts.get(j)
        if not ps:
            jobs_out.append(JobPlacement(job=tab.name, gpus=tab.gpus, placed=False))
            continue
        jp = _job_out(inst, j, ps, jobs_on)
        obj += jp.throughput / tab.prop_throughput
        jobs_out.append(jp)
    unplaced = [inst.jobs[j].name for j in admitted if not parts.get(j)]
    return Placement(
        policy=policy,
        status=status,
        objective=obj,
        time_s=time_s,
        admitted=len(admitted),
        unplaced=unplaced,
        jobs=jobs_out,
        servers=_servers_out(inst, parts),
        **extra,  # type: ignore[arg-type]
    )
