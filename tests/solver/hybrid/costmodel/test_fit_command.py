"""`harness fit` (harness/cli/fit.py): the table, the file beside the profiles, one-line errors,
and the committed model is what it makes of the committed profiles."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from typer.testing import CliRunner

from harness.cli.fit import register, run_fit
from harness.profile import load_profile, save_profile
from solver.hybrid.costmodel.features import load_samples
from solver.hybrid.costmodel.fit import load
from tests.factory.timed_profiles import law_profiles

ROOT = Path(__file__).resolve().parents[4]


def _write_profiles(folder: Path, n: int | None = None) -> list[Path]:
    paths = []
    for i, prof in enumerate(law_profiles()[:n]):
        p = folder / f"p{i}.json"
        save_profile(prof, p)
        paths.append(p)
    return paths


def test_fit_command_writes_the_model_beside_the_profiles_out_of_their_glob(tmp_path):
    app = typer.Typer()
    register(app)
    app.command("noop")(lambda: None)  # a second command keeps `fit` a named subcommand
    paths = _write_profiles(tmp_path, 20)
    res = CliRunner().invoke(app, ["fit", *map(str, paths), "--kind", "both", "--folds", "3"])
    assert res.exit_code == 0, res.output
    assert "median rel err" in res.output and "cpu" in res.output
    cm = load(tmp_path / "fitted" / "costmodel.json")
    assert cm.gbt is not None and set(cm.holdout) == {"linear", "gbt"}
    assert sorted(tmp_path.glob("*.json")) == sorted(paths)
    res = CliRunner().invoke(app, ["fit", *map(str, paths[:4]), "--kind", "linear", "-o",
                                   str(tmp_path / "lin.json")])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert load(tmp_path / "lin.json").gbt is None


def test_fit_command_bad_input_is_one_line_and_nonzero(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    assert run_fit([bad], None, "both") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "bad.json" in err[0] and "schema_version" in err[0]
    assert run_fit(_write_profiles(tmp_path, 1), None, "cubic") == 2
    assert "--kind" in capsys.readouterr().err


def test_committed_cost_model_is_the_fit_of_the_committed_profiles(tmp_path):
    """profiles/fitted/costmodel.json (what problems/hybrid.yaml reads) is what `harness fit
    profiles/costmodel/*.json` makes, the profiles name a real host, and W1-W7 are covered."""
    paths = sorted((ROOT / "profiles" / "costmodel").glob("*.json"))
    assert len(paths) >= 12
    for p in paths:
        prof = load_profile(p)
        assert prof.kind == "train" and prof.job.workload_id in {f"W{i}" for i in range(1, 8)}
        assert prof.host.cpu_model != "unknown" and prof.host.memory_gb > 1.0
    assert run_fit(paths, tmp_path / "cm.json", "both", folds=5) == 0
    fresh = json.loads((tmp_path / "cm.json").read_text())
    committed_path = ROOT / "profiles" / "fitted" / "costmodel.json"
    committed = json.loads(committed_path.read_text())
    assert fresh["training_hash"] == committed["training_hash"]
    cm = load(committed_path)
    assert {"simple_cnn", "resnet18_2d", "cnn3d"} <= set(cm.models)
    assert all(cm.covers(m, "cpu") for m in ("simple_cnn", "resnet18_2d", "cnn3d"))


def test_fit_can_be_rerun_over_a_tree_that_holds_its_own_output(tmp_path):
    """`harness fit dir/*.json` writes dir/fitted/costmodel.json; a rerun over every JSON under
    dir (the model included) skips the model, but any other file that is not a profile is
    still an error."""
    paths = _write_profiles(tmp_path, 6)
    assert run_fit(paths, None, "linear", folds=3) == 0
    again = sorted(tmp_path.rglob("*.json"))
    assert tmp_path / "fitted" / "costmodel.json" in again
    assert len(load_samples(again)) == len(load_samples(paths))
    assert run_fit(again, None, "linear", folds=3) == 0
    assert sorted(tmp_path.rglob("*.json")) == again  # written over itself, nowhere else
    (tmp_path / "other.json").write_text('{"format": "something else"}')
    assert run_fit([*again, tmp_path / "other.json"], None, "linear", folds=3) == 2
