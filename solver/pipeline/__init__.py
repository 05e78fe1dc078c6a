"""The batch pipeline (DOPart): N inference jobs through local compute -> link -> remote compute.

Each job picks its split (cut k: layers [0, k) local, the tensor at k over the link, the rest
remote); the order and the splits together set the makespan, which is minimised exactly and
compared with DOPart's per-job rule and the flow-shop heuristics. One module, one job:

    jobs.py        the plain instance: Job, SplitOption (the bottom of the import graph)
    problem.py     the problem file's model; its jobs from profiles, inline times or a sample
    sample.py      chains (prefix/suffix times, cut bytes) from profiles; the seed's sampler
    check.py       the simulator of permutation schedules and the independent checker
    bounds.py      lower bounds: machine, Johnson, and the balance relaxation (a small MILP)
    quick_bounds.py  the cheap bounds for free splits, first, in milliseconds (the floor)
    dp.py          the exact bounded dynamic programme (small N)
    model.py       the SCIP models (position, disjunctive): build, then read out
    exact.py       solve_exact: bound -> warm start -> DP -> bound met -> SCIP, each may settle
    baselines.py   DOPart, FIFO, Johnson/CDS, NEH and SAIG (split-aware iterated greedy)
    highs.py       the seed's big-M model in scipy's HiGHS, for the bench only
    families.py    named instance families beyond the sampler (benches and tests)
    compare.py     every method on one batch, each schedule re-checked -> the solution
    solution.py    PipelineSolution: what users, run-split and validate-decision read
    cli.py         tables and the Gantt chart (only harness/cli imports it)

The public face: `solve(problem, profiles, options) -> PipelineSolution` and `KIND`. Options
beside time_limit and print_jobs (`options.extra`): heuristic_time (s, a cap on the
split-aware greedy, which is otherwise bounded by its work), formulation
('position' or 'disjunctive'), and the fields of `sample:` (num_jobs, seed, ...), which
override a sampled problem's.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from solver.budget import Budget
from solver.kinds import Kind
from solver.pipeline.problem import PipelineProblem, SampleSpec, build_jobs, default_problem
from solver.pipeline.solution import PipelineSolution
from solver.problem import ProblemError, SolveOptions
from solver.profiles import ProfileSet

__all__ = ["KIND", "PipelineProblem", "PipelineSolution", "solve"]


def solve(
    problem: PipelineProblem, profiles: ProfileSet, options: SolveOptions
) -> PipelineSolution:
    """Every method on the problem's batch, each schedule re-checked; the last is the optimum."""
    from solver.pipeline.compare import compare_methods, solution_of

    time_limit = options.time_limit if options.time_limit is not None else problem.time_limit_s
    budget = Budget(time_limit)  # the whole solve's: pricing the jobs counts
    problem = _with_sample_options(problem, options.extra)
    instance = build_jobs(problem, profiles)
    extra = options.extra
    heuristic_time = extra.get("heuristic_time", problem.heuristic_time_s)
    runs = compare_methods(
        instance.jobs,
        time_limit=budget.rest(),
        heuristic_time=None if heuristic_time is None else float(heuristic_time),
        formulation=str(extra.get("formulation") or problem.formulation),
        seed=problem.sample.seed if problem.sample else 0,
    )
    return solution_of(instance, runs, problem=problem, time_limit=time_limit)


def _with_sample_options(problem: PipelineProblem, extra: Mapping[str, Any]) -> PipelineProblem:
    """The problem with the sample options of `extra` applied to its `sample:`."""
    given = {k: v for k, v in extra.items() if k in SampleSpec.model_fields}
    if not given:
        return problem
    if problem.sample is None:
        raise ProblemError(f"options {sorted(given)}: apply to a sampled problem ('sample:') only")
    try:
        sample = SampleSpec.model_validate({**problem.sample.model_dump(), **given})
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(x) for x in err["loc"]) or "sample"
        raise ProblemError(f"option '{loc}': {err['msg']}") from None
    return problem.model_copy(update={"sample": sample})


KIND = Kind(
    name="pipeline",
    problem=PipelineProblem,
    solution=PipelineSolution,
    solve=solve,
    default_problem=default_problem,
)
