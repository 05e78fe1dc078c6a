"""The `harness` command: one module per command, each exposing `register(app)`.

    profile    profile.py    probes under caps, the search, a validated JSON profile
    validate   validate.py   job specs, problem files, profiles, solutions, cost models
    schema     schema.py     JSON Schema of the profile (or the job spec)
    solve      solve.py      the front door to the solver: a folder of profiles -> decisions
    report     report.py     tables and plots of a profile
    export     export.py     profiles as a per-batch table, Gavel's or Synergy's throughput file
    simulate   simulate.py   a job trace replayed on a cluster, packing each round
    fit        fit.py        the hybrid cost model from training profiles
    run-split, validate-decision   runsplit.py   a decision run for real, against its prediction
    images     images.py     the base and job images
    data       data.py       the datasets the jobs read
    pipeline   pipeline.py   the DOPart seed's sampled experiment
    variants   variants.py   a reference trained on real data and its pruned variants
    cleanup    cleanup.py    what killed harness processes left: containers, networks, cgroups

Start-up imports typer and pydantic only: no torch, docker or SCIP (each command imports its
work when it runs).
"""

from __future__ import annotations

import importlib
import os
import time

import typer

app = typer.Typer(
    help="Profile DNN jobs under CPU / memory / GPU caps and decide where to run them.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Plain click help: typer's rich help imports rich.markdown and markdown_it (about 0.1-0.2 s,
    # a third of the start-up budget). Rich stays for progress displays and tables.
    rich_markup_mode=None,
)

COMMANDS = (
    "profile",
    "validate",
    "schema",
    "solve",
    "report",
    "export",
    "simulate",
    "fit",
    "runsplit",
    "images",
    "data",
    "pipeline",
    "variants",
    "cleanup",
)


@app.callback()
def _options(
    debug: bool = typer.Option(
        False, "--debug", help="show the Python traceback of an unexpected error"
    ),
) -> None:
    """Profile DNN jobs under CPU / memory / GPU caps and decide where to run them."""
    if debug:
        os.environ["HARNESS_DEBUG"] = "1"


def _register() -> None:
    for name in COMMANDS:
        importlib.import_module(f"harness.cli.{name}").register(app)
    for group in app.registered_groups:  # sub-apps keep the same plain, fast help
        if group.typer_instance is not None:
            group.typer_instance.rich_markup_mode = None


_register()


def main() -> None:
    """The command, with the one error path: an unexpected error is one line, never a
    traceback, unless `--debug` (or HARNESS_DEBUG=1) asks for it."""
    from harness.cli import common

    common.STARTED = time.perf_counter()  # a --time-limit counts from here
    try:
        app()
    except Exception as exc:
        if os.environ.get("HARNESS_DEBUG"):
            raise
        from harness.cli.common import crash_line

        line, code = crash_line(exc)
        typer.echo(f"error: {line}", err=True)
        raise SystemExit(code) from None
