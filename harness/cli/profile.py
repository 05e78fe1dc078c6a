"""`harness profile JOB`: pick a backend, run the sweep with a progress display, summarise."""

from __future__ import annotations

import os
import re
import signal
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated, Any

import typer

from harness.cli.common import fail, floats

if TYPE_CHECKING:  # the schemas and rich load when the command runs, not at start-up
    from rich.console import Console

    from harness.profile import Probe, Profile
    from harness.spec import JobSpec


@cache
def err_console() -> Console:
    from rich.console import Console

    return Console(stderr=True)


def register(app: typer.Typer) -> None:
    app.command()(profile)


def profile(
    job: Annotated[Path, typer.Argument(help="job spec YAML")],
    cpu: Annotated[float | None, typer.Option("--cpu", help="max CPUs (default: all)")] = None,
    memory: Annotated[float | None, typer.Option("--memory", help="memory cap, GB")] = None,
    memory_sweep: Annotated[
        str | None, typer.Option(help="memory caps to sweep, GB, comma-separated (e.g. 1,2,4)")
    ] = None,
    num_gpus: Annotated[int, typer.Option("--num-gpus", help="GPUs per node")] = 0,
    disk_read_mbps: Annotated[
        float | None,
        typer.Option(
            "--disk-read-mbps",
            help="cap the dataset disk's read bandwidth, MB/s (docker), to stand in for slower "
            "shared storage in a memory sweep",
        ),
    ] = None,
    nnodes: Annotated[int, typer.Option("--nnodes", help="nodes in data-parallel training")] = 1,
    master_addr: Annotated[str | None, typer.Option("--master-addr")] = None,
    master_port: Annotated[int | None, typer.Option("--master-port")] = None,
    hosts: Annotated[
        str | None, typer.Option(help="Docker engine URLs, one per node (e.g. ssh://u@h1,...)")
    ] = None,
    batch: Annotated[int | None, typer.Option("-b", "--batch", help="per-GPU batch size")] = None,
    max_iterations: Annotated[int | None, typer.Option("--max-iterations")] = None,
    backend: Annotated[str, typer.Option(help="auto | local | docker")] = "auto",
    image: Annotated[str | None, typer.Option(help="job image (docker backend)")] = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="profile JSON path")] = None,
    strategy: Annotated[str, typer.Option(help="adaptive | seed | exhaustive | halving")] = (
        "adaptive"
    ),
    budget: Annotated[int | None, typer.Option(help="max probes for the search")] = None,
    knee: Annotated[float, typer.Option(help="knee = fewest CPUs reaching this share of peak")] = (
        0.9
    ),
    resume: Annotated[bool, typer.Option(help="continue a sweep from its probes on disk")] = False,
    device_name: Annotated[
        str | None, typer.Option(help="name of this device in inference profiles")
    ] = None,
    frequencies: Annotated[
        str | None, typer.Option(help="clock frequencies to profile at, MHz, comma-separated")
    ] = None,
    allow_clock_locking: Annotated[
        bool,
        typer.Option(
            "--allow-clock-locking",
            help="let --frequencies lock the GPU clock (a GPU you own; never a shared one)",
        ),
    ] = False,
    power_log: Annotated[
        Path | None,
        typer.Option(
            "--power-log",
            help="CSV of timestamp,watts from an external meter: bundle energy is joined from it",
        ),
    ] = None,
    timeout: Annotated[float, typer.Option(help="seconds before a probe is killed")] = 900.0,
    data_dir: Annotated[Path | None, typer.Option(help="where generated datasets live")] = None,
) -> None:
    """Profile a job: probes under caps, adaptive search over CPUs, a validated JSON profile."""
    from harness.spec import SpecError, load_spec

    try:
        spec = load_spec(job)
    except SpecError as exc:
        raise fail(str(exc)) from None
    args = ProfileArgs(
        job=job,
        spec=spec,
        cpu=cpu,
        memory=memory,
        memory_sweep=floats(memory_sweep, "--memory-sweep"),
        num_gpus=num_gpus,
        disk_read_mbps=disk_read_mbps,
        nnodes=nnodes,
        master_addr=master_addr,
        master_port=master_port,
        hosts=[h for h in (hosts or "").split(",") if h],
        batch=batch,
        max_iterations=max_iterations,
        backend=backend,
        image=image,
        out=out,
        strategy=strategy,
        budget=budget,
        knee=knee,
        resume=resume,
        device_name=device_name,
        frequencies=floats(frequencies, "--frequencies"),
        allow_clock_locking=allow_clock_locking,
        power_log=power_log,
        timeout=timeout,
        data_dir=data_dir,
    )
    raise typer.Exit(run_profile(args))


@dataclass
class ProfileArgs:
    job: Path
    spec: JobSpec
    cpu: float | None = None
    memory: float | None = None
    memory_sweep: list[float] = field(default_factory=list)
    num_gpus: int = 0
    disk_read_mbps: float | None = None
    nnodes: int = 1
    master_addr: str | None = None
    master_port: int | None = None
    hosts: list[str] = field(default_factory=list)
    batch: int | None = None
    max_iterations: int | None = None
    backend: str = "auto"
    image: str | None = None
    out: Path | None = None
    strategy: str = "adaptive"
    budget: int | None = None
    knee: float = 0.9
    resume: bool = False
    device_name: str | None = None
    frequencies: list[float] = field(default_factory=list)
    allow_clock_locking: bool = False
    power_log: Path | None = None
    timeout: float = 900.0
    data_dir: Path | None = None


def _err(msg: str) -> int:
    err_console().print(f"[red]error:[/red] {msg}", highlight=False)
    return 2


def default_out(args: ProfileArgs, backend: str) -> Path:
    name = args.spec.name
    if args.spec.kind == "infer":
        dev = args.device_name or f"{os.uname().nodename}-{args.cpu or os.cpu_count()}cpu"
        name = f"{name}-{re.sub(r'[^A-Za-z0-9_.-]', '_', dev)}"
    else:
        name = f"{name}-{backend}"
    return Path("profiles") / f"{name}.json"


def check_args(args: ProfileArgs, host_cpus: int) -> str | None:
    """Options accepted but not servable here fail loudly, never silently."""
    from harness.search import STRATEGIES

    if args.strategy not in STRATEGIES:
        return f"--strategy: expected one of {', '.join(STRATEGIES)}, got {args.strategy!r}"
    if args.cpu is not None and args.cpu <= 0:
        return f"--cpu: expected a positive number, got {args.cpu:g}"
    if args.cpu is not None and args.cpu > host_cpus:
        return f"--cpu: {args.cpu:g} CPUs asked for, but this host has {host_cpus}"
    if args.memory is not None and args.memory <= 0:
        return f"--memory: expected a positive number of GB, got {args.memory:g}"
    if args.num_gpus < 0:
        return f"--num-gpus: expected >= 0, got {args.num_gpus}"
    if args.nnodes < 1:
        return f"--nnodes: expected >= 1, got {args.nnodes}"
    if not 0 < args.knee <= 1:
        return f"--knee: expected a share of peak in (0, 1], got {args.knee:g}"
    if args.spec.kind != "infer":
        if args.frequencies:
            return "--frequencies: only inference jobs (kind: infer) are profiled per clock"
        if args.power_log is not None:
            return "--power-log: only inference jobs (kind: infer) record per-bundle energy"
    if args.disk_read_mbps is not None and args.disk_read_mbps <= 0:
        return f"--disk-read-mbps: expected a bandwidth above 0 MB/s, got {args.disk_read_mbps:g}"
    if args.power_log is not None and not args.power_log.is_file():
        return f"--power-log: no such file {args.power_log}"
    if any(f <= 0 for f in args.frequencies):
        return f"--frequencies: expected positive MHz, got {args.frequencies}"
    return None


def check_clocks(args: ProfileArgs) -> str | None:
    """Fail fast when this host cannot lock a clock asked for (before any probe is started).

    The probe checks again where it runs (a container may be stricter than its host) and ends
    as `refused`; this only spares the user a run that cannot succeed. Every frequency is
    checked: the workload refuses the whole probe if one cannot be locked, rather than measure
    some at the default clock.
    """
    from harness.telemetry.freq import Domain, can_lock

    domain: Domain = "gpu" if args.num_gpus > 0 else "cpu"
    for f in args.frequencies:
        reason = can_lock(domain, f, allow_clock_locking=args.allow_clock_locking)
        if reason:
            return f"--frequencies {f:g}: {reason}"
    return None


def run_profile(args: ProfileArgs) -> int:
    from harness.backends import get_backend
    from harness.backends.base import BackendError

    if args.num_gpus > 0:
        from harness.telemetry.host import gpu_count

        have = gpu_count()
        if have < args.num_gpus:
            return _err(f"--num-gpus {args.num_gpus}: this host has {have} GPU(s) visible")
    try:
        kwargs: dict[str, Any] = {"image": args.image} if args.image else {}
        kind = "cuda" if args.num_gpus > 0 else "cpu"  # the job image auto needs
        backend, why = get_backend(args.backend, image_kind=kind, **kwargs)
    except (ValueError, BackendError, ImportError) as exc:
        return _err(str(exc))
    host_cpus = backend.host_cpus()
    problem = check_args(args, host_cpus)
    if problem:
        return _err(problem)
    if args.frequencies and not getattr(backend, "remote", False):
        problem = check_clocks(args)  # a remote engine's host is not this one: it checks itself
        if problem:
            return _err(problem)
    if args.nnodes > 1:
        return _run_multinode(args, backend)
    err_console().print(
        f"[bold]{args.spec.name}[/bold]: {why}. {backend.describe()}", highlight=False
    )
    out = args.out or default_out(args, backend.name)
    max_cpus = args.cpu if args.cpu is not None else host_cpus
    from harness.sweep import Sweep, SweepOptions

    opts = SweepOptions(
        max_cpus=max_cpus,
        memory_gb=args.memory,
        memory_sweep=args.memory_sweep,
        num_gpus=args.num_gpus,
        disk_read_mbps=args.disk_read_mbps,
        strategy=args.strategy,
        budget=args.budget,
        knee_fraction=args.knee,
        batch_size=args.batch,
        max_iterations=args.max_iterations,
        timeout_s=args.timeout,
        data_dir=args.data_dir,
        device_name=args.device_name,
        frequencies=args.frequencies,
        allow_clock_locking=args.allow_clock_locking,
        power_log=args.power_log,
    )
    workroot = out.parent / ".work" / out.stem
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    progress = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} {task.fields[unit]}"),
        TextColumn("{task.fields[ips]}"),
        TimeElapsedColumn(),
        console=err_console(),
        transient=False,
    )
    expected = args.spec.iterations.warmup + (args.max_iterations or args.spec.iterations.measured)
    state: dict[str, Any] = {"task": None}

    def on_record(rec: dict[str, Any]) -> None:
        if rec.get("type") == "batch" and state["task"] is not None:
            progress.update(state["task"], advance=1, ips=f"{rec.get('images_per_s', 0):.1f} img/s")
        elif rec.get("type") == "progress" and state["task"] is not None:
            if rec.get("stage") == "setup":  # an inference probe counts bundle timings
                progress.update(state["task"], total=rec.get("bundles_total"), unit="bundles")
            elif rec.get("stage") == "bundle":
                desc = f"[{rec.get('start')}, {rec.get('end')}) batch {rec.get('batch_size')}"
                progress.update(state["task"], completed=rec.get("done", 0), ips=desc)
            else:
                progress.update(state["task"], ips=str(rec.get("message", "")))

    def on_probe(p: Probe) -> None:
        if state["task"] is not None:
            progress.update(state["task"], description=_probe_line(p))
            progress.stop_task(state["task"])

    try:
        sweep = Sweep(args.spec, backend, opts, out, workroot, args.resume, on_probe, on_record)
    except ValueError as exc:
        return _err(str(exc))
    original = sweep.run_caps

    def run_caps_with_task(caps: Any) -> Probe:
        state["task"] = progress.add_task(
            f"probe {caps.cpus:g} CPU" + (f", {caps.memory_gb:g} GB" if caps.memory_gb else ""),
            total=expected,
            ips="",
            unit="batches",
        )
        return original(caps)

    sweep.run_caps = run_caps_with_task  # type: ignore[method-assign]
    previous = signal.getsignal(signal.SIGTERM)

    def on_term(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    try:
        with progress:
            profile = sweep.run()
    except KeyboardInterrupt:
        backend.cleanup()
        err_console().print(
            f"[yellow]interrupted[/yellow]: {len(sweep.done)} probe(s) kept in {out}; "
            f"continue with --resume",
            highlight=False,
        )
        return 130
    except BackendError as exc:
        backend.cleanup()
        return _err(str(exc))
    finally:
        signal.signal(signal.SIGTERM, previous)
        backend.cleanup()
    if not profile.complete:
        return _incomplete(profile, out)
    print_summary(profile, out)
    return 0


def _incomplete(profile: Profile, out: Path) -> int:
    """A probe that was refused or failed: say why, keep what was written, exit non-zero."""
    probes = profile.infer.probes if profile.infer else []
    if profile.train is not None:
        probes = profile.train.probes
    last = probes[-1] if probes else None
    why = f"{last.outcome.value}: {last.reason}" if last else "no probe ran"
    err_console().print(
        f"[red]error:[/red] no complete {profile.kind} profile made ({why}); "
        f"the probe is recorded in {out} (complete=false)",
        highlight=False,
    )
    return 1


def _probe_line(p: Probe) -> str:
    cap = f"{p.caps.cpus:g} CPU" + (f", {p.caps.memory_gb:g} GB" if p.caps.memory_gb else "")
    if p.outcome == "ok" and p.throughput:
        return f"probe {cap}: {p.throughput.median:.1f} img/s"
    if p.outcome == "ok":
        return f"probe {cap}: ok"
    return f"probe {cap}: {p.outcome}" + (f" ({p.reason})" if p.reason else "")


def print_summary(profile: Profile, out: Path) -> None:
    from rich.console import Console
    from rich.table import Table

    out_console = Console()
    if profile.train is not None:
        t = Table(title=f"{profile.job.name}: images/s against CPUs ({profile.backend} backend)")
        for col in ("CPUs", "memory GB", "images/s (median)", "p5-p95", "cv", "outcome", "source"):
            t.add_column(col)
        for p in sorted(profile.train.probes, key=lambda p: (p.caps.memory_gb or 0, p.caps.cpus)):
            thr = p.throughput
            t.add_row(
                f"{p.caps.cpus:g}",
                f"{p.caps.memory_gb:g}" if p.caps.memory_gb else "-",
                f"{thr.median:.1f}" if thr else "-",
                f"{thr.p5:.1f}-{thr.p95:.1f}" if thr else "-",
                f"{thr.cv:.1%}" if thr else "-",
                str(p.outcome.value) + (f": {p.reason}" if p.reason else ""),
                "probe",
            )
        out_console.print(t)
        s = profile.train.search
        if s is not None and s.knee is not None:
            out_console.print(
                f"knee: {s.knee.cpus:g} CPUs reach {s.knee.throughput:.1f} img/s "
                f"({s.knee.fraction:.0%} of peak {s.knee.peak_throughput:.1f}); "
                f"search '{s.strategy}' used {s.probes_used} probe(s), "
                f"curve uncertainty <= {s.max_rel_uncertainty:.1%}",
                highlight=False,
            )
    if profile.infer is not None:
        inf = profile.infer
        out_console.print(
            f"{inf.model} on '{inf.device_name}': {len(inf.layers)} layers, "
            f"{len(inf.cuts)} cut points, {len(inf.bundles)} bundle timings, "
            f"batch sizes {inf.batch_sizes}; energy: {inf.energy_source or inf.energy_reason}",
            highlight=False,
        )
    out_console.print(f"profile written to [bold]{out}[/bold]")


def _run_multinode(args: ProfileArgs, backend: Any) -> int:
    try:
        from harness.multinode import run_multinode_profile
    except ImportError:
        return _err("--nnodes > 1 needs the docker backend's multi-node support (not installed)")
    if backend.name != "docker" and not args.hosts:
        return _err("--nnodes > 1 runs one container per node: use --backend docker")
    result: int = run_multinode_profile(args, backend, err_console())
    return result
