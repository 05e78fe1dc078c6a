"""Hybrid CPU/GPU scheduler: SCIP's optimum against brute force, every schedule checked."""

from __future__ import annotations

import itertools
import json
import math
import random
from typing import Any

import pytest
import yaml

from harness.profile import save_profile
from harness.spec import JobSpec
from solver import costmodel
from solver.hybrid import (
    HybridProblem,
    Schedule,
    greedy,
    job_times,
    schedule_from_assignment,
    solve_all,
    solve_scip,
)
from solver.hybrid_check import check_schedule
from solver.hybrid_cli import solve_command


def brute_force(p: list[list[float]]) -> float:
    n, m = len(p), len(p[0])
    best = math.inf
    for a in itertools.product(range(m), repeat=n):
        if any(math.isinf(p[j][a[j]]) for j in range(n)):
            continue
        best = min(best, max(sum(p[j][i] for j in range(n) if a[j] == i) for i in range(m)))
    return best


def random_instance(rng: random.Random, n: int, cpus: int, gpus: int) -> list[list[float]]:
    """CPU workers alike-ish, GPUs 3-30x faster per job, as a CPU/GPU mix looks."""
    p = []
    for _ in range(n):
        base = rng.uniform(1, 20)
        row = [base * rng.uniform(0.8, 1.3) for _ in range(cpus)]
        row += [base / rng.uniform(3, 30) for _ in range(gpus)]
        p.append(row)
    return p


@pytest.mark.parametrize("seed", range(8))
def test_scip_optimum_equals_brute_force_and_every_schedule_passes_the_checker(seed):
    rng = random.Random(seed)
    n, cpus, gpus = rng.randint(3, 7), rng.randint(1, 2), rng.randint(1, 2)
    p = random_instance(rng, n, cpus, gpus)
    devices = ["cpu"] * cpus + ["cuda"] * gpus
    res = solve_all(p, devices, time_limit=30)
    opt = brute_force(p)
    assert res["scip"].status == "optimal"
    assert res["scip"].makespan == pytest.approx(opt, rel=1e-6)
    assert res["scip"].dual_bound == pytest.approx(opt, rel=1e-6)
    for name, s in res.items():
        assert check_schedule(s.to_dict(), p) == [], name
        assert s.makespan >= opt - 1e-9, name
    assert res["greedy"].makespan >= res["scip"].makespan - 1e-9


def test_identical_workers_and_forbidden_pairs():
    """Jobs that cannot run on a worker (inf) are never put there; brute force agrees."""
    p = [[4.0, 4.0, math.inf], [3.0, 3.0, 1.0], [2.0, 2.0, 1.5], [5.0, 5.0, math.inf], [1.0, 1, 9]]
    res = solve_all(p, ["cpu", "cpu", "cuda"], 30)
    assert res["scip"].makespan == pytest.approx(brute_force(p))
    for s in res.values():
        if s.entries:
            assert check_schedule(s.to_dict(), p) == []
    assert math.isinf(res["gpu-only"].makespan) and res["gpu-only"].status == "infeasible"


def test_greedy_is_lpt_to_the_earliest_finish():
    p = [[3.0, 6.0], [3.0, 6.0], [2.0, 2.0]]
    g = greedy(p)
    # LPT order: jobs 0, 1 (3 s), then 2; job 0 -> w0 (3), job 1 -> w0 (6) ties w1 (6): w0
    assert g.assignment(3) == [0, 0, 1]
    assert g.makespan == pytest.approx(6.0)


def test_medium_instance_scip_is_no_worse_than_greedy_and_bounds_hold():
    rng = random.Random(7)
    p = random_instance(rng, 30, 3, 2)
    res = solve_all(p, ["cpu"] * 3 + ["cuda"] * 2, time_limit=5)
    s = res["scip"]
    assert check_schedule(s.to_dict(), p) == []
    assert s.makespan <= res["greedy"].makespan + 1e-9
    assert s.dual_bound is not None and s.dual_bound <= s.makespan + 1e-6
    assert min(res["cpu-only"].makespan, res["gpu-only"].makespan) >= s.dual_bound - 1e-6


def test_checker_finds_each_kind_of_violation():
    p = [[2.0, 1.0], [3.0, 1.0]]
    good = schedule_from_assignment("x", [0, 0], p).to_dict()
    assert check_schedule(good, p) == []
    overlap = json.loads(json.dumps(good))
    overlap["entries"][1]["start"] = 1.0
    overlap["entries"][1]["end"] = 1.0 + p[overlap["entries"][1]["job"]][0]
    assert any("before job" in e for e in check_schedule(overlap, p))
    missing = {"makespan": 3.0, "entries": good["entries"][:1]}
    assert any("scheduled 0 times" in e for e in check_schedule(missing, p))
    twice = {"makespan": 5.0, "entries": good["entries"] + good["entries"][:1]}
    assert any("scheduled 2 times" in e for e in check_schedule(twice, p))
    wrong = json.loads(json.dumps(good))
    wrong["entries"][0]["end"] += 0.5
    assert any("lasts" in e for e in check_schedule(wrong, p))
    liar = dict(good, makespan=1.0)
    assert any("makespan" in e for e in check_schedule(liar, p))
    stranger = {"makespan": 1.0, "entries": [{"job": 0, "worker": 5, "start": 0, "end": 1}]}
    assert any("unknown worker" in e for e in check_schedule(stranger, p))


def test_schedule_on_one_worker_is_sequential_from_zero():
    p = [[1.0], [2.0], [3.0]]
    s = solve_scip(p, 10)
    assert s.makespan == pytest.approx(6.0)
    assert sorted((e.start, e.end) for e in s.entries) == [(0.0, 3.0), (3.0, 5.0), (5.0, 6.0)]


# ---------------------------------------------------------------- with the cost model


def _cpu_profiles(tmp_path):
    """CPU-only train profiles (no GPU here): a power law per model, batch and CPU cap."""
    paths = []
    for model, dims, w in [("simple_cnn", [3, 28, 28], 0.002), ("cnn3d", [1, 28, 28, 28], 0.02)]:
        job = JobSpec(name=f"{model}-j", model=model, input_shape=dims, num_classes=9)
        for batch in (8, 16, 32, 64):
            pts = [(c, [0.001 + w * batch / c**0.8] * 3) for c in (1.0, 2.0)]
            prof = costmodel.train_profile(job, "cpu", pts, batch_size=batch)
            path = tmp_path / f"{model}-{batch}.json"
            save_profile(prof, path)
            paths.append(path)
    return paths


PROBLEM: dict[str, Any] = {
    "kind": "hybrid",
    "workers": [
        {"name": "cpu-a", "device": "cpu", "cpus": 2},
        {"name": "cpu-b", "device": "cpu", "cpus": 1},
        {"name": "gpu-0", "device": "cuda", "cpus": 2},
    ],
    "jobs": [
        {"name": f"j{i}", "model": m, "batch_size": b, "input_shape": d, "num_batches": nb}
        for i, (m, b, d, nb) in enumerate(
            [
                ("simple_cnn", 32, [3, 28, 28], 100),
                ("simple_cnn", 48, [3, 28, 28], 50),
                ("cnn3d", 16, [1, 28, 28, 28], 20),
                ("cnn3d", 64, [1, 28, 28, 28], 10),
            ]
        )
    ],
    "gpu_fallback": {"speedup": 20, "overhead_s": 0.002},
}


def test_job_times_use_measurements_predictions_and_the_documented_gpu_fallback(tmp_path):
    cm = costmodel.fit(costmodel.load_samples(_cpu_profiles(tmp_path)))
    prob = HybridProblem.model_validate(PROBLEM)
    t = job_times(prob, cm)
    assert t.sources[0][:2] == ["measured", "measured"]  # batch 32 at 2 and 1 CPUs
    assert t.sources[1][0] in ("linear", "gbt")  # batch 48 was never measured
    assert all(row[2] == "fallback" for row in t.sources)
    assert t.p[0][0] == pytest.approx(100 * (0.001 + 0.002 * 32 / 2**0.8))
    cpu1 = costmodel.step_time(cm, "simple_cnn", 32, [3, 28, 28], 1.0, "cpu").seconds
    want_gpu = 100 * (0.002 + cpu1 / 20)
    assert t.p[0][2] == pytest.approx(want_gpu)
    assert any("speed-up model" in n for n in t.notes)


def test_solve_command_with_a_problem_file_writes_solution_and_plot(tmp_path, capsys):
    paths = _cpu_profiles(tmp_path)
    prob_file = tmp_path / "hybrid.yaml"
    prob_file.write_text(yaml.safe_dump(PROBLEM))
    out = tmp_path / "out"
    rc = solve_command(PROBLEM, prob_file, paths, out, "json", {"time_limit": 10})
    assert rc == 0
    doc = json.loads(capsys.readouterr().out)
    assert set(doc["methods"]) == {"cpu-only", "gpu-only", "greedy", "scip"}
    ms = {k: v["makespan"] for k, v in doc["methods"].items()}
    assert ms["scip"] <= min(ms.values()) + 1e-6
    for v in doc["methods"].values():
        assert check_schedule(v, doc["times_s"]) == []
    assert (out / "hybrid_solution.json").exists() and (out / "hybrid_gantt.png").stat().st_size
    rc = solve_command(PROBLEM, prob_file, paths, out, "table", {"print_jobs": True})
    text = capsys.readouterr().out
    assert rc == 0 and "scip" in text and "greedy" in text and "speed-up model" in text


def test_solve_command_without_a_problem_file_infers_one(tmp_path, capsys):
    rc = solve_command(None, None, _cpu_profiles(tmp_path), tmp_path / "o", "table", {})
    assert rc == 0
    assert "default problem" in capsys.readouterr().out


def test_solve_command_bad_input_is_one_line(tmp_path, capsys):
    bad = dict(PROBLEM, workers=[{"name": "x", "device": "tpu"}])
    assert solve_command(bad, tmp_path / "p.yaml", [], tmp_path, "table", {}) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "p.yaml" in err[0] and "workers.0.device" in err[0]
    assert solve_command(PROBLEM, tmp_path / "p.yaml", [], tmp_path, "table", {}) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no cost model" in err[0]
    missing = dict(PROBLEM, cost_model="nowhere.json")
    assert solve_command(missing, tmp_path / "p.yaml", [], tmp_path, "table", {}) == 1
    assert "nowhere.json" in capsys.readouterr().err


def test_given_step_times_need_no_cost_model(tmp_path, capsys):
    prob = dict(PROBLEM, jobs=[dict(j, step_s={"cpu": 1.0, "cuda": 0.1}) for j in PROBLEM["jobs"]])
    assert solve_command(prob, None, [], tmp_path, "json", {"time_limit": 5}) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["times_s"][0] == [100.0, 100.0, pytest.approx(10.0)]


def test_example_problem_file_validates():
    from solver.problem import read_problem

    raw = read_problem("problems/hybrid.yaml")
    prob = HybridProblem.model_validate(raw)
    assert {w.device for w in prob.workers} == {"cpu", "cuda"} and len(prob.jobs) >= 7


def test_schedule_dict_is_json_serialisable():
    s = Schedule("x", math.inf, [], status="infeasible")
    assert json.loads(json.dumps(s.to_dict()))["makespan"] is None


def test_harness_solve_dispatches_a_hybrid_problem_file(tmp_path):
    from typer.testing import CliRunner

    from harness.cli import app

    prob = dict(PROBLEM, jobs=[dict(j, step_s={"cpu": 2.0, "cuda": 0.1}) for j in PROBLEM["jobs"]])
    path = tmp_path / "hybrid.yaml"
    path.write_text(yaml.safe_dump(prob))
    args = ["solve", "--problem", str(path), "--format", "json", "--out", str(tmp_path / "o")]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["kind"] == "hybrid" and doc["methods"]["scip"]["status"] == "optimal"


def test_workers_of_one_kind_only_leave_the_other_baseline_empty(tmp_path, capsys):
    jobs = [dict(j, step_s={"cpu": 1.0}) for j in PROBLEM["jobs"]]
    prob = dict(PROBLEM, jobs=jobs, workers=[{"name": "c", "device": "cpu", "cpus": 1}])
    assert solve_command(prob, None, [], tmp_path, "table", {"time_limit": 5}) == 0
    out = capsys.readouterr().out
    assert "no such worker" in out and "optimal" in out


def test_the_example_problem_solves_end_to_end_with_the_committed_cost_model(tmp_path):
    """The README flow: `harness solve --problem problems/hybrid.yaml` on a fresh clone reads
    the committed profiles/costmodel.json (fitted from profiles/costmodel/, W1-W7)."""
    from pathlib import Path

    from typer.testing import CliRunner

    from harness.cli import app

    root = Path(__file__).resolve().parents[1]
    args = ["solve", "--problem", str(root / "problems" / "hybrid.yaml"), "--format", "json"]
    res = CliRunner().invoke(app, [*args, "--out", str(tmp_path), "--time-limit", "20"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert any(n.endswith("profiles/costmodel.json") for n in doc["notes"]), doc["notes"]
    assert set(doc["methods"]) == {"cpu-only", "gpu-only", "greedy", "scip"}
    for name, v in doc["methods"].items():
        assert check_schedule(v, doc["times_s"]) == [], name
    ms = {k: v["makespan"] for k, v in doc["methods"].items()}
    assert ms["scip"] <= min(ms.values()) + 1e-6
    devices = [w["device"] for w in doc["problem"]["workers"]]
    for job, row in zip(doc["problem"]["jobs"], doc["time_sources"], strict=True):
        for dev, src in zip(devices, row, strict=True):
            if job.get("step_s"):
                assert src == "given"
            elif dev == "cpu":
                assert src in ("measured", "linear", "gbt"), (job["name"], src)
    assert (tmp_path / "hybrid_gantt.png").stat().st_size > 0
