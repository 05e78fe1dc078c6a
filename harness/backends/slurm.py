"""Slurm backend: one probe = one batch job; the cluster's cgroup plugin enforces its caps.

A probe asks sbatch for one node, one task, `--cpus-per-task=ceil(cpus)` (select/cons_tres
hands out whole cores, never a core of a running job to another), `--mem` (the memory cap; with
none asked, a share of the node proportional to the CPUs, so that probes can share a node),
`--gres=gpu:N`, a `--time` above the probe's own limit, and no requeue. Slurm picks the node;
its task/cgroup plugin confines the job (ConstrainCores: a cpuset; ConstrainRAMSpace and
ConstrainSwapSpace: a memory limit without swap; ConstrainDevices: the GPUs). The workload
reads what it was granted from inside (harness/telemetry/grant.py) and the profile records
that, not what was asked.

The probe's folder (request, records, log) must be one every node sees at the same path
(`HARNESS_SLURM_SHARED`, see harness/slurm/settings.py): the backend tails its records file
while the job runs, as the other backends do. The probe's time limit counts from the job's
start, not its submission (time in the queue is not the probe's). Every job this backend
submitted and has not seen end is cancelled by `cleanup()` (Ctrl-C, SIGTERM, exit); a probe
interrupted that way raises `Interrupted` rather than being recorded, so `--resume` runs it
again.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import re
import threading
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

from harness import owner
from harness.backends.base import (
    BackendError,
    OnRecord,
    ProbeRequest,
    ProbeRun,
    Record,
    read_records,
    tail_lines,
)
from harness.profile import Caps, Enforcement, Outcome
from harness.slurm import commands
from harness.slurm.nodes import NodeType, node_types
from harness.slurm.outcome import classify
from harness.slurm.script import nodes_script, probe_script
from harness.slurm.settings import SlurmSettings

if TYPE_CHECKING:
    from harness.multinode import MultiNodeRun

JOB_PREFIX = "harness-"
OWNER_TAG = "harness-owner="  # a job's --comment: the process that submitted it
TIME_MARGIN_MIN = 1  # Slurm's --time is whole minutes, checked about every 30 s


class Interrupted(BackendError):
    """The sweep is being stopped (cleanup cancelled the job): the probe is not recorded."""


def session_id() -> str:
    return f"{os.getpid()}-{uuid.uuid4().hex[:6]}"


def time_limit_min(timeout_s: float) -> int:
    """Slurm's --time for a probe of `timeout_s`: whole minutes, with a margin (the harness
    cancels at its own limit first; Slurm's ends the job if the harness is gone)."""
    return max(1, math.ceil(timeout_s / 60)) + TIME_MARGIN_MIN


def mem_mb(caps: Caps, node: NodeType | None) -> tuple[int, bool]:
    """(--mem in MB, whether it is the cap asked for). With no cap asked, the node's memory in
    proportion to the CPUs (Slurm gives a job without --mem the whole node's memory, which
    would keep every other probe off it)."""
    if caps.memory_gb is not None:
        return max(1, math.ceil(caps.memory_gb * 1024)), True
    if node is None or node.cpus <= 0:
        return 1024 * max(1, math.ceil(caps.cpus)), False
    return max(256, node.memory_mb * math.ceil(caps.cpus) // node.cpus), False


def sbatch_args(
    name: str, workdir: Path, caps: Caps, timeout_s: float, node: NodeType | None, nnodes: int = 1
) -> list[str]:
    """sbatch's options for one probe (pure)."""
    mem, _ = mem_mb(caps, node)
    args = [
        f"--job-name={name}",
        f"--output={workdir / 'stderr.log'}",
        f"--chdir={workdir}",
        f"--nodes={nnodes}",
        "--ntasks-per-node=1",
        f"--cpus-per-task={max(1, math.ceil(caps.cpus - 1e-9))}",
        f"--mem={mem}M",
        f"--time={time_limit_min(timeout_s)}",
        "--no-requeue",
        f"--comment={OWNER_TAG}{owner.me().label()}",  # whose it is, for reap_orphan_jobs
    ]
    if caps.gpus or caps.gpu_ids:
        args.append(f"--gres=gpu:{caps.gpus or len(caps.gpu_ids or [])}")
    return args + (node.sbatch_args() if node is not None else [])


def enforcement(caps: Caps, node: NodeType | None, grant: Record | None) -> Enforcement:
    """What the job was granted, from the probe's own `grant` record (read inside it)."""
    n = max(1, math.ceil(caps.cpus - 1e-9))
    mem, asked = mem_mb(caps, node)
    if grant is None:
        return Enforcement(
            cpu=f"slurm --cpus-per-task={n} (no grant record: the probe ended before reading it)",
            memory=f"slurm --mem={mem}M (not confirmed inside the probe)",
            memory_enforced=False,
        )
    where = grant.get("node") or "?"
    cset = grant.get("cpuset") or grant.get("affinity")
    limit = grant.get("memory_limit_bytes")
    cpu = f"slurm --cpus-per-task={n}: task/cgroup cpuset {_cpus(cset)} on {where}"
    if limit is None:
        memory = f"slurm --mem={mem}M: NOT enforced (no memory cgroup limit seen in the probe)"
    else:
        memory = (
            f"slurm --mem={mem}M: cgroup limit {limit / 2**20:.0f} MiB seen in the probe "
            f"({grant.get('memory_cgroup')})"
        )
        if not asked:
            memory += "; no cap asked: a share of the node in proportion to its CPUs"
    enforced = asked and limit is not None and limit <= mem * 2**20 * 1.01
    gpus = None
    if caps.gpus or caps.gpu_ids:
        gpus = f"slurm --gres=gpu:{caps.gpus}: CUDA_VISIBLE_DEVICES={grant.get('gpus')!r}"
    return Enforcement(
        cpu=cpu,
        cpuset=list(cset) if cset else None,
        memory=memory,
        memory_enforced=bool(enforced),
        gpus=gpus,
    )


def _cpus(cset: list[int] | None) -> str:
    return ",".join(map(str, cset)) if cset else "?"


@dataclasses.dataclass
class _Tracker:
    """The jobs of this harness run still in flight, shared by every node type's backend."""

    jobs: set[str] = dataclasses.field(default_factory=set)
    lock: threading.Lock = dataclasses.field(default_factory=threading.Lock)
    stopping: threading.Event = dataclasses.field(default_factory=threading.Event)


class SlurmBackend:
    name = "slurm"
    concurrent = True  # several probes in flight at once: Slurm places and isolates them

    def __init__(
        self,
        settings: SlurmSettings | None = None,
        node_type: NodeType | None = None,
        *,
        session: str | None = None,
        check: bool = True,
        _tracker: _Tracker | None = None,
    ) -> None:
        self.settings = settings or SlurmSettings.from_env()
        if check:
            ok, why = commands.available()
            if not ok:
                raise BackendError(f"--backend slurm: no Slurm controller answers ({why})")
        self.session = session or session_id()
        self.reaped: list[str] = []  # jobs of killed harness processes, cancelled now
        if check:
            with contextlib.suppress(Exception):  # tidying up never stops a run
                self.reaped = reap_orphan_jobs()
        self._tracker = _tracker or _Tracker()
        self.node_type = node_type or (self.types()[0] if check else None)

    # ------------------------------------------------------------ the cluster

    def types(self) -> list[NodeType]:
        """The node types the settings name (one profile per job per type)."""
        from harness.slurm.nodes import NoNodes

        text = commands.sinfo()
        try:
            return node_types(
                commands.parse_sinfo(text),
                self.settings.partitions,
                commands.default_partition(text),
                self.settings.types,
            )
        except NoNodes as exc:
            raise BackendError(str(exc)) from None

    def for_type(self, node_type: NodeType) -> SlurmBackend:
        """A backend submitting to one node type; it shares this one's jobs and cleanup."""
        return SlurmBackend(
            self.settings, node_type, session=self.session, check=False, _tracker=self._tracker
        )

    def describe(self) -> str:
        t = self.node_type
        where = "the default partition"
        if t is not None:
            where = f"node type '{t.name}' ({len(t.nodes)} node(s) of {t.cpus} CPUs"
            where += f", {t.memory_mb} MB"
            where += f"; {' '.join(t.sbatch_args())})" if t.sbatch_args() else ")"
        return (
            f"slurm ({where}): caps by --cpus-per-task/--mem/--gres, enforced by the cluster's "
            "task/cgroup plugin and read back inside each probe"
        )

    def host_cpus(self) -> int:
        """The CPUs of the type's smallest node: the most one probe can ask of every node."""
        return self.node_type.cpus if self.node_type is not None else 1

    # ------------------------------------------------------------ one probe

    def run_probe(self, request: ProbeRequest, on_record: OnRecord | None = None) -> ProbeRun:
        request = self._placed(request)
        threads = request.threads or max(1, math.ceil(request.caps.cpus - 1e-9))
        request.threads = threads
        request.request_file.write_text(
            request.to_json(str(request.records_file), self._data_dir(request))
        )
        script = probe_script(
            python=self.settings.python,
            source=self.settings.source,
            workdir=request.workdir,
            threads=threads,
            gpus=request.caps.gpus,
            env=request.env,
        )
        files = {request.records_file: 0}
        job, watched = self._submit_and_watch(request, script, 1, files, on_record)
        records = watched.records[request.records_file]
        return self._probe_run(request, job, watched, records)

    def _placed(self, request: ProbeRequest) -> ProbeRequest:
        """The request with its folder where every node sees it, made clean, and an external
        script's path made absolute (the job runs in the probe's folder, not here)."""
        script = request.spec.get("script")
        if isinstance(script, dict) and script.get("path"):
            where = str(Path(script["path"]).resolve())
            spec = {**request.spec, "script": {**script, "path": where}}
            request = dataclasses.replace(request, spec=spec)
        shared = self.settings.shared
        if shared is not None:
            rel = request.workdir.name
            request = dataclasses.replace(request, workdir=shared / self.session / rel)
        request.workdir.mkdir(parents=True, exist_ok=True)
        for stale in (request.records_file, request.stderr_file):
            stale.unlink(missing_ok=True)
        return request

    @staticmethod
    def _data_dir(request: ProbeRequest) -> str | None:
        if request.data_dir is not None:
            return str(Path(request.data_dir).resolve())
        env = os.environ.get("HARNESS_DATA")
        return str(Path(env).resolve()) if env else None

    def _submit_and_watch(
        self,
        request: ProbeRequest,
        script: str,
        nnodes: int,
        files: dict[Path, int],
        on_record: OnRecord | None,
    ) -> tuple[str, _Watched]:
        """Submit the job and follow it to its end (records passed on as they arrive); the
        job is cancelled if this is left early (Ctrl-C, an error)."""
        if self._tracker.stopping.is_set():
            raise Interrupted("the sweep is being stopped")
        path = request.workdir / "job.sh"
        path.write_text(script)
        name = f"{JOB_PREFIX}{self.session}-{request.workdir.name}"[:120]
        args = sbatch_args(
            name, request.workdir, request.caps, request.timeout_s, self.node_type, nnodes
        )
        job = commands.submit(str(path), [*args, *self.settings.extra])
        with self._tracker.lock:
            self._tracker.jobs.add(job)
        try:
            watched = self._watch(job, request.timeout_s, files, on_record)
        finally:
            with self._tracker.lock:
                self._tracker.jobs.discard(job)
        return job, watched

    def _watch(
        self, job: str, timeout_s: float, files: dict[Path, int], on_record: OnRecord | None
    ) -> _Watched:
        watched = _Watched({f: [] for f in files})
        offsets = dict(files)
        ended = False
        try:
            last_state = 0.0
            while True:
                self._read(offsets, watched, on_record)
                now = time.monotonic()
                if now - last_state >= self.settings.state_s:
                    last_state = now
                    st = commands.job_state(job)
                    watched.state = st
                    if st is not None and st.running and watched.started is None:
                        watched.started = now
                    if st is None or st.done:
                        break
                    if watched.started is not None and now - watched.started > timeout_s:
                        watched.timed_out_s = timeout_s
                        commands.cancel([job])
                        self._wait_gone(job)
                        break
                if self._tracker.stopping.is_set():
                    raise Interrupted(f"job {job} cancelled: the sweep is being stopped")
                time.sleep(self.settings.poll_s)
            ended = True
            self._read(offsets, watched, on_record)
            watched.state = commands.job_state(job) or watched.state
            if watched.started is None:
                watched.started = time.monotonic()
            watched.duration_s = time.monotonic() - watched.started
            return watched
        finally:
            if not ended:
                commands.cancel([job])

    @staticmethod
    def _read(offsets: dict[Path, int], watched: _Watched, on_record: OnRecord | None) -> None:
        for f, off in offsets.items():
            new, offsets[f] = read_records(f, off)
            for rec in new:
                watched.records[f].append(rec)
                if on_record is not None:
                    on_record(rec)

    @staticmethod
    def _wait_gone(job: str, limit_s: float = 60.0) -> None:
        """Until the job has left the queue (a cancelled job completes for KillWait first)."""
        t0 = time.monotonic()
        while time.monotonic() - t0 < limit_s:
            with contextlib.suppress(commands.SlurmError):
                if not commands.queued([job]):
                    return
            time.sleep(0.5)

    def _probe_run(
        self, request: ProbeRequest, job: str, watched: _Watched, records: list[Record]
    ) -> ProbeRun:
        outcome, reason = classify(watched.state, records, watched.timed_out_s)
        grant = next((r for r in records if r.get("type") == "grant"), None)
        enforced = enforcement(request.caps, self.node_type, grant)
        caps_rec = next((r for r in records if r.get("type") == "caps"), None)
        enforced.torch_threads = request.threads
        if caps_rec is not None:
            enforced.loader_workers = caps_rec.get("workers")
        peak = next((r.get("peak_rss_mb") for r in records if r.get("type") == "done"), None)
        st = watched.state
        nodes = st.nodes if st is not None and st.nodes else "?"
        return ProbeRun(
            outcome=outcome,
            records=records,
            duration_s=watched.duration_s,
            enforced=enforced,
            exit_code=st.exit_code if st is not None else None,
            reason=reason,
            log_tail=tail_lines(request.stderr_file) if outcome != Outcome.ok else [],
            peak_rss_mb=float(peak) if peak is not None else None,
            container=f"slurm job {job} on {nodes}",
        )

    # ------------------------------------------------------------ several nodes

    def run_nodes(
        self,
        request: ProbeRequest,
        nnodes: int,
        *,
        master_port: int | None = None,
        on_record: OnRecord | None = None,
    ) -> MultiNodeRun:
        """One data-parallel probe on `nnodes` nodes of one allocation: one torchrun node per
        node, the rendezvous taken from the allocation (see harness/slurm/script.py)."""
        request = self._placed(request)
        threads = request.threads or max(1, math.ceil(request.caps.cpus - 1e-9))
        data_dir = self._data_dir(request)
        files: dict[Path, int] = {}
        node_reqs = []
        for rank in range(nnodes):
            req = dataclasses.replace(
                request,
                workdir=request.workdir / f"node{rank}",
                node_rank=rank,
                nnodes=nnodes,
                threads=threads,
                master_port=master_port,
            )
            req.workdir.mkdir(parents=True, exist_ok=True)
            req.records_file.unlink(missing_ok=True)
            req.request_file.write_text(req.to_json(str(req.records_file), data_dir))
            files[req.records_file] = 0
            node_reqs.append(req)
        script = nodes_script(
            python=self.settings.python,
            source=self.settings.source,
            workdir=request.workdir,
            nnodes=nnodes,
            threads=threads,
            gpus=request.caps.gpus,
            master_port=master_port,
            env=request.env,
        )
        job, watched = self._submit_and_watch(request, script, nnodes, files, on_record)
        runs = [
            self._probe_run(r, job, watched, watched.records[r.records_file]) for r in node_reqs
        ]
        log = "\n".join(tail_lines(request.stderr_file, 200))
        rdv = re.search(r"rendezvous: (\S+):(\d+) \((\S+)\)", log)
        if any(r.outcome != Outcome.ok for r in runs):
            tail = tail_lines(request.stderr_file)
            for r in runs:
                r.log_tail = r.log_tail or tail
        return nodes_run(runs, request.caps, rdv, master_port)

    # ------------------------------------------------------------ the end

    def cleanup(self) -> None:
        """Cancel every job still in flight (and wait for them to leave the queue)."""
        self._tracker.stopping.set()
        with self._tracker.lock:
            jobs = sorted(self._tracker.jobs)
        commands.cancel(jobs)
        for job in jobs:
            self._wait_gone(job, 30.0)

    def reset(self) -> None:
        """After a cleanup: accept probes again (a new sweep with the same backend)."""
        self._tracker.stopping.clear()


def reap_orphan_jobs(dry_run: bool = False) -> list[str]:
    """Cancel this user's queued or running jobs that a harness process submitted and that
    outlived it (killed outright: its Ctrl-C handler never ran); returns them as 'job ID
    (NAME)'. Jobs of live, unknown or other hosts' processes stay (harness/owner.py)."""
    out, ids = [], []
    for job, name, comment in commands.my_jobs():
        if not comment.startswith(OWNER_TAG):
            continue
        o = owner.Owner.parse(comment[len(OWNER_TAG) :])
        if o is not None and owner.gone(o) is True:
            out.append(f"job {job} ({name})")
            ids.append(job)
    if not dry_run:
        commands.cancel(ids)
    return out


@dataclasses.dataclass
class _Watched:
    """What following one job gave: every records file's records, its last state, when it
    started running, how long it ran, and whether the harness cancelled it for time."""

    records: dict[Path, list[Record]]
    state: commands.JobState | None = None
    started: float | None = None
    duration_s: float = 0.0
    timed_out_s: float | None = None


def nodes_run(
    runs: list[ProbeRun], caps: Caps, rdv: re.Match[str] | None, port: int | None
) -> MultiNodeRun:
    """The nodes' runs as one multi-node run: per-node results (named by the node each ran
    on, as it saw it), every node's records, the whole job's images/s, the all-reduce share."""
    from harness.cores import overlaps
    from harness.multinode import MultiNodeRun, _median, aggregate_throughput, node_result
    from harness.telemetry.grant import seen_cores

    records = [rec for r in runs for rec in r.records]
    grants = [next((x for x in r.records if x.get("type") == "grant"), None) for r in runs]
    nodes = []
    by_host: dict[str, dict[str, list[int]]] = {}  # machine -> node name -> cores it saw
    for rank, (r, grant) in enumerate(zip(runs, grants, strict=True)):
        host = str(grant.get("node")) if grant is not None else f"rank {rank}"
        n = node_result(rank, host, caps, r.records)
        n.cpuset = seen_cores(grant) or None
        nodes.append(n)
        if grant is not None and grant.get("host"):
            by_host.setdefault(str(grant["host"]), {})[f"node{rank}"] = seen_cores(grant)
    shared = [s for m, sets in by_host.items() for s in overlaps(sets, host=m)]
    shares = [n.comm_share for n in nodes if n.comm_share is not None]
    return MultiNodeRun(
        runs=runs,
        nodes=nodes,
        master_addr=rdv.group(1) if rdv else "?",
        master_port=int(rdv.group(2)) if rdv else (port or 0),
        network=f"slurm allocation {rdv.group(3)}" if rdv else "slurm allocation",
        aggregate=aggregate_throughput(records, len(runs)),
        comm_share=_median(shares),
        records=records,
        shared_cores=shared,
    )
