"""What a split run measured, as JSON (pydantic): per phase the per-request latency (median,
p95), throughput, each stage's share, the output check, and how the link was shaped; per
container its caps and how it ended. Built from the workers' records; no Docker, no torch.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from harness.backends.base import ProbeRun, Record
from harness.profile import Stat
from harness.runsplit.plan import LinkSetting, Mode, Phase, PlanSpec, Shaping
from harness.spec import Strict

STAGES = ("edge_compute", "transfer", "server_compute", "return", "other")


class StageShares(Strict):
    """Medians per request, seconds; `share` = each stage's part of the summed latency."""

    edge_compute_s: float
    transfer_s: float = Field(description="edge -> server, delay and queueing included")
    server_compute_s: float
    return_s: float = Field(description="server -> edge")
    other_s: float = Field(
        description="framing, copies, thread hand-offs; queueing with several in flight"
    )
    share: dict[str, float]
    edge_on_cpu: float | None = Field(
        default=None,
        description="edge compute: thread CPU time / wall time; below ~0.95 the edge's core "
        "was shared with other work, so the timing includes that interference",
    )
    server_on_cpu: float | None = None


class JobSpan(Strict):
    name: str
    cut: int
    local: tuple[float, float] | None = None
    comm: tuple[float, float] | None = None
    remote: tuple[float, float] | None = None


class PhaseResult(Strict):
    name: str
    mode: Mode
    plan: PlanSpec | None = None
    jobs: int = 0
    link: LinkSetting
    shaping: Shaping | None = Field(description="tc (tbf on the host veths) or token-bucket")
    delay: Literal["application"] = Field(
        default="application",
        description="the link latency: a delay line in the sender (a message leaves no "
        "earlier than the latency after it was handed over; back-to-back ones overlap)",
    )
    shaping_detail: str = ""
    requests: int = 0
    window: int | None = Field(default=None, description="throughput: requests in flight")
    latency: Stat | None = Field(default=None, description="per request, seconds")
    throughput_per_s: float | None = Field(
        default=None,
        description="samples per second, steady state: the samples completed after the "
        "warm-up's last one over the time from that completion to the last",
    )
    throughput_span_per_s: float | None = Field(
        default=None, description="samples over the measured requests' whole span (fill and drain)"
    )
    stages: StageShares | None = None
    makespan: Stat | None = Field(default=None, description="pipeline: per repeat, seconds")
    schedule: list[JobSpan] = Field(default_factory=list, description="pipeline: first repeat")
    outputs_match: bool | None = None
    max_abs_diff: float | None = None
    inputs: str = ""
    correct: int | None = Field(default=None, description="labelled inputs: right predictions")
    scored: int | None = Field(default=None, description="distinct labelled samples scored")
    labelled: int | None = Field(default=None, description="labelled samples staged")

    @property
    def accuracy(self) -> float | None:
        return self.correct / self.scored if self.correct is not None and self.scored else None


class ContainerOutcome(Strict):
    role: Literal["edge", "server"]
    name: str | None
    outcome: str
    exit_code: int | None = None
    reason: str | None = None
    log_tail: list[str] = Field(default_factory=list)
    asked_cpus: float
    cpus: float
    cpuset: list[int]
    memory_gb: float | None = None
    threads: int | None = None
    duration_s: float | None = None


class RunSplitResult(Strict):
    kind: Literal["run-split"] = "run-split"
    source: str = Field(description="the solution file, or what built the session")
    models: list[str]
    image: str | None = None
    network: str | None = None
    containers: list[ContainerOutcome]
    phases: list[PhaseResult]
    clock_offset_s: float | None = None
    rtt_s: float | None = None
    host_load: tuple[float, float] | None = Field(
        default=None,
        description="the host's 1-minute load average when the two containers started and "
        "when they ended: well above what the run itself adds (about its two sides' CPUs), "
        "other work shared the host's cores and the timings include it",
    )
    notes: list[str] = Field(default_factory=list)
    decision_notes: list[str] = Field(
        default_factory=list,
        description="the notes of the decision it ran (validate-decision; also first in notes): "
        "a later re-comparison (--from-run) puts the decision's notes as they read then instead",
    )
    ok: bool
    error: str | None = None


def _median(xs: list[float]) -> float:
    return Stat.of(xs).median if xs else 0.0


def stage_shares(reqs: list[Record]) -> StageShares | None:
    if not reqs:
        return None
    cols: dict[str, list[float]] = {k: [] for k in STAGES}
    for r in reqs:
        parts = {
            "edge_compute": float(r.get("edge_s", 0.0)),
            "transfer": float(r.get("up_s", 0.0)),
            "server_compute": float(r.get("server_s", 0.0)),
            "return": float(r.get("down_s", 0.0)),
        }
        parts["other"] = max(0.0, float(r.get("latency_s", 0.0)) - sum(parts.values()))
        for k, v in parts.items():
            cols[k].append(v)
    total = sum(sum(v) for v in cols.values()) or 1.0

    def on_cpu(cpu_key: str, wall: list[float]) -> float | None:
        cpu = [float(r[cpu_key]) for r in reqs if cpu_key in r]
        return sum(cpu) / sum(wall) if cpu and sum(wall) > 0 else None

    return StageShares(
        edge_compute_s=_median(cols["edge_compute"]),
        transfer_s=_median(cols["transfer"]),
        server_compute_s=_median(cols["server_compute"]),
        return_s=_median(cols["return"]),
        other_s=_median(cols["other"]),
        share={k: sum(v) / total for k, v in cols.items()},
        edge_on_cpu=on_cpu("edge_cpu_s", cols["edge_compute"]),
        server_on_cpu=on_cpu("server_cpu_s", cols["server_compute"]),
    )


def phase_result(i: int, phase: Phase, records: list[Record], shaping: Any) -> PhaseResult:
    """Phase i's result from the edge's records (`shaping`: the PhaseLink used, or None)."""
    reqs = [r for r in records if r.get("type") == "request" and r.get("phase") == i]
    done = next((r for r in records if r.get("type") == "phase_done" and r.get("phase") == i), None)
    pipes = [r for r in records if r.get("type") == "pipeline" and r.get("phase") == i]
    out = PhaseResult(
        name=phase.name,
        mode=phase.mode,
        plan=phase.plan,
        jobs=len(phase.jobs),
        link=phase.link,
        shaping=getattr(shaping, "shaping", None),
        shaping_detail=getattr(shaping, "detail", ""),
        requests=len(reqs),
        window=phase.window if phase.mode == "throughput" else None,
    )
    if reqs:
        out.latency = Stat.of([float(r["latency_s"]) for r in reqs])
        out.stages = stage_shares(reqs)
    if done is not None:
        out.outputs_match = bool(done.get("outputs_match"))
        out.max_abs_diff = done.get("max_abs_diff")
        out.inputs = str(done.get("inputs") or "")
        if done.get("scored") is not None:
            out.correct, out.scored = int(done["correct"]), int(done["scored"])
            out.labelled = int(done.get("labelled") or 0)
        wall = done.get("wall_s")
        if wall:
            out.throughput_span_per_s = float(done.get("samples", 0)) / float(wall)
            out.throughput_per_s = out.throughput_span_per_s
        steady = done.get("steady_wall_s")
        if steady:
            out.throughput_per_s = float(done.get("steady_samples", 0)) / float(steady)
    if pipes:
        out.makespan = Stat.of([float(p["makespan_s"]) for p in pipes])
        out.schedule = [JobSpan.model_validate(j) for j in pipes[0].get("jobs", [])]
    return out


def container_outcome(
    role: Literal["edge", "server"],
    run: ProbeRun | None,
    asked: float,
    cpus: float,
    cpuset: list[int],
    memory_gb: float | None,
) -> ContainerOutcome:
    if run is None:
        return ContainerOutcome(
            role=role,
            name=None,
            outcome="not run",
            asked_cpus=asked,
            cpus=cpus,
            cpuset=cpuset,
            memory_gb=memory_gb,
        )
    hello = next((r for r in run.records if r.get("type") == "hello"), {})
    return ContainerOutcome(
        role=role,
        name=run.container,
        outcome=str(run.outcome),
        exit_code=run.exit_code,
        reason=run.reason,
        log_tail=[] if run.outcome == "ok" else run.log_tail[-10:],
        asked_cpus=asked,
        cpus=cpus,
        cpuset=cpuset,
        memory_gb=memory_gb,
        threads=hello.get("threads"),
        duration_s=run.duration_s,
    )


def summarise(session: Any, run: Any, source: str) -> RunSplitResult:
    """RunSplitResult of an orchestrate.Session and its SessionRun."""
    edge_side, server_side = run.sides
    containers = [
        container_outcome(
            "edge",
            run.edge,
            edge_side.asked_cpus,
            edge_side.cpus,
            run.cpusets["edge"],
            edge_side.memory_gb,
        ),
        container_outcome(
            "server",
            run.server,
            server_side.asked_cpus,
            server_side.cpus,
            run.cpusets["server"],
            server_side.memory_gb,
        ),
    ]
    records = run.edge.records if run.edge is not None else []
    phases = [phase_result(i, ph, records, run.links.get(i)) for i, ph in enumerate(session.phases)]
    conn: Record = next((r for r in records if r.get("type") == "connected"), {})
    ok = (
        run.error is None
        and all(c.outcome == "ok" for c in containers)
        and all(p.outputs_match is not False for p in phases)
        and all(p.requests or p.makespan for p in phases)
    )
    error = run.error
    if error is None:
        for c in containers:
            if c.outcome != "ok":
                error = f"{c.role} container {c.outcome}: {c.reason or f'exit {c.exit_code}'}"
                break
    return RunSplitResult(
        source=source,
        models=[m.key for m in session.models],
        image=run.image,
        network=run.network,
        containers=containers,
        phases=phases,
        clock_offset_s=conn.get("offset_s"),
        rtt_s=conn.get("rtt_s"),
        host_load=run.load,
        notes=list(run.notes),
        ok=ok,
        error=error,
    )
