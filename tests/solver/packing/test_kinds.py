"""Jobs profiled per server kind (a heterogeneous fleet): each job's throughput depends on the
kind of server it is placed on, in the model, the baselines, the checker and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from harness.cli import app
from harness.profile import save_profile
from solver.packing.baselines import greedy, proportional
from solver.packing.check import check
from solver.packing.model import pack
from solver.packing.problem import PackingProblem, PackJob, ServerKind, build_instance
from solver.problem import FileError, ProblemError
from solver.profiles import Loaded, ProfileSet
from tests.factory.packing import KINDS, brute_force, kind_profile, kinds_problem

runner = CliRunner()


def _fast_on_b() -> tuple[PackingProblem, ProfileSet]:
    """One job, four times faster on kind b than on kind a; one server of each, same size."""
    slow, fast = kind_profile("x", "a", 100.0, 2.0), kind_profile("x", "b", 400.0, 2.0)
    kinds = [
        ServerKind(name="a", gpus=2, cpus=4, memory_gb=32),
        ServerKind(name="b", gpus=2, cpus=4, memory_gb=32),
    ]
    job = PackJob(name="x", profiles={"a": "x-a.json", "b": "x-b.json"})
    profiles = ProfileSet([Loaded(Path("x-a.json"), slow), Loaded(Path("x-b.json"), fast)])
    return PackingProblem(servers=kinds, jobs=[job]), profiles


def test_a_job_much_faster_on_b_is_placed_on_b() -> None:
    inst = build_instance(*_fast_on_b())
    a, b = inst.table(0, 0), inst.table(0, 1)
    assert b.prop_throughput == pytest.approx(4 * a.prop_throughput)
    assert inst.jobs[0] is b  # the reference (normalising) table: the best kind's
    pl = pack(inst, time_limit=10)
    assert not check(inst, pl)
    [jp] = pl.jobs
    assert [p.server for p in jp.parts] == ["b-0"]
    assert jp.throughput == pytest.approx(b.throughput_at(jp.cpus, jp.memory_gb))
    assert pl.objective == pytest.approx(jp.throughput / b.prop_throughput)


@pytest.mark.parametrize("seed", range(5))
def test_scip_equals_brute_force_on_two_kinds(seed: int) -> None:
    inst = build_instance(*kinds_problem(seed))
    assert set(inst.by_kind) == {1, 2}
    pl = pack(inst, time_limit=20)
    assert pl.method == "enumerated patterns"
    assert not check(inst, pl)
    assert pl.objective == pytest.approx(brute_force(inst), abs=1e-6)
    for base in (greedy(inst), proportional(inst)):
        assert not check(inst, base), base.policy
        assert base.objective <= pl.objective + 1e-6


def test_the_checker_reads_the_table_of_the_servers_kind() -> None:
    inst = build_instance(*_fast_on_b())
    pl = pack(inst, time_limit=10)
    [jp] = pl.jobs
    slow = inst.table(0, 0).throughput_at(jp.cpus, jp.memory_gb)
    wrong = pl.model_copy(deep=True)
    wrong.jobs[0].throughput = slow  # kind a's rate reported for a job on kind b
    assert any("its parts give" in e for e in check(inst, wrong))
    moved = pl.model_copy(deep=True)
    moved.jobs[0].parts[0].server = "a-0"  # kind b's rate claimed on a server of kind a
    errs = check(inst, moved)
    assert any("its parts give" in e or "fairness floor" in e for e in errs), errs


def test_bad_per_kind_profiles_are_one_line_errors() -> None:
    job = {"name": "x", "profiles": {"c": "x-a.json"}, "profile": "x-a.json"}
    with pytest.raises(ValueError, match=r"field 'profiles': 'c' is not a server kind"):
        PackingProblem.model_validate({"servers": [k.model_dump() for k in KINDS], "jobs": [job]})
    job = {"name": "x", "profiles": {"a": "x-a.json"}}
    with pytest.raises(ValueError, match=r"no profile for server kind 'b'"):
        PackingProblem.model_validate({"servers": [k.model_dump() for k in KINDS], "jobs": [job]})
    other = kind_profile("y", "b", 300.0, 2.0)
    profiles = ProfileSet(
        [
            Loaded(Path("x-a.json"), kind_profile("x", "a", 100.0, 2.0)),
            Loaded(Path("y-b.json"), other),
        ]
    )
    prob = PackingProblem(
        servers=KINDS, jobs=[PackJob(name="x", profiles={"a": "x-a.json", "b": "y-b.json"})]
    )
    with pytest.raises(FileError, match=r"field 'profiles.b': y-b.json: a profile of job 'y'"):
        build_instance(prob, profiles)
    big = PackingProblem(
        servers=KINDS,
        jobs=[PackJob(name="x", gpus=3, profiles={"a": "x-a.json", "b": "x-a.json"})],
    )
    with pytest.raises(ProblemError, match="fit on one server"):
        build_instance(big, profiles)


def test_harness_solve_reads_per_kind_profiles_from_the_problem_file(tmp_path: Path) -> None:
    for kind, peak in (("a", 100.0), ("b", 400.0)):
        save_profile(kind_profile("x", kind, peak, 2.0), tmp_path / f"train-x-{kind}.json")
    save_profile(kind_profile("y", "any", 200.0, 2.0), tmp_path / "train-y.json")
    problem = {
        "kind": "packing",
        "name": "fleet",
        "servers": [
            {"name": "a", "gpus": 2, "cpus": 4, "memory_gb": 32},
            {"name": "b", "gpus": 1, "cpus": 2, "memory_gb": 16},
        ],
        "jobs": [
            {"name": "x", "profiles": {"a": "train-x-a.json", "b": "train-x-b.json"}},
            {"name": "y", "profile": "train-y.json"},
        ],
        "time_limit_s": 10,
    }
    path = tmp_path / "fleet.yaml"
    path.write_text(yaml.safe_dump(problem))
    out = tmp_path / "out"
    r = runner.invoke(app, ["solve", "--problem", str(path), "--out", str(out)])
    assert r.exit_code == 0, r.stderr
    sol = json.loads((out / "fleet-packing-solution.json").read_text())
    assert all(not v for v in sol["checks"].values())
    scip = {j["job"]: j for j in sol["placements"]["scip"]["jobs"]}
    assert [p["server"] for p in scip["x"]["parts"]] == ["b-0"]
    assert [p["server"] for p in scip["y"]["parts"]] == ["a-0"]
    bad = dict(problem, jobs=[{"name": "x", "profiles": {"c": "train-x-a.json"}}])
    path.write_text(yaml.safe_dump(bad))
    r = runner.invoke(app, ["solve", "--problem", str(path), "--out", str(out)])
    assert r.exit_code == 2
    assert r.stderr.strip().count("\n") == 0 and "'c' is not a server kind" in r.stderr
