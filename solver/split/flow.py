"""One split solve, phase by phase: profiles + problem -> plan, baselines, front, all checked.

    instance   the profiles the devices name, fitted into the plain graph (instance.py)
    checks     what can be settled before SCIP: energy known where the objective needs it, a
               plan exists, each bound alone can be met, the front method fits; and the
               objective's weights (w_lat * latency + w_en * energy)
    scip       the SCIP model, solved once for the problem's objective (SCIP's own report)
    baselines  each baseline's best plan for the same objective, and the optimum's gain
    front      the exact latency-energy front (pareto.py), when energy is known
    check      every plan reported (the optimum, each baseline, each front point) re-checked
               by the independent checker (check.py); what fails is in `violations`

Options: `time_limit` (seconds for every phase together: the SCIP solve may take half of it,
the front what is left, at most the problem's front.time_limit_s), `front_method` (auto |
scip | dp, over the problem's front.method), `extra["front"]` (False: no front).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from solver.budget import Budget
from solver.problem import ProblemError, SolveOptions
from solver.profiles import Loaded, ProfileSet
from solver.split.baselines import baselines
from solver.split.check import Checker
from solver.split.dp import PlanPath, shortest_path
from solver.split.instance import Option, SplitInstance, Transfer, build_instance
from solver.split.model import SolveOutcome, SplitModel
from solver.split.pareto import pareto_front, resolve_method
from solver.split.problem import SplitProblem
from solver.split.solution import (
    BaselineOut,
    FrontOut,
    FrontPointOut,
    PlanOut,
    ProfileRef,
    SolverOut,
    SplitSolution,
    StepOut,
)


def solve(problem: SplitProblem, profiles: ProfileSet, options: SolveOptions) -> SplitSolution:
    """Bad input raises ProblemError (one line); an answer SCIP cannot find is a solution
    without a plan, with the reason in its notes. `options.time_limit` is the budget of every
    phase together (the front gets what the solve left, at most its own time_limit_s)."""
    budget = Budget(options.time_limit)
    inst = build_instance(problem, profiles)
    front_method = options.front_method or problem.front.method
    weights, notes = check_inputs(inst, problem, front_method)
    model, out, solver_out = solve_scip(inst, problem, weights, budget.limit(share=0.5))
    if out.path is None and out.stats.status == "infeasible":
        notes.append(why_infeasible(inst, budget.limit(share=0.5)))
    front = None
    if not inst.energy_known:
        notes.append("no Pareto front: energy is unknown")
    elif problem.front.enabled and options.extra.get("front", True):
        front = front_of(model, problem, front_method, budget.limit(problem.front.time_limit_s))
    sol = SplitSolution(
        problem=problem,
        profiles=[_ref(it) for it in inst.profiles],
        objective=problem.objective,
        plan=None if out.path is None else plan_out(inst, out.path),
        solver=solver_out,
        baselines=compare_baselines(inst, out.path, weights),
        front=front,
        notes=notes,
    )
    sol.violations = check_answers(inst, sol)
    return sol


# ---------------------------------------------------------------- checks


@dataclass(frozen=True)
class Weights:
    """The objective as w_lat * latency + w_en * energy; norms: what 'weighted' divides by."""

    lat: float
    en: float
    norms: tuple[float, float] = (1.0, 1.0)

    def cost(self, p: PlanPath) -> float:
        return float(self.lat * p.latency + (self.en * p.energy if self.en else 0.0))


def check_inputs(
    inst: SplitInstance, problem: SplitProblem, front_method: str
) -> tuple[Weights, list[str]]:
    """Everything the DP settles before SCIP runs; the weights of the objective; notes."""
    notes: list[str] = []
    if not inst.energy_known:
        notes.append(inst.energy_note)
        if problem.objective != "latency" or inst.energy_max is not None:
            raise ProblemError(f"objective {problem.objective!r} needs energy: {inst.energy_note}")
    fast = shortest_path(inst, 1.0, 0.0)
    if fast is None:
        raise ProblemError(
            f"no plan takes the input on {problem.pins.input!r} to the output on "
            f"{problem.output_device!r}: add a link between the devices that hold the layers"
        )
    lean = shortest_path(inst, 0.0, 1.0) if inst.energy_known else None
    check_bounds(inst, fast, lean)
    try:
        resolve_method(inst, front_method)
    except ValueError as exc:
        raise ProblemError(str(exc)) from None
    return weights_of(problem, fast, lean), notes


def weights_of(problem: SplitProblem, fast: PlanPath, lean: PlanPath | None) -> Weights:
    """'weighted' is normalised by each objective's own optimum (fastest, least energy)."""
    if problem.objective == "latency":
        return Weights(1.0, 0.0)
    if problem.objective == "energy":
        return Weights(0.0, 1.0)
    t0 = fast.latency if fast.latency > 0 else 1.0
    e0 = lean.energy if lean is not None and lean.energy > 0 else 1.0
    return Weights(problem.eta / t0, (1 - problem.eta) / e0, (t0, e0))


def check_bounds(inst: SplitInstance, fast: PlanPath, lean: PlanPath | None) -> None:
    """Each bound alone against its own optimum: the clearest message when one cannot be met."""
    if inst.latency_max is not None and fast.latency > inst.latency_max * (1 + 1e-12):
        raise ProblemError(
            f"constraints.latency_max_s={inst.latency_max:g} cannot be met: "
            f"the fastest plan takes {fast.latency:.6g} s"
        )
    en_max = inst.energy_max
    if en_max is not None and lean is not None and lean.energy > en_max * (1 + 1e-12):
        raise ProblemError(
            f"constraints.energy_max_j={en_max:g} cannot be met: "
            f"the least-energy plan uses {lean.energy:.6g} J"
        )


def why_infeasible(inst: SplitInstance, time_limit: float | None = None) -> str:
    """Each bound can be met alone, so they clash together (or with memory): say which."""
    parts = []
    if inst.latency_max is not None and inst.energy_max is not None and inst.energy_known:
        loose = replace(inst, energy_max=None, memory_mb=[None] * len(inst.devices))
        best = SplitModel(loose, time_limit=time_limit).solve("energy")
        if best.path is not None:
            parts.append(
                f"constraints.latency_max_s={inst.latency_max:g} and energy_max_j="
                f"{inst.energy_max:g} cannot both be met: within the latency bound the "
                f"least energy is {best.path.energy:.6g} J"
            )
    caps = [(d, c) for d, c in enumerate(inst.memory_mb) if c is not None]
    if caps and not parts:
        names = ", ".join(f"{inst.devices[d]}={c:g} MB" for d, c in caps)
        parts.append(
            f"memory limits ({names}) cannot be met together with the other constraints: "
            "no plan fits the layers into the devices' memory"
        )
    return "; ".join(parts) or "SCIP found no plan within the constraints"


# ---------------------------------------------------------------- SCIP, baselines, front


def solve_scip(
    inst: SplitInstance, problem: SplitProblem, weights: Weights, time_limit: float | None
) -> tuple[SplitModel, SolveOutcome, SolverOut]:
    """One SCIP model (kept for the front), solved for the problem's objective."""
    model = SplitModel(inst, time_limit=time_limit)
    out = model.solve(problem.objective, eta=problem.eta, norms=weights.norms)
    report = SolverOut(
        status=out.stats.status,
        objective=out.stats.objective,
        dual_bound=out.stats.dual_bound,
        gap=out.stats.gap,
        solve_time_s=out.stats.solve_time_s,
        nodes=out.stats.nodes,
        build_time_s=model.build_time_s,
        prep_time_s=model.prep_time_s,
        variables=model.variables,
        fixed_by_pricing=model.fixed,
    )
    return model, out, report


def compare_baselines(
    inst: SplitInstance, best: PlanPath | None, weights: Weights
) -> list[BaselineOut]:
    """Each baseline's plan, whether it meets the constraints (by the checker's own reading),
    and the optimum's speedup, energy saving and objective gain over it."""
    checker = Checker(inst)
    out: list[BaselineOut] = []
    for bl in baselines(inst, weights.lat, weights.en):
        if bl.path is None:
            out.append(BaselineOut(name=bl.name, plan=None, objective=None,
                                   meets_constraints=False))  # fmt: skip
            continue
        p, plan = bl.path, plan_out(inst, bl.path)
        b = BaselineOut(
            name=bl.name,
            plan=plan,
            objective=weights.cost(p),
            meets_constraints=not checker.bounds(plan),
        )
        if best is not None:
            b.speedup = p.latency / best.latency if best.latency > 0 else None
            if inst.energy_known and p.energy > 0:
                b.energy_saving = 1 - best.energy / p.energy
            cost = weights.cost(p)
            b.objective_gain = 1 - weights.cost(best) / cost if cost > 0 else None
        out.append(b)
    return out


def front_of(
    model: SplitModel, problem: SplitProblem, method: str, time_limit: float | None = None
) -> FrontOut:
    """The latency-energy front on the same SCIP model, by the method asked for, within
    `time_limit` (default: the problem's front.time_limit_s)."""
    inst = model.inst
    fr = pareto_front(
        model,
        resolution=problem.front.resolution,
        time_limit=problem.front.time_limit_s if time_limit is None else time_limit,
        method=method,  # type: ignore[arg-type]
    )
    return FrontOut(
        method=fr.method,
        requested_method=method,  # type: ignore[arg-type]
        points=[
            FrontPointOut(latency_s=pt.latency, energy_j=pt.energy, plan=plan_out(inst, pt.path))
            for pt in fr.points
        ],
        complete=fr.complete,
        reason=fr.reason,
        resolution=problem.front.resolution,
        solves=fr.solves,
        time_s=fr.time_s,
    )


# ---------------------------------------------------------------- read-out and the check


def plan_out(inst: SplitInstance, path: PlanPath) -> PlanOut:
    """A path of the instance as the solution reports it: named steps and their totals."""
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
    return PlanOut(
        steps=steps,
        latency_s=path.latency,
        compute_latency_s=sum(s.latency for s in path.options),
        comm_latency_s=sum(s.latency for s in path.transfers),
        energy_j=path.energy if known else None,
        compute_energy_j=sum(s.energy for s in path.options) if known else None,
        comm_energy_j=sum(s.energy for s in path.transfers) if known else None,
    )


def check_answers(inst: SplitInstance, sol: SplitSolution) -> list[str]:
    """The checker on every plan reported: the optimum and the front's points must also meet
    the constraints and memory limits; a baseline must be what it says it is."""
    checker = Checker(inst)
    errs: list[str] = []
    if sol.plan is not None:
        errs += [f"plan: {e}" for e in checker.plan(sol.plan) + checker.bounds(sol.plan)]
    for b in sol.baselines:
        if b.plan is not None:
            errs += [f"baseline {b.name!r}: {e}" for e in checker.plan(b.plan)]
    if sol.front is not None:
        for n, pt in enumerate(sol.front.points):
            bad = checker.plan(pt.plan) + checker.bounds(pt.plan)
            if (pt.latency_s, pt.energy_j) != (pt.plan.latency_s, pt.plan.energy_j):
                bad.append(f"point ({pt.latency_s}, {pt.energy_j}) is not its plan's totals")
            errs += [f"front point {n}: {e}" for e in bad]
    return errs


def _ref(it: Loaded) -> ProfileRef:
    inf = it.profile.infer
    assert inf is not None
    return ProfileRef(path=str(it.path), id=it.profile.id, device_name=inf.device_name,
                      model=inf.model)  # fmt: skip
