"""Training jobs onto servers by GPUs, CPUs and memory (Synergy, Gavel), and trace replay.

Each job's throughput at every (CPUs, memory) comes from its training profile; the fairness
floor is its GPU-proportional share; SCIP maximises the total normalised throughput, beside a
GPU-proportional and a Synergy-TUNE greedy baseline, and every answer passes the checker.
A server kind may carry a measured interference factor: jobs that share one of its servers run
at that share of their images/s alone (the pattern's value; the answer says which were used).

Modules, one job each (importing the package loads `problem`, `table` and `solution` only:
pydantic and the standard library; pyscipopt and numpy are `pricing`'s and `model`'s,
matplotlib is `cli`'s):

    problem.py     the problem file (servers, jobs), the instance, the default problem
    table.py       a profile -> a job's throughput per (CPUs, memory) configuration
    baselines.py   admission (GPUs, in order), GPU-proportional, Synergy-TUNE greedy
    master.py      the pattern formulation's rows, items and columns (no solver)
    pricing.py     column generation's pricing knapsack (DP, then SCIP)
    model.py       the SCIP master LP and integer master, column generation, dive: `pack`
    check.py       the independent checker every placement passes
    solution.py    Placement (one policy's answer) and PackingSolution (the three, checked)
    simulate.py    a job trace replayed round by round, re-packed by a policy each round
    cli.py         tables and the per-server plot

`solve(problem, profiles, options)` packs one problem three ways (options.extra: `target_gap`,
default 0.005; time limit: options, else the problem's `time_limit_s`, else 30 s).
"""

from __future__ import annotations

from solver.budget import Budget
from solver.kinds import Kind
from solver.packing.problem import (
    SYNERGY_NOTE,
    PackingProblem,
    build_instance,
    default_problem,
    unusable,
)
from solver.packing.solution import PackingSolution
from solver.problem import ProblemError, SolveOptions
from solver.profiles import ProfileSet


def solve(problem: PackingProblem, profiles: ProfileSet, options: SolveOptions) -> PackingSolution:
    """SCIP's packing beside the proportional and greedy ones, each re-checked."""
    from solver.packing.baselines import admit, greedy, proportional
    from solver.packing.check import check
    from solver.packing.model import pack

    tl = options.time_limit
    budget = Budget(float(tl) if tl is not None else (problem.time_limit_s or 30.0))
    inst = build_instance(problem, profiles)
    target_gap = float(options.extra.get("target_gap") or 0.005)
    try:
        scip = pack(inst, time_limit=budget.limit() or 0.0, target_gap=target_gap)
    except RuntimeError as exc:
        raise ProblemError(f"{problem.name or 'packing'}: {exc}") from None
    placements = {"proportional": proportional(inst), "greedy": greedy(inst), "scip": scip}
    must, _ = admit(inst)  # the jobs every policy must place (in order, while GPUs are found)
    notes = [SYNERGY_NOTE] if problem.servers is None else []
    factors = {k.name: k.interference for k in problem.cluster if k.interference is not None}
    notes.append(interference_note(factors))
    used = {id(profiles.one(ref, "", kind="train", by_job_name=True)) for ref in _refs(problem)}
    for it in profiles:
        if id(it) not in used:
            notes.append(f"{it.path}: not used ({unusable(it) or 'no job names it'})")
    return PackingSolution(
        name=problem.name or "packing",
        problem=problem,
        interference=factors,
        placements=placements,
        checks={k: check(inst, p, must) for k, p in placements.items()},
        notes=notes,
    )


def interference_note(factors: dict[str, float]) -> str:
    if not factors:
        return (
            "interference: none given; co-located jobs are priced at their images/s alone "
            "(measure a factor with `harness validate-decision` on a packing solution)"
        )
    each = ", ".join(f"{k} x{f:.3g}" for k, f in factors.items())
    return f"interference: co-located jobs priced at their images/s alone times {each}"


def _refs(problem: PackingProblem) -> set[str]:
    return {j.profile for j in problem.jobs if j.profile is not None}


KIND = Kind(
    name="packing",
    problem=PackingProblem,
    solution=PackingSolution,
    solve=solve,
    default_problem=default_problem,
)
