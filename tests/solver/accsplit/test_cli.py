"""`harness solve` and `harness validate` with model variants: the front door groups a
family's profiles into one accsplit decision, the problem file works and validates, the
pictures are written, and an epsilon no variant meets is one line (exit 1)."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from harness.cli import app
from harness.profile import save_profile
from tests.factory.infer_profiles import make_infer_profile

ROOT = Path(__file__).resolve().parents[3]
PROBLEM = ROOT / "problems" / "accuracy-split.yaml"
runner = CliRunner()


def test_the_problem_file_validates() -> None:
    r = runner.invoke(app, ["validate", str(PROBLEM)])
    assert r.exit_code == 0, r.output
    assert "ok:" in r.output


def test_front_door_groups_variants_by_family(family_files: list[Path], tmp_path: Path) -> None:
    """Variants become one accsplit decision, never a split per variant or a pipeline of them;
    a plain model beside them still gets its own split."""
    plain = []
    for dev in ("edge", "server"):
        p = tmp_path / f"plain-{dev}.json"
        save_profile(make_infer_profile(device_name=dev, model="plainnet", n_layers=4), p)
        plain.append(str(p))
    out = tmp_path / "out"
    args = ["solve", *map(str, family_files), *plain, "--out", str(out), "--format", "json"]
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    kinds = sorted((d["kind"], d["name"]) for d in doc["decisions"])
    assert kinds == [("accsplit", "toynet"), ("split", "plainnet")]
    acc = next(d for d in doc["decisions"] if d["kind"] == "accsplit")
    assert acc["ok"] and len(acc["solution"]["domains"]) == 4
    names = {Path(f).name for f in acc["files"]}
    assert {"toynet-accsplit-fronts.png", "toynet-accsplit-accuracy.png"} <= names
    assert (out / "toynet-accsplit-problem.yaml").is_file()


def test_with_the_problem_file(family_files: list[Path], tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = ["solve", *map(str, family_files), "--problem", str(PROBLEM), "--out", str(out)]
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    sol = json.loads((out / "accuracy-split-accsplit-solution.json").read_text())
    assert [d["domain"] for d in sol["domains"]] == ["d0", "d1", "d2"]
    assert all(d["choice"] and d["violations"] == [] for d in sol["domains"])
    assert "accuracy surrogate" in r.stdout


def test_an_epsilon_no_variant_meets_is_one_line(family_files: list[Path], tmp_path: Path) -> None:
    text = PROBLEM.read_text().replace("epsilon: 0.03", "epsilon: 0.001\nvariants: [p60]")
    problem = tmp_path / "tight.yaml"
    problem.write_text(text)
    args = ["solve", *map(str, family_files), "--problem", str(problem), "-o", str(tmp_path)]
    r = runner.invoke(app, args)
    assert r.exit_code == 1
    errors = [ln for ln in r.stderr.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in r.output
    assert "best reachable" in errors[0] and "p60" in errors[0] and "epsilon 0.001" in errors[0]
