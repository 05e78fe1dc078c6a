"""`harness export`: the per-batch table as `harness report --csv` writes it, and bad input as
one line with exit 2 (the Gavel and Synergy files: tests/exports/)."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from harness.cli import app
from harness.profile import save_profile
from tests.factory.reports import make_train_profile


def test_table_is_the_same_csv_report_writes(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    save_profile(make_train_profile(), path)
    runner = CliRunner()
    r = runner.invoke(app, ["export", str(path), "--out", str(tmp_path / "a.csv")])
    assert r.exit_code == 0, r.output
    assert "batches)" in r.output
    rep = ["report", str(path), "--no-pictures", "--csv", str(tmp_path / "b.csv")]
    assert runner.invoke(app, rep).exit_code == 0
    assert (tmp_path / "a.csv").read_text() == (tmp_path / "b.csv").read_text()


def test_bad_format_option_and_profile_are_one_line_exit_2(tmp_path: Path) -> None:
    runner = CliRunner()
    path = tmp_path / "p.json"
    save_profile(make_train_profile(), path)
    r = runner.invoke(app, ["export", str(path), "--to", "slurm", "--out", str(tmp_path / "x")])
    assert r.exit_code == 2 and r.output.strip().splitlines() == [
        "error: --to: expected one of table, gavel, synergy, got 'slurm'"
    ]
    r = runner.invoke(app, ["export", str(path), "--to", "gavel", "--at", "mid", "-o", "x"])
    assert r.exit_code == 2 and "--at: expected one of max, knee" in r.output
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    r = runner.invoke(app, ["export", str(bad), "--to", "gavel", "--out", str(tmp_path / "g")])
    assert r.exit_code == 2 and len(r.output.strip().splitlines()) == 1
    assert str(bad) in r.output and not (tmp_path / "g").exists()
