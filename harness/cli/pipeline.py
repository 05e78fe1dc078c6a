"""`harness pipeline sample`: the seed's sampled batch-pipeline experiment.

Only typer and the standard library at module top; the solver is imported when the command runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

pipeline_app = typer.Typer(help="Batch pipeline (local -> link -> remote) experiments.")


@pipeline_app.command("sample")
def sample(
    num_jobs: Annotated[int, typer.Option("--num-jobs", help="batch size N")] = 5,
    seed: Annotated[int, typer.Option(help="random seed for repeatable sampling")] = 1,
    alpha_min: Annotated[float, typer.Option("--alpha-min", help="least local slowdown")] = 1.0,
    alpha_max: Annotated[float, typer.Option("--alpha-max", help="largest local slowdown")] = 10.0,
    log_uniform: Annotated[bool, typer.Option("--log-uniform", help="alpha log-uniform")] = False,
    comms_uniform: Annotated[
        bool, typer.Option("--comms-uniform", help="comm time uniform in [lower, upper]")
    ] = False,
    lower_bound: Annotated[
        float, typer.Option("--lower-bound", help="least comm time (s)")
    ] = 0.005,
    upper_bound: Annotated[
        float, typer.Option("--upper-bound", help="largest comm time (s)")
    ] = 0.05,
    bandwidth: Annotated[
        float, typer.Option("--bandwidth-mbps", help="link bandwidth when comms are not uniform")
    ] = 100.0,
    profile: Annotated[
        Path | None, typer.Option("--profile", help="remote inference profile (default chain)")
    ] = None,
    time_limit: Annotated[
        float, typer.Option("--time-limit", help="SCIP time limit per exact solve (s)")
    ] = 120.0,
    heuristic_time: Annotated[
        float, typer.Option("--heuristic-time", help="time for the split-aware greedy (s)")
    ] = 2.0,
    print_jobs: Annotated[
        bool, typer.Option("--print-jobs", help="per-job split and stages")
    ] = False,
    out: Annotated[
        Path, typer.Option("--out", help="folder for the JSON and the Gantt PNG")
    ] = Path("out/pipeline"),
    fmt: Annotated[str, typer.Option("--format", help="table or json")] = "table",
) -> None:
    """Sample N jobs as the DOPart seed does and compare DOPart, heuristics and the optimum."""
    if fmt not in ("table", "json"):
        typer.echo(f"error: --format: expected 'table' or 'json', got {fmt!r}", err=True)
        raise typer.Exit(1)
    from solver.pipeline_cli import solve_command

    spec: dict[str, object] = {
        "num_jobs": num_jobs,
        "seed": seed,
        "alpha_min": alpha_min,
        "alpha_max": alpha_max,
        "log_uniform": log_uniform,
        "comms_uniform": comms_uniform,
        "lower_bound": lower_bound,
        "upper_bound": upper_bound,
        "bandwidth_mbps": bandwidth,
    }
    if profile is not None:
        spec["profile"] = str(profile)
    raw = {"kind": "pipeline", "sample": spec}
    code = solve_command(
        raw,
        Path("--options"),
        [],
        out,
        fmt,
        {"time_limit": time_limit, "print_jobs": print_jobs, "heuristic_time": heuristic_time},
    )
    raise typer.Exit(code)


def register(app: typer.Typer) -> None:
    app.add_typer(pipeline_app, name="pipeline")
