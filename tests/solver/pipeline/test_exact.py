"""Exact models of the batch pipeline against brute force; sampling; the solve command."""

from __future__ import annotations

import itertools
import json
import random
from pathlib import Path

import pytest

from harness.profile import (
    BundleTiming,
    CutPoint,
    HostFacts,
    InferSection,
    Layer,
    Profile,
    Stat,
    now,
    save_profile,
)
from harness.spec import JobSpec
from solver.pipeline import (
    Job,
    SplitOption,
    balance_bound_and_splits,
    balance_lower_bound,
    fixed_lower_bound,
    job_times,
    joint_lower_bound,
    nondominated,
    solve_exact,
    solve_highs_bigm,
)
from solver.pipeline_cli import solve_command
from solver.pipeline_heuristics import order_for_splits, split_aware_greedy
from solver.pipeline_sample import chain_from_infer, default_chain, sample_jobs
from solver.pipeline_sim import makespan_of


def random_jobs(rng: random.Random, n: int, s: int) -> list[Job]:
    return [
        Job(
            f"j{i}",
            tuple(
                SplitOption(k, rng.uniform(0, 10), rng.uniform(0, 10), rng.uniform(0, 10))
                for k in range(s)
            ),
        )
        for i in range(n)
    ]


def brute_force(jobs: list[Job], fixed: list[int] | None = None) -> float:
    split_sets = [fixed] if fixed else itertools.product(*[range(len(j.options)) for j in jobs])
    return min(
        makespan_of(jobs, order, list(splits))
        for splits in split_sets
        for order in itertools.permutations(range(len(jobs)))
    )


@pytest.mark.parametrize("formulation", ["position", "disjunctive"])
def test_joint_milp_equals_brute_force(formulation: str) -> None:
    rng = random.Random(42)
    for n, s in ((4, 3), (5, 3)):
        jobs = random_jobs(rng, n, s)
        warm = split_aware_greedy(jobs, seed=0, iterations=20, time_limit=0.2)
        r = solve_exact(
            jobs,
            formulation=formulation,  # type: ignore[arg-type]
            warm=warm,
            method="scip",
        )
        assert r.optimal and r.gap == 0 and r.method == f"scip-{formulation}"
        assert r.makespan == pytest.approx(brute_force(jobs), rel=1e-7)
        assert makespan_of(jobs, r.order, r.splits) == pytest.approx(r.makespan)


def test_order_only_milp_equals_brute_force_and_bounds_hold() -> None:
    rng = random.Random(8)
    for _ in range(4):
        jobs = random_jobs(rng, 5, 3)
        splits = [rng.randrange(3) for _ in jobs]
        best = brute_force(jobs, splits)
        r = solve_exact(jobs, fixed_splits=splits, method="scip")
        assert r.makespan == pytest.approx(best, rel=1e-7)
        assert solve_exact(jobs, fixed_splits=splits).makespan == pytest.approx(best, rel=1e-7)
        assert r.splits == splits
        assert fixed_lower_bound(job_times(jobs, splits)) <= best + 1e-9
        assert joint_lower_bound(jobs, [nondominated(j) for j in jobs]) <= brute_force(jobs) + 1e-9


def test_balance_bound_never_exceeds_brute_force_even_with_zero_stage_times() -> None:
    # Zero stage times are what the subset bounds are for (an all-local option has no tail):
    # they must stay valid there.
    rng = random.Random(3)
    for _ in range(12):
        jobs = [
            Job(
                f"j{i}",
                tuple(
                    SplitOption(
                        k, *(0.0 if rng.random() < 0.3 else rng.uniform(0, 10) for _ in range(3))
                    )
                    for k in range(3)
                ),
            )
            for i in range(5)
        ]
        assert (
            balance_lower_bound(jobs, [nondominated(j) for j in jobs]) <= brute_force(jobs) + 1e-9
        )


def test_balance_bound_closes_the_gap_on_a_sampled_batch_of_50() -> None:
    # Sampled N = 50, seed 1: the plain head + load + tail bound stopped 1.3% below every
    # schedule found, because an all-local job could end the batch with no tail and hide the
    # long remote tail of the job before it. The subset bounds see it.
    jobs = sample_jobs(num_jobs=50, seed=1)
    options = [nondominated(j) for j in jobs]
    lb, splits = balance_bound_and_splits(jobs, options, time_limit=30.0)
    assert splits is not None
    ms = makespan_of(jobs, order_for_splits(jobs, splits), splits)
    assert lb <= ms + 1e-9
    assert (ms - lb) / ms < 0.01


def test_identical_jobs_become_one_class_and_stay_exact() -> None:
    opts = (SplitOption(0, 0, 4, 2), SplitOption(1, 3, 1, 1), SplitOption(2, 5, 0, 0))
    jobs = [Job(f"same-{i}", opts) for i in range(5)]
    r = solve_exact(jobs)
    assert r.classes == 1
    assert r.makespan == pytest.approx(brute_force(jobs))


def test_dominated_options_are_pruned_without_losing_the_optimum() -> None:
    job = Job("j", (SplitOption(0, 1, 2, 3), SplitOption(1, 2, 2, 3), SplitOption(2, 1, 2, 3)))
    assert nondominated(job) == [0]
    rng = random.Random(3)
    jobs = [*random_jobs(rng, 3, 3), job]
    assert solve_exact(jobs).makespan == pytest.approx(brute_force(jobs))


def test_time_limit_keeps_best_schedule_bound_and_gap() -> None:
    # N = 30 is past the bounded DP (BDP_MAX_N = 14): SCIP's position model alone, which cannot
    # prove 30 jobs in 0.3 s (it does not finish its root LP), so it stops for certain
    jobs = sample_jobs(num_jobs=30, seed=3)
    from solver.pipeline_heuristics import dopart_splits

    dp = dopart_splits(jobs)
    fifo = makespan_of(jobs, list(range(30)), dp)
    r = solve_exact(jobs, time_limit=0.3, warm=(list(range(30)), dp))
    assert not r.optimal and r.status == "timelimit" and r.method == "scip-position"
    assert r.makespan <= fifo + 1e-12  # the best schedule found is kept, never lost
    assert makespan_of(jobs, r.order, r.splits) == pytest.approx(r.makespan)
    assert 0 < r.lower_bound < r.makespan
    assert r.lower_bound >= joint_lower_bound(jobs, [nondominated(j) for j in jobs]) - 1e-12
    assert r.gap > 0
    assert r.gap == pytest.approx((r.makespan - r.lower_bound) / r.makespan)


def test_highs_seed_model_agrees_on_a_small_instance() -> None:
    jobs = random_jobs(random.Random(4), 4, 3)
    h = solve_highs_bigm(jobs, time_limit=30)
    assert h.status == "optimal"
    assert h.makespan == pytest.approx(brute_force(jobs), rel=1e-6)


def test_sampling_is_seeded_and_within_its_ranges() -> None:
    a = sample_jobs(num_jobs=6, seed=5, alpha_min=2, alpha_max=4, log_uniform=True)
    b = sample_jobs(num_jobs=6, seed=5, alpha_min=2, alpha_max=4, log_uniform=True)
    assert a == b
    assert a != sample_jobs(num_jobs=6, seed=6, alpha_min=2, alpha_max=4, log_uniform=True)
    ch = default_chain()
    for j in a:
        alpha = j.options[-1].local_s / ch.prefix_s[-1]
        assert 2 <= alpha <= 4
        assert j.options[-1].comm_s == 0 and j.options[-1].remote_s == 0
        assert j.options[0].local_s == 0
    u = sample_jobs(num_jobs=4, seed=1, comms_uniform=True, lower_bound=0.01, upper_bound=0.02)
    assert all(0.01 <= o.comm_s <= 0.02 for j in u for o in j.options[:-1])
    with pytest.raises(ValueError, match="alpha"):
        sample_jobs(alpha_min=3, alpha_max=2)


def _infer_profile(device: str, scale: float) -> Profile:
    """A generated (not measured) inference profile of a 3-layer chain."""
    layers = [Layer(index=i, name=f"l{i}", kind="Conv2d") for i in range(3)]
    sizes = [4000, 8000, 2000, 400]
    cuts = [
        CutPoint(
            index=i,
            after=None if i == 0 else f"l{i - 1}",
            shape=[s // 4],
            numel=s // 4,
            bytes_fp32=s,
            bytes_fp16=s // 2,
        )
        for i, s in enumerate(sizes)
    ]
    per = [0.010, 0.020, 0.005]
    bundles = [
        BundleTiming(start=a, end=b, batch_size=1, latency=Stat.of([scale * 0.9 * sum(per[a:b])]))
        for a in range(3)
        for b in range(a + 1, 4)
    ]
    return Profile(
        id=f"tiny-{device}",
        created=now(),
        harness_version="test",
        kind="infer",
        job=JobSpec(name="tiny", kind="infer", model="tiny"),
        host=HostFacts(
            hostname=device, cpu_model="x", cores=2, memory_gb=1, os="linux", python_version="3.11"
        ),
        backend="local",
        infer=InferSection(
            device_name=device,
            model="tiny",
            layers=layers,
            cuts=cuts,
            batch_sizes=[1],
            max_bundle_len=3,
            bundles=bundles,
        ),
    )


def test_jobs_from_real_profile_shapes_and_solve(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    edge, server = tmp_path / "edge.json", tmp_path / "server.json"
    save_profile(_infer_profile("edge", 10.0), edge)
    save_profile(_infer_profile("server", 1.0), server)
    ch = chain_from_infer(_infer_profile("server", 1.0).infer)  # type: ignore[arg-type]
    assert ch.prefix_s[3] == pytest.approx(0.9 * 0.035)  # the 3-layer bundle beats the sum
    raw = {
        "kind": "pipeline",
        "devices": [{"name": "edge"}, {"name": "server"}],
        "links": [{"src": "edge", "dst": "server", "bandwidth_up_mbps": 8, "latency_ms": 1}],
        "jobs": [{"name": "cam", "count": 4, "local": "edge", "remote": "server"}],
        "time_limit_s": 20,
    }
    opts = {"heuristic_time": 0.3}
    rc = solve_command(raw, tmp_path / "p.yaml", [edge, server], tmp_path / "out", "json", opts)
    assert rc == 0
    sol = json.loads(capsys.readouterr().out)
    assert sol["num_jobs"] == 4 and sol["profiles"] == ["tiny-edge", "tiny-server"]
    opt = sol["methods"][-1]
    assert opt["method"] == "Offline OPT (exact)" and opt["exact"]
    assert all(m["makespan_s"] >= opt["makespan_s"] - 1e-12 for m in sol["methods"])
    # comm at cut 1: 8000 B at 8 Mbps + 1 ms
    cut1 = [s for m in sol["methods"] for s in m["schedule"] if s["cut"] == 1]
    for s in cut1:
        assert s["comm"]["end_s"] - s["comm"]["start_s"] == pytest.approx(0.009)
    assert (tmp_path / "out" / "pipeline-gantt.png").stat().st_size > 1000
    # no problem file: the default problem from two devices' profiles
    rc = solve_command(
        None,
        None,
        [edge, server],
        tmp_path / "out2",
        "table",
        {"time_limit": 10, "heuristic_time": 0.3},
    )
    out = capsys.readouterr().out
    assert rc == 0 and "No problem file" in out and "Offline optimal makespan" in out


def test_example_problem_file_solves_with_ratios(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from solver.problem import read_problem

    path = Path(__file__).parent.parent / "problems" / "batch-pipeline.yaml"
    rc = solve_command(
        read_problem(path), path, [], tmp_path, "table", {"print_jobs": True, "heuristic_time": 0.3}
    )
    out = capsys.readouterr().out
    assert rc == 0
    for line in (
        "DOPart FIFO / Offline OPT",
        "DOPart best schedule / Offline OPT",
        "SAIG split-aware greedy / Offline OPT",
        "local start-end",
    ):
        assert line in out
    sol = json.loads((tmp_path / "pipeline-solution.json").read_text())
    assert sol["ratios"]["DOPart FIFO / Offline OPT"] >= 1.0


def test_time_limit_prints_bound_and_gap(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import re

    # 20 jobs skip the bounded DP (N > 14); SCIP cannot prove them in 0.3 s, so it stops
    raw = {"kind": "pipeline", "sample": {"num_jobs": 20, "seed": 2}}
    rc = solve_command(raw, None, [], tmp_path, "table", {"time_limit": 0.3, "heuristic_time": 0.2})
    out = capsys.readouterr().out
    assert rc == 0
    line = re.search(
        r"^Offline OPT not proven \(stopped: (\w+)\): best schedule found ([0-9.]+) s, "
        r"proven lower bound ([0-9.]+) s, gap ([0-9.]+)%$",
        out,
        re.MULTILINE,
    )
    assert line is not None, out
    status, best, lower, gap = line[1], float(line[2]), float(line[3]), float(line[4]) / 100
    opt = json.loads((tmp_path / "pipeline-solution.json").read_text())["methods"][-1]
    assert status == opt["status"] == "timelimit" and not opt["exact"]
    assert best == pytest.approx(opt["makespan_s"], abs=1e-6)
    assert lower == pytest.approx(opt["lower_bound_s"], abs=1e-6)
    assert 0 < lower < best and gap > 0
    assert gap == pytest.approx((best - lower) / best, abs=1e-4)
    assert opt["schedule"] and len(opt["schedule"]) == 20  # the best schedule itself is kept


def test_bad_problem_gives_one_clear_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    raw = {"kind": "pipeline", "sample": {"num_jobs": 0}}
    assert solve_command(raw, Path("p.yaml"), [], tmp_path, "table", {}) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: p.yaml: field 'sample.num_jobs'") and "\n" not in err
    raw2 = {
        "kind": "pipeline",
        "devices": [{"name": "edge"}],
        "jobs": [{"local": "edge", "remote": "cloud"}],
    }
    assert solve_command(raw2, Path("p.yaml"), [], tmp_path, "table", {}) == 1
    assert "device 'cloud' is not in 'devices'" in capsys.readouterr().err


def test_pipeline_sample_command(tmp_path: Path) -> None:
    import typer
    from typer.testing import CliRunner

    from harness.cli.pipeline import register

    app = typer.Typer()
    register(app)
    res = CliRunner().invoke(
        app,
        [
            "pipeline",
            "sample",
            "--num-jobs",
            "4",
            "--seed",
            "3",
            "--alpha-min",
            "2",
            "--alpha-max",
            "6",
            "--log-uniform",
            "--comms-uniform",
            "--lower-bound",
            "0.01",
            "--upper-bound",
            "0.03",
            "--time-limit",
            "20",
            "--print-jobs",
            "--heuristic-time",
            "0.3",
            "--out",
            str(tmp_path),
            "--format",
            "json",
        ],
    )
    assert res.exit_code == 0, res.output
    sol = json.loads(res.output)
    assert sol["problem"]["sample"]["comms_uniform"] is True
    assert sol["methods"][-1]["exact"]
