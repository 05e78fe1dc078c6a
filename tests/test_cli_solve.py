"""`harness solve` as a new user runs it: the committed profiles as they are, real SCIP."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from harness.cli import app

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()


def _committed(pattern: str) -> list[str]:
    return sorted(str(p.relative_to(ROOT)) for p in ROOT.glob(pattern))


def _solve(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "harness.cli", "solve", *args]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, timeout=600)


def test_the_committed_profiles_solve_as_they_are(tmp_path: Path) -> None:
    """`harness solve profiles/*.json`: a split per inference model, a packing of the training
    profiles and a pipeline, then the plan table; every decision's files on disk."""
    r = _solve(*_committed("profiles/*.json"), "--time-limit", "5", "--out", str(tmp_path))
    assert r.returncode == 0, r.stderr[-2000:]
    infer_models = {
        json.loads((ROOT / p).read_text())["infer"]["model"]
        for p in _committed("profiles/*.json")
        if json.loads((ROOT / p).read_text()).get("kind") == "infer"
    }
    assert len(infer_models) >= 2
    table = r.stdout[r.stdout.rindex("plan") :]
    for model in infer_models:
        assert (tmp_path / f"{model}-split-solution.json").is_file(), model
        assert (tmp_path / f"{model}-split-problem.yaml").is_file(), model
        assert model in table
    assert list(tmp_path.glob("*-packing-solution.json"))
    assert list(tmp_path.glob("*-pipeline-solution.json"))
    assert "packing" in table and "pipeline" in table
    for solution in tmp_path.glob("*-solution.json"):
        check = subprocess.run(
            [sys.executable, "-m", "harness.cli", "validate", str(solution)],
            capture_output=True,
            text=True,
        )
        assert check.returncode == 0, check.stderr


def test_json_is_one_document_holding_every_decision(tmp_path: Path) -> None:
    files = _committed("profiles/*.json")
    r = runner.invoke(app, ["solve", *files, "--time-limit", "5", "--out", str(tmp_path),
                            "--format", "json"])  # fmt: skip
    assert r.exit_code == 0, r.output[-2000:]
    doc = json.loads(r.stdout)
    kinds = sorted({d["kind"] for d in doc["decisions"]})
    assert kinds == ["packing", "pipeline", "split"]
    for d in doc["decisions"]:
        assert d["ok"] and d["summary"]["kind"] == d["kind"] == d["solution"]["kind"]
        assert d["files"] and all(Path(f).is_file() for f in d["files"])
    skipped = {Path(s["path"]).name: s["reason"] for s in doc["skipped"]}
    assert all("costmodel" not in name for name in skipped), "the cost model left profiles/"


def test_the_derived_problem_is_a_valid_problem_file(tmp_path: Path) -> None:
    """Edit-and-re-run: the written default problem solves the same way with --problem."""
    files = _committed("profiles/res18-*.json")
    r = runner.invoke(app, ["solve", *files, "--out", str(tmp_path), "--time-limit", "5"])
    assert r.exit_code == 0, r.output[-2000:]
    problem = tmp_path / "resnet18-split-problem.yaml"
    first = json.loads((tmp_path / "resnet18-split-solution.json").read_text())
    again = tmp_path / "again"
    r = runner.invoke(app, ["solve", *files, "--problem", str(problem), "--out", str(again),
                            "--time-limit", "5"])  # fmt: skip
    assert r.exit_code == 0, r.output[-2000:]
    second = json.loads((again / "resnet18-split-solution.json").read_text())
    assert second["plan"]["latency_s"] == first["plan"]["latency_s"]


def test_exit_codes_say_what_happened(tmp_path: Path) -> None:
    files = _committed("profiles/res18-*.json")
    tight = tmp_path / "tight.yaml"
    tight.write_text(
        "kind: split\nname: tight\ndevices: [{name: host-1cpu}, {name: host-2cpu}]\n"
        "links: [{src: host-1cpu, dst: host-2cpu, bandwidth_up_mbps: 20}]\n"
        "pins: {input: host-1cpu}\nconstraints: {latency_max_s: 0.000001}\n"
    )
    r = runner.invoke(app, ["solve", *files, "--problem", str(tight), "--out", str(tmp_path)])
    assert r.exit_code == 1, r.output
    assert "latency_max_s" in r.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text("kind: split\ndevices: [{name: a, bogus: 1}]\npins: {input: a}\n")
    r = runner.invoke(app, ["solve", *files, "--problem", str(bad)])
    assert r.exit_code == 2
    assert r.stderr.strip().count("\n") == 0 and "bogus" in r.stderr
    r = runner.invoke(app, ["solve", str(ROOT / "problems" / "packing.yaml")])
    assert r.exit_code == 2 and "nothing to solve" in r.stderr and "--problem" in r.stderr


def test_validate_accepts_every_committed_file() -> None:
    files = _committed("jobs/*.yaml") + _committed("problems/*.yaml")
    files += _committed("profiles/*.json") + _committed("profiles/fitted/*.json")
    r = subprocess.run(
        [sys.executable, "-m", "harness.cli", "validate", *files],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("ok: ") == len(files)
