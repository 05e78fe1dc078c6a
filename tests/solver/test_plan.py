"""The front door's plan: what a folder of files supports, and what it names and skips."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.profile import save_profile
from solver import plan
from solver.problem import ProblemError
from tests.factory.infer_profiles import make_infer_profile
from tests.factory.train_profiles import make_train_profile


def _infer(tmp: Path, model: str, device: str, speed: float) -> Path:
    path = tmp / f"{model}-{device}.json"
    save_profile(make_infer_profile(device_name=device, model=model, speed=speed), path)
    return path


@pytest.fixture
def folder(tmp_path: Path) -> list[Path]:
    files = [
        _infer(tmp_path, "neta", "edge", 1.0),
        _infer(tmp_path, "neta", "server", 4.0),
        _infer(tmp_path, "netb", "edge", 1.0),
        _infer(tmp_path, "netb", "server", 4.0),
        _infer(tmp_path, "lonely", "edge", 1.0),
    ]
    for name, model in (("train-a", "resnet18"), ("train-b", "alexnet")):
        path = tmp_path / f"{name}.json"
        save_profile(make_train_profile(name=name, model=model), path)
        files.append(path)
    (tmp_path / "costmodel.json").write_text(json.dumps({"format": "harness.costmodel"}))
    (tmp_path / "old-split-solution.json").write_text(json.dumps({"kind": "split", "plan": None}))
    (tmp_path / "broken.json").write_text('{"schema_version": "1.0", "kind": "tra')
    (tmp_path / "half.json").write_text(json.dumps({"schema_version": "1.0", "kind": "train"}))
    return (
        files
        + [tmp_path / n for n in ("costmodel.json", "old-split-solution.json")]
        + [
            tmp_path / "broken.json",
            tmp_path / "half.json",
        ]
    )


def test_a_folder_of_files_plans_every_decision_it_supports(folder: list[Path]) -> None:
    decisions, skipped = plan.from_profiles(folder)
    kinds = sorted((d.kind.name, d.name) for d in decisions)
    splits = [d for d in decisions if d.kind.name == "split"]
    assert sorted(d.problem.model for d in splits) == ["neta", "netb"]
    assert all(d.inferred for d in decisions)
    assert [k for k, _ in kinds].count("pipeline") == 1, kinds
    assert [k for k, _ in kinds].count("packing") == 1, kinds
    pipe = next(d for d in decisions if d.kind.name == "pipeline")
    assert sorted({g.model for g in pipe.problem.jobs}) == ["neta", "netb"]
    packing = next(d for d in decisions if d.kind.name == "packing")
    assert len(packing.problem.jobs) == 2
    reasons = {Path(s.path).name: s.reason for s in skipped}
    assert reasons["costmodel.json"] == "a fitted cost model, not a profile"
    assert "solution, not a profile" in reasons["old-split-solution.json"]
    assert reasons["broken.json"].startswith("not JSON")
    assert reasons["half.json"].startswith("not a valid profile")
    lonely = [s for s in skipped if "lonely" in s.path]
    assert len(lonely) == 1 and "one device only" in lonely[0].reason


def test_nothing_but_non_profiles_plans_nothing(tmp_path: Path) -> None:
    p = tmp_path / "c.json"
    p.write_text(json.dumps({"format": "harness.costmodel"}))
    decisions, skipped = plan.from_profiles([p, tmp_path / "missing.json"])
    assert decisions == []
    assert [Path(s.path).name for s in skipped] == ["c.json", "missing.json"]
    assert skipped[1].reason.startswith("cannot read")


def test_a_split_problem_without_a_model_is_solved_once_per_model(
    folder: list[Path], tmp_path: Path
) -> None:
    prob = tmp_path / "split.yaml"
    prob.write_text(
        "kind: split\nname: mine\ndevices: [{name: edge}, {name: server}]\n"
        "links: [{src: edge, dst: server, bandwidth_up_mbps: 50}]\npins: {input: edge}\n"
    )
    infer = [f for f in folder if f.stem.startswith(("neta", "netb"))]
    decisions, skipped = plan.from_problem_file(prob, infer)
    assert skipped == []
    assert sorted(d.name for d in decisions) == ["mine-neta", "mine-netb"]
    assert not any(d.inferred for d in decisions)
    one = plan.from_problem_file(prob, [f for f in folder if f.stem.startswith("neta")])[0]
    assert [d.name for d in one] == ["mine"]


def test_a_bad_problem_file_is_bad_input(tmp_path: Path) -> None:
    prob = tmp_path / "bad.yaml"
    prob.write_text("kind: split\ndevices: []\npins: {input: edge}\n")
    with pytest.raises(ProblemError, match="field 'devices'"):
        plan.from_problem_file(prob, [])
    prob.write_text("kind: split\ndevices: [{name: edge}]\npins: {input: edge}\n")
    with pytest.raises(ProblemError, match="no such profile file"):
        plan.from_problem_file(prob, [tmp_path / "nope.json"])


def test_two_device_pairs_make_two_pipelines_with_their_own_names(tmp_path: Path) -> None:
    files = [
        _infer(tmp_path, model, device, speed)
        for model in ("neta", "netb")
        for device, speed in (("edge", 1.0), ("server", 4.0), ("cloud", 8.0))
    ]
    decisions, _ = plan.from_profiles(files)
    pipes = sorted(d.name for d in decisions if d.kind.name == "pipeline")
    assert len(pipes) == 3 and len(set(pipes)) == 3, pipes
    assert all(d.problem.name == d.name for d in decisions if d.kind.name == "pipeline")
