"""Multi-node data-parallel training profiles: one container per node, each with its own caps.

On one host the nodes are containers on a user-defined Docker network (they reach node 0 by
its container name). Across hosts, each node runs on that host's own Docker engine, reached by
its address (`ssh://user@host`, `tcp://host:2376`, `unix:///path.sock`), with host networking
so that the nodes reach `--master-addr`. Each container starts its node with torchrun
(`python -m torch.distributed.run`, static rendezvous at the master address and port, one
process per node); the workload joins torch.distributed from torchrun's environment (RANK,
WORLD_SIZE, MASTER_ADDR, MASTER_PORT): gloo on CPU, NCCL on GPU.

The docker SDK is imported inside functions; the pure parts (plans, summaries) need none.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from harness.backends.base import BackendError, OnRecord, ProbeRequest, ProbeRun, Record
from harness.profile import Caps, MedianCI, NodeResult, Outcome, Stat

if TYPE_CHECKING:
    from harness.options import ProfileOptions
    from harness.spec import JobSpec
    from harness.sweep import SweepHooks

DEFAULT_PORT = 29500
_SEVERITY = {
    Outcome.ok: 0,
    Outcome.timed_out: 1,
    Outcome.crashed: 2,
    Outcome.oom: 3,
    Outcome.refused: 4,
}


@dataclass
class NodePlan:
    rank: int
    caps: Caps
    host: str | None  # Docker engine URL; None = the local engine
    cpu_offset: int = 0


@dataclass
class MultiNodeRun:
    runs: list[ProbeRun]
    nodes: list[NodeResult]
    master_addr: str
    master_port: int
    network: str | None
    aggregate: Stat | None = None  # images/s of the whole job, per synchronous step
    comm_share: float | None = None  # median share of a step spent in all-reduce, all nodes
    records: list[Record] = field(default_factory=list)

    @property
    def outcome(self) -> Outcome:
        return max((r.outcome for r in self.runs), key=lambda o: _SEVERITY[o])

    def as_probe_run(self) -> ProbeRun:
        """One ProbeRun for the sweep: node 0's facts, every node's records, worst outcome."""
        first = self.runs[0]
        worst = max(self.runs, key=lambda r: _SEVERITY[r.outcome])
        cpu = [r.cpu_time_s for r in self.runs if r.cpu_time_s is not None]
        return dataclasses.replace(
            first,
            outcome=worst.outcome,
            reason=worst.reason,
            exit_code=worst.exit_code,
            log_tail=worst.log_tail,
            records=self.records,
            duration_s=max(r.duration_s for r in self.runs),
            cpu_time_s=sum(cpu) if cpu else None,
        )


def plan_nodes(
    nnodes: int, caps: Caps | Sequence[Caps], hosts: Sequence[str] | None = None
) -> list[NodePlan]:
    """One plan per node: its caps, its engine, and a cpuset offset so that nodes sharing an
    engine get disjoint cores while they fit."""
    if nnodes < 1:
        raise BackendError("--nnodes must be at least 1")
    per_node = [caps] * nnodes if isinstance(caps, Caps) else list(caps)
    if len(per_node) != nnodes:
        raise BackendError(f"{len(per_node)} node caps given for --nnodes {nnodes}")
    engines: list[str | None] = list(hosts) if hosts else [None]
    if hosts and len(hosts) not in (1, nnodes):
        raise BackendError(f"--hosts lists {len(hosts)} engines; expected 1 or --nnodes {nnodes}")
    used: dict[str | None, int] = {}
    plans = []
    for rank in range(nnodes):
        host = engines[rank % len(engines)]
        off = used.get(host, 0)
        plans.append(NodePlan(rank=rank, caps=per_node[rank], host=host, cpu_offset=off))
        used[host] = off + max(1, math.ceil(per_node[rank].cpus - 1e-9))
    return plans


def torchrun_entry(nnodes: int, rank: int, master_addr: str, master_port: int) -> list[str]:
    """A node's command: torchrun's static rendezvous (node 0 hosts the store at the master
    address and port), one worker per node, no restarts (a failed node is a failed probe)."""
    from harness.backends.docker import PROBE_DIR

    return [
        "python", "-m", "torch.distributed.run",
        "--nnodes", str(nnodes),
        "--nproc-per-node", "1",
        "--node-rank", str(rank),
        "--master-addr", master_addr,
        "--master-port", str(master_port),
        "--max-restarts", "0",
        "-m", "harness.workloads.run", f"{PROBE_DIR}/request.json",
    ]  # fmt: skip


def node_result(rank: int, host: str, caps: Caps, records: list[Record]) -> NodeResult:
    """Per-node throughput and all-reduce share from its measured batch records (pure)."""
    batches = [
        r for r in records if r.get("type") == "batch" and not r.get("warmup") and _rank(r) == rank
    ]
    ips = [float(r["images_per_s"]) for r in batches if r.get("images_per_s")]
    shares = [
        float(r["allreduce_s"]) / float(r["batch_s"])
        for r in batches
        if r.get("allreduce_s") is not None and r.get("batch_s")
    ]
    return NodeResult(
        rank=rank,
        host=host,
        caps=caps,
        throughput=Stat.of(ips) if ips else None,
        comm_share=_median(shares),
    )


def aggregate_throughput(records: list[Record], nnodes: int) -> Stat | None:
    """images/s of the whole job per synchronous step: all nodes' images over the slowest
    node's step time (steps every node measured)."""
    vals = step_throughputs(records, nnodes)
    return Stat.of(vals) if vals else None


def step_throughputs(records: list[Record], nnodes: int) -> list[float]:
    """The whole job's images/s at each step every node measured (see aggregate_throughput)."""
    steps: dict[int, dict[int, Record]] = {}
    for r in records:
        if r.get("type") == "batch" and not r.get("warmup"):
            steps.setdefault(int(r["global_step"]), {})[_rank(r)] = r
    vals = []
    for per in steps.values():
        if len(per) == nnodes:
            slowest = max(float(r["batch_s"]) for r in per.values())
            if slowest > 0:
                vals.append(sum(int(r["batch_size"]) for r in per.values()) / slowest)
    return vals


def _rank(r: Record) -> int:
    return int(r.get("node_rank") or 0)


def _median(xs: list[float]) -> float | None:
    if not xs:
        return None
    s = sorted(xs)
    mid = len(s) // 2
    return s[mid] if len(s) % 2 else (s[mid - 1] + s[mid]) / 2


def run_multinode(
    request: ProbeRequest,
    nnodes: int,
    *,
    hosts: Sequence[str] | None = None,
    node_caps: Sequence[Caps] | None = None,
    master_addr: str | None = None,
    master_port: int = DEFAULT_PORT,
    image: str | None = None,
    remote: bool | None = None,
    on_record: OnRecord | None = None,
    session: str | None = None,
) -> MultiNodeRun:
    """Run one data-parallel training probe on `nnodes` containers and summarise it.

    `request` is node 0's request (its workdir gets one sub-folder per node). Every container
    and the network are removed at the end, on error and on Ctrl-C.
    """
    from harness.backends.docker import DockerBackend, session_id

    plans = plan_nodes(nnodes, list(node_caps) if node_caps else request.caps, hosts)
    session = session or session_id()
    engines = {p.host for p in plans}
    multi_host = hosts is not None and len(hosts) > 0
    if multi_host and master_addr is None:
        if all(h is not None and h.startswith("unix:") for h in engines):
            master_addr = "127.0.0.1"  # several engines on one machine
        else:
            raise BackendError(
                "several hosts need --master-addr: node 0's address the others can reach"
            )
    backends: dict[str | None, DockerBackend] = {
        h: DockerBackend(image, base_url=h, remote=remote, session=session) for h in engines
    }
    names = [f"harness-{session}-node{p.rank}" for p in plans]
    network_obj: Any = None
    if multi_host:
        network = "host"
    else:
        network = f"harness-net-{session}"
        network_obj = backends[None].client.networks.create(
            network, driver="bridge", labels={"harness.session": session}
        )
        master_addr = master_addr or names[0]
    assert master_addr is not None
    cluster = _Cluster(backends, names, network, network_obj, multi_host, master_addr, master_port)
    runs = _run_nodes(request, plans, cluster, on_record)
    return _summarise_nodes(plans, runs, cluster)


@dataclass
class _Cluster:
    """Where the nodes of one probe run: an engine per host, a container name per rank, the
    network (a bridge on one engine, the hosts' own across several) and node 0's address."""

    backends: dict[str | None, Any]
    names: list[str]
    network: str
    network_obj: Any  # the bridge made for this probe, removed at the end; None = host network
    multi_host: bool
    master_addr: str
    master_port: int

    def cleanup(self) -> None:
        for b in self.backends.values():
            b.cleanup()


def _run_nodes(
    request: ProbeRequest,
    plans: list[NodePlan],
    cluster: _Cluster,
    on_record: OnRecord | None,
) -> list[ProbeRun | None]:
    """Every node's container, each started as a torchrun node in its own thread; records
    reach `on_record` one at a time. A node that fails stops them all; its error is raised
    once every node is stopped, and the network goes in `finally`."""
    from harness.backends.docker import Placement

    nnodes = len(plans)
    env: dict[str, str] = {}  # RANK, WORLD_SIZE, MASTER_*: torchrun sets them for its worker
    if not cluster.multi_host:
        env.update({"GLOO_SOCKET_IFNAME": "eth0", "NCCL_SOCKET_IFNAME": "eth0"})
    lock = threading.Lock()

    def deliver(rec: Record) -> None:
        if on_record is not None:
            with lock:
                on_record(rec)

    runs: list[ProbeRun | None] = [None] * nnodes
    errors: list[BaseException] = []

    def node(plan: NodePlan) -> None:
        req = dataclasses.replace(
            request,
            caps=plan.caps,
            workdir=request.workdir / f"node{plan.rank}",
            node_rank=plan.rank,
            nnodes=nnodes,
            master_addr=cluster.master_addr,
            master_port=cluster.master_port,
            env={**request.env, **env},
        )
        name = cluster.names[plan.rank]
        place = Placement(
            name=name,
            network=cluster.network,
            cpu_offset=plan.cpu_offset,
            hostname=name if not cluster.multi_host else None,
            role="node",
            entry=torchrun_entry(nnodes, plan.rank, cluster.master_addr, cluster.master_port),
        )
        try:
            runs[plan.rank] = cluster.backends[plan.host].run_placed(req, deliver, place)
        except BaseException as exc:  # reported after every node is stopped
            errors.append(exc)
            cluster.cleanup()

    threads = [threading.Thread(target=node, args=(p,), daemon=True) for p in plans]
    try:
        for t in threads:
            t.start()
        for t in threads:
            while t.is_alive():
                t.join(0.2)
    except BaseException:
        cluster.cleanup()
        raise
    finally:
        if cluster.network_obj is not None:
            cluster.cleanup()
            with contextlib.suppress(Exception):
                cluster.network_obj.remove()
    if errors:
        raise errors[0]
    return runs


def _summarise_nodes(
    plans: list[NodePlan], runs: list[ProbeRun | None], cluster: _Cluster
) -> MultiNodeRun:
    """The nodes' runs as one: per-node results, every node's records, the whole job's
    images/s and the median all-reduce share."""
    done = [r for r in runs if r is not None]
    records = [rec for r in done for rec in r.records]
    results = [
        node_result(p.rank, p.host or "local", p.caps, runs[p.rank].records)  # type: ignore[union-attr]
        for p in plans
    ]
    shares = [n.comm_share for n in results if n.comm_share is not None]
    return MultiNodeRun(
        runs=done,
        nodes=results,
        master_addr=cluster.master_addr,
        master_port=cluster.master_port,
        network=cluster.network,
        aggregate=aggregate_throughput(records, len(plans)),
        comm_share=_median(shares),
        records=records,
    )


def run_multinode_profile(
    spec: JobSpec,
    options: ProfileOptions,
    backend: Any,
    console: Any,
    hooks: SweepHooks | None = None,
) -> int:
    """`harness profile JOB --nnodes N [--hosts URL,...] [--master-addr A] [--master-port P]`:
    one data-parallel probe at the given caps, written as a profile whose probe has per-node
    results, the aggregate images/s and the all-reduce share of a step. `hooks` hear of the
    probe as a sweep's would (every node's records go to `on_record`)."""
    from pathlib import Path

    from rich.markup import escape

    from harness.profile import now
    from harness.sweep import NoHooks, Sweep, SweepRefused, probe_id, summarise

    if spec.kind != "train":
        console.print("[red]error:[/red] --nnodes > 1 profiles training jobs only")
        return 2
    if options.resume:
        console.print(
            "[red]error:[/red] --resume: a multi-node run is one probe: nothing to resume"
        )
        return 2
    hooks = hooks if hooks is not None else NoHooks()
    nnodes = options.nnodes
    per_host = 1 if backend.name == "slurm" else nnodes  # Slurm: every node its own machine
    cpus = options.cpu if options.cpu is not None else max(1, backend.host_cpus() // per_host)
    caps = Caps(cpus=cpus, memory_gb=options.memory, gpus=options.num_gpus)
    out = options.out or Path("profiles") / f"{spec.name}-{backend.name}-{nnodes}nodes.json"
    node_opts = options.resolved(cpu=cpus)
    try:  # refuses, before any node starts, a file at `out` it must not overwrite
        sweep = Sweep(spec, backend, node_opts, out, out.parent / ".work" / out.stem)
    except SweepRefused as exc:
        console.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False, soft_wrap=True)
        return 2
    overrides: dict[str, Any] = {"batch_size": sweep.batch}
    if options.max_iterations:
        overrides["max_iterations"] = options.max_iterations
    pid = probe_id(caps, sweep.batch) + f"-n{nnodes}"
    req = ProbeRequest(
        spec=spec.model_dump(mode="json"),
        caps=caps,
        workdir=sweep.workroot / pid,
        data_dir=options.data_dir,
        timeout_s=options.timeout,
        overrides=overrides,
    )
    where = ", ".join(options.hosts) if options.hosts else "one engine, a Docker network"
    if backend.name == "slurm":
        where = "one Slurm allocation, rendezvous from it"
    console.print(
        f"[bold]{spec.name}[/bold]: {nnodes} nodes x {cpus:g} CPU ({where}); {backend.describe()}",
        highlight=False,
    )
    started = now()
    hooks.on_probe_begin(caps, 0)
    try:
        if backend.name == "slurm":  # one allocation of nnodes nodes (backends/slurm.py)
            result = backend.run_nodes(
                req, nnodes, master_port=options.master_port, on_record=hooks.on_record
            )
        else:
            result = run_multinode(
                req,
                nnodes,
                hosts=options.hosts or None,
                master_addr=options.master_addr,
                master_port=options.master_port or DEFAULT_PORT,
                image=getattr(backend, "_image", None),
                on_record=hooks.on_record,
                session=getattr(backend, "session", None),
            )
    except KeyboardInterrupt:
        console.print("[yellow]interrupted[/yellow]: every node was stopped and removed")
        return 130
    except BackendError as exc:
        console.print(f"[red]error:[/red] {exc}", highlight=False)
        return 2
    run = result.as_probe_run()
    probe = summarise(run, caps, pid, backend.name, started, keep_records=True, batch=sweep.batch)
    probe.nodes = result.nodes
    probe.comm_share = result.comm_share
    if result.aggregate is not None:
        probe.throughput = result.aggregate
        stop = next((r for r in run.records if r.get("type") == "stop"), None)  # rank 0's
        steps = step_throughputs(run.records, nnodes)
        probe.median_ci = MedianCI.of(steps, "images_per_s", stop)  # of the whole job's steps
    assert sweep.profile.train is not None
    sweep.profile.train.probes.append(probe)
    sweep.profile.train.nnodes = nnodes
    sweep.profile.complete = probe.outcome == Outcome.ok  # a failed probe is no profile
    sweep.save()
    hooks.on_probe_end(probe)
    _print_nodes(result, out, console)
    return 0 if probe.outcome == Outcome.ok else 1


def _print_nodes(result: MultiNodeRun, out: Any, console: Any) -> None:
    """Each node's images/s and all-reduce share, then the whole job's."""
    for n in result.nodes:
        thr = f"{n.throughput.median:.1f} img/s" if n.throughput else "no measured batch"
        share = f", all-reduce {n.comm_share:.0%} of a step" if n.comm_share is not None else ""
        console.print(f"node {n.rank} ({n.host}, {n.caps.cpus:g} CPU): {thr}{share}")
    agg = f"{result.aggregate.median:.1f} img/s" if result.aggregate else "-"
    comm = f"{result.comm_share:.0%}" if result.comm_share is not None else "-"
    console.print(
        f"aggregate: {agg}; all-reduce {comm} of a step; outcome {result.outcome.value}; "
        f"profile written to {out}",
        highlight=False,
    )
