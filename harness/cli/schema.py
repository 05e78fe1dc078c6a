"""`harness schema`: the JSON Schema of profiles (or job specs)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from harness.cli.common import fail


def register(app: typer.Typer) -> None:
    app.command()(schema)


def schema(
    out: Annotated[Path | None, typer.Option("--out", "-o", help="write here, else stdout")] = None,
    which: Annotated[str, typer.Option(help="profile | job")] = "profile",
) -> None:
    """Write the JSON Schema of profiles (or job specs)."""
    from harness.profile import WriteError, json_schema, write_atomic
    from harness.spec import JobSpec

    if which not in ("profile", "job"):
        raise fail(f"--which: expected profile or job, got {which!r}")
    doc = json_schema() if which == "profile" else JobSpec.model_json_schema()
    text = json.dumps(doc, indent=1) + "\n"
    if out is None:
        sys.stdout.write(text)
        return
    try:
        write_atomic(out, text)
    except WriteError as exc:
        raise fail(f"--out: {exc}") from None
    typer.echo(f"wrote {out}")
