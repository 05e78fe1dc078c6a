"""`harness solve` on packing problems (the real CLI), and the kind's tables and plot."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from rich.console import Console
from typer.testing import CliRunner

from harness.cli import app
from harness.profile import save_profile
from solver.packing import solve
from solver.packing.cli import plots, render
from solver.problem import SolveOptions
from tests.factory.packing import profile_set, small_problem
from tests.factory.train_profiles import synthetic_profiles

ROOT = Path(__file__).resolve().parents[3]
runner = CliRunner()


def _solve(*args: str) -> tuple[int, str, str]:
    r = runner.invoke(app, ["solve", *args])
    return r.exit_code, r.stdout, r.stderr


def test_problem_file_writes_the_solution_and_the_plot(tmp_path: Path) -> None:
    path = ROOT / "problems" / "packing.yaml"
    code, out, err = _solve("--problem", str(path), "--out", str(tmp_path), "--format", "json",
                            "--time-limit", "10")  # fmt: skip
    assert code == 0, err
    doc = json.loads(out)
    [d] = doc["decisions"]
    assert (d["kind"], d["name"], d["ok"], d["problem_inferred"]) == (
        "packing",
        "mixed-fleet",
        True,
        False,
    )
    sol = json.loads((tmp_path / "mixed-fleet-packing-solution.json").read_text())
    assert sol == d["solution"]
    assert set(sol["placements"]) == {"proportional", "greedy", "scip"}
    assert all(not v for v in sol["checks"].values())
    png = tmp_path / "mixed-fleet-packing-servers.png"
    assert png.stat().st_size > 1000
    assert str(png) in d["files"]
    assert d["summary"]["subjects"][0] == "res18-a"


def test_default_problem_from_train_profiles(tmp_path: Path) -> None:
    paths = []
    for prof in synthetic_profiles()[:3]:
        p = tmp_path / f"{prof.job.name}.json"
        save_profile(prof, p)
        paths.append(str(p))
    out_dir = tmp_path / "out"
    code, text, err = _solve(*paths, "--out", str(out_dir), "--time-limit", "10")
    assert code == 0, err
    assert "No problem file" in text
    assert "synergy-0" in text
    assert "Synergy's evaluation cluster, since no cluster was given" in text
    written = out_dir / "training-packing-problem.yaml"
    raw = yaml.safe_load(written.read_text())
    assert raw["kind"] == "packing" and "servers" not in raw
    first = json.loads((out_dir / "training-packing-solution.json").read_text())
    # edit-and-re-run: the written problem solves the same way
    code, _, err = _solve(*paths, "--problem", str(written), "--out", str(tmp_path / "again"),
                          "--time-limit", "10")  # fmt: skip
    assert code == 0, err
    second = json.loads((tmp_path / "again" / "training-packing-solution.json").read_text())
    obj = [s["placements"]["scip"]["objective"] for s in (first, second)]
    assert obj[0] == obj[1]


def test_the_committed_training_profiles_pack_with_and_without_a_problem(tmp_path: Path) -> None:
    train = sorted(str(p) for p in (ROOT / "profiles").glob("train-*.json"))
    assert train
    code, out, err = _solve(*train, "--out", str(tmp_path), "--format", "json",
                            "--time-limit", "10")  # fmt: skip
    assert code == 0, err
    [d] = json.loads(out)["decisions"]
    assert d["kind"] == "packing" and d["ok"] and d["problem_inferred"]
    assert len(d["summary"]["subjects"]) == len(train)
    problem = str(ROOT / "problems" / "packing.yaml")
    code, out, err = _solve(*train, "--problem", problem, "--out", str(tmp_path / "p"),
                            "--format", "json", "--time-limit", "10")  # fmt: skip
    assert code == 0, err
    [d] = json.loads(out)["decisions"]
    assert d["ok"] and not d["problem_inferred"]
    assert any("not used (no job names it)" in n for n in d["summary"]["notes"])


def test_a_bad_problem_is_one_line_and_bad_input(tmp_path: Path) -> None:
    bad = tmp_path / "p.yaml"
    bad.write_text(yaml.safe_dump({"kind": "packing", "servers": [{"gpus": 8, "cpus": 24}],
                                   "jobs": []}))  # fmt: skip
    code, _, err = _solve("--problem", str(bad), "--out", str(tmp_path))
    assert code == 2
    assert len(err.strip().splitlines()) == 1
    assert "p.yaml" in err and "memory_gb" in err


def test_render_and_plots(tmp_path: Path) -> None:
    sol = solve(small_problem(3), profile_set([]), SolveOptions(time_limit=10))
    con = Console(record=True, width=160)
    render(sol, con, SolveOptions(print_jobs=True))
    text = con.export_text()
    for title in ("packing 4 jobs on 3 servers", "SCIP placement per server", "per job"):
        assert title in text
    assert "violations" not in text
    [png] = plots(sol, tmp_path / "x-packing")
    assert png == tmp_path / "x-packing-servers.png" and png.stat().st_size > 1000
    none = sol.model_copy(update={"placements": {}})
    assert plots(none, tmp_path / "y-packing") == []
