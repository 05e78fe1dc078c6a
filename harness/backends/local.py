"""Local backend: one probe = one child process on this host, confined by what the host allows.

CPUs: a cpuset of ceil(cpus) cores (cgroup cpuset, else sched_setaffinity) plus a CFS quota
for fractional caps where the cpu controller is writable. Memory: a memory cap with swap off
where writable; otherwise the cap is recorded as not enforced, with the reason. Both cgroup
interfaces are handled, chosen by what the host mounts at the cgroup root (a parameter, so a
fake tree can stand in for it in tests):

- v1 (a hierarchy per controller): one dir per controller (cpuset, cpu, cpuacct, memory; the
  memory dir even without a memory cap, so that the counters the probe reads of its memory
  cgroup, harness/telemetry/memcg.py, are its own);
  cpu.cfs_quota_us, memory.limit_in_bytes (+ memsw), CPU time from cpuacct.usage, OOM kills
  from memory.oom_control.
- v2 (one unified hierarchy, `cgroup.controllers` at its root): one dir per probe beside the
  harness's own cgroup (a cgroup holding processes cannot also hand controllers to children),
  else under the root; the controllers it needs are enabled in the parent's
  cgroup.subtree_control where permitted. cpu.max, memory.max and memory.swap.max = 0, CPU
  time from cpu.stat usage_usec, OOM kills from memory.events oom_kill, cgroup.kill on removal.

Cores: a probe's cores are its own on this host. They are leased from the host's core ledger
(harness/cores.py), which every harness process on the host shares, so two sweeps run at once
get disjoint cpusets; when too few cores are free the probe is refused before it starts
(BackendError naming --allow-oversubscribe), or, with `allow_oversubscribe`, it runs on shared
cores and its ProbeRun says which (`shared_cores`), from the cpuset the probe read itself.

The Enforcement record says which interface capped a probe ("cgroup v1 ..." / "cgroup v2 ...").
The child joins its cgroups itself at start (before torch spawns a thread) by writing its pid
to each cgroup.procs named in HARNESS_CGROUP_PROCS, the parent checks that it did, and
everything is removed on exit, timeout or Ctrl-C.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from harness import owner
from harness.backends.base import (
    BackendError,
    OnRecord,
    ProbeRequest,
    ProbeRun,
    Record,
    read_records,
    refusal,
    seen_cpuset,
    tail_lines,
)
from harness.cores import CoreLedger, Want, overlaps
from harness.profile import Caps, Enforcement, Outcome

CGROUP_ROOT = Path("/sys/fs/cgroup")
CGROUP_V1 = CGROUP_ROOT  # v1 mounts one hierarchy per controller below the root
PREFIX = "harness-"
V1_CONTROLLERS = ("cpu", "cpuset", "memory", "cpuacct")
V2_CONTROLLERS = ("cpuset", "cpu", "memory")
UNIFIED = "unified"  # the key of a probe's single v2 dir in _Cgroups.dirs


def _writable(base: Path) -> bool:
    """Whether `base` is a cgroup this process may make children in (tried, not guessed)."""
    if not (base / "cgroup.procs").exists():
        return False
    probe = base / f"{PREFIX}probe-{os.getpid()}"
    try:
        probe.mkdir()
        probe.rmdir()
        return True
    except OSError:
        return False


def is_cgroup2(root: Path = CGROUP_ROOT) -> bool:
    """A unified (v2) hierarchy at the root; hybrid hosts (v1 controllers plus an empty
    cgroup2 at root/unified) count as v1, since their controllers live in v1."""
    return (root / "cgroup.controllers").is_file()


def own_cgroup_v2(proc_self_cgroup: str | None = None) -> str:
    """This process's v2 cgroup path (the '0::/a/b' line of /proc/self/cgroup); '/' if none."""
    if proc_self_cgroup is None:
        try:
            proc_self_cgroup = Path("/proc/self/cgroup").read_text()
        except OSError:
            return "/"
    for line in proc_self_cgroup.splitlines():
        if line.startswith("0::"):
            return line[3:].strip() or "/"
    return "/"


def v2_parents(root: Path, own: str) -> list[Path]:
    """Where probe cgroups may go on a v2 host, best first: beside the harness's own cgroup
    (delegated to it, e.g. a systemd user slice), else the root itself (as root)."""
    parts = PurePosixPath(own).parts[1:]
    out = [root.joinpath(*parts[:-1])] if parts else []
    return out + [root] if root not in out else out


def _enable_v2(base: Path) -> set[str]:
    """The controllers children of `base` get: those already in its subtree_control, plus those
    it offers that may be enabled (not where the parent was delegated without them, or holds
    processes itself). One write per controller, so one refusal does not cost the others."""
    try:
        offered = set((base / "cgroup.controllers").read_text().split())
        on = set((base / "cgroup.subtree_control").read_text().split())
    except OSError:
        return set()
    for c in V2_CONTROLLERS:
        if c in offered and c not in on:
            try:
                (base / "cgroup.subtree_control").write_text(f"+{c}")
                on.add(c)
            except OSError:
                pass
    return on & set(V2_CONTROLLERS)


@dataclass
class CgroupHost:
    """Which cgroup interface the host offers, where probe cgroups go, and which caps may be
    written there. version 0: nothing writable (affinity only, memory not capped)."""

    version: int
    root: Path
    base: Path  # v1: the root (controllers below it); v2: the parent of the probe cgroups
    cpu: bool = False
    cpuset: bool = False
    memory: bool = False
    cpuacct: bool = False  # CPU time: v1 cpuacct; v2 cpu.stat, present in every cgroup

    @classmethod
    def detect(cls, root: Path = CGROUP_ROOT, own: str | None = None) -> CgroupHost:
        """Look at the host (v2: also enable controllers). `own`: the harness's v2 cgroup path,
        read from /proc/self/cgroup when not given."""
        if is_cgroup2(root):
            for base in v2_parents(root, own_cgroup_v2() if own is None else own):
                if _writable(base):
                    on = _enable_v2(base)
                    return cls(
                        2,
                        root,
                        base,
                        cpu="cpu" in on,
                        cpuset="cpuset" in on,
                        memory="memory" in on,
                        cpuacct=True,
                    )
            return cls(0, root, root)
        flags = {c: _writable(root / c) for c in V1_CONTROLLERS}
        return cls(1 if any(flags.values()) else 0, root, root, **flags)

    @property
    def label(self) -> str:
        return f"cgroup v{self.version}"


def host_cpu_list() -> list[int]:
    return sorted(os.sched_getaffinity(0))


def pick_cpuset(n: int, available: list[int]) -> list[int]:
    """Take cores from the top: core 0 takes most interrupts (Synergy pins from 0; we do not)."""
    return sorted(available[-n:])


def _rmdir(d: Path) -> None:
    for _ in range(20):
        try:
            d.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError:  # EBUSY while the last killed processes are still leaving
            time.sleep(0.05)


class _Cgroups:
    """The cgroups of one probe: v1 a dir per controller, v2 a single dir. Made on demand,
    removed (their processes killed first) on exit."""

    def __init__(self, name: str, host: CgroupHost) -> None:
        self.name = name
        self.host = host
        self.dirs: dict[str, Path] = {}

    def make(self, controller: str) -> Path:
        if self.host.version == 2:
            key, d = UNIFIED, self.host.base / self.name
        else:
            key, d = controller, self.host.root / controller / self.name
        if key not in self.dirs:
            d.mkdir(exist_ok=True)
            self.dirs[key] = d
        return d

    def procs_files(self) -> list[str]:
        return [str(d / "cgroup.procs") for d in self.dirs.values()]

    def pids(self) -> set[int]:
        out: set[int] = set()
        for d in self.dirs.values():
            with contextlib.suppress(OSError, ValueError):
                out |= {int(x) for x in (d / "cgroup.procs").read_text().split()}
        return out

    def cpu_time(self) -> float | None:
        """CPU seconds the probe's processes used (children included), if accounted."""
        try:
            if UNIFIED in self.dirs:
                return _field(self.dirs[UNIFIED] / "cpu.stat", "usage_usec") / 1e6
            if "cpuacct" in self.dirs:
                return int((self.dirs["cpuacct"] / "cpuacct.usage").read_text()) / 1e9
        except (OSError, ValueError, KeyError):
            pass
        return None

    def oom_kills(self) -> int:
        try:
            if UNIFIED in self.dirs:
                return _field(self.dirs[UNIFIED] / "memory.events", "oom_kill")
            if "memory" in self.dirs:
                return _field(self.dirs["memory"] / "memory.oom_control", "oom_kill")
        except (OSError, ValueError, KeyError):
            pass
        return 0

    def remove(self) -> None:
        for d in self.dirs.values():
            kill = d / "cgroup.kill"  # v2, Linux 5.14+: kills every process, forks included
            if kill.exists():
                with contextlib.suppress(OSError):
                    kill.write_text("1")
        for _ in range(50):
            left = self.pids()
            for pid in left:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            if not left:
                break
            time.sleep(0.05)
        for d in self.dirs.values():
            _rmdir(d)
        self.dirs.clear()


def _field(path: Path, key: str) -> int:
    """An integer from a flat keyed cgroup file ('key value' lines)."""
    for line in path.read_text().splitlines():
        k, _, v = line.partition(" ")
        if k == key:
            return int(v)
    raise KeyError(key)


class LocalBackend:
    name = "local"

    def __init__(
        self,
        use_cgroups: bool = True,
        cgroup_root: Path = CGROUP_ROOT,
        own_cgroup: str | None = None,
        *,
        allow_oversubscribe: bool = False,
        ledger: CoreLedger | None = None,
    ) -> None:
        self.cpus = host_cpu_list()
        self.allow_oversubscribe = allow_oversubscribe
        self.ledger = ledger or CoreLedger()
        self.own_cgroup = own_cgroup
        self.host = (
            CgroupHost.detect(cgroup_root, own_cgroup)
            if use_cgroups
            else CgroupHost(0, cgroup_root, cgroup_root)
        )
        self.cg_cpu = self.host.cpu
        self.cg_cpuset = self.host.cpuset
        self.cg_mem = self.host.memory
        self.cg_cpuacct = self.host.cpuacct
        self._live: list[tuple[subprocess.Popen[bytes], _Cgroups]] = []
        self.reaped: list[str] = []  # what killed harness processes had left, removed now
        if self.host.version:
            with contextlib.suppress(OSError):  # tidying up never stops a run
                self.reaped = sweep_stale_cgroups(self.host.root, own_cgroup)

    def describe(self) -> str:
        how = []
        how.append("cpuset cgroup" if self.cg_cpuset else "CPU affinity")
        if self.cg_cpu:
            how.append("CFS quota")
        how.append("memory cgroup" if self.cg_mem else "memory NOT capped (no writable cgroup)")
        where = f" ({self.host.label} under {self.host.base})" if self.host.version else ""
        return f"local backend on {len(self.cpus)} CPUs{where}: " + ", ".join(how)

    def host_cpus(self) -> int:
        return len(self.cpus)

    def new_cgroups(self) -> _Cgroups:
        me = owner.me()  # the name says whose it is, for sweep_stale_cgroups
        return _Cgroups(f"{PREFIX}{me.pid}-{me.start}-{uuid.uuid4().hex[:8]}", self.host)

    def _confine(
        self, caps: Caps, cg: _Cgroups, cpuset: list[int]
    ) -> tuple[dict[str, str], Enforcement]:
        host = self.host
        v2 = host.version == 2
        cores = ",".join(map(str, cpuset))
        env: dict[str, str] = {"HARNESS_AFFINITY": cores}
        parts = []
        quota = None
        if v2:
            cg.make(UNIFIED)  # always: its cpu.stat counts the probe's CPU time
        if host.cpuset:
            d = cg.make("cpuset")
            if not v2:  # v1 starts a cpuset empty; v2 inherits the parent's memory nodes
                (d / "cpuset.mems").write_text((host.root / "cpuset" / "cpuset.mems").read_text())
            (d / "cpuset.cpus").write_text(cores)
            parts.append(f"cpuset({cores})")
        else:
            parts.append(f"affinity({cores})")
        if host.cpu:
            d = cg.make("cpu")
            period = 100_000
            q = int(caps.cpus * period)
            if v2:
                (d / "cpu.max").write_text(f"{q} {period}")
                parts.append(f"cpu.max({q} {period})")
            else:
                (d / "cpu.cfs_period_us").write_text(str(period))
                (d / "cpu.cfs_quota_us").write_text(str(q))
                parts.append(f"cfs_quota({q}/{period})")
            quota = caps.cpus
        if host.cpuacct and not v2:
            cg.make("cpuacct")
        mem_how: str | None = None
        mem_ok = False
        if host.memory and caps.memory_gb is None:
            cg.make("memory")  # no cap, but a cgroup of its own: its counters are the probe's
        if caps.memory_gb is not None:
            if host.memory:
                d = cg.make("memory")
                limit = int(caps.memory_gb * 2**30)
                swap = "swap not accounted by this kernel; host has no swap"
                if v2:
                    (d / "memory.max").write_text(str(limit))
                    with contextlib.suppress(OSError):  # absent without swap accounting
                        (d / "memory.swap.max").write_text("0")
                        swap = "swap off (memory.swap.max=0)"
                    mem_how = f"{host.label} memory.max {caps.memory_gb:g} GiB, {swap}"
                else:
                    (d / "memory.limit_in_bytes").write_text(str(limit))
                    memsw = d / "memory.memsw.limit_in_bytes"
                    if memsw.exists():
                        memsw.write_text(str(limit))
                        swap = "swap disabled (memsw = limit)"
                    mem_how = f"{host.label} memory limit {caps.memory_gb:g} GiB, {swap}"
                mem_ok = True
            elif v2:
                mem_how = f"not enforced: memory controller not delegated to {host.base}"
            else:
                mem_how = "not enforced: no writable memory cgroup on this host"
        env["HARNESS_CGROUP_PROCS"] = os.pathsep.join(cg.procs_files())
        gpus = visible_devices(caps, os.environ.get("CUDA_VISIBLE_DEVICES"))["CUDA_VISIBLE_DEVICES"]
        cpu_how = "+".join(parts)
        enf = Enforcement(
            cpu=f"{host.label} {cpu_how}" if host.cpuset or host.cpu else cpu_how,
            cpuset=cpuset,
            cpu_quota=quota,
            memory=mem_how,
            memory_enforced=mem_ok,
            gpus=f"CUDA_VISIBLE_DEVICES={gpus!r}",
        )
        return env, enf

    def run_probe(self, request: ProbeRequest, on_record: OnRecord | None = None) -> ProbeRun:
        """Lease the probe's cores on this host, run it on them, say whether it shared any
        (from the cores it read itself); refused (BackendError) before it starts when the
        host has too few free cores and oversubscription was not allowed."""
        caps = request.caps
        if caps.cpus > len(self.cpus):
            raise BackendError(
                f"--cpu {caps.cpus:g} is more than this host's {len(self.cpus)} CPUs"
            )
        name = f"probe {request.workdir.name} (pid {os.getpid()})"
        with self.ledger.lease(
            [Want(name, caps.cpus)],
            self.cpus,
            allow_oversubscribe=self.allow_oversubscribe,
            what=f"--cpu {caps.cpus:g}",
        ) as grant:
            run = self._run(request, on_record, grant.cpusets[name])
        seen = seen_cpuset(run.records)
        run.shared_cores = overlaps({name: seen or grant.cpusets[name]}, grant.busy)
        return run

    def check_cores(self, cpus: float, wait_s: float | None = None) -> None:
        """CoresRefused now, before a sweep starts, if a probe of `cpus` would be refused
        (after waiting up to `wait_s` for cores others hold; None: the default wait)."""
        with self.ledger.lease(
            [Want("check", cpus)],
            self.cpus,
            allow_oversubscribe=self.allow_oversubscribe,
            what=f"--cpu {cpus:g}",
            wait_s=wait_s,
        ):
            pass

    def _run(
        self, request: ProbeRequest, on_record: OnRecord | None, cpuset: list[int]
    ) -> ProbeRun:
        request.workdir.mkdir(parents=True, exist_ok=True)
        request.records_file.unlink(missing_ok=True)
        cg = self.new_cgroups()
        try:
            env_extra, enforced = self._confine(request.caps, cg, cpuset)
            if request.disk_read_mbps is not None:
                enforced.disk = "not capped: the local backend has no per-probe disk throttle"
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
            cpu_time = cg.cpu_time()
            ooms = cg.oom_kills()
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

    def cleanup(self) -> None:
        for proc, cg in self._live:
            if proc.poll() is None:
                self._kill(proc)
                proc.wait()
            cg.remove()
        self._live.clear()
        sweep_stale_cgroups(self.host.root, self.own_cgroup, mine_too=True)


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


_OWNED = re.compile(rf"{PREFIX}(\d+)-(?:(\d+)-)?[0-9a-f]+")  # PID, its start time, a tag


def _stale(name: str, mine_too: bool) -> bool:
    """Whether a probe cgroup's maker has ended: its name holds the maker's PID and start time
    (harness/owner.py; older names only the PID, judged by the PID alone)."""
    m = _OWNED.fullmatch(name)
    if not m:
        return False
    pid = int(m.group(1))
    if pid == os.getpid():
        return mine_too
    started = owner.start_time(pid)
    return started is None or (m.group(2) is not None and started != int(m.group(2)))


def sweep_stale_cgroups(
    root: Path = CGROUP_ROOT,
    own: str | None = None,
    *,
    dry_run: bool = False,
    mine_too: bool = False,
) -> list[str]:
    """Remove the probe cgroups whose harness process ended without removing them (killed
    outright), killing any probe still running in them first, and with `mine_too` this
    process's own; returns their paths. Every backend sweeps when it starts and when it ends."""
    if is_cgroup2(root):
        parents = v2_parents(root, own_cgroup_v2() if own is None else own)
        host = CgroupHost(2, root, root)
        where = [(UNIFIED, base) for base in parents]
    else:
        host = CgroupHost(1, root, root)
        where = [(c, root / c) for c in V1_CONTROLLERS]
    found: dict[str, _Cgroups] = {}
    for key, base in where:
        for d in base.glob(f"{PREFIX}*") if base.is_dir() else ():
            if _stale(d.name, mine_too):  # v1: one probe's dirs share a name across controllers
                cg = found.setdefault(str(d) if key == UNIFIED else d.name, _Cgroups(d.name, host))
                cg.dirs[key] = d
    out = [str(d) for cg in found.values() for d in cg.dirs.values()]
    if not dry_run:
        for cg in found.values():
            cg.remove()
    return out


def which(cmd: str) -> str | None:
    return shutil.which(cmd)
