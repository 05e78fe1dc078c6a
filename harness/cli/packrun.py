"""`harness validate-decision PACKING-SOLUTION.json` (and `run-split` on one): a packing
decision's server run for real, together and alone (harness/packrun).

Only the standard library and typer at module top; the docker SDK, pydantic models and the
solver's solution schema are imported when the command runs.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import typer

from harness.cli.common import check_out, check_time_limit, write_result
from harness.cli.common import fail as _fail

MAX_BATCHES = 10_000


def is_packing(path: Path) -> bool:
    """Whether `path` reads as a packing solution (anything else: the split path's errors)."""
    try:
        raw = json.loads(path.read_text())
    except (OSError, ValueError, RecursionError):  # unreadable, not JSON, nested too deep
        return False
    return isinstance(raw, dict) and raw.get("kind") == "packing"


def execute(
    solution: Path,
    *,
    validate: bool,
    server: str | None,
    batches: int,
    warmup: int,
    allow_oversubscribe: bool,
    image: str | None,
    out: Path | None,
    timeout: float,
    workdir: Path | None,
    profiles: str | None,
) -> int:
    for name, v, lo in (("--batches", batches, 1), ("--warmup", warmup, 0)):
        if not lo <= v <= MAX_BATCHES:
            raise _fail(f"{name}: expected {lo} to {MAX_BATCHES:,} batches, got {v}")
    check_time_limit(timeout, "--timeout")
    check_out(out, "--out")
    check_out(workdir, "--workdir", folder=True)
    from harness.backends.base import BackendError
    from harness.backends.docker import DockerBackend
    from harness.cores import CoresRefused
    from harness.interrupt import sigterm_as_interrupt
    from harness.packrun.plan import PackPlanError, plan_of, read_packing
    from harness.packrun.render import render
    from harness.packrun.result import validation_of
    from harness.packrun.run import RunOptions, run_plan
    from harness.telemetry.host import gpu_count

    try:  # bad input is found before an engine is asked for
        read_packing(solution)
    except PackPlanError as exc:
        raise _fail(str(exc)) from None
    try:
        backend = DockerBackend(image, allow_oversubscribe=allow_oversubscribe)
    except BackendError as exc:
        raise _fail(str(exc), 1) from None
    try:
        plan = plan_of(
            solution,
            backend.host_cpus(),
            gpu_count(),
            server=server,
            allow_oversubscribe=allow_oversubscribe,
            profiles=[Path(p) for p in (profiles or "").split(",") if p],
        )
    except PackPlanError as exc:
        raise _fail(str(exc)) from None
    check_out(out, "--out", probe=True)
    for n in plan.notes:
        typer.echo(f"note: {n}", err=True)
    work = workdir or Path(tempfile.mkdtemp(prefix="harness-pack-"))
    typer.echo(
        f"running server {plan.server}'s {len(plan.jobs)} jobs of {solution} together, then "
        f"each alone (work folder {work})",
        err=True,
    )
    opts = RunOptions(batches=batches, warmup=warmup, timeout_s=timeout, alone=validate)
    try:
        with sigterm_as_interrupt():
            run = run_plan(backend, plan, work, opts)
    except CoresRefused as exc:
        raise _fail(str(exc)) from None
    except BackendError as exc:
        raise _fail(str(exc), 1) from None
    except KeyboardInterrupt:
        backend.cleanup()
        typer.echo("interrupted: containers removed", err=True)
        return 130
    result = validation_of(plan, run, batches, warmup)
    typer.echo(render(result))
    write_result(out, result.model_dump_json(indent=1))
    return 0 if result.ok else 1
