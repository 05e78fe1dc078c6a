"""`harness export PROFILE.json... --to table|gavel|synergy --out FILE`: profiles in the files
other tools read: the per-batch records as one table (CSV or parquet, as `harness report
--csv` writes them), Gavel's throughputs file, Synergy's per-job CPU x memory table.

Only typer at module top: the formats load when the command runs.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from harness.profile import Profile

FORMATS = ("table", "gavel", "synergy")
AT = ("max", "knee")


def register(app: typer.Typer) -> None:
    app.command("export")(export)


def export(
    profiles: list[Path] = typer.Argument(
        ..., metavar="PROFILE.json...", help="training profiles written by `harness profile`"
    ),
    to: str = typer.Option(
        "table",
        "--to",
        help="table: per-batch records (CSV or parquet by --out's suffix); gavel: Gavel's "
        "throughputs file (job type x worker type); synergy: Synergy's CPU x memory table per job",
    ),
    out: Path = typer.Option(..., "--out", "-o", help="the file to write"),
    at: str = typer.Option(
        "max",
        "--at",
        help="gavel: the probe whose rate is written: max (the most CPUs) or knee",
    ),
) -> None:
    """Write profiles in the format another tool reads. Exit codes: 0 written; 2 bad input
    (an option, a profile, a profile the format cannot take, a file that cannot be written),
    with one line on stderr and nothing written."""
    raise typer.Exit(run_export(profiles, to, out, at))


def run_export(paths: list[Path], to: str, out: Path, at: str = "max") -> int:
    """The command's work; returns the exit code."""
    from harness.export import ExportError
    from harness.exports.gavel import GavelError
    from harness.exports.synergy import SynergyError
    from harness.profile import ProfileError, WriteError, check_writable, load_profile

    if to not in FORMATS:
        return _err(f"--to: expected one of {', '.join(FORMATS)}, got {to!r}")
    if at not in AT:
        return _err(f"--at: expected one of {', '.join(AT)}, got {at!r}")
    try:
        check_writable(out)
        loaded = [(p, load_profile(p)) for p in paths]
        if to == "table":
            line = _table(loaded, out)
        elif to == "gavel":
            line = _gavel(loaded, out, at)
        else:
            line = _synergy(loaded, out)
    except (ProfileError, WriteError, ExportError, GavelError, SynergyError) as exc:
        return _err(str(exc))
    print(line)
    return 0


def _err(msg: str) -> int:
    print(f"error: {msg}", file=sys.stderr)
    return 2


def _table(loaded: list[tuple[Path, Profile]], out: Path) -> str:
    from harness.export import profiles_frame, write_table

    df = profiles_frame([(prof, path.parent) for path, prof in loaded])
    write_table(df, out)
    return f"{out} ({len(df)} batches)"


def _gavel(loaded: list[tuple[Path, Profile]], out: Path, at: Any) -> str:
    from harness.exports.gavel import entry, throughputs
    from harness.profile import write_atomic

    table = throughputs([entry(prof, str(path), at) for path, prof in loaded])
    write_atomic(out, json.dumps(table, indent=4) + "\n")
    jobs = len(next(iter(table.values()))) if table else 0
    return f"{out}: {jobs} job type(s) x {len(table)} worker type(s), steps/s"


def _synergy(loaded: list[tuple[Path, Profile]], out: Path) -> str:
    from harness.exports.synergy import SynergyError, model_of, table
    from harness.profile import write_atomic
    from solver.packing.table import curve_model

    models = []
    for path, prof in loaded:
        try:
            curve = curve_model(prof)  # the packing solver's reading of a profile
        except ValueError as exc:
            raise SynergyError(f"{path}: {exc}") from None

        def per_gpu(cpus: float, mem: float, curve: Any = curve) -> tuple[float, str]:
            return curve.job_throughput(1, cpus, mem)

        batch = int(prof.options.get("batch_size") or prof.job.batch_size)
        models.append(model_of(prof.job.name, per_gpu, batch, str(path)))
    doc = table(models)
    write_atomic(out, doc.model_dump_json(indent=2) + "\n")
    return f"{out}: {len(doc.models)} job model(s) on Synergy's {len(doc.cpu_val)} x " + (
        f"{len(doc.mem_val)} CPU x memory grid, normalised to the fair share"
    )
