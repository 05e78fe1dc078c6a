"""`harness run-split SOLUTION.json` and `harness validate-decision SOLUTION.json`.

Only typer and the standard library at module top: torch runs in the containers, and the
docker SDK, pydantic models and the solver are imported when a command runs.
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from harness.cli.common import check_out, check_time_limit, write_result
from harness.cli.common import fail as _fail

if TYPE_CHECKING:
    from harness.runsplit.decision import Decision

SHAPINGS = ("auto", "tc", "token-bucket")

Requests = Annotated[int, typer.Option("--requests", "-n", help="measured requests per phase")]
Warmup = Annotated[int, typer.Option(help="unmeasured requests first")]
Window = Annotated[int, typer.Option(help="requests in flight in the throughput phase")]
Throughput = Annotated[bool, typer.Option(help="also a pipelined throughput phase per plan")]
Bandwidth = Annotated[
    float | None, typer.Option("--bandwidth-mbps", help="override the link's bandwidth (both ways)")
]
Latency = Annotated[float | None, typer.Option("--latency-ms", help="override the link's latency")]
ShapingOpt = Annotated[str, typer.Option(help="auto (tc, else token bucket) | tc | token-bucket")]
Image = Annotated[str | None, typer.Option(help="job image (default: harness-job:cpu)")]
OutOpt = Annotated[Path | None, typer.Option("--out", "-o", help="result JSON path")]
Timeout = Annotated[float, typer.Option(help="seconds before the containers are stopped")]
Workdir = Annotated[
    Path | None, typer.Option(help="folder for the containers' requests, records and logs")
]
Profiles = Annotated[
    str | None,
    typer.Option(
        help="profile files to look in, comma-separated: a pipeline's groups; a split's side "
        "measured again after solving (or at the CPUs the host gives it) is priced from it"
    ),
]
Repeats = Annotated[int, typer.Option(help="pipeline: runs of each schedule (median)")]
Domain = Annotated[
    str | None, typer.Option(help="accsplit: the domain whose decision runs (default: the first)")
]
Server = Annotated[
    str | None,
    typer.Option(help="packing: the server to run (default: most jobs that fit this host)"),
]
Batches = Annotated[int, typer.Option(help="packing: measured batches per job (the slowest's)")]
FromRun = Annotated[
    Path | None,
    typer.Option(
        help="validate-decision: hold a stored run (a run-split or validate-decision --out file "
        "of this solution) to the prediction as it is now (--profiles re-priced, say), and run "
        "nothing"
    ),
]
Oversubscribe = Annotated[
    bool,
    typer.Option(
        "--allow-oversubscribe", help="packing: run jobs whose cores do not fit (recorded)"
    ),
]


MAX_REQUESTS = 1_000_000  # requests (or warm-up requests) per phase: each latency is kept
MAX_WINDOW = 10_000  # requests in flight
MAX_REPEATS = 1_000


def _check(requests: int, warmup: int, window: int, repeats: int, shaping: str) -> None:
    limits = (
        ("--requests", requests, 1, MAX_REQUESTS),
        ("--warmup", warmup, 0, MAX_REQUESTS),
        ("--window", window, 1, MAX_WINDOW),
        ("--repeats", repeats, 1, MAX_REPEATS),
    )
    for name, v, lo, hi in limits:
        if not lo <= v <= hi:
            raise _fail(f"{name}: expected {lo} to {hi:,}, got {v}")
    if shaping not in SHAPINGS:
        raise _fail(f"--shaping: expected one of {', '.join(SHAPINGS)}, got {shaping!r}")


def _execute(
    solution: Path,
    *,
    validate: bool,
    requests: int,
    warmup: int,
    window: int,
    throughput: bool,
    bandwidth_mbps: float | None,
    latency_ms: float | None,
    shaping: str,
    image: str | None,
    out: Path | None,
    timeout: float,
    workdir: Path | None,
    profiles: str | None,
    repeats: int,
    domain: str | None = None,
    from_run: Path | None = None,
) -> int:
    _check(requests, warmup, window, repeats, shaping)
    if from_run is not None and not validate:
        raise _fail("--from-run: only validate-decision sets a stored run against its decision")
    for name, v in (("--bandwidth-mbps", bandwidth_mbps), ("--latency-ms", latency_ms)):
        if v is not None and not (
            math.isfinite(v) and v >= 0 and (name != "--bandwidth-mbps" or v > 0)
        ):
            raise _fail(f"{name}: expected a positive, finite number, got {v:g}")
    check_time_limit(timeout, "--timeout")
    check_out(out, "--out")
    check_out(workdir, "--workdir", folder=True)
    from harness.runsplit.decision import DecisionError, RunOptions, load_decision
    from harness.runsplit.orchestrate import RunSplitError, placement_warnings, run_session
    from harness.runsplit.plan import PlanError
    from harness.runsplit.render import render_run, render_validation
    from harness.runsplit.summary import summarise
    from harness.runsplit.validate import validation_of

    opts = RunOptions(
        requests=requests,
        warmup=warmup,
        window=window,
        throughput=throughput,
        repeats=repeats,
        bandwidth_mbps=bandwidth_mbps,
        latency_ms=latency_ms,
        baselines=validate,
        profiles=[Path(p) for p in (profiles or "").split(",") if p],
        domain=domain,
        host_cpus=os.cpu_count() or 1,
    )
    try:
        decision = load_decision(solution, opts)
    except (DecisionError, PlanError) as exc:
        raise _fail(str(exc)) from None
    if not validate and decision.kind == "pipeline":
        # run-split runs the solver's answer: the best schedule found (the last method)
        last = decision.methods[-1]
        decision.session.phases = [decision.session.phases[last.phase]]
        last.phase = 0
        decision.methods = [last]
    if from_run is not None:
        return _recompare(decision, solution, from_run, out)
    # the run takes minutes: find now, by writing there, what only a write would find at its end
    check_out(out, "--out", probe=True)
    check_out(workdir, "--workdir", folder=True, probe=True)
    for n in decision.notes:
        typer.echo(f"note: {n}", err=True)
    for w in placement_warnings(decision.session, os.cpu_count() or 1, decision.repriced):
        typer.echo(f"warning: {w}", err=True)
    work = workdir or Path(tempfile.mkdtemp(prefix="harness-split-"))
    typer.echo(
        f"running {len(decision.session.phases)} phase(s) of {solution} in two containers "
        f"(work folder {work})",
        err=True,
    )
    try:
        run = run_session(
            decision.session,
            work,
            image=image,
            shaping=shaping,  # type: ignore[arg-type]
            timeout_s=timeout,
        )
    except RunSplitError as exc:
        raise _fail(str(exc), 1) from None
    except KeyboardInterrupt:
        typer.echo("interrupted: containers and network removed", err=True)
        return 130
    result = summarise(decision.session, run, str(solution))
    result.notes = decision.notes + result.notes
    result.decision_notes = list(decision.notes)
    if validate:
        report = validation_of(decision, result, str(solution))
        text = report.model_dump_json(indent=1)
        render_validation(report)
    else:
        text = result.model_dump_json(indent=1)
        render_run(result)
    write_result(out, text)
    return 0 if result.ok else 1


def _recompare(decision: Decision, solution: Path, stored: Path, out: Path | None) -> int:
    """validate-decision --from-run: the stored run's measurements against the decision's
    prediction as it is now; nothing runs."""
    from pydantic import ValidationError

    from harness.profile import read_json
    from harness.runsplit.render import render_validation
    from harness.runsplit.summary import RunSplitResult
    from harness.runsplit.validate import recompared

    try:
        raw = read_json(stored, "a run-split or validate-decision --out file")
    except ValueError as exc:
        raise _fail(f"--from-run: {exc}") from None
    doc = (
        raw.get("run") if isinstance(raw, dict) and raw.get("kind") == "validate-decision" else raw
    )
    try:
        run = RunSplitResult.model_validate(doc)
    except ValidationError as exc:
        e = exc.errors()[0]
        where = ".".join(str(x) for x in e["loc"]) or "(top)"
        raise _fail(
            f"--from-run: {stored}: not a run-split result (field '{where}': {e['msg']})"
        ) from None
    try:
        report = recompared(decision, run, str(stored), str(solution))
    except ValueError as exc:
        raise _fail(f"--from-run: {exc}") from None
    render_validation(report)
    write_result(out, report.model_dump_json(indent=1))
    return 0 if run.ok else 1


def _command(validate: bool, doc: str) -> Callable[..., None]:
    """run-split and validate-decision take the same options; only what they print differs."""

    def command(
        solution: Annotated[Path, typer.Argument(help="solution JSON from `harness solve`")],
        out: OutOpt = None,
        requests: Requests = 10,
        warmup: Warmup = 2,
        window: Window = 4,
        throughput: Throughput = True,
        bandwidth_mbps: Bandwidth = None,
        latency_ms: Latency = None,
        shaping: ShapingOpt = "auto",
        image: Image = None,
        timeout: Timeout = 1800.0,
        workdir: Workdir = None,
        profiles: Profiles = None,
        repeats: Repeats = 3,
        domain: Domain = None,
        server: Server = None,
        batches: Batches = 6,
        allow_oversubscribe: Oversubscribe = False,
        from_run: FromRun = None,
    ) -> None:
        from harness.cli import packrun

        if packrun.is_packing(solution):  # a packing decision: its server's jobs, for real
            if from_run is not None:
                raise _fail("--from-run: a packing decision's runs are not re-compared")
            raise typer.Exit(
                packrun.execute(
                    solution,
                    validate=validate,
                    server=server,
                    batches=batches,
                    warmup=warmup,
                    allow_oversubscribe=allow_oversubscribe,
                    image=image,
                    out=out,
                    timeout=timeout,
                    workdir=workdir,
                    profiles=profiles,
                )
            )
        raise typer.Exit(
            _execute(
                solution,
                validate=validate,
                requests=requests,
                warmup=warmup,
                window=window,
                throughput=throughput,
                bandwidth_mbps=bandwidth_mbps,
                latency_ms=latency_ms,
                shaping=shaping,
                image=image,
                out=out,
                timeout=timeout,
                workdir=workdir,
                profiles=profiles,
                repeats=repeats,
                domain=domain,
                from_run=from_run,
            )
        )

    command.__doc__ = doc
    return command


run_split = _command(
    False, "Run the chosen split for real: edge and server containers over a shaped TCP link."
)
validate_decision = _command(
    True,
    "Predicted vs measured latency and throughput for the chosen split and the baselines\n"
    "(split solutions), or makespan for every method's schedule (pipeline solutions), or\n"
    "images/s of one server's jobs together and alone (packing solutions).",
)


def register(app: typer.Typer) -> None:
    app.command("run-split")(run_split)
    app.command("validate-decision")(validate_decision)
