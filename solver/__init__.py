"""The decision half: SCIP models that turn profiles into decisions, one package per kind.

    split/      where to split a network between devices, and at which clock (DIME, JointDNN)
    pipeline/   a batch of jobs through local compute -> link -> remote compute (DOPart)
    packing/    training jobs onto servers by GPUs, CPUs and memory (Synergy, Gavel); traces
    hybrid/     batches of work onto CPU and GPU workers from a fitted cost model
    accsplit/   per data domain: which model variant, where to split it, at which clocks,
                under an accuracy bound (the split-DNN seed)

Every kind has the same parts: `problem.py` (the problem file's pydantic model), `model.py`
(the SCIP model, plus `bounds.py`, `dp.py` ... where a kind needs them), `baselines.py`,
`check.py` (the independent checker every answer passes), `solution.py` (the pydantic solution
that users, run-split and validate-decision read; its `summary()` gives the plan table's row)
and `cli.py` (tables and plots only: `render(solution, console, options)`,
`plots(solution, stem) -> list[Path]`). Each exposes one call,
`solve(problem, profiles, options) -> Solution`, and one record, `KIND` (`solver.kinds.Kind`),
that `solver.kinds.get_kind(name)` finds. Shared: `problem.py` (devices, links, options, the
`kind` of a file, the limits of a problem file), `kinds.py` (the record and its factory),
`profiles.py` (the one resolver of profile references), `solution.py` (the plan row), `plan.py`
(what `harness solve profiles/*.json` decides), `budget.py` (the user's time limit, one budget
shared by every phase of a solve). The solver imports from `harness` only the profile and
job-spec schemas.
"""
