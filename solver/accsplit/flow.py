"""One accsplit solve, phase by phase: instance, surrogate, then per domain SCIP, the unpruned
best split, the baselines, the front and the checker; every phase a function.

A domain no variant can serve (no accuracy reaches its bound, or none within the limits) gets
a one-line reason naming the best accuracy reachable there; when no domain can be served the
solve raises it as a ProblemError (one line, no solver trace). The user's time limit is one
budget (solver/budget.py) shared by the domains' SCIP solves; everything else is bounded by
work (the gradient descent by its steps).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from solver.accsplit.baselines import (
    best_restricted,
    feasible_variants,
    seed_gradient_descent,
)
from solver.accsplit.check import check_choice
from solver.accsplit.instance import Acc, AccInstance, Point, build_instance, variant_profiles
from solver.accsplit.model import SolveStats, build
from solver.accsplit.model import solve as run_scip
from solver.accsplit.problem import OBJECTIVE_WORDS, AccSplitProblem
from solver.accsplit.report import accuracy_out, choice_of, front_of
from solver.accsplit.solution import (
    AccSplitSolution,
    BaselineOut,
    ChoiceOut,
    DomainDecision,
    SolverOut,
    SurrogateOut,
    VariantOut,
)
from solver.accsplit.surrogate import FEATURES, METHOD, features, fit, leave_one_out
from solver.budget import Budget
from solver.problem import ProblemError, SolveOptions
from solver.profiles import Loaded, ProfileSet
from solver.split.solution import ProfileRef


def solve(
    problem: AccSplitProblem, profiles: ProfileSet, options: SolveOptions
) -> AccSplitSolution:
    budget = Budget(options.time_limit)
    inst = build_instance(problem, profiles)
    if problem.objective == "energy" and not inst.energy_known:
        raise ProblemError(f"objective 'energy': {inst.energy_note}")
    _, items = variant_profiles(profiles, inst.family)
    sur = fit_surrogate(problem, inst)
    domains = []
    for i, d in enumerate(inst.domains):
        share = 1.0 / (len(inst.domains) - i)
        domains.append(decide(problem, inst, items, d, sur, budget.limit(share=share)))
    if not any(dd.choice is not None for dd in domains):
        raise ProblemError(no_domain(inst, domains))
    notes = [inst.energy_note] if inst.energy_note else []
    if sur is not None and sur.used_for:
        notes.append(
            f"accuracy predicted by the surrogate (not measured) for {', '.join(sur.used_for)}: "
            "re-measure a chosen one before promising it"
        )
    return AccSplitSolution(
        problem=problem,
        family=inst.family,
        objective=OBJECTIVE_WORDS[problem.objective],
        domains=domains,
        variants=[_variant_out(inst, v, sur) for v in range(len(inst.variants))],
        domain_split=inst.variants[inst.reference].info.domains,
        surrogate=sur,
        notes=notes,
    )


# ---------------------------------------------------------------- surrogate


def fit_surrogate(problem: AccSplitProblem, inst: AccInstance) -> SurrogateOut | None:
    """Fit on the measured pruned variants, report its leave-one-out error, and fill in the
    accuracy of a candidate variant on a domain where it was not measured (when allowed)."""
    ref = inst.variants[inst.reference]
    ref_acc = {d: a.value for d, a in ref.accuracy.items()}
    data = {
        v.id: (
            features(v.info, ref.info),
            {d: a.value for d, a in v.accuracy.items() if a.source == "measured" and d in ref_acc},
        )
        for v in inst.variants
        if not v.info.reference
    }
    data = {k: val for k, val in data.items() if val[1]}
    if len(data) < 2:
        return None
    held = leave_one_out(data, ref_acc, problem.surrogate.ridge)
    fitted = fit(data, ref_acc, problem.surrogate.ridge)
    used: list[str] = []
    if problem.surrogate.use == "auto":
        for v in inst.candidates:
            var = inst.variants[v]
            x = features(var.info, ref.info)
            for d in inst.domains:
                if d not in var.accuracy:
                    var.accuracy[d] = Acc(fitted.predict(x, d), "surrogate")
                    used.append(f"{var.id}@{d}")
    return SurrogateOut(
        method=METHOD,
        features=list(FEATURES),
        n_variants=held.n_variants,
        loo_mae=held.mae,
        loo_max=held.max_error,
        loo_interior_mae=held.interior_mae,
        used_for=used,
    )


# ---------------------------------------------------------------- one domain


@dataclass
class _Solved:
    point: Point | None
    stats: SolveStats


def _scip(
    inst: AccInstance,
    variants: list[int],
    bound: float | None,
    d: str,
    limit: float | None,
    start: Point | None = None,
) -> _Solved:
    dm = build(inst, variants, bound, d)
    stats, point = run_scip(dm, limit, start)
    return _Solved(point, stats)


def decide(
    problem: AccSplitProblem,
    inst: AccInstance,
    items: list[Loaded],
    d: str,
    sur: SurrogateOut | None,
    limit: float | None,
) -> DomainDecision:
    loo = sur.loo_mae if sur is not None else None
    ref = inst.variants[inst.reference]
    bound = inst.bound(d)
    have = [v for v in inst.candidates if d in inst.variants[v].accuracy]
    best_v = max(
        have or [inst.reference], key=lambda v: inst.variants[v].accuracy.get(d, Acc(0, "")).value
    )
    best_acc = inst.variants[best_v].accuracy.get(d, Acc(0.0, "measured")).value
    feasible = feasible_variants(inst, d)
    half = None if limit is None else limit / 2
    gd = seed_gradient_descent(inst, d, problem.gradient)  # the seed's answer starts SCIP
    start = gd[0] if gd[0] is not None and inst.within_limits(gd[0]) else None
    solved = _scip(inst, feasible, bound, d, half, start)
    unpruned = _scip(inst, [inst.reference], None, d, half) if ref.runs else None
    u_point = unpruned.point if unpruned is not None else None
    base = DomainDecision(
        domain=d,
        reference_variant=ref.id,
        reference_accuracy=ref.accuracy[d].value,
        epsilon=inst.epsilon,
        bound=bound,
        best_reachable_accuracy=best_acc,
        best_reachable_variant=inst.variants[best_v].id,
        feasible=solved.point is not None,
        choice=None,
        unpruned_best=None if u_point is None else choice_of(inst, u_point, d, loo),
        solver=_solver_out(solved.stats),
    )
    if solved.point is None:
        base.reason = _why_none(problem, inst, d, feasible, best_acc, best_v, solved.stats)
        base.front = front_of(inst, _best_per_variant(inst, have), d, None)
        return base
    choice = choice_of(inst, solved.point, d, loo)
    base.choice = choice
    if base.unpruned_best is not None:
        base.gain_over_unpruned = choice.throughput_rps / base.unpruned_best.throughput_rps
    base.baselines = _baselines(inst, d, feasible, choice, base.unpruned_best, gd, loo)
    base.front = front_of(inst, _best_per_variant(inst, have), d, solved.point)
    base.violations = check_choice(problem, items, d, choice)
    return base


def no_domain(inst: AccInstance, domains: list[DomainDecision]) -> str:
    """One line for a solve where no domain can be served: by accuracy, the best reachable
    accuracy per domain beside its bound; otherwise each domain's reason."""
    if all(not dd.feasible and dd.best_reachable_accuracy < dd.bound for dd in domains):
        best = ", ".join(
            f"{dd.domain} {dd.best_reachable_accuracy:.4f} ({dd.best_reachable_variant}) < "
            f"{dd.bound:.4f}"
            for dd in domains
        )
        return (
            f"epsilon {inst.epsilon:g}: no variant that may run keeps accuracy >= reference - "
            f"epsilon on any domain; best reachable vs bound: {best}"
        )
    return "; ".join(f"{dd.domain}: {dd.reason}" for dd in domains)


def _why_none(
    problem: AccSplitProblem,
    inst: AccInstance,
    d: str,
    feasible: list[int],
    best_acc: float,
    best_v: int,
    stats: SolveStats,
) -> str:
    best = f"the best accuracy reachable on {d} is {best_acc:.4f} ({inst.variants[best_v].id!r})"
    ref = inst.variants[inst.reference].accuracy[d].value
    need = f"accuracy >= {inst.bound(d):.4f} (reference {ref:.4f} - epsilon {inst.epsilon:g})"
    if not feasible:
        return f"epsilon {inst.epsilon:g}: no variant that may run reaches {need}; {best}"
    if stats.status not in ("infeasible", "optimal"):
        return f"SCIP stopped ({stats.status}) before finding a plan"
    return f"no plan meets {need} within the limits (latency_max_s / energy_max_j); {best}"


def _best_per_variant(inst: AccInstance, variants: list[int]) -> dict[int, Point]:
    out = {}
    for v in variants:
        p = best_restricted(inst, [v], lambda _p: True)
        if p is not None:
            out[v] = p
    return out


def _baselines(
    inst: AccInstance,
    d: str,
    feasible: list[int],
    choice: ChoiceOut,
    unpruned: ChoiceOut | None,
    seed_gd: tuple[Point | None, int | None],
    loo: float | None,
) -> list[BaselineOut]:
    out = [
        _baseline(
            "unpruned best split",
            "the reference variant at its best cut and clocks (SCIP)",
            unpruned,
            choice,
            "the reference has no plan here",
        )
    ]
    gd, gd_v = seed_gd
    name = "seed gradient descent"
    picked = "" if gd_v is None else f" (progressive pruning picked {inst.variants[gd_v].id!r})"
    desc = f"LUT-based gradient descent over split and clocks, relaxed then rounded{picked}"
    out.append(
        _baseline(
            name,
            desc,
            None if gd is None else choice_of(inst, gd, d, loo),
            choice,
            "no variant meets the bound",
            gd is not None and inst.within_limits(gd),
        )
    )
    edge = best_restricted(inst, feasible, lambda p: p.server is None)
    out.append(
        _baseline(
            "edge only",
            "every layer on the edge, best variant meeting the bound and clock",
            None if edge is None else choice_of(inst, edge, d, loo),
            choice,
            "no variant runs whole on the edge",
        )
    )
    for s in inst.servers:
        p = best_restricted(inst, feasible, _server_only(s))
        out.append(
            _baseline(
                f"server only ({inst.devices[s]})",
                "the input sent to the server, every layer there",
                None if p is None else choice_of(inst, p, d, loo),
                choice,
                "no variant runs whole on this server",
            )
        )
    return out


def _server_only(s: int) -> Callable[[Point], bool]:
    return lambda q: q.cut == 0 and q.server == s


def _baseline(
    name: str,
    desc: str,
    got: ChoiceOut | None,
    choice: ChoiceOut,
    missing: str,
    within_limits: bool = True,
) -> BaselineOut:
    if got is None:
        return BaselineOut(
            name=name, description=desc, choice=None, meets_constraints=False, reason=missing
        )
    meets = within_limits
    return BaselineOut(
        name=name,
        description=desc,
        choice=got,
        meets_constraints=meets,
        throughput_gain=choice.throughput_rps / got.throughput_rps
        if got.throughput_rps > 0
        else None,
        latency_gain=got.latency_s / choice.latency_s if choice.latency_s > 0 else None,
        energy_saving=(
            1.0 - choice.energy_j / got.energy_j
            if choice.energy_j is not None and got.energy_j
            else None
        ),
    )


def _solver_out(s: SolveStats) -> SolverOut:
    return SolverOut(
        status=s.status,
        objective=s.objective,
        dual_bound=s.dual_bound,
        gap=s.gap,
        solve_time_s=s.solve_time_s,
        nodes=s.nodes,
        build_time_s=s.build_time_s,
        variables=s.variables,
        constraints=s.constraints,
    )


def _variant_out(inst: AccInstance, v: int, sur: SurrogateOut | None) -> VariantOut:
    var = inst.variants[v]
    info = var.info
    loo = sur.loo_mae if sur is not None else None
    return VariantOut(
        id=info.id,
        family=info.family,
        reference=info.reference,
        method=info.method,
        ratios=dict(info.ratios),
        branches=info.branches,
        params=info.params,
        macs=info.macs,
        weights=info.weights,
        weights_sha256=info.weights_sha256,
        accuracy=info.accuracy,
        domain_accuracy={d: accuracy_out(inst, v, d, loo) for d in var.accuracy},
        profiles=[
            ProfileRef(
                path=str(it.path),
                id=it.profile.id,
                device_name=it.profile.infer.device_name if it.profile.infer else "?",
                model=it.profile.infer.model if it.profile.infer else "?",
            )
            for group in var.profiles.values()
            for it in group
        ],
    )
