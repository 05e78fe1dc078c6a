"""Split runs across two real containers on a shaped Docker network.

resnet18 on 64x64 JPEG inputs (decoded by the worker, as profiles do) is split after its
layer1.0 block: the edge (1 CPU, its own core) computes the stem and the first block, sends
the activation over TCP, the server (1 CPU, the other core) computes the rest and returns the
logits. Checked: the output equals the whole model's, the latency follows the shaped bandwidth,
the CLI validates a solver's decision end to end, and nothing is left behind (also on Ctrl-C).
With CI=true a missing engine or image fails these tests; elsewhere they skip and say why.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from harness.backends.docker import LABEL_SESSION
from harness.profile import save_profile
from harness.runsplit.orchestrate import Session, run_session
from harness.runsplit.plan import LinkSetting, ModelRef, Phase, PlanSpec, Segment
from harness.runsplit.summary import summarise
from harness.spec import JobSpec
from tests.factory.docker import containers, job_image
from tests.factory.infer_profiles import make_infer_profile

ROOT = Path(__file__).resolve().parents[1]
SPEC = JobSpec.model_validate(
    {
        "name": "split-res18-64",
        "kind": "infer",
        "model": "resnet18",
        "input_shape": [3, 64, 64],
        "num_classes": 10,
        "data": {"source": "jpeg", "num_samples": 8, "stored_size": [72, 72]},
        "infer": {"batch_sizes": [1], "samples": 4},
    }
)
CUT = 2  # after layer1.0: 64 x 16 x 16 fp32 = 65536 bytes cross the link
CUT_BYTES = 64 * 16 * 16 * 4


@pytest.fixture(scope="module")
def image() -> str:
    return job_image()


def _tc_expected() -> bool:
    """Root, tc, and dockerd running on this machine (so its veths are ours to shape)."""
    if os.geteuid() != 0 or shutil.which("tc") is None:
        return False
    for comm in Path("/proc").glob("[0-9]*/comm"):
        try:
            if comm.read_text().strip() == "dockerd":
                return True
        except OSError:
            continue
    return False


def _docker() -> Any:
    import docker

    return docker.from_env(timeout=30)


def _left(session: str) -> tuple[list[Any], list[Any]]:
    cli = _docker()
    flt = {"label": f"{LABEL_SESSION}={session}"}
    return containers(flt["label"]), list(cli.networks.list(filters=flt))


@pytest.mark.docker
def test_split_resnet18_across_two_containers_on_a_shaped_link(image: str, tmp_path: Path) -> None:
    ref = ModelRef(key="resnet18", spec=SPEC.model_dump(mode="json"), n_layers=10)
    plan = PlanSpec(
        name=f"cut {CUT}",
        model="resnet18",
        segments=[
            Segment(role="edge", start=0, end=CUT),
            Segment(role="server", start=CUT, end=10),
        ],
    )
    fast = LinkSetting(up_mbps=200, down_mbps=200, latency_ms=2)
    slow = LinkSetting(up_mbps=5, down_mbps=5, latency_ms=2)
    session = Session(
        models=[ref],
        phases=[
            Phase(name="fast", link=fast, plan=plan, requests=4, warmup=1),
            Phase(name="slow", link=slow, plan=plan, requests=4, warmup=1),
        ],
    )
    run = run_session(session, tmp_path / "work", image=image, timeout_s=300)
    res = summarise(session, run, "test")
    assert res.ok, (res.error, [c.log_tail for c in res.containers])
    edge, server = res.containers
    assert (edge.cpus, server.cpus) == (1.0, 1.0)
    assert not set(edge.cpuset) & set(server.cpuset)  # two cores, one each
    assert edge.threads == 1 and server.threads == 1
    assert res.host_load is not None and min(res.host_load) >= 0  # how busy the host was
    hi, lo = res.phases
    for ph in (hi, lo):
        assert ph.outputs_match is True and ph.max_abs_diff is not None
        assert ph.max_abs_diff < 1e-4
        assert ph.inputs.startswith("jpeg:")
        assert ph.shaping in ("tc", "token-bucket")
        assert ph.latency is not None and ph.latency.n == 4
        assert ph.stages is not None and ph.stages.server_compute_s > 0
    if _tc_expected():
        assert hi.shaping == "tc", hi.shaping_detail  # root beside the engine: tbf on the veths
    else:
        assert hi.shaping == "tc" or "tc not usable" in hi.shaping_detail
    assert hi.latency is not None and lo.latency is not None
    assert hi.stages is not None and lo.stages is not None
    gap = CUT_BYTES * 8 * (1 / 5e6 - 1 / 200e6)  # ~103 ms more at 5 Mbit/s
    assert lo.stages.transfer_s - hi.stages.transfer_s > 0.7 * gap
    assert lo.latency.median - hi.latency.median > 0.5 * gap  # compute noise on a busy host
    assert lo.stages.transfer_s < 2.0 * (gap + 0.01)  # and not wildly slower than the rate
    assert run.network is not None
    kept, networks = _left(run.network.removeprefix("harness-split-"))
    assert kept == [] and networks == []


def _solution(tmp_path: Path) -> Path:
    """A split decision on profiles shaped like resnet18's chain (10 layers) for SPEC."""
    from solver.problem import SolveOptions
    from solver.profiles import ProfileSet
    from solver.split import SplitProblem, solve

    paths = []
    for name, speed, cpus in (("edge", 1.0, 1.0), ("server", 3.0, 1.0)):
        prof = make_infer_profile(
            device_name=name, model="resnet18", n_layers=10, speed=speed, cpus=cpus
        )
        prof = prof.model_copy(update={"job": SPEC})
        p = tmp_path / f"{name}.json"
        save_profile(prof, p)
        paths.append(p)
    raw = {
        "kind": "split",
        "name": "dock",
        "devices": [{"name": "edge"}, {"name": "server"}],
        "links": [{"src": "edge", "dst": "server", "bandwidth_up_mbps": 50, "latency_ms": 2}],
        "pins": {"input": "edge"},
        "front": {"enabled": False},
    }
    sol = solve(SplitProblem.model_validate(raw), ProfileSet.from_paths(paths), SolveOptions())
    assert sol.summary().ok
    path = tmp_path / "sol" / "dock-split-solution.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(sol.model_dump_json(indent=1))
    return path


@pytest.mark.docker
def test_validate_decision_cli_runs_choice_and_baselines(image: str, tmp_path: Path) -> None:
    sol = _solution(tmp_path)
    out = tmp_path / "validation.json"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    cmd = [
        sys.executable,
        "-m",
        "harness.cli",
        "validate-decision",
        str(sol),
        "--requests",
        "3",
        "--warmup",
        "1",
        "--no-throughput",
        "--image",
        image,
        "--out",
        str(out),
        "--workdir",
        str(tmp_path / "work"),
    ]
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=400)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    assert "predicted vs measured" in p.stdout
    v = json.loads(out.read_text())
    plans = [r["plan"] for r in v["rows"]]
    assert plans[0] == "chosen" and "all on edge" in plans and "all on server" in plans
    for r in v["rows"]:
        assert r["measured_latency_s"] > 0 and r["latency_error"] is not None
        assert r["outputs_match"] is True
    assert v["run"]["ok"] is True and v["median_abs_latency_error"] is not None


@pytest.mark.docker
def test_ctrl_c_removes_both_containers_and_the_network(image: str, tmp_path: Path) -> None:
    sol = _solution(tmp_path)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    cmd = [
        sys.executable,
        "-m",
        "harness.cli",
        "run-split",
        str(sol),
        "--requests",
        "500",
        "--image",
        image,
        "--workdir",
        str(tmp_path / "work"),
    ]
    started = time.time()
    proc = subprocess.Popen(cmd, env=env, stderr=subprocess.PIPE, stdout=subprocess.PIPE)
    session = None
    try:
        deadline = time.monotonic() + 120
        while session is None:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the split containers never appeared"
            for c in containers("harness.role=split-edge"):
                created = c.attrs.get("Created", "")
                if c.labels.get(LABEL_SESSION) and created and _after(created, started):
                    session = c.labels[LABEL_SESSION]
            time.sleep(0.3)
        time.sleep(3)  # into the run proper
        proc.send_signal(signal.SIGINT)
        assert proc.wait(60) == 130
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    kept, networks = _left(session)
    assert kept == [] and networks == []


def _after(created: str, t: float) -> bool:
    from datetime import datetime

    stamp = datetime.fromisoformat(created[:26].rstrip("Z") + "+00:00")
    return stamp.timestamp() >= t - 2


@pytest.mark.docker
def test_validate_decision_measures_the_pipeline_makespan(image: str, tmp_path: Path) -> None:
    from solver.pipeline import PipelineProblem, solve
    from solver.problem import SolveOptions
    from solver.profiles import ProfileSet

    paths = []
    for name, speed in (("edge", 1.0), ("server", 3.0)):
        prof = make_infer_profile(device_name=name, model="resnet18", n_layers=10, speed=speed)
        p = tmp_path / f"{name}.json"
        save_profile(prof.model_copy(update={"job": SPEC}), p)
        paths.append(p)
    raw = {
        "kind": "pipeline",
        "time_limit_s": 5,
        "heuristic_time_s": 0.2,
        "devices": [
            {"name": "edge", "profiles": [str(paths[0])]},
            {"name": "server", "profiles": [str(paths[1])]},
        ],
        "links": [{"src": "edge", "dst": "server", "bandwidth_up_mbps": 50, "latency_ms": 2}],
        "jobs": [{"name": "cam", "count": 4, "local": "edge", "remote": "server"}],
    }
    sol = solve(PipelineProblem.model_validate(raw), ProfileSet(base_dir=tmp_path), SolveOptions())
    assert sol.summary().ok
    solution = tmp_path / "sol" / "pipeline-pipeline-solution.json"
    solution.parent.mkdir(parents=True, exist_ok=True)
    solution.write_text(sol.model_dump_json(indent=1))
    out = tmp_path / "validation.json"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    cmd = [
        sys.executable,
        "-m",
        "harness.cli",
        "validate-decision",
        str(solution),
        "--repeats",
        "2",
        "--image",
        image,
        "--out",
        str(out),
        "--workdir",
        str(tmp_path / "work"),
    ]
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=400)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    assert "predicted vs measured makespan" in p.stdout
    v = json.loads(out.read_text())
    assert v["decision"] == "pipeline" and v["rows"] == []
    methods = [m["method"] for m in v["makespans"]]
    assert methods[-1].startswith("Offline OPT")
    for m in v["makespans"]:
        assert m["jobs"] == 4 and m["repeats"] == 2 and m["measured_makespan_s"] > 0
        assert m["outputs_match"] is True
    assert v["median_abs_makespan_error"] is not None


@pytest.mark.docker
def test_a_crashed_worker_is_a_recorded_outcome(image: str, tmp_path: Path) -> None:
    ref = ModelRef(key="resnet18", spec=SPEC.model_dump(mode="json"), n_layers=11)  # wrong
    plan = PlanSpec(name="all", model="resnet18", segments=[Segment(role="edge", start=0, end=11)])
    link = LinkSetting(up_mbps=50, down_mbps=50)
    session = Session(models=[ref], phases=[Phase(name="p", link=link, plan=plan, requests=1)])
    run = run_session(session, tmp_path / "work", image=image, timeout_s=120)
    res = summarise(session, run, "test")
    assert not res.ok
    edge = res.containers[0]
    assert edge.outcome == "crashed" and edge.exit_code == 1
    assert any("11 layers" in ln for ln in edge.log_tail), edge.log_tail
    assert res.error is not None and res.error.startswith("edge container crashed: exit 1")
    assert res.phases[0].requests == 0
    assert run.network is not None
    kept, networks = _left(run.network.removeprefix("harness-split-"))
    assert kept == [] and networks == []
