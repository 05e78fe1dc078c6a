"""accsplit: per data domain, which model variant (the reference or a pruned copy), where to
split it between an edge and a server, and at which clocks, so that streamed inference runs
fastest (or with least latency or energy) while accuracy on that domain stays within epsilon of
the unpruned reference (the accuracy-aware split seed, decided exactly).

    problem.py    the problem file (pydantic), the default problem, the family's profiles
    instance.py   profiles -> plain per-variant tables (stage times per cut and clock, accuracy)
    surrogate.py  an accuracy surrogate fit from the measured variants, with its held-out error
    model.py      the SCIP model (one per domain): variant x cut x server x clocks, exact
    baselines.py  the seed's gradient descent over the LUT, the unpruned best split, one device
    check.py      the independent checker every reported choice passes
    flow.py       one solve, phase by phase (instance, surrogate, SCIP per domain, baselines)
    solution.py   the pydantic solution (what run-split reads) and its plan-table row
    cli.py        its tables, the accuracy-throughput fronts and the accuracy heat map

`solve(problem, profiles, options) -> AccSplitSolution`; `KIND` is the record the dispatcher
finds. Importing this package imports neither SCIP nor numpy (`solve` does, when called).
"""

from __future__ import annotations

from solver.accsplit.problem import AccSplitProblem, default_problem, per_family
from solver.accsplit.solution import AccSplitSolution
from solver.kinds import Kind
from solver.problem import SolveOptions
from solver.profiles import ProfileSet


def solve(
    problem: AccSplitProblem, profiles: ProfileSet, options: SolveOptions
) -> AccSplitSolution:
    """Per domain the choice, SCIP's report and the baselines; bad input raises ProblemError."""
    from solver.accsplit.flow import solve as run

    return run(problem, profiles, options)


KIND = Kind(
    name="accsplit",
    problem=AccSplitProblem,
    solution=AccSplitSolution,
    solve=solve,
    default_problem=default_problem,
    per_model=per_family,
)

__all__ = ["KIND", "AccSplitProblem", "AccSplitSolution", "solve"]
