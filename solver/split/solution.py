"""What the split solver answers: the solution JSON (pydantic) and its row in the plan table.

This is the contract `harness run-split` and `harness validate-decision` read: the problem as
solved, the profiles it used, the chosen plan step by step (DIME's split of compute and
communication), SCIP's own report, every baseline with the optimum's gain over it, the front,
and what the independent checker found. Pure pydantic: importing it imports neither SCIP nor
numpy.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from harness.spec import Strict
from solver.profiles import Loaded, profile_cpus
from solver.solution import Summary
from solver.split.problem import SplitDevice, SplitProblem

__all__ = [
    "BaselineOut",
    "FrontOut",
    "FrontPointOut",
    "PlanOut",
    "ProfileRef",
    "SolverOut",
    "SplitSolution",
    "StepOut",
    # what a reader of solutions (run-split) needs to find a device's profiles, from this one
    # module: a profile file as loaded, its CPU cap, and `SplitDevice.matches`
    "Loaded",
    "SplitDevice",
    "SplitProblem",
    "profile_cpus",
]


class StepOut(Strict):
    kind: Literal["compute", "transfer"]
    layers: tuple[int, int] | None = Field(default=None, description="[start, end) for compute")
    first_layer: str | None = None
    last_layer: str | None = None
    device: str = Field(description="where it runs; for a transfer, the sender")
    to_device: str | None = None
    frequency_mhz: float | None = None
    cut: int | None = None
    bytes: float | None = None
    latency_s: float
    energy_j: float | None
    busy_s: float | None = Field(
        default=None,
        description="compute: seconds the device is occupied per batch when batches stream "
        "(the CPU time over the profile's CPU quota when that exceeds latency_s); None: "
        "latency_s",
    )


class PlanOut(Strict):
    steps: list[StepOut]
    latency_s: float
    compute_latency_s: float
    comm_latency_s: float
    energy_j: float | None
    compute_energy_j: float | None
    comm_energy_j: float | None


class SolverOut(Strict):
    status: str
    objective: float | None
    dual_bound: float | None
    gap: float | None
    solve_time_s: float
    nodes: int
    build_time_s: float
    prep_time_s: float = Field(description="shortest-path pricing and fixing before SCIP")
    variables: int
    fixed_by_pricing: int


class BaselineOut(Strict):
    name: str
    plan: PlanOut | None
    objective: float | None
    meets_constraints: bool
    speedup: float | None = Field(default=None, description="baseline latency / optimum latency")
    energy_saving: float | None = Field(default=None, description="1 - optimum / baseline energy")
    objective_gain: float | None = Field(default=None, description="1 - optimum / baseline")


class FrontPointOut(Strict):
    latency_s: float
    energy_j: float
    plan: PlanOut


FRONT_METHODS = {
    "scip": "SCIP epsilon-constraint walk",
    "dp": "label DP, both ends certified by SCIP",
}


class FrontOut(Strict):
    method: Literal["scip", "dp"] = Field(description="the algorithm that produced the points")
    requested_method: Literal["auto", "scip", "dp"] = "auto"
    points: list[FrontPointOut]
    complete: bool
    reason: str = ""
    resolution: float
    solves: int
    time_s: float


class ProfileRef(Strict):
    path: str
    id: str
    device_name: str
    model: str


class SplitSolution(Strict):
    kind: Literal["split"] = "split"
    problem: SplitProblem
    profiles: list[ProfileRef]
    objective: str
    plan: PlanOut | None
    solver: SolverOut
    baselines: list[BaselineOut]
    front: FrontOut | None = None
    plot: str | None = None
    violations: list[str] = Field(
        default_factory=list,
        description="what the independent checker found wrong with a plan (empty: all passed)",
    )
    notes: list[str] = Field(default_factory=list)

    @property
    def model(self) -> str:
        """The network split: the problem's model, else the one its profiles are of."""
        return self.problem.model or (self.profiles[0].model if self.profiles else "?")

    def best_baseline(self) -> BaselineOut | None:
        """The baseline with the least objective among those that meet the constraints."""
        ok = [b for b in self.baselines if b.meets_constraints and b.objective is not None]
        return min(ok, key=lambda b: b.objective or 0.0, default=None)

    def summary(self) -> Summary:
        best = self.best_baseline()
        notes = [f"checker: {v}" for v in self.violations] + self.notes
        return Summary(
            kind="split",
            name=self.problem.name,
            subjects=[self.model],
            objective=self.objective,
            value=self.solver.objective,
            status=self.solver.status,
            gap=self.solver.gap,
            best_baseline=None if best is None else best.name,
            gain=None if best is None or self.plan is None else best.objective_gain,
            ok=self.plan is not None and not self.violations,
            notes=notes,
        )
