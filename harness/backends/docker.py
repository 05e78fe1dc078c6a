"""Docker backend: one probe = one container, with caps the kernel enforces.

CPU: `--cpus` (CFS quota) plus `--cpuset-cpus`; memory: `--memory` with `--memory-swap` equal
(no swap); GPUs through device requests; a large /dev/shm for DataLoader workers. The dataset
is mounted read-only and the probe folder read-write, so records.jsonl streams back while the
probe runs. Every container carries labels (harness.session, harness.probe) so that Ctrl-C, a
timeout or an error removes it, and `cleanup()` removes whatever this session left.

Cores: a probe's cores are its own on its host. They avoid the cores of every harness container
running on the engine (read from the engine) and, on a local engine, those the host's core
ledger says other harness probes hold (harness/cores.py); too few free cores refuse the probe
before its container exists, unless `allow_oversubscribe`, and then the ProbeRun says which
cores were shared with whom (`shared_cores`), from the cpuset the probe read inside itself.
The multi-node driver assigns its nodes' cores itself (Placement.cpuset) and holds them.

The container's CPU time and peak memory are read from its own cgroup by a small shell
wrapper after the workload exits (the engine's stats are gone once a container has stopped).
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import tarfile
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import docker
import docker.errors
from docker.types import DeviceRequest

from harness import owner
from harness.backends.base import (
    BackendError,
    OnRecord,
    ProbeRequest,
    ProbeRun,
    Record,
    block_device,
    read_records,
    refusal,
    seen_cpuset,
)
from harness.cores import CoreLedger, Grant, Want, assign_waiting, overlaps, parse_cores
from harness.profile import Caps, Enforcement, Outcome

LABEL_SESSION = "harness.session"
LABEL_PROBE = "harness.probe"
LABEL_ROLE = "harness.role"
LABEL_OWNER = "harness.owner"  # the process that made it (harness/owner.py), for the reaper
PROBE_DIR = "/probe"
SCRIPT_DIR = "/opt/script"  # an external training script's folder, mounted read-only
DATA_DIR = "/data"
SOURCE_DIR = "/opt/harness/harness"

# Runs the workload, then reads the container's own cgroup counters (v1 or v2) into a file.
ENTRY = ("python", "-m", "harness.workloads.run", f"{PROBE_DIR}/request.json")
WRAPPER = r"""
"$@"
rc=$?
{
for f in /sys/fs/cgroup/cpuacct/cpuacct.usage /sys/fs/cgroup/cpu,cpuacct/cpuacct.usage; do
  [ -r "$f" ] && echo "cpu_ns $(cat "$f")" && break
done
f=/sys/fs/cgroup/cpu.stat
[ -r "$f" ] && echo "cpu_us $(sed -n 's/^usage_usec //p' "$f")"
for f in /sys/fs/cgroup/memory/memory.max_usage_in_bytes /sys/fs/cgroup/memory.peak; do
  [ -r "$f" ] && echo "mem_peak $(cat "$f")" && break
done
} > /probe/cgroup.txt 2>/dev/null
exit $rc
"""


def session_id() -> str:
    return f"{os.getpid()}-{uuid.uuid4().hex[:8]}"


def available(timeout: float = 3.0, base_url: str | None = None) -> bool:
    """Does a Docker engine answer within `timeout` seconds? (for --backend auto)"""
    try:
        cli = (
            docker.DockerClient(base_url=base_url, timeout=int(math.ceil(timeout)))
            if base_url
            else docker.from_env(timeout=int(math.ceil(timeout)))
        )
        ok = bool(cli.ping())
        cli.close()
        return ok
    except Exception:
        return False


def pick_cpuset(host_cpus: int, want: float, offset: int = 0) -> list[int]:
    """ceil(want) cores counted down from the last core (core 0 keeps the host's own work),
    shifted by `offset` cores so that nodes on one host get disjoint sets while they fit."""
    k = max(1, math.ceil(want - 1e-9))
    if k > host_cpus:
        raise BackendError(f"asked for {want:g} CPUs; the engine's host has {host_cpus}")
    return sorted({(host_cpus - 1 - offset - i) % host_cpus for i in range(k)})


def gib_bytes(gb: float) -> int:
    return int(gb * 1024**3)


def parse_cgroup(text: str) -> tuple[float | None, float | None]:
    """(cpu seconds, peak memory MiB) from the wrapper's cgroup.txt."""
    cpu: float | None = None
    mem: float | None = None
    for line in text.splitlines():
        key, _, val = line.partition(" ")
        try:
            num = float(val)
        except ValueError:
            continue
        if key == "cpu_ns":
            cpu = num / 1e9
        elif key == "cpu_us":
            cpu = num / 1e6
        elif key == "mem_peak":
            mem = num / 2**20
    return cpu, mem


def classify(
    oom_killed: bool, exit_code: int | None, timed_out: bool, records: list[Record]
) -> tuple[Outcome, str | None]:
    """How a probe ended, from the engine's state and the records (pure)."""
    errors = [r.get("message", "") for r in records if r.get("type") == "error"]
    if timed_out:
        return Outcome.timed_out, "killed at the probe's time limit"
    if oom_killed:
        return Outcome.oom, "out of memory: the kernel killed it at the memory cap (OOMKilled)"
    if errors and str(errors[-1]).startswith("MemoryError"):
        return Outcome.oom, "out of memory: an allocation failed at the memory cap (MemoryError)"
    if exit_code == 0:
        return Outcome.ok, None
    refused = refusal(records)
    if refused is not None:
        return Outcome.refused, refused
    if errors:
        return Outcome.crashed, f"exit {exit_code}: {errors[-1]}"
    return Outcome.crashed, f"exit {exit_code}"


def container_limits(caps: Caps, cpuset: list[int], shm_size_gb: float = 2.0) -> dict[str, Any]:
    """The docker SDK's keyword arguments for the caps (pure)."""
    kw: dict[str, Any] = {
        "nano_cpus": int(round(caps.cpus * 1e9)),
        "cpuset_cpus": ",".join(str(c) for c in cpuset),
    }
    shm = shm_size_gb
    if caps.memory_gb is not None:
        kw["mem_limit"] = gib_bytes(caps.memory_gb)
        kw["memswap_limit"] = gib_bytes(caps.memory_gb)
        shm = min(shm, caps.memory_gb)  # tmpfs pages are charged to the cgroup anyway
    kw["shm_size"] = gib_bytes(max(shm, 0.0625))
    if caps.gpu_ids:
        ids = [str(i) for i in caps.gpu_ids]
        kw["device_requests"] = [DeviceRequest(device_ids=ids, capabilities=[["gpu"]])]
    elif caps.gpus:
        kw["device_requests"] = [DeviceRequest(count=caps.gpus, capabilities=[["gpu"]])]
    return kw


@dataclass
class Placement:
    """Where and how one container runs (the multi-node driver sets these per node)."""

    name: str | None = None
    network: str | None = None  # None: no network ("none"); "host" or a user network
    cpu_offset: int = 0
    hostname: str | None = None
    env: dict[str, str] | None = None
    role: str = "probe"
    entry: Sequence[str] | None = None  # the workload's command; None: the backend's own
    cpuset: list[int] | None = None  # cores assigned (and held) by the caller; None: lease them


class DockerBackend:
    name = "docker"

    def __init__(
        self,
        image: str | None = None,
        *,
        base_url: str | None = None,
        remote: bool | None = None,
        session: str | None = None,
        mount_source: bool = True,
        data_cache: Path | None = None,
        shm_size_gb: float = 2.0,
        poll_s: float = 0.1,
        timeout: int = 60,
        entry: Sequence[str] = ENTRY,
        allow_oversubscribe: bool = False,
        ledger: CoreLedger | None = None,
    ) -> None:
        try:
            self.client = (
                docker.DockerClient(base_url=base_url, timeout=timeout)
                if base_url
                else docker.from_env(timeout=timeout)
            )
            self.client.ping()
        except Exception as exc:
            where = base_url or os.environ.get("DOCKER_HOST", "the local socket")
            raise BackendError(
                f"no Docker engine answers at {where} ({type(exc).__name__})"
            ) from None
        self.base_url = base_url
        # A remote engine cannot see this host's folders: files go in and out by archive.
        self.remote = (
            remote if remote is not None else bool(base_url and not base_url.startswith("unix:"))
        )
        self.session = session or session_id()
        self.mount_source = mount_source and not self.remote
        default_cache = Path.home() / ".cache" / "harness" / "data"
        self.data_cache = data_cache or Path(os.environ.get("HARNESS_DATA", default_cache))
        self.shm_size_gb = shm_size_gb
        self.poll_s = poll_s
        self._image = image
        self.entry = list(entry)  # what runs in the container (tests use tiny stand-ins)
        self.allow_oversubscribe = allow_oversubscribe
        self.ledger = ledger or CoreLedger()
        self._info: dict[str, Any] | None = None
        self._prepared: set[str] = set()
        self._lock = threading.Lock()
        self.reaped: list[str] = []  # what killed harness processes had left, removed now
        with contextlib.suppress(Exception):  # tidying up never stops a run
            self.reaped = reap_orphans(self.client)

    # ------------------------------------------------------------ facts

    @property
    def info(self) -> dict[str, Any]:
        if self._info is None:
            self._info = self.client.info()
        return self._info

    def host_cpus(self) -> int:
        return int(self.info.get("NCPU") or os.cpu_count() or 1)

    def machine(self) -> str:
        """The engine's host, by name: engines on one machine share its cores."""
        return str(self.info.get("Name") or self.base_url or "local engine")

    def engine_busy(self) -> dict[int, list[str]]:
        """Cores of the harness containers running on this engine (any session), by name; one
        whose maker was killed holds none: it is removed (harness/owner.py)."""
        out: dict[int, list[str]] = {}
        flt = {"label": LABEL_SESSION, "status": "running"}
        for summary in self.client.api.containers(filters=flt):
            try:  # one that ends meanwhile holds nothing
                attrs = self.client.api.inspect_container(summary["Id"])
            except docker.errors.NotFound:
                continue
            if _orphaned((attrs.get("Config") or {}).get("Labels")):
                with contextlib.suppress(docker.errors.APIError):  # its maker was killed
                    self.client.api.remove_container(summary["Id"], force=True)
                continue
            text = (attrs.get("HostConfig") or {}).get("CpusetCpus") or ""
            name = str(attrs.get("Name") or summary["Id"][:12]).lstrip("/")
            for core in parse_cores(text) if text else []:
                out.setdefault(core, []).append(f"container {name}")
        return out

    @contextlib.contextmanager
    def lease(
        self,
        wants: Sequence[Want],
        what: str | None = None,
        extra_busy: dict[int, list[str]] | None = None,
        allow_oversubscribe: bool | None = None,
        wait_s: float | None = None,
    ) -> Any:
        """Cores for `wants` on this engine's host, held until the block ends: none that a
        running harness container or (local engine) another harness probe holds, waiting for
        held ones to be let go; CoresRefused when they do not fit and oversubscription is not
        allowed (see harness/cores.py; `allow_oversubscribe` overrides the backend's own)."""
        allow = self.allow_oversubscribe if allow_oversubscribe is None else allow_oversubscribe
        cores = list(range(self.host_cpus()))

        def busy_now() -> dict[int, list[str]]:
            busy = self.engine_busy()
            for c, names in (extra_busy or {}).items():
                busy.setdefault(c, []).extend(names)
            return busy

        if self.remote:  # the ledger knows this host's probes, not the engine's
            yield assign_waiting(
                wants,
                cores,
                busy_now,
                allow_oversubscribe=allow,
                wait_s=wait_s,
                what=what,
                host=self.machine(),
            )
            return
        with self.ledger.lease(
            wants,
            cores,
            allow_oversubscribe=allow,
            what=what,
            host=self.machine(),
            extra_busy=busy_now,
            wait_s=wait_s,
        ) as grant:
            yield grant

    def check_cores(self, cpus: float, wait_s: float | None = None) -> None:
        """CoresRefused now, before a sweep starts, if a probe of `cpus` would be refused
        (after waiting up to `wait_s` for cores others hold; None: the default wait)."""
        with self.lease([Want("check", cpus)], what=f"--cpu {cpus:g}", wait_s=wait_s):
            pass

    def swap_limit(self) -> bool:
        return bool(self.info.get("SwapLimit", True))

    def image_for(self, caps: Caps) -> str:
        if self._image:
            return self._image
        from harness.images import ImageError, Kind, find_image

        kind: Kind = "cuda" if caps.gpus or caps.gpu_ids else "cpu"
        try:
            found = find_image(kind, self.client)
        except ImageError as exc:
            raise BackendError(str(exc)) from None
        if found is None:
            raise BackendError(
                f"no harness-job:{kind} image on the engine: run `harness images build"
                f"{' --cuda' if kind == 'cuda' else ''}` (or pass --image)"
            )
        return found

    def describe(self) -> str:
        where = self.base_url or "local engine"
        return (
            f"docker ({where}, engine {self.info.get('ServerVersion', '?')}, "
            f"cgroup {self.info.get('CgroupVersion', '?')}): caps by --cpus/--cpuset-cpus, "
            f"--memory=--memory-swap, device requests for GPUs"
        )

    # ------------------------------------------------------------ caps

    def enforcement(self, caps: Caps, cpuset: list[int]) -> Enforcement:
        cpus = ",".join(str(c) for c in cpuset)
        mem = None
        if caps.memory_gb is not None:
            g = f"{caps.memory_gb:g}g"
            mem = f"docker --memory={g} --memory-swap={g}"
            if not self.swap_limit():
                mem += " (the kernel has no swap accounting: swap not limited)"
        gpus = None
        if caps.gpu_ids:
            gpus = "docker --gpus device=" + ",".join(str(i) for i in caps.gpu_ids)
        elif caps.gpus:
            gpus = f"docker --gpus {caps.gpus}"
        return Enforcement(
            cpu=f"docker --cpus={caps.cpus:g} --cpuset-cpus={cpus}",
            cpuset=cpuset,
            cpu_quota=caps.cpus,
            memory=mem or "not capped",
            memory_enforced=caps.memory_gb is not None,
            gpus=gpus,
        )

    def _cap_disk(self, limits: dict[str, Any], root: Path | None, mbps: float) -> str:
        """Cap the read bandwidth of the disk that holds the dataset (blkio throttle): a fast
        local disk stands in for the slower shared storage of a cluster, so that a dataset the
        page cache cannot hold costs what it would there. Says why when it cannot."""
        if root is None:
            return "not capped: the job reads no dataset from disk"
        if self.remote:
            return "not capped: the engine is remote (its disks are not known here)"
        dev = block_device(root)
        if dev is None:
            return f"not capped: no block device under {root}"
        limits["device_read_bps"] = [{"Path": dev, "Rate": int(mbps * 1e6)}]
        return f"docker --device-read-bps={dev}:{mbps:g}mb"

    # ------------------------------------------------------------ data

    def _data_root(self, request: ProbeRequest) -> Path | None:
        """Host folder mounted at /data (read-only), or None when the job needs none."""
        data = request.spec.get("data") or {}
        if data.get("source") == "synthetic" or self.remote:
            return None
        return Path(request.data_dir) if request.data_dir else self.data_cache

    def _prepare_data(self, image: str, request: ProbeRequest, root: Path) -> None:
        """Make the dataset once per session with the folder writable, so probes mount it ro."""
        spec = request.spec
        key = json.dumps([str(root), spec.get("data"), spec.get("input_shape"), image])
        with self._lock:  # nodes of one multi-node probe share the dataset
            if key not in self._prepared:
                self._make_data(image, spec, root)
                self._prepared.add(key)

    def _make_data(self, image: str, spec: dict[str, Any], root: Path) -> None:
        root.mkdir(parents=True, exist_ok=True)
        code = (
            "import json,os;from harness.spec import JobSpec;"
            "from harness.workloads.data import prepare_data;"
            "print(prepare_data(JobSpec.model_validate(json.loads(os.environ['HARNESS_SPEC'])),"
            f"'{DATA_DIR}'))"
        )
        c = self.client.containers.create(
            image,
            ["python", "-c", code],
            environment={"HARNESS_SPEC": json.dumps(spec), "HOME": "/tmp"},
            volumes={str(root): {"bind": DATA_DIR, "mode": "rw"}, **self._source_mount()},
            labels=self._labels("prepare", "prepare"),
            user=self._user(),
            network_mode="none",
        )
        try:
            c.start()
            rc = int(c.wait().get("StatusCode", -1))
            if rc != 0:
                tail = c.logs(tail=3).decode(errors="replace").strip().splitlines()
                raise BackendError(
                    f"making the dataset in {root} failed (exit {rc}): {tail[-1] if tail else ''}"
                )
        finally:
            with contextlib.suppress(Exception):
                c.remove(force=True)

    # ------------------------------------------------------------ helpers

    def _labels(self, probe: str, role: str) -> dict[str, str]:
        return {
            LABEL_SESSION: self.session,
            LABEL_PROBE: probe,
            LABEL_ROLE: role,
            LABEL_OWNER: owner.me().label(),
        }

    def _user(self) -> str | None:
        return None if self.remote else f"{os.getuid()}:{os.getgid()}"

    def _source_mount(self) -> dict[str, dict[str, str]]:
        if not self.mount_source:
            return {}
        from harness.images import package_dir

        return {str(package_dir()): {"bind": SOURCE_DIR, "mode": "ro"}}

    # ------------------------------------------------------------ run

    def run_probe(self, request: ProbeRequest, on_record: OnRecord | None = None) -> ProbeRun:
        """One container on cores of its own (leased for the probe's time), see `lease`."""
        caps = request.caps
        if math.ceil(caps.cpus - 1e-9) > self.host_cpus():
            raise BackendError(
                f"asked for {caps.cpus:g} CPUs; the engine's host has {self.host_cpus()}"
            )
        name = f"probe {request.workdir.name} (pid {os.getpid()})"
        with self.lease([Want(name, caps.cpus)], what=f"--cpu {caps.cpus:g}") as grant:
            run = self.run_placed(request, on_record, Placement(cpuset=grant.cpusets[name]))
        run.shared_cores = shared_after(run, name, grant)
        return run

    def run_placed(
        self, request: ProbeRequest, on_record: OnRecord | None, place: Placement
    ) -> ProbeRun:
        """Run one container to its end; never raises for a probe that failed."""
        launch = self._launch(request, place)
        records: list[Record] = []
        container = None
        t0 = time.monotonic()
        try:
            container = self._create(launch, request, place)
            t0 = time.monotonic()
            timed_out, offset, duration, stats_cpu = self._watch(
                container, request, records, on_record, t0
            )
            end = self._collect(container, request, offset, records, on_record)
        except docker.errors.ImageNotFound:
            raise BackendError(
                f"image {launch.image} not found: run `harness images build`"
            ) from None
        except docker.errors.APIError as exc:
            return ProbeRun(
                outcome=Outcome.crashed,
                records=records,
                duration_s=time.monotonic() - t0,
                enforced=launch.enforced,
                reason=f"docker: {exc.explanation or exc}"[:300],
                image=launch.image,
                container=launch.name,
            )
        finally:
            if container is not None:
                with contextlib.suppress(Exception):
                    container.remove(force=True)
        outcome, reason = classify(end.oom, end.exit_code, timed_out, records)
        _fill_from_records(launch.enforced, records)
        peak = next((r.get("peak_rss_mb") for r in records if r.get("type") == "done"), None)
        return ProbeRun(
            outcome=outcome,
            records=records,
            duration_s=duration,
            enforced=launch.enforced,
            exit_code=None if timed_out else end.exit_code,
            reason=reason,
            log_tail=end.log_tail,
            cpu_time_s=end.cgroup_cpu_s if end.cgroup_cpu_s is not None else stats_cpu,
            peak_rss_mb=float(peak) if peak is not None else end.cgroup_mem_mb,
            image=launch.image,
            container=launch.name,
        )

    def _launch(self, request: ProbeRequest, place: Placement) -> _Launch:
        """Everything decided before the container exists: its cores, image and dataset (made
        once per session), a clean probe folder, the request it reads, mounts and limits."""
        caps = request.caps
        cpuset = (
            place.cpuset
            if place.cpuset is not None
            else pick_cpuset(self.host_cpus(), caps.cpus, place.cpu_offset)
        )
        image = self.image_for(caps)
        root = self._data_root(request)
        if root is not None:
            self._prepare_data(image, request, root)
        workdir = request.workdir
        workdir.mkdir(parents=True, exist_ok=True)
        for stale in (request.records_file, workdir / "cgroup.txt"):
            stale.unlink(missing_ok=True)
        data_arg = DATA_DIR if root is not None else None
        # a local engine mounts the script's folder (its own modules come along); a remote one
        # is handed the file itself beside the request
        request, script = _script_of(request, PROBE_DIR if self.remote else SCRIPT_DIR)
        request_text = request.to_json(f"{PROBE_DIR}/records.jsonl", data_arg)
        env = {"HOME": "/tmp", "HARNESS_DATA": "/tmp/harness-data", "PYTHONPATH": "/opt/harness"}
        env.update(request.env)
        env.update(place.env or {})
        volumes: dict[str, dict[str, str]] = dict(self._source_mount())
        if script is not None and not self.remote:
            volumes[str(script.parent)] = {"bind": SCRIPT_DIR, "mode": "ro"}
        if not self.remote:
            request.request_file.write_text(request_text)
            volumes[str(workdir.resolve())] = {"bind": PROBE_DIR, "mode": "rw"}
        if root is not None:
            volumes[str(root.resolve())] = {"bind": DATA_DIR, "mode": "ro"}
        probe_id = workdir.name
        enforced = self.enforcement(caps, cpuset)
        limits = container_limits(caps, cpuset, self.shm_size_gb)
        if request.disk_read_mbps is not None:
            enforced.disk = self._cap_disk(limits, root, request.disk_read_mbps)
        return _Launch(
            image=image,
            name=place.name or f"harness-{self.session}-{probe_id}"[:120],
            probe_id=probe_id,
            request_text=request_text,
            env=env,
            volumes=volumes,
            limits=limits,
            enforced=enforced,
            script=script,
        )

    def _create(self, launch: _Launch, request: ProbeRequest, place: Placement) -> Any:
        """The container, created but not started (a remote engine gets the request now)."""
        container = self.client.containers.create(
            launch.image,
            ["sh", "-c", WRAPPER, "probe", *(place.entry or self.entry)],
            name=launch.name,
            hostname=place.hostname,
            labels=self._labels(launch.probe_id, place.role),
            environment=launch.env,
            volumes=launch.volumes,
            user=self._user(),
            working_dir=PROBE_DIR,
            network_mode=place.network or "none",
            init=True,
            **launch.limits,
        )
        if self.remote:
            _put_file(container, PROBE_DIR, "request.json", launch.request_text)
            if launch.script is not None:
                _put_file(container, PROBE_DIR, launch.script.name, launch.script.read_text())
        return container

    def _watch(
        self,
        container: Any,
        request: ProbeRequest,
        records: list[Record],
        on_record: OnRecord | None,
        t0: float,
    ) -> tuple[bool, int, float, float | None]:
        """Start the container and pass its records on as they are written, until it ends or
        its time is up (then it is killed, its CPU time read from the engine first). Returns
        (timed out, records file offset, seconds it ran, the engine's CPU seconds)."""
        container.start()
        done = threading.Event()
        waiter = threading.Thread(target=_wait, args=(container, done), daemon=True)
        waiter.start()
        deadline = t0 + request.timeout_s
        last_fetch = 0.0
        offset = 0
        timed_out = False
        while not done.wait(self.poll_s):
            now = time.monotonic()
            if self.remote and now - last_fetch > 2.0:
                last_fetch = now
                self._fetch_records(container, request)
            new, offset = read_records(request.records_file, offset)
            _deliver(new, records, on_record)
            if now > deadline:
                timed_out = True
                break
        duration = time.monotonic() - t0
        cpu_s: float | None = None
        if timed_out:
            cpu_s = _stats_cpu(container)
            with contextlib.suppress(Exception):
                container.kill()
            waiter.join(10)
        return timed_out, offset, duration, cpu_s

    def _collect(
        self,
        container: Any,
        request: ProbeRequest,
        offset: int,
        records: list[Record],
        on_record: OnRecord | None,
    ) -> _Ended:
        """What the stopped container leaves: its state, the last records, its log (kept in
        stderr.log) and the CPU time and peak memory its own cgroup reported."""
        container.reload()
        state = container.attrs.get("State", {})
        workdir = request.workdir
        if self.remote:
            self._fetch_records(container, request)
            with contextlib.suppress(Exception):
                text = _get_file(container, f"{PROBE_DIR}/cgroup.txt")
                (workdir / "cgroup.txt").write_text(text)
        new, offset = read_records(request.records_file, offset)
        _deliver(new, records, on_record)
        logs = container.logs(stdout=True, stderr=True).decode(errors="replace")
        request.stderr_file.write_text(logs)
        cg_cpu: float | None = None
        mem_mb: float | None = None
        cg = workdir / "cgroup.txt"
        if cg.exists():
            cg_cpu, mem_mb = parse_cgroup(cg.read_text())
        return _Ended(
            exit_code=state.get("ExitCode"),
            oom=bool(state.get("OOMKilled")),
            log_tail=[ln for ln in logs.splitlines() if ln.strip()][-20:],
            cgroup_cpu_s=cg_cpu,
            cgroup_mem_mb=mem_mb,
        )

    def _fetch_records(self, container: Any, request: ProbeRequest) -> None:
        with contextlib.suppress(Exception):
            text = _get_file(container, f"{PROBE_DIR}/records.jsonl")
            request.records_file.write_text(text)

    def containers(self) -> list[Any]:
        """This session's containers, running or not."""
        flt = {"label": f"{LABEL_SESSION}={self.session}"}
        return list(self.client.containers.list(all=True, filters=flt, ignore_removed=True))

    def cleanup(self) -> None:
        for c in self.containers():
            with contextlib.suppress(Exception):
                c.remove(force=True)


def _orphaned(labels: dict[str, str] | None) -> bool:
    """Made by a harness process of this host that has ended (see harness/owner.py)."""
    o = owner.Owner.parse((labels or {}).get(LABEL_OWNER))
    return o is not None and owner.gone(o) is True


def reap_orphans(client: Any, dry_run: bool = False) -> list[str]:
    """Remove the containers (running or not) and networks whose owning harness process has
    ended without removing them (killed outright); returns what was (or, dry, would be)
    removed, as 'container NAME' / 'network NAME'. Things of live, unknown or foreign owners
    stay (harness/owner.py)."""
    out: list[str] = []
    # ignore_removed: one that another clean-up removes while they are listed is no error
    found = client.containers.list(all=True, filters={"label": LABEL_OWNER}, ignore_removed=True)
    for c in found:
        if _orphaned(c.labels):
            out.append(f"container {c.name} ({c.status})")
            if not dry_run:
                with contextlib.suppress(docker.errors.NotFound):
                    c.remove(force=True)
    for n in client.networks.list(filters={"label": LABEL_OWNER}):
        if _orphaned(n.attrs.get("Labels")):
            out.append(f"network {n.name}")
            if not dry_run:
                with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError):
                    n.remove()
    return out


# ---------------------------------------------------------------- one probe's parts


@dataclass
class _Launch:
    """A container as decided before it is created."""

    image: str
    name: str
    probe_id: str
    request_text: str
    env: dict[str, str]
    volumes: dict[str, dict[str, str]]
    limits: dict[str, Any]
    enforced: Enforcement
    script: Path | None = None  # an external training script's host file


@dataclass
class _Ended:
    """What a stopped container reports (CPU seconds and peak MB from its own cgroup)."""

    exit_code: int | None
    oom: bool
    log_tail: list[str]
    cgroup_cpu_s: float | None
    cgroup_mem_mb: float | None


# ---------------------------------------------------------------- small helpers


def _wait(container: Any, done: threading.Event) -> None:
    while not done.is_set():
        try:
            container.wait(timeout=3600)
        except Exception:  # read timeout or the container is gone: look again
            try:
                container.reload()
                if container.status not in ("running", "created", "restarting"):
                    break
            except Exception:
                break
            continue
        break
    done.set()


def _deliver(new: list[Record], acc: list[Record], on_record: OnRecord | None) -> None:
    for rec in new:
        acc.append(rec)
        if on_record is not None:
            on_record(rec)


def _stats_cpu(container: Any) -> float | None:
    try:
        st = container.stats(stream=False)
        return float(st["cpu_stats"]["cpu_usage"]["total_usage"]) / 1e9
    except Exception:
        return None


def shared_after(run: ProbeRun, name: str, grant: Grant) -> list[Any]:
    """The cores the probe shared, from those it read inside itself (else those assigned)."""
    seen = seen_cpuset(run.records)
    host = next((s.host for s in grant.shared), None)
    return overlaps({name: seen or grant.cpusets[name]}, grant.busy, host=host)


def _fill_from_records(enforced: Enforcement, records: list[Record]) -> None:
    for r in records:
        if r.get("type") == "caps":
            enforced.torch_threads = r.get("threads")
            enforced.loader_workers = r.get("workers")


def _put_file(container: Any, folder: str, name: str, text: str) -> None:
    data = text.encode()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        info.mode = 0o644
        tar.addfile(info, io.BytesIO(data))
    container.put_archive(folder, buf.getvalue())


def _get_file(container: Any, path: str) -> str:
    stream, _ = container.get_archive(path)
    buf = io.BytesIO(b"".join(stream))
    with tarfile.open(fileobj=buf) as tar:
        member = tar.getmembers()[0]
        fh = tar.extractfile(member)
        return fh.read().decode(errors="replace") if fh else ""


def _script_of(request: ProbeRequest, folder: str) -> tuple[ProbeRequest, Path | None]:
    """An external training script's host file, and the request naming it as the container sees
    it (in `folder`): the job image holds the harness, not the user's script. The host path is
    taken as the user gave it (relative to the current folder)."""
    script = request.spec.get("script")
    if not script:
        return request, None
    host = Path(script["path"]).resolve()
    if not host.is_file():
        raise BackendError(f"script {script['path']!r}: no such file on this host")
    spec = {**request.spec, "script": {**script, "path": f"{folder}/{host.name}"}}
    return replace(request, spec=spec), host
