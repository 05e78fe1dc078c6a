"""`harness solve` for `kind: split`: profiles + problem -> plan, baselines, front, plot.

Options read from `options`: time_limit (SCIP seconds per solve), print_jobs (unused here),
front (bool, default True: compute the Pareto front when energy is known), front_method
(auto | scip | dp: overrides the problem's front.method).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from harness.profile import ProfileError, load_profile
from solver.problem import ProblemError, validate_as
from solver.split_problem import (
    Loaded,
    SplitInstance,
    SplitProblem,
    build_instance,
    default_problem,
)


def solve_command(
    raw: dict[str, Any] | None,
    problem_path: Path | None,
    profiles: list[Path],
    out_dir: Path,
    fmt: str,
    options: dict[str, Any],
) -> int:
    try:
        sol, problem_yaml = _solve(raw, problem_path, profiles, out_dir, options)
    except (ProblemError, ProfileError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    from solver.results import render_table, to_json

    if fmt == "json":
        print(to_json(sol))
    else:
        render_table(sol, problem_yaml)
    if sol.plan is None:
        print(f"error: no plan: {'; '.join(sol.notes) or sol.solver.status}", file=sys.stderr)
        return 1
    return 0


def _solve(
    raw: dict[str, Any] | None,
    problem_path: Path | None,
    profile_paths: list[Path],
    out_dir: Path,
    options: dict[str, Any],
) -> tuple[Any, str | None]:
    from solver.results import (
        BaselineOut,
        FrontOut,
        FrontPointOut,
        ProfileRef,
        SolverOut,
        SplitSolution,
        dump,
        plan_out,
        plot_front,
    )

    if not profile_paths:
        raise ProblemError("no profiles given: pass inference profiles (profiles/*.json)")
    items = [Loaded(Path(p), load_profile(p)) for p in profile_paths]
    if raw is None:
        problem = default_problem(items)
        problem_yaml: str | None = dump(problem)
    else:
        problem = validate_as(SplitProblem, raw, problem_path or "problem")
        problem_yaml = None
    inst = build_instance(problem, items)
    notes: list[str] = []
    if not inst.energy_known:
        notes.append(inst.energy_note)
        if problem.objective != "latency" or problem.constraints.energy_max_j is not None:
            raise ProblemError(f"objective {problem.objective!r} needs energy: {inst.energy_note}")
    w_lat, w_en, norms = _weights(inst, problem)
    _check_reachable(inst, problem)
    _check_bounds(inst)

    from solver.pareto import pareto_front, resolve_method

    front_method = options.get("front_method") or problem.front.method
    try:
        resolve_method(inst, front_method)
    except ValueError as exc:
        raise ProblemError(str(exc)) from None
    from solver.split import SplitModel, baselines

    time_limit = options.get("time_limit")
    model = SplitModel(inst, time_limit=time_limit)
    out = model.solve(problem.objective, eta=problem.eta, norms=norms)
    if out.path is None and out.stats.status == "infeasible":
        notes.append(_why_infeasible(inst, model))
    plan = plan_out(inst, out.path) if out.path is not None else None
    solver = SolverOut(
        status=out.stats.status,
        objective=out.stats.objective,
        dual_bound=out.stats.dual_bound,
        gap=out.stats.gap,
        solve_time_s=out.stats.solve_time_s,
        nodes=out.stats.nodes,
        build_time_s=model.build_time_s,
        prep_time_s=model.prep_time_s,
        variables=len(model.steps),
        fixed_by_pricing=model.fixed,
    )

    def cost(p: Any) -> float:
        return float(w_lat * p.latency + (w_en * p.energy if w_en else 0.0))

    base_out: list[BaselineOut] = []
    for bl in baselines(inst, w_lat, w_en):
        if bl.path is None:
            base_out.append(BaselineOut(name=bl.name, plan=None, objective=None,
                                        meets_constraints=False))  # fmt: skip
            continue
        p = bl.path
        meets = (inst.latency_max is None or p.latency <= inst.latency_max * (1 + 1e-9)) and (
            inst.energy_max is None or p.energy <= inst.energy_max * (1 + 1e-9)
        )
        b = BaselineOut(
            name=bl.name,
            plan=plan_out(inst, p),
            objective=cost(p),
            meets_constraints=meets,
        )
        if out.path is not None:
            b.speedup = p.latency / out.path.latency if out.path.latency > 0 else None
            if inst.energy_known and p.energy > 0:
                b.energy_saving = 1 - out.path.energy / p.energy
            b.objective_gain = 1 - cost(out.path) / cost(p) if cost(p) > 0 else None
        base_out.append(b)

    front_out = None
    if inst.energy_known and problem.front.enabled and options.get("front", True):
        fr = pareto_front(
            model,
            resolution=problem.front.resolution,
            time_limit=problem.front.time_limit_s,
            method=front_method,
        )
        front_out = FrontOut(
            method=fr.method,
            requested_method=front_method,
            points=[
                FrontPointOut(
                    latency_s=pt.latency, energy_j=pt.energy, plan=plan_out(inst, pt.path)
                )
                for pt in fr.points
            ],
            complete=fr.complete,
            reason=fr.reason,
            resolution=problem.front.resolution,
            solves=fr.solves,
            time_s=fr.time_s,
        )
    elif not inst.energy_known:
        notes.append("no Pareto front: energy is unknown")
    ids = []
    for it in items:
        inf = it.profile.infer
        assert inf is not None
        ids.append(ProfileRef(path=str(it.path), id=it.profile.id, device_name=inf.device_name,
                              model=inf.model))  # fmt: skip
    sol = SplitSolution(
        problem=problem,
        problem_inferred=raw is None,
        profiles=ids,
        objective=problem.objective,
        plan=plan,
        solver=solver,
        baselines=base_out,
        front=front_out,
        notes=notes,
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    png = plot_front(sol, out_dir / f"{problem.name}-front.png")
    sol.plot = str(png) if png is not None else None
    from harness.profile import write_atomic
    from solver.results import to_json

    write_atomic(out_dir / f"{problem.name}-solution.json", to_json(sol) + "\n")
    return sol, problem_yaml


def _weights(
    inst: SplitInstance, problem: SplitProblem
) -> tuple[float, float, tuple[float, float]]:
    """Objective as w_lat * latency + w_en * energy; 'weighted' is normalised by each optimum."""
    from solver.split_dp import shortest_path

    if problem.objective == "latency":
        return 1.0, 0.0, (1.0, 1.0)
    if problem.objective == "energy":
        return 0.0, 1.0, (1.0, 1.0)
    fast = shortest_path(inst, 1.0, 0.0)
    lean = shortest_path(inst, 0.0, 1.0)
    t0 = fast.latency if fast is not None and fast.latency > 0 else 1.0
    e0 = lean.energy if lean is not None and lean.energy > 0 else 1.0
    return problem.eta / t0, (1 - problem.eta) / e0, (t0, e0)


def _check_reachable(inst: SplitInstance, problem: SplitProblem) -> None:
    from solver.split_dp import shortest_path

    if shortest_path(inst, 1.0, 0.0) is None:
        raise ProblemError(
            f"no plan takes the input on {problem.pins.input!r} to the output on "
            f"{problem.output_device!r}: add a link between the devices that hold the layers"
        )


def _check_bounds(inst: SplitInstance) -> None:
    """Each bound alone against its own optimum: the clearest message when one cannot be met."""
    from solver.split_dp import shortest_path

    if inst.latency_max is not None:
        fast = shortest_path(inst, 1.0, 0.0)
        if fast is not None and fast.latency > inst.latency_max * (1 + 1e-12):
            raise ProblemError(
                f"constraints.latency_max_s={inst.latency_max:g} cannot be met: "
                f"the fastest plan takes {fast.latency:.6g} s"
            )
    if inst.energy_max is not None and inst.energy_known:
        lean = shortest_path(inst, 0.0, 1.0)
        if lean is not None and lean.energy > inst.energy_max * (1 + 1e-12):
            raise ProblemError(
                f"constraints.energy_max_j={inst.energy_max:g} cannot be met: "
                f"the least-energy plan uses {lean.energy:.6g} J"
            )


def _why_infeasible(inst: SplitInstance, model: Any) -> str:
    """Each bound can be met alone, so they clash together (or with memory): say which."""
    from dataclasses import replace

    from solver.split import SplitModel

    parts = []
    if inst.latency_max is not None and inst.energy_max is not None and inst.energy_known:
        loose = replace(inst, energy_max=None, memory_mb=[None] * len(inst.devices))
        best = SplitModel(loose).solve("energy")
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
