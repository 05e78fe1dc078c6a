"""`harness profile JOB`: pick a backend, run the sweep with a progress display, summarise."""

from __future__ import annotations

import os
import re
import threading
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from harness.cli.common import fail

if TYPE_CHECKING:  # the schemas and rich load when the command runs, not at start-up
    from rich.console import Console
    from rich.progress import Progress, TaskID

    from harness.options import ProfileOptions
    from harness.profile import Caps, Outcome, Probe, Profile
    from harness.spec import JobSpec


@cache
def err_console() -> Console:
    from rich.console import Console

    return Console(stderr=True)


def register(app: typer.Typer) -> None:
    app.command()(profile)


def profile(
    job: Annotated[
        list[Path],
        typer.Argument(help="job spec YAML; several run side by side (one profile each)"),
    ],
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
    allow_oversubscribe: Annotated[
        bool,
        typer.Option(
            "--allow-oversubscribe",
            help="run probes or nodes that must share this host's cores (the profile records "
            "which, in shared_cores) instead of refusing them",
        ),
    ] = False,
    batch: Annotated[int | None, typer.Option("-b", "--batch", help="per-GPU batch size")] = None,
    max_iterations: Annotated[int | None, typer.Option("--max-iterations")] = None,
    backend: Annotated[str, typer.Option(help="auto | local | docker | slurm")] = "auto",
    partition: Annotated[
        str | None,
        typer.Option(
            help="slurm: partition(s), comma-separated; several = one profile per job per "
            "partition (default: $HARNESS_SLURM_PARTITION, else the cluster's default)"
        ),
    ] = None,
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
    variant: Annotated[
        str | None,
        typer.Option(
            "--variant",
            help="MANIFEST.json:ID: profile this model variant with its saved weights "
            "(harness variants make); its measured accuracy is recorded in the profile",
        ),
    ] = None,
    timeout: Annotated[float, typer.Option(help="seconds before a probe is killed")] = 900.0,
    data_dir: Annotated[Path | None, typer.Option(help="where generated datasets live")] = None,
) -> None:
    """Profile a job: probes under caps, adaptive search over CPUs, a validated JSON profile.

    The profile at --out is rewritten after every probe. A file already there that is not a
    readable profile of this job (truncated, another schema_version, another job's) is never
    overwritten, with or without --resume: the command refuses before any probe runs.

    Several jobs (or, with --backend slurm, several node types) run one sweep each, side by
    side under Slurm, one after another elsewhere; --out is then a folder.

    Exit codes: 0 a complete profile (every one); 1 no probe succeeded (the profile is written
    with complete=false); 2 bad input (an option, the job spec, the file at --out); 130
    interrupted (the probes done are kept: continue with --resume).
    """
    given = dict(locals())  # the parameters above, by name: the options as typed
    from harness.options import OptionError, ProfileOptions
    from harness.spec import SpecError, load_spec

    del given["job"]
    try:
        options = ProfileOptions.parse(given)
    except OptionError as exc:
        raise fail(str(exc)) from None
    specs = []
    for path in job:
        try:
            spec = load_spec(path)
        except SpecError as exc:
            raise fail(str(exc)) from None
        if spec.script is not None and not Path(spec.script.path).is_file():
            raise fail(
                f"{path}: field 'script.path': expected a script file (relative to the current "
                f"folder), got {spec.script.path!r}"
            )
        specs.append(spec)
    if len(specs) == 1 and options.backend != "slurm":
        raise typer.Exit(run_profile(specs[0], options))
    raise typer.Exit(run_profiles(specs, options))


class Refused(Exception):
    """No backend can serve the options here: one line, exit code 2."""


def _err(msg: str) -> int:
    """`error: msg` as one line on stderr (never wrapped, no markup read from it); exit 2."""
    from rich.markup import escape

    err_console().print(f"[red]error:[/red] {escape(msg)}", highlight=False, soft_wrap=True)
    return 2


def default_out(spec: JobSpec, options: ProfileOptions, backend: str) -> Path:
    name = spec.name
    if spec.kind == "infer":
        dev = options.device_name or f"{os.uname().nodename}-{options.cpu or os.cpu_count()}cpu"
        if options.variant:  # one file per variant: MANIFEST:ID -> ID
            name = f"{name}-{options.variant.rpartition(':')[2]}"
        name = f"{name}-{re.sub(r'[^A-Za-z0-9_.-]', '_', dev)}"
    else:
        name = f"{name}-{backend}"
    return Path("profiles") / f"{name}.json"


def check_host(options: ProfileOptions, spec: JobSpec, host_cpus: int) -> str | None:
    """What the options' own checks cannot see: this host's size, the job's kind, the files.
    Options accepted but not servable here fail loudly, never silently."""
    if options.cpu is not None and options.cpu > host_cpus:
        return f"--cpu: {options.cpu:g} CPUs asked for, but this host has {host_cpus}"
    if spec.kind != "infer":
        if options.frequencies:
            return "--frequencies: only inference jobs (kind: infer) are profiled per clock"
        if options.power_log is not None:
            return "--power-log: only inference jobs (kind: infer) record per-bundle energy"
    if options.power_log is not None and not options.power_log.is_file():
        return f"--power-log: no such file {options.power_log}"
    return None


def check_clocks(options: ProfileOptions) -> str | None:
    """Fail fast when this host cannot lock a clock asked for (before any probe is started).

    The probe checks again where it runs (a container may be stricter than its host) and ends
    as `refused`; this only spares the user a run that cannot succeed. Every frequency is
    checked: the workload refuses the whole probe if one cannot be locked, rather than measure
    some at the default clock.
    """
    from harness.telemetry.freq import Domain, can_lock

    domain: Domain = "gpu" if options.num_gpus > 0 else "cpu"
    for f in options.frequencies:
        reason = can_lock(domain, f, allow_clock_locking=options.allow_clock_locking)
        if reason:
            return f"--frequencies {f:g}: {reason}"
    return None


def run_profile(spec: JobSpec, options: ProfileOptions) -> int:
    """Pick the backend and check the options against it, then run the sweep (or, for
    --nnodes > 1, the one multi-node probe). Returns the exit code."""
    try:
        backend, why = pick_backend(options)
    except Refused as exc:
        return _err(str(exc))
    problem = check_host(options, spec, backend.host_cpus())
    if problem is None and options.frequencies and not getattr(backend, "remote", False):
        problem = check_clocks(options)  # a remote engine's host is not this one: it checks
    if problem:
        return _err(problem)
    if options.nnodes > 1:
        return _run_multinode(spec, options, backend)
    return run_sweep(spec, options, backend, why)


def check_cores(options: ProfileOptions, backend: Any) -> str | None:
    """Refuse now, before the sweep starts, a first probe that would find too few cores of its
    own on this host; cores other harness probes hold are waited for (saying so) first. None
    when it fits."""
    from harness.backends.base import BackendError
    from harness.cores import CoresBusy, default_wait_s

    check = getattr(backend, "check_cores", None)
    if check is None:
        return None
    cpus = options.cpu if options.cpu is not None else backend.host_cpus()
    try:
        try:
            check(cpus, wait_s=0)
        except CoresBusy as exc:
            held = str(exc).partition(" in use by ")[2].partition(";")[0]
            err_console().print(
                f"waiting up to {default_wait_s():g} s for cores in use by {held}",
                highlight=False,
                soft_wrap=True,
            )
            check(cpus)
    except BackendError as exc:
        return str(exc)
    return None


def pick_backend(options: ProfileOptions) -> tuple[Any, str]:
    """The backend asked for (or the one auto finds) and why; Refused when none can serve
    the GPUs asked for or it cannot start."""
    from harness.backends import get_backend
    from harness.backends.base import BackendError

    if options.num_gpus > 0 and options.backend != "slurm":  # Slurm: the nodes' GPUs, later
        from harness.telemetry.host import gpu_count

        have = gpu_count()
        if have < options.num_gpus:
            raise Refused(f"--num-gpus {options.num_gpus}: this host has {have} GPU(s) visible")
    try:
        kwargs: dict[str, Any] = {"image": options.image} if options.image else {}
        if options.backend == "slurm":
            kwargs = {"partition": options.partition}
        kind = "cuda" if options.num_gpus > 0 else "cpu"  # the job image auto needs
        backend, why = get_backend(
            options.backend,
            image_kind=kind,
            allow_oversubscribe=options.allow_oversubscribe,
            **kwargs,
        )
    except (ValueError, BackendError, ImportError) as exc:
        raise Refused(str(exc)) from None
    return backend, why


def run_sweep(spec: JobSpec, options: ProfileOptions, backend: Any, why: str) -> int:
    """The sweep with its progress display, stopped cleanly by Ctrl-C or SIGTERM (the probes
    done so far stay on disk for --resume), then the summary table."""
    from harness.backends.base import BackendError
    from harness.interrupt import sigterm_as_interrupt
    from harness.sweep import Sweep

    out = options.out or default_out(spec, options, backend.name)
    display = ProgressDisplay(expected_batches(spec, options))
    try:  # refuses, before anything runs, a file at `out` it must not overwrite
        sweep = Sweep(spec, backend, options, out, out.parent / ".work" / out.stem, display)
    except ValueError as exc:
        return _err(str(exc))
    problem = check_cores(options, backend)  # after every check of the input: it may wait
    if problem:
        return _err(problem)
    err_console().print(f"[bold]{spec.name}[/bold]: {why}. {backend.describe()}", highlight=False)
    try:
        with sigterm_as_interrupt(), display.progress:
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
        backend.cleanup()
    if not profile.complete:
        return _incomplete(profile, out, sweep.outcomes())
    print_summary(profile, out)
    return 0


def run_profiles(specs: list[JobSpec], options: ProfileOptions) -> int:
    """Several sweeps, one per job per node type (harness/fleet.py): side by side under Slurm,
    one after another elsewhere, one progress display for all, one profile each."""
    from harness import fleet
    from harness.backends.base import BackendError
    from harness.interrupt import sigterm_as_interrupt
    from harness.sweep import SweepRefused

    try:
        backend, why = pick_backend(options)
        pairs: list[tuple[str | None, Any]] = [(None, backend)]
        if backend.name == "slurm":
            types = backend.types()
            pairs = [(t.name if len(types) > 1 else None, backend.for_type(t)) for t in types]
    except Refused as exc:
        return _err(str(exc))
    except BackendError as exc:
        return _err(str(exc))
    for spec in specs:
        for _, b in pairs:
            problem = check_host(options, spec, b.host_cpus())
            have = b.node_type.gpus if b.name == "slurm" else options.num_gpus
            if problem is None and options.num_gpus > have:
                problem = (
                    f"--num-gpus {options.num_gpus}: node type '{b.node_type.name}' has "
                    f"{have} GPU(s) per node (sinfo's gres)"
                )
            if problem is None and options.frequencies and b.name != "slurm":
                problem = check_clocks(options)  # a Slurm node checks its own clocks
            if problem:
                return _err(problem)
    if options.nnodes > 1:
        if len(specs) * len(pairs) > 1:
            return _err("--nnodes: a multi-node probe profiles one job on one node type")
        return _run_multinode(specs[0], options, pairs[0][1])
    problem = fleet.check_out(options.out, len(specs) * len(pairs))
    if problem:
        return _err(problem)
    progress = new_progress()

    def hooks(spec: JobSpec, label: str) -> ProgressDisplay:
        several = len(specs) * len(pairs) > 1
        return ProgressDisplay(expected_batches(spec, options), progress, label if several else "")

    try:
        entries = fleet.plan(specs, pairs, options, hooks)
    except SweepRefused as exc:
        return _err(str(exc))
    for e in entries:
        node_type = getattr(e.backend, "node_type", None)
        if node_type is not None and e.sweep is not None:
            fleet.describe_type(e.sweep.profile, node_type)
    for _, b in pairs:
        err_console().print(f"{why}. {b.describe()}", highlight=False)
    concurrent = backend.name == "slurm"
    try:
        with sigterm_as_interrupt(), progress:
            result = fleet.run(entries, concurrent, backend.cleanup)
    finally:
        backend.cleanup()
    if concurrent and fleet.mark_shared_cores(entries):
        err_console().print(
            "[yellow]warning[/yellow]: some probes shared cores with others running beside them "
            "on the same machine (recorded in their profiles: shared_cores)",
            highlight=False,
        )
    return _fleet_end(result)


def _fleet_end(result: Any) -> int:
    """One summary per sweep; the exit code of the worst (2 an error, 1 incomplete)."""
    if result.interrupted:
        for e in result.entries:
            kept = len(e.sweep.done) if e.sweep is not None else 0
            err_console().print(
                f"[yellow]interrupted[/yellow]: {e.label}: {kept} probe(s) kept in {e.out}",
                highlight=False,
            )
        err_console().print("every job in flight was cancelled; continue with --resume")
        return 130
    code = 0
    for e in result.entries:
        if e.error is not None:
            code = max(code, _err(f"{e.label}: {e.error}"))
        elif e.profile is not None and e.profile.complete:
            print_summary(e.profile, e.out)
        elif e.profile is not None:
            code = max(code, _incomplete(e.profile, e.out, e.outcomes()))
    err_console().print(
        f"{len(result.entries)} sweep(s), {result.probes} probe(s) in {result.seconds:.0f} s",
        highlight=False,
    )
    return code


def expected_batches(spec: JobSpec, options: ProfileOptions) -> int:
    """Batches one probe runs at most (warm-up and measured), the length of its progress bar
    (a probe that stops on its confidence target ends short of it)."""
    rule = spec.iterations.rule(options.max_iterations)
    fixed = rule.mode == "fixed" or options.nnodes > 1  # nodes run a fixed count together
    return spec.iterations.warmup + (rule.count if fixed else rule.max_count)


class ProgressDisplay:
    """The sweep's hooks (`harness.sweep.SweepHooks`) drawn as a rich progress bar: a line per
    probe, counting its batches (training) or bundle timings (inference) as records arrive."""

    def __init__(self, batches: int, progress: Progress | None = None, label: str = "") -> None:
        """`progress`: a display shared by several sweeps (each line then starts with its
        `label`, the job and node type); a new one when None."""
        self.batches = batches
        self._tasks: dict[int, TaskID] = {}  # by thread: a sweep may run probes side by side
        self._last: TaskID | None = None
        self.label = f"{label}: " if label else ""
        self.progress = progress or new_progress()

    @property
    def task(self) -> TaskID | None:
        """The line of the probe the calling thread runs (a backend calls the hooks from the
        thread that runs the probe); else the last probe begun (a multi-node probe's nodes
        report from threads of their own)."""
        return self._tasks.get(threading.get_ident(), self._last)

    def on_probe_begin(self, caps: Caps, index: int) -> None:
        self._last = self._tasks[threading.get_ident()] = self.progress.add_task(
            f"{self.label}probe {_caps_text(caps)}", total=self.batches, ips="", unit="batches"
        )

    def on_record(self, rec: dict[str, Any]) -> None:
        if self.task is None:
            return
        if rec.get("type") == "batch":
            ips = f"{rec.get('images_per_s', 0):.1f} img/s"
            self.progress.update(self.task, advance=1, ips=ips)
        elif rec.get("type") == "progress":
            if rec.get("stage") == "setup":  # an inference probe counts bundle timings
                self.progress.update(self.task, total=rec.get("bundles_total"), unit="bundles")
            elif rec.get("stage") == "bundle":
                desc = f"[{rec.get('start')}, {rec.get('end')}) batch {rec.get('batch_size')}"
                self.progress.update(self.task, completed=rec.get("done", 0), ips=desc)
            else:
                self.progress.update(self.task, ips=str(rec.get("message", "")))

    def on_probe_end(self, probe: Probe) -> None:
        if self.task is not None:
            self.progress.update(self.task, description=self.label + _probe_line(probe))
            self.progress.stop_task(self.task)


def new_progress() -> Progress:
    """The rich progress display every sweep's lines go to (thread-safe: rich locks it)."""
    from rich.progress import (
        BarColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
    )

    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} {task.fields[unit]}"),
        TextColumn("{task.fields[ips]}"),
        TimeElapsedColumn(),
        console=err_console(),
        transient=False,
    )


def _incomplete(profile: Profile, out: Path, outcomes: dict[Outcome, int]) -> int:
    """No probe succeeded: one line with the outcomes seen and the last probe's reason; what
    was written stays on disk (complete=false); exit 1."""
    probes = profile.infer.probes if profile.infer else []
    if profile.train is not None:
        probes = profile.train.probes
    last = probes[-1] if probes else None
    seen = ", ".join(f"{n} {o.value}" for o, n in outcomes.items()) or "no probe ran"
    why = (
        f"; last: {last.outcome.value}: {' '.join(last.reason.split())}"
        if last and last.reason
        else ""
    )
    from rich.markup import escape

    line = (
        f"no probe succeeded ({seen}{why}); no complete {profile.kind} profile made; "
        f"the probes are recorded in {out} (complete=false)"
    )
    err_console().print(f"[red]error:[/red] {escape(line)}", highlight=False, soft_wrap=True)
    return 1


def _caps_text(caps: Caps) -> str:
    return f"{caps.cpus:g} CPU" + (f", {caps.memory_gb:g} GB" if caps.memory_gb else "")


def _probe_line(p: Probe) -> str:
    cap = _caps_text(p.caps)
    shared = ", ".join(f"{s.cores} with {len(s.by) - 1} other(s)" for s in p.shared_cores)
    flag = f" [oversubscribed: cores {shared}]" if shared else ""
    if p.outcome == "ok" and p.throughput:
        ci = p.median_ci
        sure = f" +-{ci.rel_half_width:.1%} ({ci.stopped})" if ci and ci.rel_half_width else ""
        return f"probe {cap}: {p.throughput.median:.1f} img/s{sure}{flag}"
    if p.outcome == "ok":
        return f"probe {cap}: ok{flag}"
    return f"probe {cap}: {p.outcome}" + (f" ({p.reason})" if p.reason else "") + flag


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


def _run_multinode(spec: JobSpec, options: ProfileOptions, backend: Any) -> int:
    """One data-parallel probe over --nnodes containers, with the same progress display."""
    try:
        from harness.multinode import run_multinode_profile
    except ImportError:
        return _err("--nnodes > 1 needs the docker backend's multi-node support (not installed)")
    if backend.name not in ("docker", "slurm") and not options.hosts:
        return _err(
            "--nnodes > 1 runs one container (or Slurm node) per node: "
            "use --backend docker or slurm"
        )
    display = ProgressDisplay(expected_batches(spec, options) * options.nnodes)
    with display.progress:
        return run_multinode_profile(spec, options, backend, err_console(), display)
