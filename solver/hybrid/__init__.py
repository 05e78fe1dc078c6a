"""Hybrid CPU/GPU scheduling: batches of training work onto CPU and GPU workers, least makespan,
each job's time from a batch-level cost model fitted on training profiles.

Modules, one job each (only `model` imports pyscipopt; only the cost model's fit imports numpy):

    problem.py    the problem file (pydantic), its default from profiles, the times matrix
    model.py      the assignment MILP for R||Cmax (exact: order on a worker cannot move Cmax)
    baselines.py  greedy (LPT to the earliest finish), cpu-only, gpu-only; the shared schedule
    check.py      the independent checker every schedule passes
    solution.py   HybridSolution: every method's schedule, the times, the plan row
    cli.py        tables and the Gantt chart
    costmodel/    seconds per training batch from profiles: linear law + boosted residual

Options a solve reads besides the time limit: `extra["cost_model"]` (a cost-model JSON that
overrides the problem file's). The time limit: the option, else the problem's `time_limit_s`,
else 60 s.
"""

from __future__ import annotations

from solver.budget import Budget
from solver.hybrid.problem import HybridProblem, build_instance, default_problem
from solver.hybrid.solution import HybridSolution
from solver.kinds import Kind
from solver.problem import SolveOptions
from solver.profiles import ProfileSet

DEFAULT_TIME_LIMIT = 60.0


def solve(problem: HybridProblem, profiles: ProfileSet, options: SolveOptions) -> HybridSolution:
    """Price the jobs, run the baselines and SCIP, check every schedule, name the best (SCIP
    on a tie)."""
    from solver.hybrid.check import check_solution
    from solver.hybrid.model import solve_all

    budget = Budget(options.time_limit or problem.time_limit_s or DEFAULT_TIME_LIMIT)
    inst = build_instance(problem, profiles, options)  # a cost model fitted here counts
    methods = solve_all(inst.p, inst.devices, budget.limit())
    for s in methods.values():
        for e in s.entries:
            e.job_name = problem.jobs[e.job].name
            e.worker_name = problem.workers[e.worker].name
    solution = HybridSolution(
        name=problem.name or "hybrid",
        problem=problem,
        notes=inst.notes,
        times_s=inst.p,
        time_sources=inst.sources,
        methods=methods,
        best=min(methods.values(), key=lambda s: (s.span, s.method != "scip")).method,
    )
    solution.check_errors = check_solution(solution)
    return solution


KIND = Kind(
    name="hybrid",
    problem=HybridProblem,
    solution=HybridSolution,
    solve=solve,
    default_problem=default_problem,
)

__all__ = ["KIND", "HybridProblem", "HybridSolution", "solve"]
