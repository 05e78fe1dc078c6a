"""Docker backend against a real engine: caps the kernel enforces, oom, timeouts, cleanup.

Probes that test the backend's mechanics run tiny stand-in commands inside the real job image
(a CPU spinner, a memory hog, a sleeper); one probe runs the real training workload. With
CI=true a missing engine or image fails these tests; elsewhere they skip and say why.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from harness.backends.base import BackendError, ProbeRequest, seen_cpuset
from harness.backends.docker import (
    LABEL_OWNER,
    LABEL_SESSION,
    DockerBackend,
    available,
    classify,
    container_limits,
    parse_cgroup,
    pick_cpuset,
)
from harness.cores import CoreLedger, CoresRefused
from harness.profile import Caps, Outcome
from harness.spec import load_spec
from tests.factory.docker import containers
from tests.factory.procs import zombie

ROOT = Path(__file__).resolve().parents[1]
CI = os.environ.get("CI") == "true"
SYNTH = {"data": {"source": "synthetic"}}


def _need(reason: str) -> None:
    if CI:
        pytest.fail(f"CI=true: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def engine() -> None:
    if not available(timeout=5):
        _need("no Docker engine answers (start one with .ci/docker.sh)")


@pytest.fixture(scope="module")
def image(engine: None) -> str:
    from harness.images import find_image

    found = find_image("cpu")
    if found is None:
        _need("no harness-job:cpu image (build it with `harness images build`)")
    assert found is not None
    return found


def _left(session: str) -> list[Any]:
    return containers(f"{LABEL_SESSION}={session}")


def _py(code: str) -> list[str]:
    return ["python", "-c", textwrap.dedent(code)]


# ---------------------------------------------------------------- pure parts (no engine)


def test_pick_cpuset_counts_down_from_the_last_core_and_refuses_too_many() -> None:
    assert pick_cpuset(4, 2) == [2, 3]
    assert pick_cpuset(4, 1.5) == [2, 3]
    assert pick_cpuset(4, 1, offset=1) == [2]
    assert pick_cpuset(2, 1, offset=1) == [0]
    with pytest.raises(BackendError, match="has 2"):
        pick_cpuset(2, 3)


def test_limits_cap_cpu_memory_without_swap_and_ask_gpus_by_count_or_id() -> None:
    kw = container_limits(Caps(cpus=1.5, memory_gb=4), [2, 3])
    assert kw["nano_cpus"] == 1_500_000_000 and kw["cpuset_cpus"] == "2,3"
    assert kw["mem_limit"] == kw["memswap_limit"] == 4 * 2**30
    assert kw["shm_size"] == 2 * 2**30 and "device_requests" not in kw
    small = container_limits(Caps(cpus=1, memory_gb=0.5), [0])
    assert small["shm_size"] == 2**29  # never more shared memory than the memory cap
    (by_count,) = container_limits(Caps(cpus=1, gpus=2), [0])["device_requests"]
    assert by_count["Count"] == 2 and by_count["Capabilities"] == [["gpu"]]
    (by_id,) = container_limits(Caps(cpus=1, gpus=2, gpu_ids=[1, 3]), [0])["device_requests"]
    assert by_id["DeviceIDs"] == ["1", "3"]


def test_parse_cgroup_reads_v1_and_v2_counters() -> None:
    assert parse_cgroup("cpu_ns 2500000000\nmem_peak 1048576\n") == (2.5, 1.0)
    assert parse_cgroup("cpu_us 1500000\n") == (1.5, None)
    assert parse_cgroup("garbage\ncpu_ns \n") == (None, None)


def test_classify_prefers_the_engines_oom_flag_over_the_exit_code() -> None:
    assert classify(True, 137, False, [])[0] == Outcome.oom
    assert classify(False, 137, False, [{"type": "error", "message": "MemoryError"}])[0] == (
        Outcome.oom
    )
    assert classify(False, 1, False, [{"type": "error", "message": "boom"}]) == (
        Outcome.crashed,
        "exit 1: boom",
    )
    assert classify(False, None, True, [])[0] == Outcome.timed_out
    assert classify(False, 0, False, [])[0] == Outcome.ok


def test_available_is_false_fast_for_an_engine_that_is_not_there(tmp_path: Path) -> None:
    t0 = time.monotonic()
    assert available(timeout=1, base_url=f"unix://{tmp_path}/none.sock") is False
    assert time.monotonic() - t0 < 5


# ---------------------------------------------------------------- real engine


SPIN = """
import json, multiprocessing as mp, time
req = json.load(open("/probe/request.json"))
def spin(t):
    end = time.time() + t
    while time.time() < end:
        pass
with open(req["records"], "a") as fh:
    fh.write(json.dumps({"type": "meta", "caps": req["caps"]}) + "\\n")
    fh.flush()
    ps = [mp.Process(target=spin, args=(2.5,)) for _ in range(2)]
    [p.start() for p in ps]
    [p.join() for p in ps]
    fh.write(json.dumps({"type": "done"}) + "\\n")
"""


@pytest.mark.docker
def test_one_cpu_cap_bounds_the_measured_cpu_time(image: str, tmp_path: Path) -> None:
    """Two spinning processes under --cpus=1: the container's cgroup CPU time fits one CPU."""
    be = DockerBackend(image, entry=_py(SPIN))
    req = ProbeRequest(spec=SYNTH, caps=Caps(cpus=1), workdir=tmp_path / "p", timeout_s=60)
    run = be.run_probe(req)
    assert run.outcome == Outcome.ok, run.log_tail
    assert run.cpu_time_s is not None and run.cpu_time_s > 0.1
    # 2 busy processes for 2.5 s would use ~5 CPU-s uncapped on 2 cores; capped, at most one
    # CPU's worth of the container's lifetime (plus a little slack for the quota period).
    assert run.cpu_time_s <= run.duration_s * 1.0 * 1.1 + 0.2, (run.cpu_time_s, run.duration_s)
    assert run.enforced is not None
    assert run.enforced.cpu.startswith("docker --cpus=1 --cpuset-cpus=")
    assert run.enforced.cpu_quota == 1 and run.enforced.cpuset and len(run.enforced.cpuset) == 1
    assert run.image == image
    assert not _left(be.session)


@pytest.mark.docker
def test_tiny_memory_cap_ends_as_oom_not_crash(image: str, tmp_path: Path) -> None:
    hog = "b = bytearray(1024 * 2**20)\nprint(len(b))"
    be = DockerBackend(image, entry=_py(hog))
    caps = Caps(cpus=1, memory_gb=0.125)
    run = be.run_probe(ProbeRequest(spec=SYNTH, caps=caps, workdir=tmp_path / "p", timeout_s=60))
    assert run.outcome == Outcome.oom, (run.exit_code, run.reason, run.log_tail)
    assert run.enforced is not None and run.enforced.memory_enforced
    assert run.enforced.memory == "docker --memory=0.125g --memory-swap=0.125g"
    assert run.peak_rss_mb is not None and run.peak_rss_mb <= 0.125 * 1024 + 1
    assert not _left(be.session)


@pytest.mark.docker
def test_timeout_kills_and_removes_the_container(image: str, tmp_path: Path) -> None:
    be = DockerBackend(image, entry=["sleep", "120"])
    req = ProbeRequest(spec=SYNTH, caps=Caps(cpus=0.5), workdir=tmp_path / "p", timeout_s=1.5)
    t0 = time.monotonic()
    run = be.run_probe(req)
    assert run.outcome == Outcome.timed_out
    assert time.monotonic() - t0 < 30
    assert not _left(be.session)


@pytest.mark.docker
def test_crash_reports_exit_code_and_log_tail(image: str, tmp_path: Path) -> None:
    be = DockerBackend(image, entry=_py("import sys; print('boom here', file=sys.stderr); exit(3)"))
    run = be.run_probe(ProbeRequest(spec=SYNTH, caps=Caps(cpus=1), workdir=tmp_path / "p"))
    assert run.outcome == Outcome.crashed and run.exit_code == 3
    assert any("boom here" in ln for ln in run.log_tail)
    assert (tmp_path / "p" / "stderr.log").read_text().count("boom here") == 1


@pytest.mark.docker
def test_records_stream_back_while_the_probe_runs(image: str, tmp_path: Path) -> None:
    code = """
    import json, time
    req = json.load(open("/probe/request.json"))
    fh = open(req["records"], "a")
    fh.write(json.dumps({"type": "batch", "n": 1}) + "\\n"); fh.flush()
    time.sleep(3)
    fh.write(json.dumps({"type": "done"}) + "\\n"); fh.flush()
    """
    be = DockerBackend(image, entry=_py(code))
    seen: list[tuple[float, dict[str, object]]] = []
    run = be.run_probe(
        ProbeRequest(spec=SYNTH, caps=Caps(cpus=1), workdir=tmp_path / "p"),
        on_record=lambda r: seen.append((time.monotonic(), r)),
    )
    end = time.monotonic()
    assert run.outcome == Outcome.ok
    assert [r["type"] for _, r in seen] == ["batch", "done"]
    assert end - seen[0][0] > 2.0  # the first record arrived while the container still ran


@pytest.mark.docker
def test_cpu_cap_above_the_host_is_an_error(image: str, tmp_path: Path) -> None:
    be = DockerBackend(image)
    too_many = Caps(cpus=be.host_cpus() + 1)
    with pytest.raises(BackendError, match="host has"):
        be.run_probe(ProbeRequest(spec=SYNTH, caps=too_many, workdir=tmp_path / "p"))


@pytest.mark.docker
def test_real_training_probe_in_a_container(image: str, tmp_path: Path) -> None:
    """The real workload: JPEG data made once, mounted read-only; records and caps come back."""
    spec = load_spec(ROOT / "tests" / "data" / "docker-tiny.yaml")
    be = DockerBackend(image, data_cache=tmp_path / "data")
    req = ProbeRequest(
        spec=spec.model_dump(mode="json"),
        caps=Caps(cpus=1, memory_gb=2),
        workdir=tmp_path / "p",
        timeout_s=300,
    )
    run = be.run_probe(req)
    assert run.outcome == Outcome.ok, (run.reason, run.log_tail)
    batches = [r for r in run.records if r.get("type") == "batch"]
    assert len([b for b in batches if not b["warmup"]]) == 4
    assert all(b["images_per_s"] > 0 for b in batches)
    assert run.enforced is not None and run.enforced.torch_threads == 1
    assert run.cpu_time_s is not None and run.cpu_time_s > 0
    meta = next(r for r in run.records if r.get("type") == "meta")
    assert meta["dataset"].startswith("/data/")
    assert any(p.name.startswith("jpeg-") for p in (tmp_path / "data").iterdir())
    assert not _left(be.session)


@pytest.mark.docker
def test_a_container_probe_reads_its_own_memory_cgroup_over_the_window(
    image: str, tmp_path: Path
) -> None:
    """The workload reads the container's memory cgroup (the mount is its own: the limit it
    reads is the cap) at the start and end of the measured window, and the probe records the
    interval of its median and why it stopped, as on the local backend."""
    from harness.profile import now
    from harness.sweep import summarise

    spec = load_spec(ROOT / "tests" / "data" / "docker-tiny.yaml").model_dump(mode="json")
    spec["iterations"].update(stop="confidence", max_measured=10)
    be = DockerBackend(image, data_cache=tmp_path / "data")
    caps = Caps(cpus=1, memory_gb=1.5)
    req = ProbeRequest(spec=spec, caps=caps, workdir=tmp_path / "p", timeout_s=300)
    run = be.run_probe(req)
    assert run.outcome == Outcome.ok, (run.reason, run.log_tail)
    probe = summarise(run, caps, "p", "docker", now(), keep_records=False)
    m = probe.memory_counters
    assert m is not None and m.own and m.cgroup.startswith("/sys/fs/cgroup")
    assert m.limit_mb == pytest.approx(1.5 * 2**30 / 1e6)
    assert m.window_s > 0 and m.pgfault is not None and m.pgfault > 0
    assert m.usage_mb_end is not None and m.usage_mb_end > 50
    if m.cpu_user_s is not None and m.cpu_system_s is not None and run.cpu_time_s:
        used = m.cpu_user_s + m.cpu_system_s
        assert used <= m.window_s * 1.1 + 0.05 and used < 0.5 * run.cpu_time_s
    ci = probe.median_ci
    assert ci is not None and ci.mode == "confidence" and ci.stopped in ("target_met", "max_count")
    assert 6 <= ci.n <= 10 and ci.lo is not None and ci.hi is not None and ci.lo <= ci.hi
    assert not _left(be.session)


DRIVER = """
import sys, time
from pathlib import Path
from typing import Any
from harness.backends.base import ProbeRequest
from harness.backends.docker import DockerBackend
from harness.profile import Caps
be = DockerBackend(sys.argv[1], session=sys.argv[2], entry=["sleep", "300"])
try:
    be.run_probe(ProbeRequest(spec={"data": {"source": "synthetic"}}, caps=Caps(cpus=1),
                              workdir=Path(sys.argv[3]), timeout_s=600))
except KeyboardInterrupt:
    be.cleanup()
    sys.exit(130)
"""


def _wait_for_container(session: str, proc: subprocess.Popen[bytes], limit: float) -> None:
    deadline = time.monotonic() + limit
    while not _left(session):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the probe's container never appeared"
        time.sleep(0.3)


@pytest.mark.docker
def test_sigint_to_a_driver_removes_its_container(image: str, tmp_path: Path) -> None:
    session = f"test-{os.getpid()}-{time.monotonic_ns()}"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(
        [sys.executable, "-c", DRIVER, image, session, str(tmp_path / "p")],
        env=env,
        stderr=subprocess.PIPE,
    )
    try:
        _wait_for_container(session, proc, 60)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(30) == 130
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert not _left(session)


@pytest.mark.docker
def test_ctrl_c_to_harness_profile_leaves_no_container(image: str, tmp_path: Path) -> None:
    """SIGINT to `harness profile --backend docker` while a real probe runs."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), HARNESS_DATA=str(tmp_path / "data"))
    out = tmp_path / "prof.json"
    spec = ROOT / "tests" / "data" / "docker-tiny.yaml"
    cmd = [sys.executable, "-m", "harness.cli", "profile", str(spec), "--cpu", "1"]
    cmd += ["--backend", "docker", "--image", image, "--out", str(out)]
    proc = subprocess.Popen(cmd, env=env, cwd=tmp_path, stderr=subprocess.PIPE)

    def mine() -> list[Any]:
        found = containers(LABEL_SESSION)
        return [c for c in found if c.labels[LABEL_SESSION].startswith(f"{proc.pid}-")]

    try:
        deadline = time.monotonic() + 120
        while not [c for c in mine() if c.labels.get("harness.role") == "probe"]:
            assert proc.poll() is None, proc.communicate()[1].decode()[-2000:]
            assert time.monotonic() < deadline, "no probe container appeared"
            time.sleep(0.3)
        proc.send_signal(signal.SIGINT)
        rc = proc.wait(60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert rc == 130, rc
    assert not mine()
    if out.exists():  # whatever was kept is a valid, resumable partial profile
        assert json.loads(out.read_text())["complete"] is False


@pytest.mark.docker
def test_what_a_killed_harness_profile_left_is_removed_by_cleanup(
    image: str, tmp_path: Path
) -> None:
    """SIGKILL (no clean-up can run) to `harness profile --backend docker` while its probe's
    container runs: the container stays, running; `harness cleanup` removes it, and leaves a
    container that a live process owns."""
    import docker

    from harness import owner
    from harness.backends.docker import LABEL_OWNER

    env = dict(os.environ, PYTHONPATH=str(ROOT), HARNESS_DATA=str(tmp_path / "data"))
    spec = ROOT / "tests" / "data" / "docker-tiny.yaml"
    cmd = [sys.executable, "-m", "harness.cli", "profile", str(spec), "--cpu", "1"]
    cmd += ["--backend", "docker", "--image", image, "--out", str(tmp_path / "prof.json")]
    proc = subprocess.Popen(cmd, env=env, cwd=tmp_path, stderr=subprocess.PIPE)
    cli = docker.from_env(timeout=30)
    live = cli.containers.create(
        image, ["sleep", "60"], labels={LABEL_SESSION: "test-live", LABEL_OWNER: owner.me().label()}
    )

    def its() -> list[Any]:
        found = containers(LABEL_SESSION)
        return [c for c in found if c.labels[LABEL_SESSION].startswith(f"{proc.pid}-")]

    try:
        deadline = time.monotonic() + 120
        while not [c for c in its() if c.status == "running"]:
            assert proc.poll() is None, proc.communicate()[1].decode()[-2000:]
            assert time.monotonic() < deadline, "no probe container ran"
            time.sleep(0.3)
        proc.kill()
        proc.wait(30)
        left = its()
        assert left and all(LABEL_OWNER in c.labels for c in left)
        dry = subprocess.run(
            [sys.executable, "-m", "harness.cli", "cleanup", "--dry-run"],
            env=env, capture_output=True, text=True, check=True,
        )  # fmt: skip
        assert all(f"would remove container {c.name}" in dry.stdout for c in left), dry.stdout
        assert its(), "a dry run removed something"
        done = subprocess.run(
            [sys.executable, "-m", "harness.cli", "cleanup"],
            env=env, capture_output=True, text=True, check=True,
        )  # fmt: skip
        assert not its(), done.stdout
        assert f"removed container {left[0].name}" in done.stdout
        live.reload()  # still there: its owner runs
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for c in its() + [live]:
            with contextlib.suppress(Exception):
                c.remove(force=True)


@pytest.mark.docker
def test_interrupted_docker_sweep_resumes_from_its_probes_on_disk(
    image: str, tmp_path: Path
) -> None:
    """SIGINT after the first probe is on disk; --resume keeps it and measures only the rest."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), HARNESS_DATA=str(tmp_path / "data"))
    out = tmp_path / "prof.json"
    spec = ROOT / "tests" / "data" / "docker-tiny.yaml"
    cmd = [sys.executable, "-m", "harness.cli", "profile", str(spec), "--cpu", "2"]
    cmd += ["--backend", "docker", "--image", image, "--out", str(out)]
    proc = subprocess.Popen(cmd, env=env, cwd=tmp_path, stderr=subprocess.PIPE)

    def probes() -> list[dict[str, Any]]:
        try:
            return list(json.loads(out.read_text())["train"]["probes"])
        except (OSError, ValueError, KeyError, TypeError):
            return []

    try:
        deadline = time.monotonic() + 240
        while not probes():
            assert proc.poll() is None, proc.communicate()[1].decode()[-2000:]
            assert time.monotonic() < deadline, "no probe reached the profile"
            time.sleep(0.3)
        proc.send_signal(signal.SIGINT)
        proc.wait(60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    first = probes()
    partial = json.loads(out.read_text())
    if partial["complete"]:
        pytest.fail("the sweep finished before the interrupt; nothing to resume")
    done = subprocess.run(cmd + ["--resume"], env=env, cwd=tmp_path, capture_output=True)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    final = json.loads(out.read_text())
    assert final["complete"] is True
    kept = {p["id"]: p["started"] for p in final["train"]["probes"]}
    for p in first:  # probes on disk before the interrupt were kept, not measured again
        assert kept[p["id"]] == p["started"]
    assert len(kept) > len(first)
    assert all(p["backend"] == "docker" and p["image"] == image for p in final["train"]["probes"])


@pytest.mark.docker
def test_memory_sweep_adds_a_cpus_by_memory_matrix_of_capped_containers(
    image: str, tmp_path: Path
) -> None:
    """--memory-sweep: every cell is a probe in a container whose memory cap the kernel held."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), HARNESS_DATA=str(tmp_path / "data"))
    out = tmp_path / "prof.json"
    spec = ROOT / "tests" / "data" / "docker-tiny.yaml"
    cmd = [sys.executable, "-m", "harness.cli", "profile", str(spec), "--cpu", "1"]
    cmd += ["--memory-sweep", "0.75,1.5", "--backend", "docker", "--image", image]
    cmd += ["--out", str(out)]
    proc = subprocess.Popen(cmd, env=env, cwd=tmp_path, stderr=subprocess.PIPE)
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err.decode()[-2000:]
    train = json.loads(out.read_text())["train"]
    cells = {(c["cpus"], c["memory_gb"]): c for c in train["memory_axis"]}
    assert set(cells) == {(1.0, 0.75), (1.0, 1.5)}
    probes = {p["id"]: p for p in train["probes"]}
    for (_, mem), cell in cells.items():
        probe = probes[cell["probe_id"]]
        assert cell["outcome"] == "ok" and cell["throughput"] > 0
        assert probe["caps"]["memory_gb"] == mem and probe["backend"] == "docker"
        assert probe["enforced"]["memory_enforced"] is True
    left = containers(LABEL_SESSION)
    assert not [c for c in left if c.labels[LABEL_SESSION].startswith(f"{proc.pid}-")]


# ---------------------------------------------------------------- cores of its own


@pytest.fixture
def holder(image: str) -> Any:
    """A running harness container (another session's probe) on every core of the host."""
    import docker

    cli = docker.from_env(timeout=60)
    n = int(cli.info()["NCPU"])
    c = cli.containers.run(
        image,
        ["sleep", "300"],
        detach=True,
        name=f"harness-test-holder-{os.getpid()}",
        labels={LABEL_SESSION: f"test-holder-{os.getpid()}"},
        cpuset_cpus=f"0-{n - 1}",
        network_mode="none",
    )
    yield c
    c.remove(force=True)


@pytest.mark.docker
def test_a_probe_is_refused_the_cores_a_running_harness_container_holds(
    image: str, holder: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HARNESS_CORES_WAIT_S", "1")  # the holder outlives the wait
    be = DockerBackend(image, entry=["true"], ledger=CoreLedger(tmp_path / "cores"))
    req = ProbeRequest(spec=SYNTH, caps=Caps(cpus=1), workdir=tmp_path / "p")
    with pytest.raises(CoresRefused) as exc:
        be.run_probe(req)
    msg = str(exc.value)
    assert "\n" not in msg and msg.startswith("--cpu 1: 1 CPUs need 1 cores of their own")
    assert "in use by " in msg and f"container {holder.name}" in msg  # (and others then)
    assert "--allow-oversubscribe" in msg
    assert not _left(be.session)


@pytest.mark.docker
def test_a_container_whose_maker_was_killed_holds_no_cores_and_is_removed(
    image: str, tmp_path: Path
) -> None:
    """Its maker killed and not yet collected by its parent (a zombie): the running container
    holds cores for nobody, so the next probe's core accounting removes it instead of waiting."""
    import docker

    from harness import owner

    cli = docker.from_env(timeout=60)
    n = int(cli.info()["NCPU"])
    be = DockerBackend(image, entry=["true"], ledger=CoreLedger(tmp_path / "cores"))
    with zombie() as (pid, start):
        maker = dataclasses.replace(owner.me(), pid=pid, start=start)
        c = cli.containers.run(
            image,
            ["sleep", "300"],
            detach=True,
            labels={LABEL_SESSION: f"test-orphan-{os.getpid()}", LABEL_OWNER: maker.label()},
            cpuset_cpus=f"0-{n - 1}",
            network_mode="none",
        )
        try:  # made after the backend started (and reaped what it found then)
            assert f"container {c.name}" not in str(be.engine_busy())
            assert not containers(f"{LABEL_SESSION}=test-orphan-{os.getpid()}")
        finally:
            with contextlib.suppress(docker.errors.NotFound):
                c.remove(force=True)


@pytest.mark.docker
def test_an_oversubscribed_probe_records_the_cores_it_shared_as_read_inside(
    image: str, holder: Any, tmp_path: Path
) -> None:
    """The real workload reads its cores itself (the `grant` record): that is what the probe
    records, and the cores it shared with the holder."""
    spec = load_spec(ROOT / "jobs" / "tiny-train.yaml").model_dump(mode="json")
    spec["data"] = {"source": "synthetic", "num_samples": 16}
    be = DockerBackend(image, allow_oversubscribe=True, ledger=CoreLedger(tmp_path / "cores"))
    req = ProbeRequest(
        spec=spec,
        caps=Caps(cpus=1),
        workdir=tmp_path / "p",
        timeout_s=300,
        overrides={"max_iterations": 2},
    )
    run = be.run_probe(req)
    assert run.outcome == Outcome.ok, (run.reason, run.log_tail)
    seen = seen_cpuset(run.records)  # the grant record's affinity, read inside the probe
    assert run.enforced is not None and seen == run.enforced.cpuset
    shares = [s for s in run.shared_cores if f"container {holder.name}" in s.by]
    assert len(shares) == 1 and shares[0].cores == seen
    assert f"probe p (pid {os.getpid()})" in shares[0].by
    assert not _left(be.session)
