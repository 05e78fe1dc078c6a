"""`harness images base|build|list`: the job images, made without a registry when need be."""

from __future__ import annotations

import typer

images_app = typer.Typer(help="Job images: a local base image, and the CPU / CUDA job images.")


def register(app: typer.Typer) -> None:
    app.add_typer(images_app, name="images")


def _progress():  # type: ignore[no-untyped-def]
    """A spinner with the latest build line under it (rich), and a function to feed it."""
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    console = Console(stderr=True)
    prog = Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        TimeElapsedColumn(),
        TextColumn("{task.fields[line]}", style="dim"),
        console=console,
        transient=False,
    )
    return prog, console


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(1)


@images_app.command("base")
def base(
    name: str = typer.Option("harness-base:bookworm", "--name", help="tag of the base image"),
    suite: str = typer.Option("bookworm", help="Debian suite for debootstrap"),
    mirror: str = typer.Option(None, help="Debian mirror (debootstrap's default when unset)"),
    force: bool = typer.Option(False, "--force", help="remake it even when present"),
) -> None:
    """Make a local base image with debootstrap + docker import (no registry needed)."""
    import time

    from harness.images import ImageError, make_base

    prog, console = _progress()
    t0 = time.monotonic()
    try:
        with prog:
            task = prog.add_task(f"base image {name}", total=None, line="")

            def feed(line: str) -> None:
                prog.update(task, line=line[-90:])

            image_id, reused = make_base(
                name, suite=suite, mirror=mirror, force=force, on_event=feed
            )
    except ImageError as exc:
        _fail(str(exc))
        return
    what = "reused" if reused else f"made in {time.monotonic() - t0:.0f} s"
    console.print(f"{name} ({image_id[7:19]}): {what}")


@images_app.command("build")
def build(
    base: str = typer.Option(
        None, "--base", help="base image (default: harness-base:bookworm when present)"
    ),
    cuda: bool = typer.Option(False, "--cuda", help="build the CUDA image too"),
    only_cuda: bool = typer.Option(False, "--only-cuda", help="build only the CUDA image"),
    force: bool = typer.Option(False, "--force", help="rebuild even when present"),
) -> None:
    """Build the CPU (and CUDA) job images with the docker SDK; reuse them when present."""
    from harness.images import REPO, ImageError, Kind, build_image

    kinds: list[Kind] = ["cuda"] if only_cuda else (["cpu", "cuda"] if cuda else ["cpu"])
    prog, console = _progress()
    results = []
    try:
        with prog:
            for kind in kinds:
                task = prog.add_task(f"{kind} image", total=None, line="")

                def feed(line: str, task: int = task) -> None:
                    prog.update(task, line=line[-90:])

                results.append(build_image(kind, base, force=force, on_event=feed))
                prog.update(task, line="done")
    except ImageError as exc:
        _fail(str(exc))
        return
    for r in results:
        what = "reused" if r.reused else f"built in {r.seconds:.0f} s"
        console.print(
            f"{r.tag} (also {REPO}:{r.kind}) on {r.base}: {what}, {r.size_bytes / 1e9:.2f} GB"
        )


@images_app.command("list")
def list_(
    as_json: bool = typer.Option(False, "--json", help="print JSON instead of a table"),
) -> None:
    """Job and base images present on the engine."""
    import json

    from harness.images import ImageError, list_images

    try:
        rows = list_images()
    except ImageError as exc:
        _fail(str(exc))
        return
    if as_json:
        typer.echo(json.dumps(rows, indent=1))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("tags", "id", "kind", "size GB", "created")
    for r in rows:
        table.add_row(", ".join(r["tags"]), r["id"], r["kind"], f"{r['size_gb']:.2f}", r["created"])
    Console().print(table)
