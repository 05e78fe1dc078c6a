"""`harness solve`: read the problem's kind (or guess it from the profiles) and dispatch."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from harness.cli.common import fail


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
            help="time limit of each exact solve, s (a pipeline runs two: DOPart's best order, "
            "then the offline optimum, each up to this limit)"
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
    """Decide with SCIP: split/DVFS, batch pipeline, packing or hybrid, by the problem's kind."""
    if fmt not in ("table", "json"):
        raise fail(f"--format: expected table or json, got {fmt!r}")
    if front_method not in (None, "auto", "scip", "dp"):
        raise fail(f"--front-method: expected auto, scip or dp, got {front_method!r}")
    raise typer.Exit(run_solve(profiles, problem, fmt, out, time_limit, print_jobs, front_method))


def _err(msg: str) -> int:
    sys.stderr.write(f"error: {msg}\n")
    return 2


def guess_kind(profiles: list[Path]) -> str | None:
    """infer profiles -> split; train profiles -> packing."""
    kinds = set()
    for p in profiles:
        try:
            kinds.add(json.loads(p.read_text()).get("kind"))
        except (OSError, ValueError, AttributeError):
            continue
    if kinds == {"infer"}:
        return "split"
    if kinds == {"train"}:
        return "packing"
    return None


def run_solve(
    profiles: list[Path],
    problem: Path | None,
    fmt: str,
    out: Path,
    time_limit: float | None,
    print_jobs: bool,
    front_method: str | None = None,
) -> int:
    from solver.problem import ProblemError, read_problem, solver_for

    for p in profiles:
        if not p.exists():
            return _err(f"{p}: no such profile file")
    raw: dict[str, Any] | None = None
    try:
        if problem is not None:
            raw = read_problem(problem)
            kind = str(raw["kind"])
        else:
            if not profiles:
                return _err("give profile files, a --problem file, or both")
            guessed = guess_kind(profiles)
            if guessed is None:
                return _err(
                    "cannot tell what to solve from these profiles (mixed or unknown kinds); "
                    "give --problem FILE with a 'kind'"
                )
            kind = guessed
        fn = solver_for(kind)
        options: dict[str, Any] = {"time_limit": time_limit, "print_jobs": print_jobs}
        if front_method is not None:
            options["front_method"] = front_method
        return fn(raw, problem, profiles, out, fmt, options)
    except ProblemError as exc:
        return _err(str(exc))
