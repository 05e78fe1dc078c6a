"""The `harness` command. Start-up imports typer and pydantic only: no torch, docker or SCIP."""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(
    help="Profile DNN jobs under CPU / memory / GPU caps and decide where to run them.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Plain click help: typer's rich help imports rich.markdown and markdown_it (about 0.1-0.2 s,
    # a third of the start-up budget). Rich stays for progress displays and tables.
    rich_markup_mode=None,
)

# Commands that live in their own modules; each exposes register(app).
COMMAND_MODULES = ("images", "report", "pipeline", "simulate", "fit", "runsplit")


def fail(msg: str, code: int = 2) -> typer.Exit:
    typer.echo(f"error: {msg}", err=True)
    return typer.Exit(code)


def _floats(text: str | None, option: str) -> list[float]:
    if not text:
        return []
    try:
        return [float(x) for x in text.replace(" ", "").split(",") if x]
    except ValueError:
        raise fail(f"{option}: expected comma-separated numbers, got {text!r}") from None


@app.command()
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
    from harness.profile_cmd import ProfileArgs, run_profile
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
        memory_sweep=_floats(memory_sweep, "--memory-sweep"),
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
        frequencies=_floats(frequencies, "--frequencies"),
        allow_clock_locking=allow_clock_locking,
        power_log=power_log,
        timeout=timeout,
        data_dir=data_dir,
    )
    raise typer.Exit(run_profile(args))


@app.command()
def validate(
    files: Annotated[list[Path], typer.Argument(help="job specs (.yaml) and profiles (.json)")],
) -> None:
    """Check job specs, problem files and profiles; one line per problem."""
    from harness.validate import problems

    bad = 0
    for f in files:
        found = problems(f)
        if not found:
            typer.echo(f"ok: {f}")
        bad += bool(found)
        for line in found:
            typer.echo(f"error: {line}", err=True)
    raise typer.Exit(1 if bad else 0)


@app.command()
def schema(
    out: Annotated[Path | None, typer.Option("--out", "-o", help="write here, else stdout")] = None,
    which: Annotated[str, typer.Option(help="profile | job")] = "profile",
) -> None:
    """Write the JSON Schema of profiles (or job specs)."""
    from harness.profile import json_schema, write_atomic
    from harness.spec import JobSpec

    if which not in ("profile", "job"):
        raise fail(f"--which: expected profile or job, got {which!r}")
    doc = json_schema() if which == "profile" else JobSpec.model_json_schema()
    text = json.dumps(doc, indent=1) + "\n"
    if out is None:
        sys.stdout.write(text)
    else:
        write_atomic(out, text)
        typer.echo(f"wrote {out}")


@app.command()
def solve(
    profiles: Annotated[list[Path], typer.Argument(help="profile JSON files")] = [],  # noqa: B006
    problem: Annotated[Path | None, typer.Option("--problem", "-p", help="problem YAML")] = None,
    fmt: Annotated[str, typer.Option("--format", help="table | json")] = "table",
    out: Annotated[Path, typer.Option("--out", "-o", help="folder for solution files")] = Path(
        "out"
    ),
    time_limit: Annotated[
        float | None,
        typer.Option(
            help="time limit of each exact solve, s (a pipeline runs two: DOPart's best order, "
            "then the offline optimum, each up to this limit)"
        ),
    ] = None,
    print_jobs: Annotated[bool, typer.Option(help="per-job table (pipeline)")] = False,
    front_method: Annotated[
        str | None,
        typer.Option(
            "--front-method",
            help="split: the Pareto front by 'scip' (epsilon-constraint walk), 'dp' (label "
            "DP, both ends certified by SCIP) or 'auto'; overrides the problem file",
        ),
    ] = None,
) -> None:
    """Decide with SCIP: split/DVFS, batch pipeline, packing or hybrid, by the problem's kind."""
    from harness.solve_cmd import run_solve

    if fmt not in ("table", "json"):
        raise fail(f"--format: expected table or json, got {fmt!r}")
    if front_method not in (None, "auto", "scip", "dp"):
        raise fail(f"--front-method: expected auto, scip or dp, got {front_method!r}")
    raise typer.Exit(run_solve(profiles, problem, fmt, out, time_limit, print_jobs, front_method))


data_app = typer.Typer(help="Datasets the jobs read (generated locally).", no_args_is_help=True)
app.add_typer(data_app, name="data")


@data_app.command("make")
def data_make(
    job: Annotated[Path, typer.Argument(help="job spec YAML")],
    data_dir: Annotated[Path | None, typer.Option(help="where to put it")] = None,
) -> None:
    """Generate the job's dataset (real JPEG files or volumes) and print where it is."""
    from harness.spec import SpecError, load_spec

    try:
        spec = load_spec(job)
    except SpecError as exc:
        raise fail(str(exc)) from None
    from harness.workloads.data import dataset_bytes, prepare_data

    root = prepare_data(spec, str(data_dir) if data_dir else None)
    if root is None:
        typer.echo("synthetic data: nothing to make")
    else:
        typer.echo(f"{root} ({dataset_bytes(root) / 2**20:.1f} MiB)")


def _register_optional() -> None:
    for name in COMMAND_MODULES:
        try:
            mod = importlib.import_module(f"harness.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"harness.commands.{name}" or exc.name == "harness.commands":
                continue
            raise
        mod.register(app)
    for group in app.registered_groups:  # sub-apps keep the same plain, fast help
        if group.typer_instance is not None:
            group.typer_instance.rich_markup_mode = None


_register_optional()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
