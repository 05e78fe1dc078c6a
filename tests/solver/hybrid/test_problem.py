"""The hybrid problem file, its default from profiles, and the times matrix it prices."""

from __future__ import annotations

import pytest

from solver.hybrid.costmodel.features import load_samples
from solver.hybrid.costmodel.file import CostModelError
from solver.hybrid.costmodel.fit import fit, save, step_time
from solver.hybrid.problem import (
    HybridProblem,
    build_instance,
    cost_model,
    default_problem,
    job_times,
)
from solver.problem import FileError, ProblemError, SolveOptions, read_problem
from solver.profiles import ProfileSet
from tests.factory.hybrid import cpu_profiles, problem, with_step_s


def test_job_times_use_measurements_predictions_and_the_documented_gpu_fallback(tmp_path):
    cm = fit(load_samples(cpu_profiles(tmp_path)))
    prob = HybridProblem.model_validate(problem())
    t = job_times(prob, cm)
    assert t.sources[0][:2] == ["measured", "measured"]  # batch 32 at 2 and 1 CPUs
    assert t.sources[1][0] in ("linear", "gbt")  # batch 48 was never measured
    assert all(row[2] == "fallback" for row in t.sources)
    assert t.p[0][0] == pytest.approx(100 * (0.001 + 0.002 * 32 / 2**0.8))
    cpu1 = step_time(cm, "simple_cnn", 32, [3, 28, 28], 1.0, "cpu").seconds
    want_gpu = 100 * (0.002 + cpu1 / 20)
    assert t.p[0][2] == pytest.approx(want_gpu)
    assert any("speed-up model" in n for n in t.notes)


def test_given_step_times_win_by_worker_name_then_device():
    raw = with_step_s(problem(), {"cpu": 1.0, "cuda": 0.1, "cpu-b": 3.0})
    t = job_times(HybridProblem.model_validate(raw), None)
    assert t.p[0] == [100.0, 300.0, pytest.approx(10.0)]
    assert t.sources[0] == ["given"] * 3


def test_example_problem_file_validates():
    raw = read_problem("problems/hybrid.yaml")
    prob = HybridProblem.model_validate(raw)
    assert {w.device for w in prob.workers} == {"cpu", "cuda"} and len(prob.jobs) >= 7
    assert prob.cost_model == "../profiles/fitted/costmodel.json"


def test_default_problem_is_one_job_per_train_profile_one_cpu_and_one_gpu(tmp_path):
    profiles = ProfileSet.from_paths(cpu_profiles(tmp_path))
    prob = default_problem(profiles)
    assert len(prob.jobs) == len(profiles) and all(j.num_batches == 100 for j in prob.jobs)
    assert [(w.device, w.cpus) for w in prob.workers] == [("cpu", 2.0), ("cuda", 1.0)]
    with pytest.raises(ProblemError, match="no train profile"):
        default_problem(ProfileSet())


def test_where_the_cost_model_comes_from(tmp_path):
    paths = cpu_profiles(tmp_path)
    given = ProfileSet.from_paths(paths, base_dir=tmp_path)
    save(fit(load_samples(paths[:4]), "linear"), tmp_path / "fitted" / "cm.json")
    prob = HybridProblem.model_validate(dict(problem(), cost_model="fitted/cm.json"))
    # the solve's option wins over the problem file's
    cm, note = cost_model(prob, given, str(tmp_path / "fitted" / "cm.json"))
    assert cm is not None and note.endswith("cm.json")
    # the problem file's path is relative to the problem file (the profile set's base_dir)
    cm, note = cost_model(prob, ProfileSet(base_dir=tmp_path), None)
    assert cm is not None and cm.models == ["simple_cnn"] and note.endswith("fitted/cm.json")
    # a file not fitted yet gives way to the profiles given
    missing = HybridProblem.model_validate(dict(problem(), cost_model="nowhere.json"))
    cm, note = cost_model(missing, given, None)
    assert cm is not None and "fitted on 16 probes" in note
    with pytest.raises(FileError, match="field 'cost_model': .*nowhere.json: cannot read"):
        cost_model(missing, ProfileSet(base_dir=tmp_path), None)
    with pytest.raises(CostModelError, match="no cost model"):
        cost_model(HybridProblem.model_validate(problem()), ProfileSet(), None)
    steps = HybridProblem.model_validate(with_step_s(problem(), {"cpu": 1.0, "cuda": 0.1}))
    assert cost_model(steps, ProfileSet(), None) == (None, "times given in the problem file")


def test_the_instance_says_where_its_times_came_from_and_cost_model_errors_are_problems(tmp_path):
    given = ProfileSet.from_paths(cpu_profiles(tmp_path))
    inst = build_instance(HybridProblem.model_validate(problem()), given, SolveOptions())
    assert inst.devices == ["cpu", "cpu", "cuda"] and len(inst.p) == 4
    assert inst.notes[0].startswith("cost model fitted on") and "speed-up model" in inst.notes[1]
    with pytest.raises(ProblemError, match="no cost model"):
        build_instance(HybridProblem.model_validate(problem()), ProfileSet(), SolveOptions())
    unknown = problem()
    unknown["jobs"][0]["model"] = "vgg"
    with pytest.raises(ProblemError, match="no data for model 'vgg'"):
        build_instance(HybridProblem.model_validate(unknown), given, SolveOptions())
