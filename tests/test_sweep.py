"""Real short training profiles on the local backend: 1 and 2 CPUs, resume, Ctrl-C; the
sweep's hooks and resolved options on a synthetic backend."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from harness.backends.base import ProbeRequest, ProbeRun
from harness.backends.local import CGROUP_V1, PREFIX, LocalBackend
from harness.options import ProfileOptions
from harness.profile import Caps, Outcome, Probe, load_profile
from harness.spec import load_spec
from harness.sweep import NoHooks, Sweep, SweepHooks

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "jobs" / "tiny-train.yaml"


def _cli(*args: str, **kw: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "harness.cli", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
        **kw,
    )


def test_profile_tiny_job_at_1_and_2_cpus(tmp_path: Path) -> None:
    out = tmp_path / "tiny.json"
    r = _cli(
        "profile",
        str(TINY),
        "--cpu",
        "2",
        "--backend",
        "local",
        "--strategy",
        "exhaustive",
        "--max-iterations",
        "2",
        "--out",
        str(out),
    )
    assert r.returncode == 0, r.stderr
    prof = load_profile(out)
    assert prof.complete and prof.kind == "train" and prof.backend == "local"
    assert prof.train is not None and prof.train.search is not None
    by_cpus = {p.caps.cpus: p for p in prof.train.probes}
    assert set(by_cpus) == {1.0, 2.0}
    for cpus, p in by_cpus.items():
        assert p.outcome == Outcome.ok, p.reason
        assert p.enforced is not None and len(p.enforced.cpuset or []) == cpus
        assert p.throughput is not None and p.throughput.median > 0
        assert {"data", "forward", "backward", "step", "batch"} <= set(p.timings)
        assert p.records and sum(not r.warmup for r in p.records) >= 2
    assert len(prof.train.search.curve) == 2
    assert "images/s against CPUs" in r.stdout and "knee" in r.stdout
    v = _cli("validate", str(out))
    assert v.returncode == 0, v.stderr


class _InterruptAfter:
    """Wraps a real backend; raises KeyboardInterrupt (as Ctrl-C would) after n probes."""

    def __init__(self, inner: LocalBackend, n: int) -> None:
        self.inner, self.n, self.calls = inner, n, 0
        self.name = inner.name

    def describe(self) -> str:
        return self.inner.describe()

    def host_cpus(self) -> int:
        return self.inner.host_cpus()

    def run_probe(self, request: ProbeRequest, on_record: Any = None) -> ProbeRun:
        if self.calls >= self.n:
            raise KeyboardInterrupt
        self.calls += 1
        return self.inner.run_probe(request, on_record)

    def cleanup(self) -> None:
        self.inner.cleanup()


def test_interrupted_sweep_resumes_from_disk(tmp_path: Path) -> None:
    spec = load_spec(TINY)
    out = tmp_path / "p.json"
    opts = ProfileOptions(cpu=2, strategy="exhaustive", max_iterations=2)
    first = _InterruptAfter(LocalBackend(), 1)
    with pytest.raises(KeyboardInterrupt):
        Sweep(spec, first, opts, out, tmp_path / "w").run()
    partial = load_profile(out)
    assert not partial.complete and partial.train is not None
    assert len(partial.train.probes) == 1
    done_caps = partial.train.probes[0].caps.cpus

    second = _InterruptAfter(LocalBackend(), 5)
    resume = opts.model_copy(update={"resume": True})
    prof = Sweep(spec, second, resume, out, tmp_path / "w").run()
    assert second.calls == 1  # only the missing point was measured again
    assert prof.complete and prof.train is not None
    assert {p.caps.cpus for p in prof.train.probes} == {1.0, 2.0}
    assert any(p.caps.cpus == done_caps for p in prof.train.probes)
    assert prof.id == partial.id


def test_resume_refuses_a_different_job(tmp_path: Path) -> None:
    spec = load_spec(TINY)
    out = tmp_path / "p.json"
    opts = ProfileOptions(cpu=1, strategy="exhaustive", max_iterations=1)
    Sweep(spec, LocalBackend(), opts, out, tmp_path / "w").run()
    other = spec.model_copy(update={"batch_size": 4})
    with pytest.raises(ValueError, match="different job spec"):
        Sweep(other, LocalBackend(), opts.model_copy(update={"resume": True}), out, tmp_path / "w")


def test_sigint_leaves_nothing_behind(tmp_path: Path) -> None:
    out = tmp_path / "p.json"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "harness.cli",
            "profile",
            str(TINY),
            "--cpu",
            "1",
            "--backend",
            "local",
            "--max-iterations",
            "50",
            "--out",
            str(out),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.time() + 120
    work = tmp_path / ".work" / "p"
    while time.time() < deadline and not list(work.glob("*/records.jsonl")):
        time.sleep(0.2)
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "--resume" in err
    mine = f"{PREFIX}{proc.pid}-*"  # the harness names its cgroups by its pid
    leftovers = [d for c in ("cpu", "cpuset", "memory") for d in (CGROUP_V1 / c).glob(mine)]
    assert not leftovers
    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    assert str(work) not in ps  # no probe process survived
    assert not any(
        str(tmp_path) in line and "harness.workloads.run" in line for line in ps.splitlines()
    )
    assert os.path.exists(out)


class _Synthetic:
    """A backend that runs nothing: each probe is two measured batches at 10 img/s per CPU."""

    name = "fake"

    def __init__(self) -> None:
        self.requests: list[ProbeRequest] = []

    def describe(self) -> str:
        return "synthetic"

    def host_cpus(self) -> int:
        return 3

    def run_probe(self, request: ProbeRequest, on_record: Any = None) -> ProbeRun:
        self.requests.append(request)
        ips = 10.0 * request.caps.cpus
        bs = int(request.overrides["batch_size"])  # the batch asked for is the one measured
        records = [
            {"type": "batch", "warmup": i == 0, "batch_size": bs, "batch_s": bs / ips}
            | {"images_per_s": ips, "wall_s": 0.1 * (i + 1), "global_step": i, "batch_idx": i}
            for i in range(3)
        ]
        for r in records:
            if on_record is not None:
                on_record(r)
        return ProbeRun(outcome=Outcome.ok, records=records, duration_s=0.3)

    def cleanup(self) -> None:
        pass


class _Log(SweepHooks):
    def __init__(self) -> None:
        self.events: list[tuple[str, Any]] = []

    def on_probe_begin(self, caps: Caps, index: int) -> None:
        self.events.append(("begin", (caps.cpus, index)))

    def on_probe_end(self, probe: Probe) -> None:
        self.events.append(("end", probe.caps.cpus))


def test_hooks_hear_each_probe_begin_its_records_and_end(tmp_path: Path) -> None:
    spec = load_spec(TINY)
    out = tmp_path / "p.json"
    log = _Log()
    seen: list[str] = []
    log.on_record = lambda r: seen.append(r["type"])  # type: ignore[method-assign]
    backend = _Synthetic()
    opts = ProfileOptions(strategy="exhaustive")  # no --cpu: all 3 of the host's
    prof = Sweep(spec, backend, opts, out, tmp_path / "w", log).run()  # type: ignore[arg-type]
    assert prof.complete and prof.options["cpu"] == 3.0
    assert prof.options["batch_size"] == spec.batch_size
    begins = [e for k, e in log.events if k == "begin"]
    assert sorted(c for c, _ in begins) == [1.0, 2.0, 3.0]
    assert [i for _, i in begins] == [0, 1, 2]
    assert [k for k, _ in log.events] == ["begin", "end"] * 3  # each probe ends before the next
    assert seen == ["batch"] * 9
    # resumed with every probe on disk: nothing starts, so no hook hears of a probe
    again = _Log()
    resume = opts.model_copy(update={"resume": True})
    Sweep(spec, backend, resume, out, tmp_path / "w", again).run()  # type: ignore[arg-type]
    assert again.events == [] and len(backend.requests) == 3


def test_no_hooks_is_the_default(tmp_path: Path) -> None:
    spec = load_spec(TINY)
    opts = ProfileOptions(cpu=1, strategy="exhaustive")
    sweep = Sweep(spec, _Synthetic(), opts, tmp_path / "p.json", tmp_path / "w")  # type: ignore[arg-type]
    assert isinstance(sweep.hooks, NoHooks)
    assert sweep.run().complete


class _SideBySide(_Synthetic):
    """A synthetic backend that holds several probes at once (as Slurm does): each probe
    waits until another is in flight, or 2 s, and says how many it saw."""

    concurrent = True

    def __init__(self) -> None:
        super().__init__()
        import threading

        self.lock = threading.Lock()
        self.live = 0
        self.most = 0

    def run_probe(self, request: ProbeRequest, on_record: Any = None) -> ProbeRun:
        with self.lock:
            self.live += 1
            self.most = max(self.most, self.live)
        t0 = time.monotonic()
        while request.caps.memory_gb is not None and self.most < 2 and time.monotonic() - t0 < 2:
            time.sleep(0.01)
        try:
            return super().run_probe(request, on_record)
        finally:
            with self.lock:
                self.live -= 1


def test_memory_columns_run_side_by_side_on_a_concurrent_backend(tmp_path: Path) -> None:
    backend = _SideBySide()
    opts = ProfileOptions(cpu=1, strategy="exhaustive", memory_sweep=[1, 2, 4])
    out = tmp_path / "p.json"
    prof = Sweep(load_spec(TINY), backend, opts, out, tmp_path / "w").run()  # type: ignore[arg-type]
    assert prof.complete and prof.train is not None
    assert backend.most >= 2  # the memory column's probes were in flight together
    assert [c.memory_gb for c in prof.train.memory_axis or []] == [1, 2, 4]
    assert len(prof.train.probes) == 4 and load_profile(out).train.probes  # type: ignore[union-attr]
