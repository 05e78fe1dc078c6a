"""`harness fit profiles/*.json`: fit the batch-level cost model and report its hold-out error.

Only typer and the standard library at module top; numpy/sklearn load when the command runs.
"""

from __future__ import annotations

import sys
from pathlib import Path

import typer

MAX_FOLDS = 1000  # k of the k-fold hold-out: each fold refits the model


def _bad(msg: str) -> int:
    print(f"error: {msg}", file=sys.stderr)
    return 2


def register(app: typer.Typer) -> None:
    app.command("fit")(fit)


def fit(
    profiles: list[Path] = typer.Argument(..., help="train profile JSON files"),  # noqa: B008
    out: Path | None = typer.Option(
        None,
        "--out",
        "-o",
        help="cost-model JSON (default: fitted/costmodel.json beside the profiles, out of "
        "their *.json glob)",
    ),
    kind: str = typer.Option("both", "--kind", help="linear | gbt | both"),
    folds: int = typer.Option(5, "--folds", help="k of the k-fold hold-out error"),
) -> None:
    """Fit seconds-per-batch per device (batch size, input dims, model, CPU cap) and save JSON."""
    raise typer.Exit(run_fit(profiles, out, kind, folds))


def run_fit(profiles: list[Path], out: Path | None, kind: str, folds: int = 5) -> int:
    """The command's work; returns the exit code (0 ok; 2 with one line on stderr: a bad
    option or profile, too few probes, an --out that cannot be written)."""
    if kind not in ("linear", "gbt", "both"):
        return _bad(f"--kind: expected linear, gbt or both, got {kind!r}")
    if not 2 <= folds <= MAX_FOLDS:
        return _bad(f"--folds: expected 2 to {MAX_FOLDS}, got {folds}")
    from harness.profile import ProfileError, WriteError, check_writable
    from solver.hybrid.costmodel.boosted import MIN_GBT_SAMPLES
    from solver.hybrid.costmodel.features import load_samples
    from solver.hybrid.costmodel.file import CostModelError
    from solver.hybrid.costmodel.fit import default_path, fit_with_holdout, save

    path = out or default_path(profiles)
    try:
        check_writable(path)
        samples = load_samples(profiles)
        if len(samples) < 2:
            raise CostModelError(
                f"need at least 2 ok train probes to fit and hold out, found {len(samples)} "
                f"in {len(profiles)} profile(s)"
            )
        cm, holdout = fit_with_holdout(samples, kind, folds)  # type: ignore[arg-type]
        save(cm, path)
    except (ProfileError, CostModelError, WriteError) as exc:
        return _bad(str(exc))

    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"cost model: {len(samples)} probes, {folds}-fold hold-out error")
    for col in ("kind", "device", "n", "median rel err", "p90 rel err", "uncovered"):
        table.add_column(col)
    for kd, devs in holdout.items():
        for dev, st in devs.items():
            table.add_row(
                kd, dev, str(st.n), f"{st.median:.1%}", f"{st.p90:.1%}", str(st.uncovered)
            )
    con = Console()
    con.print(table)
    if cm.gbt is None and kind != "linear":
        con.print(f"note: gbt left out (needs >= {MIN_GBT_SAMPLES} probes); linear law only")
    con.print(f"wrote {path}")
    return 0
