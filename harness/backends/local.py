"""Local backend: one probe = one child process on this host, confined by what the host allows.

CPUs: a cpuset (cgroup v1 cpuset, else sched_setaffinity) of ceil(cpus) cores plus a CFS
quota for fractional caps where the cpu cgroup is writable. Memory: a memory cgroup with swap
disabled where writable; otherwise the cap is recorded as not enforced, with the reason. The
child joins its cgroups itself at start (before torch spawns a thread), the parent checks that
it did, and everything is removed on exit, timeout or Ctrl-C.
"""

from __future__ import annotations

import contextlib
import math
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

from harness.backends.base import (
    BackendError,
    OnRecord,
    ProbeRequest,
    ProbeRun,
    Record,
    read_records,
    refusal,
    tail_lines,
)
from harness.profile import Caps, Enforcement, Outcome

CGROUP_V1 = Path("/sys/fs/cgroup")
PREFIX = "harness-"


def _writable(controller: str) -> bool:
    d = CGROUP_V1 / controller
    if not (d / "cgroup.procs").exists():
        return False
    probe = d / f"{PREFIX}probe-{os.getpid()}"
    try:
        probe.mkdir()
        probe.rmdir()
        return True
    except OSError:
        return False


def host_cpu_list() -> list[int]:
    return sorted(os.sched_getaffinity(0))


def pick_cpuset(n: int, available: list[int]) -> list[int]:
    """Take cores from the top: core 0 takes most interrupts (Synergy pins from 0; we do not)."""
    return sorted(available[-n:])


class _Cgroups:
    """The cgroups of one probe (v1). Created on enter, removed (children killed) on exit."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.dirs: dict[str, Path] = {}

    def make(self, controller: str) -> Path:
        d = CGROUP_V1 / controller / self.name
        d.mkdir(exist_ok=True)
        self.dirs[controller] = d
        return d

    def pids(self) -> set[int]:
        out: set[int] = set()
        for d in self.dirs.values():
            with contextlib.suppress(OSError):
                out |= {int(x) for x in (d / "cgroup.procs").read_text().split()}
        return out

    def remove(self) -> None:
        for _ in range(50):
            left = self.pids()
            for pid in left:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            if not left:
                break
            time.sleep(0.05)
        for d in self.dirs.values():
            for _ in range(20):
                try:
                    d.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.05)
        self.dirs.clear()


class LocalBackend:
    name = "local"

    def __init__(self, use_cgroups: bool = True) -> None:
        self.cpus = host_cpu_list()
        self.cg_cpu = use_cgroups and _writable("cpu")
        self.cg_cpuset = use_cgroups and _writable("cpuset")
        self.cg_mem = use_cgroups and _writable("memory")
        self.cg_cpuacct = use_cgroups and _writable("cpuacct")
        self._live: list[tuple[subprocess.Popen[bytes], _Cgroups]] = []

    def describe(self) -> str:
        how = []
        how.append("cpuset cgroup" if self.cg_cpuset else "CPU affinity")
        if self.cg_cpu:
            how.append("CFS quota")
        how.append("memory cgroup" if self.cg_mem else "memory NOT capped (no writable cgroup)")
        return f"local backend on {len(self.cpus)} CPUs: " + ", ".join(how)

    def host_cpus(self) -> int:
        return len(self.cpus)

    def _confine(self, caps: Caps, cg: _Cgroups) -> tuple[dict[str, str], Enforcement]:
        if caps.cpus > len(self.cpus):
            raise BackendError(
                f"--cpu {caps.cpus:g} is more than this host's {len(self.cpus)} CPUs"
            )
        n = math.ceil(caps.cpus)
        cpuset = pick_cpuset(n, self.cpus)
        env: dict[str, str] = {"HARNESS_AFFINITY": ",".join(map(str, cpuset))}
        procs: list[str] = []
        parts = []
        quota = None
        if self.cg_cpuset:
            d = cg.make("cpuset")
            (d / "cpuset.mems").write_text((CGROUP_V1 / "cpuset" / "cpuset.mems").read_text())
            (d / "cpuset.cpus").write_text(",".join(map(str, cpuset)))
            procs.append(str(d / "cgroup.procs"))
            parts.append(f"cpuset_cgroup({','.join(map(str, cpuset))})")
        else:
            parts.append(f"affinity({','.join(map(str, cpuset))})")
        if self.cg_cpu:
            d = cg.make("cpu")
            period = 100_000
            (d / "cpu.cfs_period_us").write_text(str(period))
            (d / "cpu.cfs_quota_us").write_text(str(int(caps.cpus * period)))
            procs.append(str(d / "cgroup.procs"))
            quota = caps.cpus
            parts.append(f"cfs_quota({int(caps.cpus * period)}/{period})")
        if self.cg_cpuacct:
            d = cg.make("cpuacct")
            procs.append(str(d / "cgroup.procs"))
        mem_how: str | None = None
        mem_ok = False
        if caps.memory_gb is not None:
            if self.cg_mem:
                d = cg.make("memory")
                limit = int(caps.memory_gb * 2**30)
                (d / "memory.limit_in_bytes").write_text(str(limit))
                memsw = d / "memory.memsw.limit_in_bytes"
                swap = "swap not accounted by this kernel; host has no swap"
                if memsw.exists():
                    memsw.write_text(str(limit))
                    swap = "swap disabled (memsw = limit)"
                procs.append(str(d / "cgroup.procs"))
                mem_how = f"memory cgroup limit {caps.memory_gb:g} GiB, {swap}"
                mem_ok = True
            else:
                mem_how = "not enforced: no writable memory cgroup on this host"
        env["HARNESS_CGROUP_PROCS"] = os.pathsep.join(procs)
        gpus = visible_devices(caps, os.environ.get("CUDA_VISIBLE_DEVICES"))["CUDA_VISIBLE_DEVICES"]
        enf = Enforcement(
            cpu="+".join(parts),
            cpuset=cpuset,
            cpu_quota=quota,
            memory=mem_how,
            memory_enforced=mem_ok,
            gpus=f"CUDA_VISIBLE_DEVICES={gpus!r}",
        )
        return env, enf

    def run_probe(self, request: ProbeRequest, on_record: OnRecord | None = None) -> ProbeRun:
        request.workdir.mkdir(parents=True, exist_ok=True)
        request.records_file.unlink(missing_ok=True)
        cg = _Cgroups(f"{PREFIX}{os.getpid()}-{uuid.uuid4().hex[:8]}")
        try:
            env_extra, enforced = self._confine(request.caps, cg)
        except OSError as exc:
            cg.remove()
            raise BackendError(f"cannot set up cgroups: {exc}") from exc
        except BaseException:
            cg.remove()
            raise
        request.threads = request.threads or math.ceil(request.caps.cpus)
        request.request_file.write_text(
            request.to_json(
                str(request.records_file), str(request.data_dir) if request.data_dir else None
            )
        )
        env = dict(os.environ, **request.env, **env_extra, PYTHONUNBUFFERED="1")
        env["OMP_NUM_THREADS"] = str(request.threads)
        env.update(visible_devices(request.caps, os.environ.get("CUDA_VISIBLE_DEVICES")))
        root = str(Path(__file__).resolve().parents[2])
        env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        t0 = time.monotonic()
        stderr = request.stderr_file.open("wb")
        proc = subprocess.Popen(
            [sys.executable, "-m", "harness.workloads.run", str(request.request_file)],
            stdout=stderr,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
        self._live.append((proc, cg))
        records: list[Record] = []
        offset = 0
        outcome: Outcome | None = None
        reason: str | None = None
        try:
            while True:
                rc = proc.poll()
                new, offset = read_records(request.records_file, offset)
                for rec in new:
                    records.append(rec)
                    if on_record is not None:
                        on_record(rec)
                if rc is not None:
                    break
                if time.monotonic() - t0 > request.timeout_s:
                    outcome = Outcome.timed_out
                    reason = f"no end after {request.timeout_s:g} s; killed"
                    self._kill(proc)
                    proc.wait()
                    break
                time.sleep(0.1)
            new, offset = read_records(request.records_file, offset)
            for rec in new:
                records.append(rec)
                if on_record is not None:
                    on_record(rec)
            duration = time.monotonic() - t0
            rc = proc.returncode
            cpu_time = self._cpu_time(cg)
            ooms = self._oom_kills(cg)
            enforced.torch_threads = request.threads
            for rec in records:
                if rec.get("type") == "caps":
                    enforced.loader_workers = rec.get("workers")
                    if rec.get("joined") is False:
                        enforced.cpu += " (child could not join its cgroups)"
            if outcome is None:
                outcome, reason = classify(rc, ooms, records)
            return ProbeRun(
                outcome=outcome,
                records=records,
                duration_s=duration,
                enforced=enforced,
                exit_code=rc,
                reason=reason,
                log_tail=tail_lines(request.stderr_file) if outcome != Outcome.ok else [],
                cpu_time_s=cpu_time,
                peak_rss_mb=_peak_rss(records),
            )
        finally:
            stderr.close()
            if proc.poll() is None:
                self._kill(proc)
                proc.wait()
            cg.remove()
            self._live = [(p, c) for p, c in self._live if p is not proc]

    @staticmethod
    def _kill(proc: subprocess.Popen[bytes]) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)

    @staticmethod
    def _cpu_time(cg: _Cgroups) -> float | None:
        d = cg.dirs.get("cpuacct")
        if d is None:
            return None
        try:
            return int((d / "cpuacct.usage").read_text()) / 1e9
        except (OSError, ValueError):
            return None

    @staticmethod
    def _oom_kills(cg: _Cgroups) -> int:
        d = cg.dirs.get("memory")
        if d is None:
            return 0
        try:
            for line in (d / "memory.oom_control").read_text().splitlines():
                k, _, v = line.partition(" ")
                if k == "oom_kill":
                    return int(v)
            return 0
        except (OSError, ValueError):
            return 0

    def cleanup(self) -> None:
        for proc, cg in self._live:
            if proc.poll() is None:
                self._kill(proc)
                proc.wait()
            cg.remove()
        self._live.clear()
        sweep_stale_cgroups()


def classify(rc: int | None, oom_kills: int, records: list[Record]) -> tuple[Outcome, str | None]:
    """How a probe ended, from its exit code, the cgroup's OOM counter and its last records."""
    err = next((r.get("message") for r in reversed(records) if r.get("type") == "error"), None)
    if rc == 0:
        return Outcome.ok, None
    if oom_kills > 0:
        return (
            Outcome.oom,
            f"killed by the out-of-memory killer ({oom_kills} kill(s) in its cgroup)",
        )
    if err == "MemoryError":
        return Outcome.oom, "MemoryError inside the workload"
    refused = refusal(records)
    if refused is not None:
        return Outcome.refused, refused
    if rc is not None and rc < 0:
        names = {s.value: s.name for s in signal.Signals}
        return Outcome.crashed, f"killed by signal {names.get(-rc, -rc)}" + (
            f": {err}" if err else ""
        )
    return Outcome.crashed, f"exit code {rc}" + (f": {err}" if err else "")


def visible_devices(caps: Caps, inherited: str | None) -> dict[str, str]:
    """The child's CUDA environment: the granted GPUs and no others (none for a CPU probe),
    numbered as nvidia-smi and NVML number them. Ids are taken as given; a count takes the
    first N of `inherited` (the harness's own CUDA_VISIBLE_DEVICES), else GPUs 0..N-1."""
    if caps.gpu_ids:
        ids = [str(i) for i in caps.gpu_ids]
    elif caps.gpus and inherited is not None:
        ids = [d.strip() for d in inherited.split(",") if d.strip()][: caps.gpus]
    else:
        ids = [str(i) for i in range(caps.gpus)]
    return {"CUDA_VISIBLE_DEVICES": ",".join(ids), "CUDA_DEVICE_ORDER": "PCI_BUS_ID"}


def _peak_rss(records: list[Record]) -> float | None:
    for rec in reversed(records):
        if rec.get("type") == "done":
            v = rec.get("peak_rss_mb")
            return float(v) if v is not None else None
    vals = [float(r["rss_mb"]) for r in records if r.get("rss_mb") is not None]
    return max(vals) if vals else None


def sweep_stale_cgroups() -> int:
    """Remove harness cgroups whose owner process is gone (a killed harness leaves none)."""
    removed = 0
    for controller in ("cpu", "cpuset", "memory", "cpuacct"):
        base = CGROUP_V1 / controller
        if not base.is_dir():
            continue
        for d in base.glob(f"{PREFIX}*"):
            try:
                owner = int(d.name[len(PREFIX) :].split("-")[0])
            except ValueError:
                continue
            if owner != os.getpid() and Path(f"/proc/{owner}").exists():
                continue
            cg = _Cgroups(d.name)
            cg.dirs[controller] = d
            cg.remove()
            removed += 1
    return removed


def which(cmd: str) -> str | None:
    return shutil.which(cmd)
