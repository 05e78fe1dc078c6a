"""The Slurm backend against a real cluster (.ci/slurm.sh): probes as jobs, the grant read
inside them is Slurm's cgroup, OOM and time limits end as recorded outcomes, Ctrl-C leaves no
job in the queue, two specs run at once, two node types, two nodes. Tiny jobs, few probes."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.backends.base import ProbeRun
from harness.profile import Caps, Outcome, Profile, load_profile
from tests.factory.slurm import ROOT, cli_env, need_cluster, tiny_request

pytestmark = pytest.mark.slurm
TINY = ROOT / "jobs" / "tiny-train.yaml"
DOCKER_TINY = ROOT / "tests" / "data" / "docker-tiny.yaml"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The cluster answers; yields the id of a job that sleeps past Slurm's own time limit
    (--time=1, on n2: one core of no work), submitted first so that the minute or so Slurm
    takes to end it passes while the other tests run (the last test reads how it ended)."""
    need_cluster()
    from harness.slurm import commands

    folder = tmp_path_factory.mktemp("slurm-timeout")
    script = folder / "sleep.sh"
    script.write_text("#!/bin/bash\nsleep 600\n")
    args = ["--time=1", "--partition=b", "--cpus-per-task=1", "--mem=64M", "--no-requeue"]
    args += [f"--output={folder / 'out.log'}", "--job-name=harness-test-timeout"]
    job = commands.submit(str(script), args)
    yield job
    commands.cancel([job])


def _profile(args: list[str], timeout: float = 600) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "harness.cli", "profile", *args, "--backend", "slurm"]
    return subprocess.run(
        cmd, capture_output=True, text=True, env=cli_env(), cwd=ROOT, timeout=timeout
    )


@pytest.fixture(scope="module")
def two_specs(
    cluster: str, tmp_path_factory: pytest.TempPathFactory, data_dir: Path
) -> tuple[Profile, Profile, float]:
    """Two specs profiled at once, at 2 and 1 CPUs under a 1 GB cap (one command)."""
    out = tmp_path_factory.mktemp("fleet")
    t0 = time.monotonic()
    r = _profile(
        [str(TINY), str(DOCKER_TINY), "--cpu", "2", "--memory", "1", "--out", str(out),
         "--data-dir", str(data_dir)]
    )  # fmt: skip
    assert r.returncode == 0, r.stderr[-3000:]
    assert "2 sweep(s), 4 probe(s)" in r.stderr, r.stderr[-2000:]
    a = load_profile(out / "tiny-train-slurm.json")
    b = load_profile(out / "docker-tiny-slurm.json")
    return a, b, time.monotonic() - t0


def test_probes_at_one_and_two_cpus_hold_slurms_cgroup_grant(
    two_specs: tuple[Profile, Profile, float],
) -> None:
    for prof in two_specs[:2]:
        assert prof.complete and prof.backend == "slurm"
        assert prof.train is not None
        probes = {p.caps.cpus: p for p in prof.train.probes}
        assert set(probes) == {1, 2}
        for cpus, p in probes.items():
            assert p.outcome == Outcome.ok, p.reason
            g = p.granted
            assert g is not None and g.slurm_job is not None
            # read inside the probe: the batch step's cgroups, made by Slurm's task/cgroup
            assert g.cpuset is not None and len(g.cpuset) == cpus, g
            assert "/slurm" in (g.cpuset_cgroup or "") and f"job_{g.slurm_job}" in (
                g.cpuset_cgroup or ""
            )
            assert g.memory_limit_bytes == 2**30, g
            assert "/slurm" in (g.memory_cgroup or "")
            assert p.enforced is not None and p.enforced.memory_enforced
            assert p.enforced.cpuset == g.cpuset and p.enforced.torch_threads == cpus


def test_two_specs_ran_side_by_side(two_specs: tuple[Profile, Profile, float]) -> None:
    a, b, _ = two_specs
    assert a.train is not None and b.train is not None
    spans = [
        (p.granted.at, p.granted.at + p.duration_s)
        for prof in (a, b)
        for p in prof.train.probes  # type: ignore[union-attr]
        if p.granted is not None and p.granted.at is not None
    ]
    assert len(spans) == 4
    overlapping = sum(
        1 for i, x in enumerate(spans) for y in spans[i + 1 :] if x[0] < y[1] and y[0] < x[1]
    )
    assert overlapping >= 1, spans  # at least two probes of the two jobs ran at once
    one_cpu = [p for prof in (a, b) for p in prof.train.probes if p.caps.cpus == 1]  # type: ignore[union-attr]
    cores = [tuple(p.granted.cpuset or []) for p in one_cpu if p.granted is not None]
    if len(set(cores)) == 1:  # the same core for both: they must not have run at once
        (x, y) = [(p.granted.at, p.granted.at + p.duration_s) for p in one_cpu]  # type: ignore[union-attr,operator]
        assert not (x[0] < y[1] and y[0] < x[1]), "two probes on one node shared a core"


def test_oom_and_time_limit_end_as_recorded_outcomes(
    cluster: str, tmp_path: Path, data_dir: Path
) -> None:
    from harness.backends.slurm import SlurmBackend

    backend = SlurmBackend()
    runs: dict[str, ProbeRun] = {}

    def go(key: str, caps: Caps, timeout: float, **changes: Any) -> None:
        req = tiny_request(tmp_path / key, data_dir, caps, timeout, **changes)
        runs[key] = backend.run_probe(req)

    # the slow one cannot end by itself inside its 3 s on any machine: a count, not a speed
    endless = {"iterations": {"warmup": 1, "measured": 1_000_000}}
    threads = [
        threading.Thread(target=go, args=("oom", Caps(cpus=1, memory_gb=0.12), 300)),
        threading.Thread(target=go, args=("time", Caps(cpus=1, memory_gb=1), 3), kwargs=endless),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    oom, slow = runs["oom"], runs["time"]
    assert oom.outcome == Outcome.oom, (oom.reason, oom.log_tail)
    assert "Slurm's cgroup OOM killer" in (oom.reason or "") or "MemoryError" in (oom.reason or "")
    assert oom.enforced is not None and oom.enforced.memory_enforced
    assert slow.outcome == Outcome.timed_out, (slow.reason, slow.log_tail)
    assert "cancelled" in (slow.reason or "")
    assert (slow.container or "").startswith("slurm job ")


def _queue(prefix: str) -> list[str]:
    out = subprocess.run(
        ["squeue", "-h", "-o", "%j"], capture_output=True, text=True, check=True
    ).stdout
    return [n for n in out.split() if n.startswith(prefix)]


def test_ctrl_c_cancels_the_sweeps_jobs_and_resume_finishes_it(
    cluster: str, tmp_path: Path, data_dir: Path
) -> None:
    out = tmp_path / "p.json"
    args = [str(TINY), "--cpu", "1", "--out", str(out), "--data-dir", str(data_dir)]
    cmd = [sys.executable, "-m", "harness.cli", "profile", *args, "--backend", "slurm"]
    proc = subprocess.Popen(
        cmd, env=cli_env(), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    prefix = f"harness-{proc.pid}-"
    try:
        for _ in range(120):
            if _queue(prefix):
                break
            time.sleep(0.5)
        assert _queue(prefix), "the sweep submitted no job"
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, err[-2000:]
    assert "continue with --resume" in err
    assert _queue(prefix) == []  # nothing of it left in the queue
    kept = json.loads(out.read_text())
    assert kept["complete"] is False and kept["train"]["probes"] == []
    r = _profile([*args, "--resume"])
    assert r.returncode == 0, r.stderr[-2000:]
    assert load_profile(out).complete


def test_the_jobs_of_a_killed_sweep_are_cancelled_by_the_next_backend(
    cluster: str, tmp_path: Path, data_dir: Path
) -> None:
    """SIGKILL to `harness profile --backend slurm` (no handler runs): its job stays in the
    queue, naming its owner; `harness cleanup --dry-run` lists it, and the next SlurmBackend
    cancels it. The module's own sleeping job (it names no owner) is left alone."""
    from harness.backends.slurm import OWNER_TAG, SlurmBackend
    from harness.slurm import commands

    args = [str(TINY), "--cpu", "1", "--out", str(tmp_path / "p.json")]
    cmd = [sys.executable, "-m", "harness.cli", "profile", *args, "--backend", "slurm"]
    cmd += ["--data-dir", str(data_dir)]
    proc = subprocess.Popen(cmd, env=cli_env(), cwd=ROOT, stderr=subprocess.DEVNULL)
    prefix = f"harness-{proc.pid}-"

    def its() -> dict[str, str]:
        return {j: c for j, name, c in commands.my_jobs() if name.startswith(prefix)}

    try:
        for _ in range(120):
            if its():
                break
            time.sleep(0.5)
        assert its(), "the sweep submitted no job"
        proc.kill()
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    left = its()
    assert left and all(c.startswith(OWNER_TAG) for c in left.values()), left
    dry = subprocess.run(
        [sys.executable, "-m", "harness.cli", "cleanup", "--dry-run"],
        env=cli_env(), cwd=ROOT, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert all(f"would remove job {j} " in dry.stdout for j in left), dry.stdout
    backend = SlurmBackend()
    reaped = {r.split(" ")[1] for r in backend.reaped}
    assert set(left) <= reaped and cluster not in reaped
    for _ in range(60):
        if not its():
            break
        time.sleep(0.5)
    assert its() == {}


def test_two_partitions_are_two_node_types_one_profile_each(
    cluster: str, tmp_path: Path, data_dir: Path
) -> None:
    r = _profile(
        [str(TINY), "--cpu", "1", "--memory", "1", "--partition", "a,b", "--out", str(tmp_path),
         "--data-dir", str(data_dir)]
    )  # fmt: skip
    assert r.returncode == 0, r.stderr[-2000:]
    for part, node in (("a", "n1"), ("b", "n2")):
        prof = load_profile(tmp_path / f"tiny-train-slurm-{part}.json")
        assert prof.host.node_label == part and prof.train is not None
        (p,) = prof.train.probes
        assert p.outcome == Outcome.ok and p.granted is not None and p.granted.node == node


def test_two_nodes_one_torchrun_node_each_rendezvous_from_the_allocation(
    cluster: str, tmp_path: Path, data_dir: Path
) -> None:
    out = tmp_path / "two.json"
    r = _profile(
        [str(DOCKER_TINY), "--nnodes", "2", "--cpu", "1", "--memory", "1", "--partition", "two",
         "--out", str(out), "--data-dir", str(data_dir)]
    )  # fmt: skip
    assert r.returncode == 0, r.stderr[-3000:]
    prof = load_profile(out)
    assert prof.train is not None and prof.train.nnodes == 2
    (p,) = prof.train.probes
    assert p.outcome == Outcome.ok and [n.host for n in p.nodes] == ["n1", "n2"]
    assert all(n.throughput is not None for n in p.nodes) and p.throughput is not None
    # n1 and n2 are one machine here, each handing out cores as if it had the host to itself:
    # where the cores each node read inside itself overlap, the profile says so as every
    # backend does (shared_cores); where they do not, it says nothing
    seen = [set(n.cpuset or []) for n in p.nodes]
    assert all(seen), "each node reads its cores inside itself"
    both = [s for s in p.shared_cores if {"node0", "node1"} <= set(s.by)]
    overlap = seen[0] & seen[1]
    assert {c for s in both for c in s.cores} == overlap


def test_slurms_own_time_limit_ends_as_timed_out(cluster: str) -> None:
    """The job submitted with --time=1 (see `cluster`): Slurm ends it TIMEOUT, read back with
    scontrol and mapped to `timed_out` (the harness's own limit is tested above)."""
    from harness.slurm import commands
    from harness.slurm.outcome import classify

    st = None
    for _ in range(300):  # Slurm checks time limits about every 30 s, after a whole minute
        st = commands.job_state(cluster)
        if st is not None and st.done:
            break
        time.sleep(1)
    assert st is not None and st.state == "TIMEOUT", st
    outcome, reason = classify(st, [])
    assert outcome == Outcome.timed_out and "time limit (TIMEOUT) on n2" in (reason or "")
