"""`harness report PROFILE.json`: pictures of a profile, and its per-batch records as a table.

Only typer and the standard library at module top: the CLI must start fast, and matplotlib
and pandas load only when the command runs.
"""

from __future__ import annotations

import sys
from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    app.command("report")(report)


def report(
    profile: Path = typer.Argument(
        ..., metavar="PROFILE.json", help="profile JSON written by `harness profile`"
    ),
    out: Path = typer.Option(
        Path("reports"), "--out", "-o", help="folder for the PNG pictures (created if missing)"
    ),
    csv: Path | None = typer.Option(None, "--csv", help="write the per-batch records as CSV"),
    parquet: Path | None = typer.Option(
        None, "--parquet", help="write the per-batch records as parquet (pyarrow)"
    ),
    no_pictures: bool = typer.Option(
        False, "--no-pictures", help="only export the per-batch records"
    ),
) -> None:
    """Draw a profile (images/s vs CPUs, CPUs x memory matrix, time split; bundle latency for
    inference) and export its per-batch records with --csv/--parquet."""
    raise typer.Exit(run_report(profile, out, csv, parquet, pictures=not no_pictures))


def run_report(
    profile_path: Path,
    out: Path,
    csv: Path | None = None,
    parquet: Path | None = None,
    pictures: bool = True,
) -> int:
    """The command's work; returns the exit code (0 ok; 2 with one line on stderr: a profile
    that cannot be read, an output that cannot be written)."""
    from harness.export import ExportError, batch_frame, write_csv, write_parquet
    from harness.profile import ProfileError, WriteError, check_writable, load_profile

    try:
        for target, folder in ((out, True), (csv, False), (parquet, False)):
            if target is not None and (pictures or not folder):
                check_writable(target, folder=folder)
        prof = load_profile(profile_path)
    except (ProfileError, WriteError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    stem = profile_path.stem
    try:
        if pictures:
            from harness.report import render_report

            written = render_report(prof, out, stem=stem)
            if not written:
                print(f"{profile_path}: nothing to draw (no probes, curve, matrix or bundles)")
            for path in written:
                print(path)
        if csv is not None or parquet is not None:
            df = batch_frame(prof, base_dir=profile_path.parent)
            if df.empty:
                print(f"{profile_path}: no per-batch records; writing the header only")
            for target, write in ((csv, write_csv), (parquet, write_parquet)):
                if target is not None:
                    print(f"{write(df, target)} ({len(df)} batches)")
    except (ExportError, WriteError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        where = exc.filename or out
        print(f"error: {where}: cannot write: {exc.strerror or exc}", file=sys.stderr)
        return 2
    return 0
