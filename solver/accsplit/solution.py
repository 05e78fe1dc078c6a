"""What the accuracy-aware split answers: the solution JSON (pydantic) and its plan-table row.

This is the contract `harness run-split` and `harness validate-decision` read in real mode.
Per domain: the reference accuracy and the bound (reference - epsilon), the chosen variant (id,
family, weights and their sha256), the chosen split as plan steps (the split kind's `PlanOut`),
the clock per device, the three stage times of streamed inference (edge, link, server) and the
throughput they bound, latency, energy, the predicted accuracy (measured, or a surrogate's
prediction, said so), the gain over the unpruned best split, SCIP's report and the baselines.
After it: every variant the decision saw, the accuracy surrogate's held-out error, the plots.
Pure pydantic: importing it imports neither SCIP nor numpy.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from harness.profile import DomainSplit
from harness.spec import Strict
from solver.accsplit.problem import OBJECTIVE_WORDS, AccSplitProblem
from solver.solution import Summary
from solver.split.solution import PlanOut, ProfileRef, StepOut

__all__ = [
    "AccSplitSolution",
    "AccuracyOut",
    "BaselineOut",
    "ChoiceOut",
    "DomainDecision",
    "FrontPointOut",
    "PlanOut",
    "ProfileRef",
    "SolverOut",
    "StagesOut",
    "StepOut",
    "SurrogateOut",
    "VariantOut",
]


class AccuracyOut(Strict):
    """A variant's accuracy on one domain, and where the number comes from."""

    value: float = Field(description="a share in [0, 1]")
    source: Literal["measured", "surrogate"] = Field(
        description="measured: counted on the domain's held-out samples (the profile's "
        "variant.domain_accuracy); surrogate: predicted, to be re-measured before it is promised"
    )
    samples: int | None = None
    correct: int | None = None
    surrogate_loo_error: float | None = Field(
        default=None, description="the surrogate's leave-one-out mean absolute error (a share)"
    )


class StagesOut(Strict):
    """Seconds per batch of the three stages of streamed inference; they run concurrently, so
    the slowest bounds the rate."""

    edge_s: float = Field(
        description="the edge busy with one batch: its latency, or its CPU time over its CPU "
        "quota when that is longer (a fractional quota throttles a stream)"
    )
    link_s: float = Field(description="the link busy with one batch: bytes x 8 / bandwidth")
    server_s: float = Field(description="the server busy with one batch (as edge_s)")
    link_latency_s: float = Field(
        default=0.0, description="propagation delay: adds to latency, not to the link's load"
    )
    bottleneck: Literal["edge", "link", "server"]


class ChoiceOut(Strict):
    """One point of the decision space: variant x cut x server x clocks, and what it costs."""

    variant: str = Field(description="VariantInfo.id")
    family: str
    reference: bool = Field(description="the unpruned reference")
    weights: str = Field(description="the variant's saved weights, as its profile records them")
    weights_sha256: str
    cut: int = Field(description="layers [0, cut) on the edge, [cut, L) on the server")
    n_layers: int
    cut_after: str | None = Field(default=None, description="the layer before the cut")
    edge_device: str
    server_device: str | None = Field(description="None: everything runs on the edge")
    frequencies_mhz: dict[str, float | None] = Field(
        description="device -> clock (None: the default clock); only devices that run layers"
    )
    plan: PlanOut = Field(description="the split's steps (compute, transfer) in order")
    stages: StagesOut
    throughput_rps: float = Field(description="requests/s: batch_size / slowest stage")
    latency_s: float = Field(description="one batch end to end: edge + link + server")
    energy_j: float | None = Field(description="joules per batch; None where unknown")
    accuracy: AccuracyOut
    profiles: list[ProfileRef] = Field(default_factory=list, description="what it was priced by")


class SolverOut(Strict):
    status: str
    objective: float | None
    dual_bound: float | None
    gap: float | None
    solve_time_s: float
    nodes: int
    build_time_s: float
    variables: int
    constraints: int


class BaselineOut(Strict):
    name: str
    description: str = ""
    choice: ChoiceOut | None
    meets_constraints: bool = Field(description="meets the accuracy bound and the limits")
    reason: str = Field(default="", description="why there is no choice, or why it fails")
    throughput_gain: float | None = Field(
        default=None, description="the decision's throughput / this baseline's"
    )
    latency_gain: float | None = Field(default=None, description="this latency / the decision's")
    energy_saving: float | None = Field(default=None, description="1 - decision / this energy")


class FrontPointOut(Strict):
    """One variant on one domain at its best split for the objective (the picture's points)."""

    variant: str
    accuracy: float
    accuracy_source: Literal["measured", "surrogate"]
    throughput_rps: float
    latency_s: float
    energy_j: float | None
    feasible: bool = Field(description="meets the domain's accuracy bound")
    on_front: bool = Field(description="no other variant is as accurate and faster")
    chosen: bool = False


class DomainDecision(Strict):
    domain: str
    reference_variant: str
    reference_accuracy: float
    epsilon: float
    bound: float = Field(description="reference_accuracy - epsilon: the least accuracy allowed")
    best_reachable_accuracy: float = Field(description="the most accurate variant's, here")
    best_reachable_variant: str
    feasible: bool
    reason: str = Field(default="", description="why there is no choice (one line)")
    choice: ChoiceOut | None
    unpruned_best: ChoiceOut | None = Field(
        default=None, description="the reference variant at its best split and clocks"
    )
    gain_over_unpruned: float | None = Field(
        default=None, description="throughput of the choice / the unpruned best split's"
    )
    solver: SolverOut | None = None
    baselines: list[BaselineOut] = Field(default_factory=list)
    front: list[FrontPointOut] = Field(default_factory=list)
    violations: list[str] = Field(
        default_factory=list, description="what the independent checker found (empty: passed)"
    )


class VariantOut(Strict):
    id: str
    family: str
    reference: bool
    method: str
    ratios: dict[str, float] = Field(default_factory=dict)
    branches: list[str] | None = None
    params: int
    macs: int
    weights: str
    weights_sha256: str
    accuracy: float = Field(description="on the whole held-out set (measured)")
    domain_accuracy: dict[str, AccuracyOut]
    profiles: list[ProfileRef]


class SurrogateOut(Strict):
    method: str
    features: list[str]
    n_variants: int
    loo_mae: float | None = Field(
        description="leave-one-out mean absolute accuracy error over variants x domains (a "
        "share); None with fewer than 3 measured variants"
    )
    loo_max: float | None = None
    loo_interior_mae: float | None = Field(
        default=None,
        description="the same over left-out variants inside the others' range (interpolation, "
        "the surrogate's use); the two ends are extrapolation",
    )
    used_for: list[str] = Field(
        default_factory=list,
        description="'<variant>@<domain>' where the decision used a predicted accuracy",
    )


class AccSplitSolution(Strict):
    kind: Literal["accsplit"] = "accsplit"
    problem: AccSplitProblem
    family: str
    objective: str
    domains: list[DomainDecision]
    variants: list[VariantOut]
    domain_split: DomainSplit | None = Field(
        default=None,
        description="how the domains were cut from the held-out data (the variants' own "
        "`variant.domains`): run-split rebuilds a domain's samples from this alone",
    )
    surrogate: SurrogateOut | None = None
    plots: list[str] = Field(default_factory=list)
    violations: list[str] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)

    def choice(self, domain: str) -> ChoiceOut | None:
        return next((d.choice for d in self.domains if d.domain == domain), None)

    def summary(self) -> Summary:
        solved = [d for d in self.domains if d.choice is not None]
        gains = [d.gain_over_unpruned for d in solved if d.gain_over_unpruned is not None]
        gaps = [d.solver.gap for d in solved if d.solver is not None and d.solver.gap is not None]
        statuses = sorted({d.solver.status for d in self.domains if d.solver is not None})
        value = (
            min(d.choice.throughput_rps for d in solved if d.choice is not None)
            if solved and self.problem.objective == "throughput"
            else None
        )
        notes = [f"checker: {v}" for v in self.violations]
        notes += [f"{d.domain}: {d.reason}" for d in self.domains if d.choice is None]
        notes += [v for d in self.domains for v in d.violations]
        notes += self.notes
        return Summary(
            kind="accsplit",
            name=self.problem.name,
            subjects=[self.family],
            objective=f"{OBJECTIVE_WORDS[self.problem.objective]} per domain, accuracy >= "
            f"reference - {self.problem.epsilon:g}",
            value=value,
            status="/".join(statuses) or "none",
            gap=max(gaps) if gaps else None,
            best_baseline="unpruned best split" if gains else None,
            gain=(min(gains) - 1.0) if gains else None,
            ok=bool(self.domains)
            and len(solved) == len(self.domains)
            and not self.violations
            and not any(d.violations for d in self.domains),
            notes=notes,
        )
