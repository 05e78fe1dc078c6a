"""What a split run is, as the host tells it to the two workers (pure pydantic, no torch).

A *plan* is the ordered list of segments of one request: layers [start, end) on the edge or on
the server; consecutive segments on different sides imply a transfer of the activation at the
boundary. A *phase* runs one plan (or, for the batch pipeline, a schedule of jobs) on one link
setting, in one of three modes:

- latency:    one request in flight at a time; per-request latency and each stage's share;
- throughput: up to `window` requests in flight (edge, link and server overlap);
- pipeline:   N jobs pushed through edge -> link -> server in a given order, as the batch
              pipeline solver schedules them; the measured makespan is the result.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from harness.spec import Strict

Role = Literal["edge", "server"]
Mode = Literal["latency", "throughput", "pipeline"]
Precision = Literal["fp32", "fp16"]
Shaping = Literal["tc", "token-bucket"]


class LinkSetting(Strict):
    """The link as the problem file states it: Mbit/s each way and a one-way latency."""

    up_mbps: Annotated[float, Field(gt=0)] = Field(description="edge -> server")
    down_mbps: Annotated[float, Field(gt=0)] = Field(description="server -> edge")
    latency_ms: Annotated[float, Field(ge=0)] = 0.0


class Segment(Strict):
    role: Role
    start: Annotated[int, Field(ge=0)]
    end: Annotated[int, Field(ge=0)]

    @model_validator(mode="after")
    def _order(self) -> Segment:
        if self.end <= self.start:
            raise ValueError(f"segment [{self.start}, {self.end}) is empty")
        return self


class PlanSpec(Strict):
    name: str
    model: str = Field(description="key of a ModelRef")
    segments: list[Segment]
    batch_size: Annotated[int, Field(gt=0)] = 1
    precision: Precision = "fp32"
    output_role: Role = Field(default="edge", description="where the result is needed")

    @model_validator(mode="after")
    def _chain(self) -> PlanSpec:
        at = 0
        for s in self.segments:
            if s.start != at:
                raise ValueError(f"plan {self.name!r}: segment starts at {s.start}, expected {at}")
            at = s.end
        return self

    @property
    def n_layers(self) -> int:
        return self.segments[-1].end if self.segments else 0


class PipelineJob(Strict):
    name: str
    model: str
    cut: Annotated[int, Field(ge=0)] = Field(
        description="layers [0, cut) on the edge, the rest on the server"
    )
    n_layers: Annotated[int, Field(gt=0)]
    batch_size: Annotated[int, Field(gt=0)] = 1
    precision: Precision = "fp32"

    def plan(self) -> PlanSpec:
        segs = []
        if self.cut > 0:
            segs.append(Segment(role="edge", start=0, end=self.cut))
        if self.cut < self.n_layers:
            segs.append(Segment(role="server", start=self.cut, end=self.n_layers))
        return PlanSpec(
            name=self.name,
            model=self.model,
            segments=segs,
            batch_size=self.batch_size,
            precision=self.precision,
            output_role="server" if self.cut < self.n_layers else "edge",
        )


class Phase(Strict):
    name: str
    mode: Mode = "latency"
    link: LinkSetting
    plan: PlanSpec | None = None
    jobs: list[PipelineJob] = Field(default_factory=list)
    requests: Annotated[int, Field(gt=0)] = 10
    warmup: Annotated[int, Field(ge=0)] = 2
    window: Annotated[int, Field(gt=0)] = 4
    repeats: Annotated[int, Field(gt=0)] = 1

    @model_validator(mode="after")
    def _what(self) -> Phase:
        if self.mode == "pipeline" and not self.jobs:
            raise ValueError(f"phase {self.name!r}: a pipeline phase needs jobs")
        if self.mode != "pipeline" and self.plan is None:
            raise ValueError(f"phase {self.name!r}: a {self.mode} phase needs a plan")
        return self


class ModelRef(Strict):
    key: str
    spec: dict[str, Any] = Field(description="JobSpec as JSON: model, input shape, data")
    seed: int = Field(default=0, description="torch seed for the random weights (both sides)")
    n_layers: int | None = Field(default=None, description="layers the profile has, checked")
    weights: str | None = Field(
        default=None,
        description="a saved model variant, staged in each side's probe folder (file name): "
        "its weights instead of seeded random ones",
    )
    inputs: str | None = Field(
        default=None,
        description="labelled real samples (.npz: images, labels), staged in the edge's probe "
        "folder: streamed through the split and scored",
    )


class WorkerConfig(Strict):
    """overrides.runsplit of the request each container gets."""

    role: Role
    server: str = Field(description="host name of the server on the network")
    port: int = 5599
    models: list[ModelRef]
    phases: list[Phase] = Field(default_factory=list)
    handshake: bool = Field(
        default=True, description="wait for the host's go file before each phase"
    )
    shaping: Shaping = Field(
        default="token-bucket", description="used when there is no handshake to say it"
    )
    samples: Annotated[int, Field(gt=0)] = 4
    connect_timeout_s: Annotated[float, Field(gt=0)] = 180.0
    go_timeout_s: Annotated[float, Field(gt=0)] = 120.0


class GoSignal(Strict):
    """What the host writes into go-<phase>.json once the link of that phase is set up."""

    shaping: Shaping
    delay: Literal["application"] = "application"
    detail: str = ""


# ---------------------------------------------------------------- steps of a solution plan


@dataclass(frozen=True)
class PlanStep:
    """One step of a solver plan, with the device names already mapped to roles."""

    kind: Literal["compute", "transfer"]
    role: Role  # compute: where; transfer: the sender
    latency_s: float
    start: int = 0
    end: int = 0
    nbytes: float = 0.0
    busy_s: float | None = None  # compute: occupancy per batch when streamed (None: latency_s)

    @property
    def up(self) -> bool:
        return self.kind == "transfer" and self.role == "edge"


class PlanError(ValueError):
    """A solver plan that cannot be run on an edge and a server; one line."""


def segments_of(steps: Sequence[PlanStep]) -> list[Segment]:
    """Merge the compute steps into per-side segments; transfers only mark the side changes.

    The solver's plan is a path: a transfer must sit between compute steps on different
    sides, and consecutive compute steps must cover the layers in order.
    """
    segs: list[Segment] = []
    side: Role | None = None
    for st in steps:
        if st.kind == "transfer":
            side = "server" if st.role == "edge" else "edge"
            continue
        if side is not None and st.role != side:
            raise PlanError(f"compute on {st.role} right after a transfer to {side}")
        side = st.role
        if segs and segs[-1].role == st.role and segs[-1].end == st.start:
            segs[-1] = Segment(role=st.role, start=segs[-1].start, end=st.end)
        else:
            at = segs[-1].end if segs else 0
            if st.start != at:
                raise PlanError(f"layers [{st.start}, {st.end}) do not follow layer {at}")
            segs.append(Segment(role=st.role, start=st.start, end=st.end))
    if not segs:
        raise PlanError("the plan computes nothing")
    return segs


def output_role(steps: Sequence[PlanStep]) -> Role:
    """Where the result ends up: the last compute side, moved by a trailing transfer."""
    role: Role = "edge"
    for st in steps:
        flipped: Role = "server" if st.role == "edge" else "edge"
        role = st.role if st.kind == "compute" else flipped
    return role
