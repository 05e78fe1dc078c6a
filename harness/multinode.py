"""Multi-node data-parallel training profiles: one container per node, each with its own caps.

On one host the nodes are containers on a user-defined Docker network (they reach node 0 by
its container name). Across hosts, each node runs on that host's own Docker engine, reached by
its address (`ssh://user@host`, `tcp://host:2376`, `unix:///path.sock`), with host networking
so that the nodes reach `--master-addr`. Each container starts its node with torchrun
(`python -m torch.distributed.run`, static rendezvous at the master address and port, one
process per node); the workload joins torch.distributed from torchrun's environment (RANK,
WORLD_SIZE, MASTER_ADDR, MASTER_PORT): gloo on CPU, NCCL on GPU.

Cores: nodes on one host never share cores unasked. `open_cluster` leases each host's nodes
disjoint cpusets (harness/cores.py: around the cores other harness probes hold there; engines
that report the same host name count as one host) before any container or network exists,
and refuses with one line (naming --nnodes, --cpu and what the host has) when they do not fit;
with `allow_oversubscribe` the nodes run on shared cores and the probe records which
(`shared_cores`), from the cpusets the nodes read inside themselves.

The docker SDK is imported inside functions; the pure parts (plans, summaries) need none.
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from harness.backends.base import BackendError, OnRecord, ProbeRequest, ProbeRun, Record
from harness.interrupt import run_threads
from harness.profile import Caps, CoreShare, MedianCI, NodeResult, Outcome, Stat

if TYPE_CHECKING:
    from harness.cores import Grant
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
    cpuset: list[int] | None = None  # assigned by open_cluster, disjoint on one host

    @property
    def name(self) -> str:
        return f"node{self.rank}"


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
    shared_cores: list[CoreShare] = field(default_factory=list)  # empty: no core shared

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
            shared_cores=list(self.shared_cores),
        )


def plan_nodes(
    nnodes: int, caps: Caps | Sequence[Caps], hosts: Sequence[str] | None = None
) -> list[NodePlan]:
    """One plan per node: its caps and its engine (its cores come from `open_cluster`)."""
    if nnodes < 1:
        raise BackendError("--nnodes must be at least 1")
    per_node = [caps] * nnodes if isinstance(caps, Caps) else list(caps)
    if len(per_node) != nnodes:
        raise BackendError(f"{len(per_node)} node caps given for --nnodes {nnodes}")
    engines: list[str | None] = list(hosts) if hosts else [None]
    if hosts and len(hosts) not in (1, nnodes):
        raise BackendError(f"--hosts lists {len(hosts)} engines; expected 1 or --nnodes {nnodes}")
    return [
        NodePlan(rank=rank, caps=per_node[rank], host=engines[rank % len(engines)])
        for rank in range(nnodes)
    ]


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
    allow_oversubscribe: bool = False,
) -> MultiNodeRun:
    """Run one data-parallel training probe on `nnodes` containers and summarise it.

    `request` is node 0's request (its workdir gets one sub-folder per node). Every container
    and the network are removed at the end, on error and on Ctrl-C.
    """
    cluster = open_cluster(
        request,
        nnodes,
        hosts=hosts,
        node_caps=node_caps,
        master_addr=master_addr,
        master_port=master_port,
        image=image,
        remote=remote,
        session=session,
        allow_oversubscribe=allow_oversubscribe,
    )
    return run_cluster(request, cluster, on_record)


def open_cluster(
    request: ProbeRequest,
    nnodes: int,
    *,
    hosts: Sequence[str] | None = None,
    node_caps: Sequence[Caps] | None = None,
    master_addr: str | None = None,
    master_port: int = DEFAULT_PORT,
    image: str | None = None,
    remote: bool | None = None,
    session: str | None = None,
    allow_oversubscribe: bool = False,
) -> _Cluster:
    """The engines, the nodes' names and their cores, leased (disjoint on each host) before
    any container or network exists. BackendError (CoresRefused for cores that do not fit:
    one line) when the nodes cannot run as asked; nothing is left held then."""
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
        h: DockerBackend(
            image,
            base_url=h,
            remote=remote,
            session=session,
            allow_oversubscribe=allow_oversubscribe,
        )
        for h in engines
    }
    names = [f"harness-{session}-node{p.rank}" for p in plans]
    if not multi_host:
        master_addr = master_addr or names[0]
    assert master_addr is not None
    network = "host" if multi_host else f"harness-net-{session}"
    cluster = _Cluster(
        backends,
        names,
        network,
        None,
        multi_host,
        master_addr,
        master_port,
        plans=plans,
        session=session,
    )
    try:
        cluster.grants = _lease_cores(plans, backends, cluster.leases, multi_host)
    except BaseException:
        cluster.release()
        raise
    return cluster


def _lease_cores(
    plans: list[NodePlan],
    backends: dict[str | None, Any],
    leases: contextlib.ExitStack,
    multi_host: bool,
) -> dict[str, Grant]:
    """Each host's nodes get disjoint cores (engines naming the same host are one host); the
    leases stay held in `leases` until the cluster is released."""
    grants: dict[str, Grant] = {}
    by_machine: dict[str, list[NodePlan]] = {}
    for p in plans:
        by_machine.setdefault(backends[p.host].machine(), []).append(p)
    from harness.cores import Want

    for machine, group in by_machine.items():
        engines = {p.host for p in group}
        first = backends[group[0].host]
        busy: dict[int, list[str]] = {}
        for h in engines - {group[0].host}:  # other engines on this host: their containers
            for c, names in backends[h].engine_busy().items():
                busy.setdefault(c, []).extend(names)
        cpus = {p.caps.cpus for p in group}
        if multi_host:
            what = f"--hosts: {len(group)} node(s) on {machine}"
        elif len(cpus) == 1:
            what = f"--nnodes {len(group)} x --cpu {group[0].caps.cpus:g}"
        else:
            what = f"--nnodes {len(group)}"
        wants = [Want(p.name, p.caps.cpus) for p in group]
        grant = leases.enter_context(first.lease(wants, what=what, extra_busy=busy))
        for p in group:
            p.cpuset = grant.cpusets[p.name]
        grants[machine] = grant
    return grants


@dataclass
class _Cluster:
    """Where the nodes of one probe run: an engine per host, a container name per rank, the
    network (a bridge on one engine, the hosts' own across several), node 0's address and the
    nodes' cores (held until `release`)."""

    backends: dict[str | None, Any]
    names: list[str]
    network: str
    network_obj: Any  # the bridge made for this probe, removed at the end; None = host network
    multi_host: bool
    master_addr: str
    master_port: int
    plans: list[NodePlan] = field(default_factory=list)
    leases: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)
    grants: dict[str, Grant] = field(default_factory=dict)  # host name -> its nodes' cores
    session: str = ""

    def cleanup(self) -> None:
        for b in self.backends.values():
            b.cleanup()

    def release(self) -> None:
        """Give the nodes' cores back (the containers are gone by then)."""
        self.leases.close()


def run_cluster(
    request: ProbeRequest, cluster: _Cluster, on_record: OnRecord | None = None
) -> MultiNodeRun:
    """Run the nodes of an opened cluster to their end, then give their cores back."""
    try:
        runs = _run_nodes(request, cluster.plans, cluster, on_record)
    finally:
        cluster.release()
    return _summarise_nodes(cluster.plans, runs, cluster)


def _run_nodes(
    request: ProbeRequest,
    plans: list[NodePlan],
    cluster: _Cluster,
    on_record: OnRecord | None,
) -> list[ProbeRun | None]:
    """Every node's container, each started as a torchrun node in its own thread; records
    reach `on_record` one at a time. A node that fails stops them all; its error is raised
    once every node is stopped, and the network goes in `finally`."""
    from harness import owner
    from harness.backends.docker import LABEL_OWNER, LABEL_SESSION, Placement

    if not cluster.multi_host:  # made now: a refused cluster never had one
        labels = {LABEL_SESSION: cluster.session, LABEL_OWNER: owner.me().label()}
        cluster.network_obj = cluster.backends[None].client.networks.create(
            cluster.network, driver="bridge", labels=labels
        )

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
            cpuset=plan.cpuset,
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
        run_threads(threads)
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
    seen = {p.name: _seen(runs[p.rank], p) for p in plans}
    for n, p in zip(results, plans, strict=True):
        n.cpuset = seen[p.name]
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
        shared_cores=shared_cores(plans, seen, cluster),
    )


def _seen(run: ProbeRun | None, plan: NodePlan) -> list[int] | None:
    """The node's cores as it read them inside its container, else those assigned to it."""
    from harness.backends.base import seen_cpuset

    return (seen_cpuset(run.records) if run is not None else None) or plan.cpuset


def shared_cores(
    plans: list[NodePlan], seen: dict[str, list[int] | None], cluster: _Cluster
) -> list[CoreShare]:
    """Per host, the cores two or more of its nodes (or a node and another probe then on the
    host) had, from the cpusets the nodes read themselves."""
    from harness.cores import overlaps

    out: list[CoreShare] = []
    for machine, grant in cluster.grants.items():
        sets = {n: seen[n] or [] for n in grant.cpusets}
        out += overlaps(sets, grant.busy, host=machine)
    return out


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
    cluster = None
    if backend.name == "slurm":  # Slurm picks the nodes and their cores (backends/slurm.py)
        where, cores = "one Slurm allocation, rendezvous from it", "cores granted by Slurm"
    else:
        try:  # the nodes' cores are leased before anything starts: a refusal runs nothing
            cluster = open_cluster(
                req,
                nnodes,
                hosts=options.hosts or None,
                master_addr=options.master_addr,
                master_port=options.master_port or DEFAULT_PORT,
                image=getattr(backend, "_image", None),
                session=getattr(backend, "session", None),
                allow_oversubscribe=options.allow_oversubscribe,
            )
        except BackendError as exc:
            console.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False, soft_wrap=True)
            return 2
        cores = "; ".join(f"{p.name} on cores {p.cpuset}" for p in cluster.plans)
    console.print(
        f"[bold]{spec.name}[/bold]: {nnodes} nodes x {cpus:g} CPU ({where}; {cores}); "
        f"{backend.describe()}",
        highlight=False,
    )
    started = now()
    hooks.on_probe_begin(caps, 0)
    try:
        if cluster is None:  # one Slurm allocation of nnodes nodes
            result = backend.run_nodes(
                req, nnodes, master_port=options.master_port, on_record=hooks.on_record
            )
        else:
            result = run_cluster(req, cluster, hooks.on_record)
    except KeyboardInterrupt:
        console.print("[yellow]interrupted[/yellow]: every node was stopped and removed")
        return 130
    except BackendError as exc:
        console.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False, soft_wrap=True)
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
    for share in probe.shared_cores:
        console.print(
            f"[yellow]oversubscribed[/yellow]: cores {share.cores} shared by "
            f"{', '.join(share.by)} (recorded in the profile: shared_cores)",
            highlight=False,
        )
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
