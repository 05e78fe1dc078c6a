"""The packing problem: its file, the default problem from profiles, and profile resolution."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.profile import load_profile, save_profile
from solver.packing import default_problem
from solver.packing.problem import (
    SYNERGY_CLUSTER,
    PackingProblem,
    PackJob,
    ServerKind,
    build_instance,
)
from solver.problem import ProblemError, read_problem, validate_as
from solver.profiles import Loaded, ProfileSet
from tests.factory.packing import no_throughput_profile, profile_set
from tests.factory.train_profiles import make_train_profile, synthetic_profiles

ROOT = Path(__file__).resolve().parents[3]
KINDS = [ServerKind(name="s", count=2, gpus=8, cpus=24, memory_gb=500)]


def test_the_committed_problem_file_validates() -> None:
    path = ROOT / "problems" / "packing.yaml"
    prob = validate_as(PackingProblem, read_problem(path), path)
    assert prob.servers is not None and [k.name for k in prob.servers] == ["big", "small"]
    assert len(prob.jobs) == 9


def test_default_problem_is_one_job_per_training_profile_on_synergys_cluster() -> None:
    profs = synthetic_profiles()[:3]
    four = make_train_profile(name="four", gpus=4)
    prob = default_problem(profile_set([*profs, four]))
    assert [j.name for j in prob.jobs] == [p.job.name for p in profs] + ["four"]
    assert [j.gpus for j in prob.jobs] == [1, 1, 1, 4]  # the most GPUs it was profiled with
    assert [j.profile for j in prob.jobs] == [f"{p.job.name}.json" for p in [*profs, four]]
    assert prob.servers is None and prob.cluster == SYNERGY_CLUSTER
    assert prob.name == "training"
    # the problem it writes is a valid problem file
    again = PackingProblem.model_validate(prob.model_dump(mode="json", exclude_defaults=True))
    assert again == prob


def test_default_problem_skips_unusable_profiles_and_names_them_when_none_is_left() -> None:
    good = synthetic_profiles()[0]
    prob = default_problem(profile_set([no_throughput_profile(), good]))
    assert [j.name for j in prob.jobs] == [good.job.name]
    with pytest.raises(ProblemError, match=r"no usable training profile.*empty.json.*no ok probe"):
        default_problem(profile_set([no_throughput_profile()]))
    with pytest.raises(ProblemError, match="no usable training profile"):
        default_problem(ProfileSet())


def test_default_problem_keeps_two_profiles_of_one_job_apart() -> None:
    a = make_train_profile(name="res18", peak=400)
    b = make_train_profile(name="res18", peak=500)
    items = [Loaded(Path("a.json"), a), Loaded(Path("b.json"), b)]
    prob = default_problem(ProfileSet(items))
    assert [(j.name, j.profile) for j in prob.jobs] == [("res18", "a.json"), ("res18-2", "b.json")]
    assert len(default_problem(ProfileSet(items), jobs_per_profile=2).jobs) == 4


def test_no_servers_means_synergys_cluster() -> None:
    prob = PackingProblem(jobs=[PackJob(name="a", profile="res18")])
    inst = build_instance(prob, profile_set(synthetic_profiles()))
    assert len(inst.servers) == 16 and inst.servers[0].name == "synergy-0"
    with pytest.raises(ValueError, match="servers"):
        PackingProblem(servers=[], jobs=[PackJob(name="a", profile="x")])


def test_a_job_names_its_profile_by_path_id_or_job_name(tmp_path: Path) -> None:
    prof = make_train_profile(name="res18")
    (tmp_path / "profiles").mkdir()
    save_profile(prof, tmp_path / "profiles" / "r.json")
    given = ProfileSet([Loaded(Path("given.json"), make_train_profile(name="other"))], tmp_path)
    jobs = [
        PackJob(name="by-path", profile="profiles/r.json"),  # relative to the problem's folder
        PackJob(name="by-job-name", profile="other"),
        PackJob(name="by-id", profile=given.given[0].profile.id),
    ]
    inst = build_instance(PackingProblem(servers=KINDS, jobs=jobs), given)
    assert [t.name for t in inst.jobs] == ["by-path", "by-job-name", "by-id"]
    assert inst.jobs[1].model is inst.jobs[2].model  # one profile, one curve model


def test_a_bad_profile_reference_is_one_line_naming_the_job() -> None:
    def build(ref: str, given: ProfileSet) -> None:
        prob = PackingProblem(servers=KINDS, jobs=[PackJob(name="j", profile=ref)])
        build_instance(prob, given)

    with pytest.raises(ProblemError, match=r"job j: field 'profile': no profile matches 'nope'"):
        build("nope", ProfileSet())
    infer = ROOT / "profiles" / "res18-1cpu.json"
    assert load_profile(infer).kind == "infer"
    with pytest.raises(ProblemError, match=r"job j: field 'profile': .*expected kind 'train'"):
        build(str(infer), ProfileSet())
    with pytest.raises(ProblemError, match=r"job j: field 'profile': .*no ok probe"):
        build("empty", profile_set([no_throughput_profile()]))
    two = ProfileSet([Loaded(Path(f"{n}.json"), make_train_profile(name="x")) for n in "ab"])
    with pytest.raises(ProblemError, match="names 2 profiles"):
        build("x", two)
