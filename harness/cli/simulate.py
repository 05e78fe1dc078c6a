"""`harness simulate TRACE`: replay a job trace on a cluster, re-packing each round.

Only typer and the standard library at module top; the solver is imported when it runs.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from harness.cli.common import check_out, check_time_limit, fail

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
    """Average JCT, makespan and utilisation per resource for each packing policy.

    Exit 0: every job finished under every policy; 1: a replay stopped at its round cap with
    jobs unfinished (named); 2: bad input (a file, an option, an --out that cannot be written).
    """
    pols = policy or ["scip"]
    bad = [p for p in pols if p not in POLICIES]
    if bad:
        raise fail(f"--policy: expected one of {', '.join(POLICIES)}, got {bad[0]!r}")
    if fmt not in ("table", "json"):
        raise fail(f"--format: expected 'table' or 'json', got {fmt!r}")
    check_time_limit(round_s, "--round-s")
    check_time_limit(time_limit)
    check_out(out, "--out", folder=True)
    from harness.profile import WriteError
    from solver.problem import ProblemError

    try:
        code = _run(trace, cluster, pols, round_s, time_limit, out, fmt)
    except (ProblemError, WriteError) as exc:
        raise fail(str(exc)) from None
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
    path = out / "simulate.json"
    write_atomic(path, json.dumps([r.model_dump(mode="json") for r in results], indent=1) + "\n")
    code = 0 if all(r.complete for r in results) else 1
    if fmt == "json":
        print(
            json.dumps([r.model_dump(mode="json", exclude={"per_job"}) for r in results], indent=1)
        )
        _say_stopped(results)
        return code
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
            f"{r.avg_jct_s / 3600:.2f}" if r.finished else "-",
            "-" if ratio is None else f"{ratio:.2f}x",
            f"{r.makespan_s / 3600:.2f}" if r.finished else "-",
            f"{100 * r.utilisation['gpu']:.0f}%",
            f"{100 * r.utilisation['cpu']:.0f}%",
            f"{100 * r.utilisation['memory']:.0f}%",
            f"{r.finished}/{r.jobs}" + ("" if r.complete else " (cap)"),
            f"{r.solver_time_s:.1f}",
        )
    Console().print(t)
    print(f"Results JSON: {path}", file=sys.stdout)
    _say_stopped(results)
    return code


def _say_stopped(results: list[Any]) -> None:
    """One line per replay that did not finish: its averages cover the finished jobs only."""
    for r in results:
        if r.stopped:
            typer.echo(f"error: policy {r.policy}: {r.stopped}", err=True)


def register(app: typer.Typer) -> None:
    app.command("simulate")(simulate_cmd)
