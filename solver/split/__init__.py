"""split: where to split a network between devices, and at which clock (DIME, Neurosurgeon,
JointDNN), for latency, energy or a weighted mix, with the exact latency-energy Pareto front.

    problem.py    the problem file (pydantic), the default problem, one problem per model
    instance.py   profiles -> the plain graph every algorithm here reads (a plan is a path)
    dp.py         shortest paths and Pareto labels on that graph: the reference with no solver
    model.py      the SCIP model (SplitModel), re-solved per objective and epsilon bound
    pareto.py     the exact front: the label DP certified by SCIP, or SCIP's epsilon walk
    baselines.py  all on one device, the best single split, clocks pinned fast or slow
    check.py      the independent checker every reported plan passes
    flow.py       one solve, phase by phase (instance, checks, SCIP, baselines, front, check)
    solution.py   the pydantic solution (what run-split reads) and its plan-table row
    cli.py        its tables and the front's plot

`solve(problem, profiles, options) -> SplitSolution`; `KIND` is the record the dispatcher
finds. Importing this package imports neither SCIP nor numpy (`solve` does, when called).
"""

from __future__ import annotations

from solver.kinds import Kind
from solver.problem import SolveOptions
from solver.profiles import ProfileSet
from solver.split.problem import SplitProblem, default_problem, per_model
from solver.split.solution import SplitSolution


def solve(problem: SplitProblem, profiles: ProfileSet, options: SolveOptions) -> SplitSolution:
    """The plan, SCIP's report, the baselines and the front; bad input raises ProblemError."""
    from solver.split.flow import solve as run

    return run(problem, profiles, options)


KIND = Kind(
    name="split",
    problem=SplitProblem,
    solution=SplitSolution,
    solve=solve,
    default_problem=default_problem,
    per_model=per_model,
)

__all__ = ["KIND", "SplitProblem", "SplitSolution", "solve"]
