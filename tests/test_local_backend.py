"""The local backend against real probes: caps enforced, every way a probe can end recorded."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import pytest

from harness.backends.base import BackendError, ProbeRequest, read_records, seen_cpuset
from harness.backends.local import (
    PREFIX,
    V1_CONTROLLERS,
    LocalBackend,
    classify,
    pick_cpuset,
    visible_devices,
)
from harness.cores import CoreLedger, CoresRefused
from harness.profile import Caps, Outcome
from harness.spec import load_spec
from tests.factory.cores import other_probe_holding

ROOT = Path(__file__).resolve().parents[1]


def _leftover_cgroups(backend: LocalBackend) -> list[Path]:
    """This run's probe cgroups still there (other test runs may hold theirs meanwhile)."""
    h = backend.host
    bases = [h.base] if h.version == 2 else [h.root / c for c in V1_CONTROLLERS]
    return [d for b in bases for d in b.glob(f"{PREFIX}{os.getpid()}-*")]


def _request(tmp_path: Path, data_dir: Path, caps: Caps, **spec_changes: object) -> ProbeRequest:
    spec = load_spec(ROOT / "jobs" / "tiny-train.yaml").model_dump(mode="json")
    spec.update(spec_changes)
    return ProbeRequest(spec=spec, caps=caps, workdir=tmp_path / "probe", data_dir=data_dir)


def test_one_cpu_probe_fits_its_cap(tmp_path: Path, data_dir: Path) -> None:
    backend = LocalBackend()
    seen: list[str] = []
    run = backend.run_probe(
        _request(tmp_path, data_dir, Caps(cpus=1)), on_record=lambda r: seen.append(r["type"])
    )
    assert run.outcome == Outcome.ok, run.log_tail
    assert run.enforced is not None and run.enforced.cpuset and len(run.enforced.cpuset) == 1
    assert run.enforced.torch_threads == 1
    batches = [r for r in run.records if r["type"] == "batch"]
    assert len(batches) >= 4 and all(r["images_per_s"] > 0 for r in batches)
    assert seen == [r["type"] for r in run.records]  # streamed as they came
    if run.cpu_time_s is not None:  # cpuacct writable: CPU time must fit one CPU
        assert run.cpu_time_s <= run.duration_s * 1.05 + 0.5
    if backend.cg_cpuset:  # says which cgroup interface capped it
        assert run.enforced.cpu.startswith(f"{backend.host.label} cpuset("), run.enforced.cpu
    assert "could not join" not in run.enforced.cpu
    assert not _leftover_cgroups(backend)


def test_tiny_memory_cap_ends_as_oom(tmp_path: Path, data_dir: Path) -> None:
    backend = LocalBackend()
    if not backend.cg_mem:
        pytest.fail("no writable memory cgroup: the local backend cannot cap memory here")
    run = backend.run_probe(_request(tmp_path, data_dir, Caps(cpus=1, memory_gb=0.12)))
    assert run.outcome == Outcome.oom, (run.outcome, run.reason, run.log_tail)
    assert run.enforced is not None and run.enforced.memory_enforced
    assert (run.enforced.memory or "").startswith(backend.host.label)
    assert not _leftover_cgroups(backend)


def test_crash_records_exit_code_and_log_tail(tmp_path: Path, data_dir: Path) -> None:
    run = LocalBackend().run_probe(
        _request(tmp_path, data_dir, Caps(cpus=1), model="no_such_model")
    )
    assert run.outcome == Outcome.crashed
    assert run.exit_code == 1
    assert "no_such_model" in (run.reason or "")
    assert any("no_such_model" in line for line in run.log_tail)


def test_timeout_kills_the_probe(tmp_path: Path, data_dir: Path) -> None:
    # more batches than any machine runs in the second it has: a count, not a speed
    endless = {"warmup": 1, "measured": 1_000_000}
    req = _request(tmp_path, data_dir, Caps(cpus=1), iterations=endless)
    req.timeout_s = 1.0
    backend = LocalBackend()
    run = backend.run_probe(req)
    assert run.outcome == Outcome.timed_out
    assert run.duration_s < 30
    assert not _leftover_cgroups(backend)


def test_more_cpus_than_the_host_is_an_error(tmp_path: Path, data_dir: Path) -> None:
    backend = LocalBackend()
    with pytest.raises(BackendError, match="more than this host"):
        backend.run_probe(_request(tmp_path, data_dir, Caps(cpus=backend.host_cpus() + 1)))


def test_cpuset_avoids_core_zero_when_it_can() -> None:
    assert pick_cpuset(1, [0, 1, 2, 3]) == [3]
    assert pick_cpuset(2, [0, 1]) == [0, 1]


def test_classify() -> None:
    assert classify(0, 0, [])[0] == Outcome.ok
    assert classify(-9, 1, [])[0] == Outcome.oom
    assert classify(137, 0, [{"type": "error", "message": "MemoryError"}])[0] == Outcome.oom
    out, why = classify(-11, 0, [])
    assert out == Outcome.crashed and "SIGSEGV" in (why or "")


def test_read_records_leaves_partial_line(tmp_path: Path) -> None:
    f = tmp_path / "r.jsonl"
    f.write_text('{"type": "a"}\n{"type": "b"')
    recs, off = read_records(f)
    assert [r["type"] for r in recs] == ["a"]
    with f.open("a") as fh:
        fh.write("}\n")
    recs, _ = read_records(f, off)
    assert [r["type"] for r in recs] == ["b"]


def test_local_backend_sets_visible_devices_fake_gpu(
    tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fake GPUs: this host has none, so the probe is granted GPUs that do not exist; what is
    checked is the child's own CUDA_VISIBLE_DEVICES (reported in its meta record) and that it
    says how many GPUs it could really use (none here)."""
    visible = visible_devices  # pure: ids as given, a count from the harness's own list
    assert visible(Caps(cpus=1), None)["CUDA_VISIBLE_DEVICES"] == ""
    assert visible(Caps(cpus=1, gpus=2), None)["CUDA_VISIBLE_DEVICES"] == "0,1"
    assert visible(Caps(cpus=1, gpus=2), "3, 5,7")["CUDA_VISIBLE_DEVICES"] == "3,5"
    assert visible(Caps(cpus=1, gpu_ids=[6, 2]), "0,1")["CUDA_VISIBLE_DEVICES"] == "6,2"
    assert visible(Caps(cpus=1, gpus=1), None)["CUDA_DEVICE_ORDER"] == "PCI_BUS_ID"

    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3,5,7")  # the harness itself confined to 3
    run = LocalBackend().run_probe(_request(tmp_path, data_dir, Caps(cpus=1, gpus=2)))
    assert run.outcome == Outcome.ok, run.log_tail
    (meta,) = [r for r in run.records if r["type"] == "meta"]
    assert meta["cuda_visible_devices"] == "3,5"
    assert meta["gpus_granted"] == 2 and meta["gpus_used"] == 0 and meta["device"] == "cpu"
    assert run.enforced is not None and run.enforced.gpus == "CUDA_VISIBLE_DEVICES='3,5'"


def test_a_probe_says_how_sure_it_is_and_what_its_memory_cgroup_did(
    tmp_path: Path, data_dir: Path
) -> None:
    """Confidence stopping on a real tiny probe (1 CPU, 1.5 GB cap): the interval recorded is the
    one its measured batches give, it stopped for a reason the rule allows, and the memory
    counters are its own cgroup's (the limit it read is its cap) over the measured window only
    (the CPU time in them fits the window, not the probe's start-up)."""
    from harness.profile import now
    from harness.stopping import median_interval
    from harness.sweep import summarise

    backend = LocalBackend()
    its = {"warmup": 1, "measured": 3, "stop": "confidence", "max_measured": 10}
    req = _request(tmp_path, data_dir, Caps(cpus=1, memory_gb=1.5), iterations=its)
    run = backend.run_probe(req)
    assert run.outcome == Outcome.ok, run.log_tail
    probe = summarise(run, req.caps, "p", "local", now(), keep_records=True)
    measured = [r for r in run.records if r["type"] == "batch" and not r["warmup"]]
    ci = probe.median_ci
    assert ci is not None and ci.mode == "confidence" and ci.n == len(measured)
    assert (ci.target_rel_ci, ci.confidence, ci.quantity) == (0.02, 0.95, "images_per_s")
    if ci.stopped == "target_met":
        assert 6 <= ci.n <= 10 and ci.rel_half_width is not None and ci.rel_half_width <= 0.02
    else:
        assert ci.stopped == "max_count" and ci.n == 10
    iv = median_interval([r["images_per_s"] for r in measured])
    assert iv is not None and (ci.lo, ci.hi) == (iv.lo, iv.hi)
    assert probe.throughput is not None and iv.lo <= probe.throughput.median <= iv.hi
    if not backend.cg_mem:
        pytest.skip("no writable memory cgroup here: the counters would not be the probe's own")
    m = probe.memory_counters
    assert m is not None and m.cgroup_version == f"v{backend.host.version}" and m.own
    assert PREFIX in m.cgroup and m.limit_mb == pytest.approx(1.5 * 2**30 / 1e6)
    assert m.window_s >= sum(r["batch_s"] for r in measured) * 0.99
    assert m.pgfault is not None and m.pgfault > 0 and m.pgmajfault is not None
    assert m.cache_mb_end is not None and m.usage_mb_end is not None and m.usage_mb_end > 50
    if m.cpu_user_s is not None and m.cpu_system_s is not None and run.cpu_time_s:
        used = m.cpu_user_s + m.cpu_system_s
        assert used <= m.window_s * 1.1 + 0.05  # 1 CPU over the window (10 ms ticks)
        assert used < 0.5 * run.cpu_time_s  # not the imports and set-up before it


def test_without_a_memory_cap_a_probe_still_reads_its_own_memory_cgroup(
    tmp_path: Path, data_dir: Path
) -> None:
    backend = LocalBackend()
    if not backend.cg_mem:
        pytest.skip("no writable memory cgroup here")
    its = {"warmup": 1, "measured": 3, "stop": "fixed"}
    run = backend.run_probe(_request(tmp_path, data_dir, Caps(cpus=1), iterations=its))
    assert run.outcome == Outcome.ok, run.log_tail
    (rec,) = [r for r in run.records if r["type"] == "memcg"]
    assert rec["own"] and PREFIX in rec["cgroup"] and rec["end"]["limit_bytes"] is None
    (stop,) = [r for r in run.records if r["type"] == "stop"]
    assert (stop["mode"], stop["stopped"], stop["n"]) == ("fixed", "fixed_count", 3)
    assert stop["lo"] is None  # 3 batches: too few for a 95% interval
    assert not _leftover_cgroups(backend)


# ---------------------------------------------------------------- cores of its own


def test_a_probe_is_refused_the_cores_another_probe_holds(
    tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every core held by another harness probe on the host past the wait: one line, nothing
    started."""
    monkeypatch.setenv("HARNESS_CORES_WAIT_S", "1")
    ledger = CoreLedger(tmp_path / "cores")
    backend = LocalBackend(ledger=ledger)
    n = backend.host_cpus()
    holder = other_probe_holding(tmp_path / "cores", n)
    with holder as (pid, _), pytest.raises(CoresRefused) as exc:
        backend.run_probe(_request(tmp_path, data_dir, Caps(cpus=1)))
    msg = str(exc.value)
    assert "\n" not in msg and msg.startswith("--cpu 1: 1 CPUs need 1 cores of their own")
    assert f"in use by probe other (pid {pid})" in msg and "--allow-oversubscribe" in msg
    assert not (tmp_path / "probe" / "records.jsonl").exists()  # the probe never started
    assert not _leftover_cgroups(backend)


def test_oversubscribed_probe_runs_and_says_which_cores_it_shared(
    tmp_path: Path, data_dir: Path
) -> None:
    """Allowed to share: the probe runs on a held core, read from inside it, and says so."""
    backend = LocalBackend(allow_oversubscribe=True, ledger=CoreLedger(tmp_path / "cores"))
    n = backend.host_cpus()
    with other_probe_holding(tmp_path / "cores", n) as (pid, held):
        run = backend.run_probe(_request(tmp_path, data_dir, Caps(cpus=1)))
    assert run.outcome == Outcome.ok, run.log_tail
    seen = seen_cpuset(run.records)
    assert run.enforced is not None and seen is not None
    assert seen == run.enforced.cpuset  # the grant, as the probe read it
    (share,) = run.shared_cores
    assert share.cores == seen and set(share.cores) <= set(held)
    mine = f"probe probe (pid {os.getpid()})"
    assert share.by == sorted([mine, f"probe other (pid {pid})"])


def test_probes_of_one_host_get_disjoint_cores_without_being_asked(
    tmp_path: Path, data_dir: Path
) -> None:
    backend = LocalBackend(ledger=CoreLedger(tmp_path / "cores"))
    if backend.host_cpus() < 2:
        pytest.skip("one core: no second core to give")
    with other_probe_holding(tmp_path / "cores", 1) as (_, held):
        run = backend.run_probe(_request(tmp_path, data_dir, Caps(cpus=1)))
    assert run.outcome == Outcome.ok, run.log_tail
    seen = seen_cpuset(run.records)
    assert seen is not None
    assert not set(seen) & set(held) and run.shared_cores == []


def test_profile_command_refuses_before_any_probe_or_records_the_sharing(
    tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`harness profile --backend local` beside a sweep holding every core: exit 2 and one
    line naming --allow-oversubscribe, no profile written; with it, the profile records which
    cores each probe shared."""
    from typer.testing import CliRunner

    from harness.cli import app
    from harness.profile import load_profile

    monkeypatch.setenv("HARNESS_CORES_DIR", str(tmp_path / "cores"))
    monkeypatch.setenv("HARNESS_CORES_WAIT_S", "1")
    out = tmp_path / "tiny.json"
    argv = ["profile", str(ROOT / "jobs" / "tiny-train.yaml"), "--backend", "local"]
    argv += ["--cpu", "1", "--max-iterations", "3", "--out", str(out)]
    runner = CliRunner()
    n = LocalBackend().host_cpus()
    with other_probe_holding(tmp_path / "cores", n) as (pid, _):
        r = runner.invoke(app, argv)
        assert r.exit_code == 2, r.output
        wait, line = [ln for ln in r.output.splitlines() if ln.strip()]
        assert wait == f"waiting up to 1 s for cores in use by probe other (pid {pid})"
        assert line.startswith("error: --cpu 1: 1 CPUs need 1 cores of their own"), line
        assert f"probe other (pid {pid})" in line and "--allow-oversubscribe" in line
        assert not out.exists()
        r = runner.invoke(app, [*argv, "--allow-oversubscribe"])
    assert r.exit_code == 0, r.output
    prof = load_profile(out)
    assert prof.train is not None
    (probe,) = prof.train.probes
    (share,) = probe.shared_cores
    assert probe.granted is not None and share.cores == probe.granted.affinity
    assert f"probe other (pid {pid})" in share.by


def test_a_killed_harness_process_probe_cgroups_are_reaped_and_their_probes_killed() -> None:
    """A probe cgroup whose maker ended without removing it (killed outright), a process still
    running in it: the next LocalBackend kills that process and removes the cgroup; a cgroup of
    a live maker (this process) stays."""
    import subprocess
    import sys
    import uuid

    from harness import owner
    from harness.backends.local import sweep_stale_cgroups

    host = LocalBackend().host
    if host.version == 0:
        if os.environ.get("CI") == "true":
            pytest.fail("CI=true: no writable cgroup (CI runs as root)")
        pytest.skip("no writable cgroup on this host: the local backend makes none to leave")
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(0.01)"])
    dead_pid, dead_start = child.pid, owner.start_time(child.pid)
    child.wait()
    assert dead_start is not None and owner.start_time(dead_pid) != dead_start
    me = owner.me()
    names = {
        "dead": f"{PREFIX}{dead_pid}-{dead_start}-{uuid.uuid4().hex[:8]}",
        "live": f"{PREFIX}{me.pid}-{me.start}-{uuid.uuid4().hex[:8]}",
    }
    parent = host.base if host.version == 2 else host.root / "cpuacct"
    dirs = {k: parent / n for k, n in names.items()}
    sleeper = subprocess.Popen(["sleep", "300"])
    try:
        for d in dirs.values():
            d.mkdir()
        (dirs["dead"] / "cgroup.procs").write_text(str(sleeper.pid))
        would = sweep_stale_cgroups(dry_run=True)
        assert str(dirs["dead"]) in would and str(dirs["live"]) not in would
        assert dirs["dead"].exists() and sleeper.poll() is None
        backend = LocalBackend()
        assert str(dirs["dead"]) in backend.reaped
        assert sleeper.wait(10) == -9  # killed, not left running
        assert not dirs["dead"].exists() and dirs["live"].exists()
    finally:
        sleeper.kill()
        sleeper.wait()
        for d in dirs.values():
            with contextlib.suppress(OSError):
                d.rmdir()
