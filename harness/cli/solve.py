"""`harness solve`: the front door to the solver.

With `--problem FILE` it solves that problem (a split problem once per model when the profiles
hold several and the file names none). With profiles alone it decides everything they support
(see `solver.plan`): a split per inference model, a packing of the training profiles, a
batch pipeline where models share a device pair; files that are not profiles are named and
skipped. Every decision is written as `OUT/<name>-<kind>-solution.json` (plots beside it, and
the derived problem as `OUT/<name>-<kind>-problem.yaml` so it can be edited and re-run), and the
run ends with one plan table. Exit 0: every decision solved; 1: some could not be (each with its
reason); 2: bad input (an option, the problem file, or a file it is solved with that cannot be
read or is not valid, even where that shows only while solving).
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from harness.cli.common import check_out, check_time_limit, fail

if TYPE_CHECKING:
    from solver.plan import Decision, Skipped
    from solver.problem import SolveOptions


WRITE_S = 1.0  # kept back from each decision's time for its files (a plot imports matplotlib)


def register(app: typer.Typer) -> None:
    app.command()(solve)


def solve(
    profiles: Annotated[list[Path], typer.Argument(help="profile JSON files")] = [],  # noqa: B006
    problem: Annotated[Path | None, typer.Option("--problem", "-p", help="problem YAML")] = None,
    fmt: Annotated[str, typer.Option("--format", help="table | json")] = "table",
    out: Annotated[Path, typer.Option("--out", "-o", help="folder for solution files")] = Path(
        "out"
    ),
    time_limit: Annotated[
        float | None,
        typer.Option(
            help="seconds for the whole run: every decision and every phase of it (bounds, "
            "heuristics, SCIP, the front) share this one budget; default: each problem's own"
        ),
    ] = None,
    print_jobs: Annotated[bool, typer.Option(help="per-job table (pipeline)")] = False,
    front_method: Annotated[
        str | None,
        typer.Option(
            "--front-method",
            help="split: the Pareto front by 'scip' (epsilon-constraint walk), 'dp' (label "
            "DP, both ends certified by SCIP) or 'auto'; overrides the problem file",
        ),
    ] = None,
) -> None:
    """Decide with SCIP: everything the profiles support, or the --problem file's kind."""
    if fmt not in ("table", "json"):
        raise fail(f"--format: expected table or json, got {fmt!r}")
    if front_method not in (None, "auto", "scip", "dp"):
        raise fail(f"--front-method: expected auto, scip or dp, got {front_method!r}")
    check_time_limit(time_limit)
    check_out(out, "--out", folder=True)
    from solver.problem import SolveOptions

    opts = SolveOptions(time_limit=time_limit, print_jobs=print_jobs, front_method=front_method)
    raise typer.Exit(run_solve(profiles, problem, fmt, out, opts))


def run_solve(
    paths: list[Path], problem: Path | None, fmt: str, out: Path, opts: SolveOptions
) -> int:
    """Plan, solve every decision, write and print; returns the exit code. A --time-limit is
    the whole run's, from the command's start: planning counts, and each decision gets an
    equal share of what is left when its turn comes (one that finishes early leaves more to the
    next), less what writing its files takes (WRITE_S, or a fifth of its share)."""
    import time
    from dataclasses import replace

    from harness.cli import common
    from solver import plan
    from solver.budget import MIN_PHASE_S, Budget
    from solver.problem import ProblemError

    budget = Budget(opts.time_limit, start=common.STARTED or time.perf_counter())

    try:
        if problem is not None:
            decisions, skipped = plan.from_problem_file(problem, paths)
        else:
            decisions, skipped = plan.from_profiles(paths)
    except ProblemError as exc:
        return _bad_input(str(exc))
    if not decisions:
        why = "; ".join(f"{s.path}: {s.reason}" for s in skipped) or "no files given"
        return _bad_input(f"nothing to solve: {why}")
    from harness.profile import WriteError

    if budget.rest() is not None:
        _load_plotting()
    for i, d in enumerate(decisions):
        rest = budget.rest()
        share = None if rest is None else rest / (len(decisions) - i)
        if share is not None:  # the solution, its plots and the table follow the solve
            share = max(MIN_PHASE_S, share - min(WRITE_S, share / 5))
        plan.solve(d, replace(opts, time_limit=share))
        if d.solution is not None:
            try:
                _write(d, out)
            except WriteError as exc:
                return _bad_input(str(exc))
    if fmt == "json":
        typer.echo(_json(decisions, skipped))
    else:
        _render(decisions, skipped, opts)
    for d in decisions:
        if not d.ok:
            typer.echo(f"error: {d.name} ({d.kind.name}): {_why_not(d)}", err=True)
    if any(d.bad_input for d in decisions):
        return 2
    return 0 if all(d.ok for d in decisions) else 1


def _load_plotting() -> None:
    """matplotlib, before the first solve when a time limit is set: every decision's files
    include a plot, and its import alone (about 1 s on this 2-core VM) outgrew what is kept
    back for writing (`harness pipeline sample --num-jobs 100 --time-limit 4` ended 1.1 s
    late). Imported here, the time limit pays for it before the shares are handed out."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot  # noqa: F401


def _bad_input(msg: str) -> int:
    typer.echo(f"error: {msg}", err=True)
    return 2


def _why_not(d: Decision) -> str:
    if d.error is not None:
        return d.error
    summary = d.solution.summary()
    return "; ".join(summary.notes) or f"no answer (status {summary.status})"


def _kind_cli(d: Decision) -> Any:
    """The kind's tables and plots (only the CLI imports a kind's cli module)."""
    return importlib.import_module(f"solver.{d.kind.name}.cli")


def _write(d: Decision, out: Path) -> None:
    """`OUT/<name>-<kind>-solution.json`, its plots beside it, and a derived problem file."""
    import yaml

    from harness.profile import WriteError, write_atomic

    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WriteError(out, exc.strerror or str(exc)) from None
    stem = out / f"{d.name}-{d.kind.name}"
    if d.inferred:
        data = {"kind": d.kind.name, **d.problem.model_dump(mode="json", exclude_defaults=True)}
        path = stem.with_name(stem.name + "-problem.yaml")
        write_atomic(path, yaml.safe_dump(data, sort_keys=False))
        d.files.append(path)
    try:
        d.files += _kind_cli(d).plots(d.solution, stem)
    except OSError as exc:  # matplotlib's own write (the folder was checked before the solve)
        raise WriteError(Path(exc.filename or stem), exc.strerror or str(exc)) from None
    path = stem.with_name(stem.name + "-solution.json")
    write_atomic(path, d.solution.model_dump_json(indent=1) + "\n")
    d.files.insert(0, path)


def _json(decisions: list[Decision], skipped: list[Skipped]) -> str:
    import json

    doc = {
        "decisions": [
            {
                "kind": d.kind.name,
                "name": d.name,
                "ok": d.ok,
                "error": d.error,
                "problem_inferred": d.inferred,
                "files": [str(f) for f in d.files],
                "summary": None if d.solution is None else d.solution.summary().model_dump(),
                "solution": None if d.solution is None else d.solution.model_dump(mode="json"),
            }
            for d in decisions
        ],
        "skipped": [{"path": s.path, "reason": s.reason} for s in skipped],
    }
    return json.dumps(doc, indent=1)


def _render(decisions: list[Decision], skipped: list[Skipped], opts: SolveOptions) -> None:
    """Each decision's own tables, then the skipped files, then the one plan table."""
    import sys

    from rich.console import Console
    from rich.table import Table

    con = Console(width=None if sys.stdout.isatty() else 140)
    for d in decisions:
        con.rule(f"[bold]{d.kind.name}[/bold]: {d.name}")
        derived = [f for f in d.files if f.name.endswith("-problem.yaml")]
        if derived:
            con.print(
                f"No problem file: solved this default problem (saved as {derived[0]}; edit it "
                "and pass it with --problem)",
                highlight=False,
            )
            con.print(derived[0].read_text().rstrip(), highlight=False, markup=False)
        if d.solution is not None:
            _kind_cli(d).render(d.solution, con, opts)
    for s in skipped:
        con.print(f"[yellow]skipped[/yellow] {s.path}: {s.reason}", highlight=False)
    t = Table(title="plan: one row per decision")
    # a decision's name whole (the other columns fold first): it names the files and the row
    name_w = min(40, max([len(d.name) for d in decisions] + [len("decision")]))
    for col in ("kind", "decision", "about", "objective", "SCIP", "gap", "gain", "files"):
        t.add_column(col, overflow="fold", min_width=name_w if col == "decision" else None)
    for d in decisions:
        if d.solution is None:
            t.add_row(d.kind.name, d.name, "", "", "[red]not solved[/red]", "", "", d.error or "")
            continue
        s = d.solution.summary()
        gap = "-" if s.gap is None else f"{s.gap * 100:.2f}%"
        gain = "-" if s.gain is None else f"{s.gain * 100:+.1f}% vs {s.best_baseline}"
        about = ", ".join(s.subjects[:4]) + (
            f" (+{len(s.subjects) - 4})" if len(s.subjects) > 4 else ""
        )
        prefix = f"{d.name}-{d.kind.name}-"
        files = " ".join(f.name.removeprefix(prefix) for f in d.files)
        t.add_row(d.kind.name, d.name, about, s.objective, s.status, gap, gain, files)
    con.print(t)
    folders = sorted({str(f.parent) for d in decisions for f in d.files})
    if folders:
        where = ", ".join(folders)
        con.print(f"files: {where}/<decision>-<kind>-<file>", highlight=False)
