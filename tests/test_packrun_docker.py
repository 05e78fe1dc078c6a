"""A packing decision run for real: two co-located tiny training jobs in their containers on
disjoint cores, then each alone; and a decision whose containers would share cores refused
before any container starts. With CI=true a missing engine or image fails these tests;
elsewhere they skip and say why."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from harness.backends.docker import LABEL_SESSION
from tests.factory.docker import containers, job_image
from tests.factory.packing import tiny_packing_solution

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def image() -> str:
    return job_image()


def _cli(args: list[str], timeout: float = 600) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    cmd = [sys.executable, "-m", "harness.cli", "validate-decision", *args]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)


def _containers() -> list[Any]:
    return containers(LABEL_SESSION)


def _ours() -> list[Any]:
    """Containers of packing validations (other harness containers may come and go)."""
    return [c for c in _containers() if "-together-" in c.name or "-alone-" in c.name]


@pytest.mark.docker
def test_two_co_located_jobs_run_together_and_alone(image: str, tmp_path: Path) -> None:
    sol = tiny_packing_solution(tmp_path)
    out = tmp_path / "validation.json"
    args = [str(sol), "--batches", "3", "--warmup", "1", "--image", image, "--out", str(out)]
    p = _cli([*args, "--workdir", str(tmp_path / "work")])
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    assert "predicted vs measured images/s" in p.stdout and "slowdown" in p.stdout
    v = json.loads(out.read_text())
    assert v["kind"] == "packing-validation" and v["ok"] is True and v["server"] == "here-0"
    jobs = v["jobs"]
    assert [j["job"] for j in jobs] == ["tiny0", "tiny1"]
    # disjoint cores together, one each on this 2-core host (the ledger's)
    assert len({c for j in jobs for c in j["cpuset_together"]}) == 2
    for j in jobs:
        assert j["cpus"] == 1.0 and j["memory_gb"] == 4.0 and j["gpus"] == 0
        assert j["measured_together"] > 0 and j["measured_alone"] > 0
        assert j["slowdown"] == pytest.approx(j["measured_together"] / j["measured_alone"])
        assert j["error"] is not None
    assert 0 < v["interference_measured"] <= 1 and "interference:" in v["problem_line"]
    assert v["interference_used"] is None and not v["shared_cores"]
    assert any("GPUs not available" in n for n in v["notes"])
    assert not _ours()


@pytest.mark.docker
def test_a_decision_whose_containers_would_share_cores_is_flagged_first(
    image: str, tmp_path: Path
) -> None:
    # two jobs of as many CPUs as the host has cores
    sol = tiny_packing_solution(tmp_path, server_cpus=2.0 * (os.cpu_count() or 1))
    before = {c.id for c in _ours()}
    work = tmp_path / "work"
    p = _cli([str(sol), "--image", image, "--workdir", str(work)], timeout=120)
    assert p.returncode == 2, p.stdout + p.stderr
    lines = [ln for ln in p.stderr.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1 and "would share cores" in lines[0], p.stderr
    assert "--allow-oversubscribe" in lines[0]
    assert not work.exists() and {c.id for c in _ours()} <= before  # nothing started
