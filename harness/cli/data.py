"""`harness data make JOB`: generate the job's dataset locally (nothing is downloaded)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from harness.cli.common import fail

data_app = typer.Typer(help="Datasets the jobs read (generated locally).", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(data_app, name="data")


@data_app.command("make")
def data_make(
    job: Annotated[Path, typer.Argument(help="job spec YAML")],
    data_dir: Annotated[Path | None, typer.Option(help="where to put it")] = None,
) -> None:
    """Generate the job's dataset (real JPEG files or volumes) and print where it is."""
    from harness.spec import SpecError, load_spec

    try:
        spec = load_spec(job)
    except SpecError as exc:
        raise fail(str(exc)) from None
    from harness.workloads.data import dataset_bytes, prepare_data

    root = prepare_data(spec, str(data_dir) if data_dir else None)
    if root is None:
        typer.echo("synthetic data: nothing to make")
    else:
        typer.echo(f"{root} ({dataset_bytes(root) / 2**20:.1f} MiB)")
