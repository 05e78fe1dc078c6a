"""`harness pipeline sample`: the seed's sampled batch-pipeline experiment.

It builds a `kind: pipeline` problem with `sample:` from the options, writes it beside the
solution, and solves it through `harness solve`'s own flow (solution file, Gantt chart, tables,
plan row, the same --format json document and exit codes). Only typer and the standard library
at module top; the solver is imported when the command runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from harness.cli.common import check_out, fail

# the sampled problem's fields, by the option that sets each
OPTIONS = {
    "sample.num_jobs": "--num-jobs",
    "sample.seed": "--seed",
    "sample.alpha_min": "--alpha-min",
    "sample.alpha_max": "--alpha-max",
    "sample.lower_bound": "--lower-bound",
    "sample.upper_bound": "--upper-bound",
    "sample.bandwidth_mbps": "--bandwidth-mbps",
    "sample": "--alpha-min/--alpha-max, --lower-bound/--upper-bound",
    "time_limit_s": "--time-limit",
    "heuristic_time_s": "--heuristic-time",
}

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
        float, typer.Option("--time-limit", help="seconds for the whole solve (every method)")
    ] = 120.0,
    heuristic_time: Annotated[
        float | None,
        typer.Option(
            "--heuristic-time",
            help="cap on the split-aware greedy (s); by default bounded by its work only",
        ),
    ] = None,
    print_jobs: Annotated[
        bool, typer.Option("--print-jobs", help="per-job split and stages")
    ] = False,
    out: Annotated[
        Path, typer.Option("--out", help="folder for the JSON and the Gantt PNG")
    ] = Path("out/pipeline"),
    fmt: Annotated[str, typer.Option("--format", help="table or json")] = "table",
) -> None:
    """Sample N jobs as the DOPart seed does and compare DOPart, heuristics and the optimum.

    The sampled problem is written as OUT/sample-pipeline-problem.yaml (re-run it with
    `harness solve --problem`) and solved as `harness solve` solves it."""
    if fmt not in ("table", "json"):
        raise fail(f"--format: expected table or json, got {fmt!r}")
    check_out(out, "--out", folder=True)
    import yaml
    from pydantic import ValidationError

    from harness.cli.solve import run_solve
    from harness.profile import WriteError, write_atomic
    from solver.pipeline import PipelineProblem
    from solver.problem import SolveOptions, first_error

    sample: dict[str, object] = {
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
        sample["profile"] = str(profile)
    raw: dict[str, object] = {"kind": "pipeline", "name": "sample", "sample": sample}
    raw |= {"time_limit_s": time_limit}
    if heuristic_time is not None:
        raw["heuristic_time_s"] = heuristic_time
    try:
        PipelineProblem.model_validate(raw)
    except ValidationError as exc:  # the option's name, not the problem file's field
        line = first_error(exc)
        for field, option in OPTIONS.items():
            line = line.replace(f"field '{field}'", option, 1)
        raise fail(line) from None
    path = out / "sample-pipeline-problem.yaml"
    try:
        write_atomic(path, yaml.safe_dump(raw, sort_keys=False))
    except WriteError as exc:
        raise fail(f"--out: {exc}") from None
    given = [profile] if profile is not None else []
    opts = SolveOptions(time_limit=time_limit, print_jobs=print_jobs)  # the whole run's budget
    raise typer.Exit(run_solve(given, path, fmt, out, opts))


def register(app: typer.Typer) -> None:
    app.add_typer(pipeline_app, name="pipeline")
