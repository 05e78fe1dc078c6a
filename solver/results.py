"""What the split solver answers: the solution JSON (pydantic), its table, and the front's plot.

Pure rendering of numbers the solver already has; nothing here solves anything.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from solver.split_dp import PlanPath
from solver.split_problem import Option, SplitInstance, SplitProblem, Transfer


class Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StepOut(Out):
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


class PlanOut(Out):
    steps: list[StepOut]
    latency_s: float
    compute_latency_s: float
    comm_latency_s: float
    energy_j: float | None
    compute_energy_j: float | None
    comm_energy_j: float | None


class SolverOut(Out):
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


class BaselineOut(Out):
    name: str
    plan: PlanOut | None
    objective: float | None
    meets_constraints: bool
    speedup: float | None = Field(default=None, description="baseline latency / optimum latency")
    energy_saving: float | None = Field(default=None, description="1 - optimum / baseline energy")
    objective_gain: float | None = Field(default=None, description="1 - optimum / baseline")


class FrontPointOut(Out):
    latency_s: float
    energy_j: float
    plan: PlanOut


FRONT_METHODS = {
    "scip": "SCIP epsilon-constraint walk",
    "dp": "label DP, both ends certified by SCIP",
}


class FrontOut(Out):
    method: Literal["scip", "dp"] = Field(description="the algorithm that produced the points")
    requested_method: Literal["auto", "scip", "dp"] = "auto"
    points: list[FrontPointOut]
    complete: bool
    reason: str = ""
    resolution: float
    solves: int
    time_s: float


class ProfileRef(Out):
    path: str
    id: str
    device_name: str
    model: str


class SplitSolution(Out):
    kind: Literal["split"] = "split"
    problem: SplitProblem
    problem_inferred: bool = False
    profiles: list[ProfileRef]
    objective: str
    plan: PlanOut | None
    solver: SolverOut
    baselines: list[BaselineOut]
    front: FrontOut | None = None
    plot: str | None = None
    notes: list[str] = Field(default_factory=list)


def plan_out(inst: SplitInstance, path: PlanPath) -> PlanOut:
    known = inst.energy_known
    steps: list[StepOut] = []
    for s in path.steps:
        if isinstance(s, Option):
            steps.append(
                StepOut(
                    kind="compute",
                    layers=(s.start, s.end),
                    first_layer=inst.layer_names[s.start],
                    last_layer=inst.layer_names[s.end - 1],
                    device=inst.devices[s.device],
                    frequency_mhz=s.freq,
                    latency_s=s.latency,
                    energy_j=s.energy if known else None,
                )
            )
        else:
            assert isinstance(s, Transfer)
            steps.append(
                StepOut(
                    kind="transfer",
                    device=inst.devices[s.src],
                    to_device=inst.devices[s.dst],
                    cut=s.cut,
                    bytes=s.nbytes,
                    latency_s=s.latency,
                    energy_j=s.energy if known else None,
                )
            )
    comp_l = sum(s.latency for s in path.options)
    comm_l = sum(s.latency for s in path.transfers)
    return PlanOut(
        steps=steps,
        latency_s=path.latency,
        compute_latency_s=comp_l,
        comm_latency_s=comm_l,
        energy_j=path.energy if known else None,
        compute_energy_j=sum(s.energy for s in path.options) if known else None,
        comm_energy_j=sum(s.energy for s in path.transfers) if known else None,
    )


# ---------------------------------------------------------------- table


def _ms(v: float | None) -> str:
    return "-" if v is None else f"{v * 1e3:.3f}"


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{v * 100:+.1f}%"


def render_table(sol: SplitSolution, problem_yaml: str | None = None) -> None:
    """Print with rich: the plan (DIME-style split of compute and communication), SCIP's
    report, the baselines with the optimum's gain over each, and the front."""
    import sys

    from rich.console import Console
    from rich.table import Table

    con = Console(width=None if sys.stdout.isatty() else 120)
    if problem_yaml is not None:
        con.print("[bold]No problem file: solved this default problem[/bold]")
        con.print(problem_yaml.rstrip())
    for note in sol.notes:
        con.print(f"[yellow]note:[/yellow] {note}")
    if sol.plan is None:
        con.print(f"[red]no plan[/red]: SCIP status {sol.solver.status}")
        return
    t = Table(title=f"split plan: minimise {sol.objective}")
    for col in ("step", "layers", "where", "MHz", "latency ms", "energy mJ"):
        t.add_column(col, justify="right" if col in ("MHz", "latency ms", "energy mJ") else "left")
    for n, s in enumerate(sol.plan.steps, 1):
        e = "-" if s.energy_j is None else f"{s.energy_j * 1e3:.3f}"
        if s.kind == "compute":
            assert s.layers is not None
            what = f"[{s.layers[0]},{s.layers[1]}) {s.first_layer}..{s.last_layer}"
            mhz = "default" if s.frequency_mhz is None else f"{s.frequency_mhz:g}"
            t.add_row(str(n), what, s.device, mhz, _ms(s.latency_s), e)
        else:
            kb = (s.bytes or 0) / 1e3
            t.add_row(
                str(n), f"cut {s.cut} ({kb:.1f} kB)", f"{s.device} -> {s.to_device}", "",
                _ms(s.latency_s), e,
            )  # fmt: skip
    con.print(t)
    p = sol.plan
    con.print(
        f"latency: {p.latency_s:.6f} s  (compute {p.compute_latency_s:.6f} s, "
        f"communication {p.comm_latency_s:.6f} s)"
    )
    if p.energy_j is not None:
        con.print(
            f"energy:  {p.energy_j:.6f} J  (compute {p.compute_energy_j:.6f} J, "
            f"communication {p.comm_energy_j:.6f} J)"
        )
    sv = sol.solver
    con.print(
        f"SCIP: {sv.status}, objective {sv.objective}, dual bound {sv.dual_bound}, gap {sv.gap}, "
        f"{sv.nodes} nodes, solve {sv.solve_time_s:.3f} s, build {sv.build_time_s:.3f} s, "
        f"pricing {sv.prep_time_s:.3f} s ({sv.fixed_by_pricing}/{sv.variables} edges fixed)"
    )
    b = Table(title="baselines (optimum's gain over each)")
    cols = ("baseline", "latency ms", "energy mJ", "meets constraints", "speedup")
    for col in (*cols, "energy saved", "objective gain"):
        b.add_column(col)
    for bl in sol.baselines:
        if bl.plan is None:
            b.add_row(bl.name, "no plan", "", "", "", "", "")
            continue
        en = bl.plan.energy_j
        b.add_row(
            bl.name,
            _ms(bl.plan.latency_s),
            "-" if en is None else f"{en * 1e3:.3f}",
            "yes" if bl.meets_constraints else "no",
            "-" if bl.speedup is None else f"{bl.speedup:.2f}x",
            _pct(bl.energy_saving),
            _pct(bl.objective_gain),
        )
    con.print(b)
    if sol.front is not None:
        f = sol.front
        state = "complete" if f.complete else f"incomplete ({f.reason})"
        con.print(
            f"Pareto front by the {FRONT_METHODS[f.method]} (front.method "
            f"{f.requested_method}): {len(f.points)} points, {state}, {f.solves} SCIP solves in "
            f"{f.time_s:.2f} s (resolution {f.resolution:g})"
        )
        if f.points:
            lo, hi = f.points[-1], f.points[0]
            con.print(
                f"  fastest {lo.latency_s:.6f} s at {lo.energy_j:.6f} J; "
                f"least energy {hi.energy_j:.6f} J at {hi.latency_s:.6f} s"
            )
    if sol.plot:
        con.print(f"plot: {sol.plot}")


# ---------------------------------------------------------------- plot


def plot_front(sol: SplitSolution, path: Path) -> Path | None:
    """PNG of the front (latency vs energy) with the baselines and the chosen plan on it."""
    if sol.front is None or not sol.front.points:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    pts = sorted((p.latency_s * 1e3, p.energy_j * 1e3) for p in sol.front.points)
    xs = [x for x, _ in pts]
    ys = [y for _, y in pts]
    ax.step(xs, ys, where="post", color="tab:blue", alpha=0.5)
    ax.plot(
        xs,
        ys,
        "o",
        ms=3,
        color="tab:blue",
        label=f"Pareto front ({len(pts)} points, {sol.front.method})",
    )
    markers = "sD^v<>pP*X"
    for n, bl in enumerate(sol.baselines):
        if bl.plan is None or bl.plan.energy_j is None:
            continue
        ax.plot(
            bl.plan.latency_s * 1e3,
            bl.plan.energy_j * 1e3,
            markers[n % len(markers)],
            ms=8,
            label=bl.name,
        )
    if sol.plan is not None and sol.plan.energy_j is not None:
        ax.plot(
            sol.plan.latency_s * 1e3, sol.plan.energy_j * 1e3, "*", ms=16, color="red",
            label=f"optimum ({sol.objective})",
        )  # fmt: skip
    ax.set_xlabel("latency per batch (ms)")
    ax.set_ylabel("energy per batch (mJ)")
    ax.set_title(f"{sol.problem.name}: latency-energy trade-off")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def to_json(sol: SplitSolution) -> str:
    return sol.model_dump_json(indent=1)


def dump(problem: SplitProblem) -> str:
    """YAML of a problem, for printing the default one that was solved (a valid problem file:
    save it, edit it, pass it with --problem)."""
    import yaml

    data = problem.model_dump(mode="json", exclude_defaults=True)
    data = {"kind": problem.kind, **data, "objective": problem.objective}
    return str(yaml.safe_dump(data, sort_keys=False))
