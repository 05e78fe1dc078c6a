"""`harness validate FILE...`: each file against the model of its kind; a line per problem."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    app.command()(validate)


def validate(
    files: Annotated[list[Path], typer.Argument(help="job specs (.yaml) and profiles (.json)")],
) -> None:
    """Check job specs, problem files and profiles; one line per problem."""
    from harness.validate import problems

    bad = 0
    for f in files:
        found = problems(f)
        if not found:
            typer.echo(f"ok: {f}")
        bad += bool(found)
        for line in found:
            typer.echo(f"error: {line}", err=True)
    raise typer.Exit(1 if bad else 0)
