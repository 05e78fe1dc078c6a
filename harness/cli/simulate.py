"""`harness simulate TRACE`: replay a job trace on a cluster, re-packing each round.

Only typer and the standard library at module top; the solver is imported when it runs.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

POLICIES = ("proportional", "greedy", "scip")


def simulate_cmd(
    trace: Annotated[
        Path,
        typer.Argument(help="trace YAML/JSON: jobs with arrival_s, gpus, work_iterations, profile"),
    ],
    cluster: Annotated[
        Path | None,
        typer.Option("--cluster", help="YAML with 'servers' (default: Synergy's 16 x 8 GPUs)"),
    ] = None,
    policy: Annotated[
        list[str] | None,
        typer.Option("--policy", help="proportional | greedy | scip (repeat to compare)"),
    ] = None,
    round_s: Annotated[float, typer.Option("--round-s", help="round length (s)")] = 300.0,
    time_limit: Annotated[
        float, typer.Option("--time-limit", help="SCIP time limit per round (s)")
    ] = 5.0,
    out: Annotated[Path, typer.Option("--out", help="folder for the results JSON")] = Path(
        "out/simulate"
    ),
    fmt: Annotated[str, typer.Option("--format", help="table or json")] = "table",
) -> None:
    """Average JCT, makespan and utilisation per resource for each packing policy."""
    pols = policy or ["scip"]
    bad = [p for p in pols if p not in POLICIES]
    if bad:
        typer.echo(
            f"error: --policy: expected one of {', '.join(POLICIES)}, got {bad[0]!r}", err=True
        )
        raise typer.Exit(1)
    if fmt not in ("table", "json"):
        typer.echo(f"error: --format: expected 'table' or 'json', got {fmt!r}", err=True)
        raise typer.Exit(1)
    if round_s <= 0:
        typer.echo("error: --round-s: expected a positive number of seconds", err=True)
        raise typer.Exit(1)
    from solver.problem import ProblemError

    try:
        code = _run(trace, cluster, pols, round_s, time_limit, out, fmt)
    except ProblemError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    raise typer.Exit(code)


def _run(
    trace: Path,
    cluster: Path | None,
    pols: list[str],
    round_s: float,
    time_limit: float,
    out: Path,
    fmt: str,
) -> int:
    import json

    from harness.profile import write_atomic
    from solver.packing.simulate import job_tables, load_cluster, load_trace, simulate
    from solver.profiles import ProfileSet

    tr = load_trace(trace)
    kinds = load_cluster(cluster)
    tables = job_tables(tr, kinds, ProfileSet(base_dir=trace.parent))
    results = [
        simulate(tr, tables, kinds, p, round_s, time_limit)  # type: ignore[arg-type]
        for p in pols
    ]
    out.mkdir(parents=True, exist_ok=True)
    path = out / "simulate.json"
    write_atomic(path, json.dumps([r.model_dump(mode="json") for r in results], indent=1) + "\n")
    if fmt == "json":
        print(
            json.dumps([r.model_dump(mode="json", exclude={"per_job"}) for r in results], indent=1)
        )
        return 0
    from rich.console import Console
    from rich.table import Table

    base = next((r for r in results if r.policy == "proportional"), None)
    t = Table(
        title=f"{len(tr.jobs)} jobs, {sum(k.count for k in kinds)} servers, rounds of {round_s:g}s"
    )
    for col in (
        "policy",
        "avg JCT h",
        "vs prop.",
        "makespan h",
        "GPU",
        "CPU",
        "memory",
        "finished",
        "solver s",
    ):
        t.add_column(col)
    for r in results:
        ratio = (base.avg_jct_s / r.avg_jct_s) if base and r.avg_jct_s else None
        t.add_row(
            r.policy,
            f"{r.avg_jct_s / 3600:.2f}",
            "-" if ratio is None else f"{ratio:.2f}x",
            f"{r.makespan_s / 3600:.2f}",
            f"{100 * r.utilisation['gpu']:.0f}%",
            f"{100 * r.utilisation['cpu']:.0f}%",
            f"{100 * r.utilisation['memory']:.0f}%",
            f"{r.finished}/{r.jobs}",
            f"{r.solver_time_s:.1f}",
        )
    Console().print(t)
    print(f"Results JSON: {path}", file=sys.stdout)
    return 0


def register(app: typer.Typer) -> None:
    app.command("simulate")(simulate_cmd)
