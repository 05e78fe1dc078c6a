"""Do packing decisions hold when their jobs run together for real?

Three tiny training jobs (squeezenet1_1, resnet18, mobilenet_v2 on 64x64 JPEGs, batch 8) are
profiled fresh at 1 CPU on the docker backend (same window as the runs). Each pair of them is a
placement that fits this 2-core machine: a packing problem of one server (2 GPU slots, 2 CPUs,
8 GB) is solved by the packing solver (each job gets 1 CPU, 4 GB), and the decision is run the
way `harness validate-decision` runs it: both jobs together in their containers on disjoint
cores, then each alone at the same caps. Printed per placement and job: the prediction error
without an interference factor (the solver prices co-located jobs as if alone) and with one,
the factor measured on the *other* placements (their median slowdown, together / alone) and
given to the solver, which re-solves and predicts. Target: median |error| < 15% with the
factor, the error without it beside.

    python3 bench/packing_real.py [--batches 20] [--reuse] [--out out/packing_real]

Needs a Docker engine and the harness-job:cpu image; about 10 minutes on a 2-core machine.
Timings on a machine shared with other work are noisy: the figures are medians.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from harness.backends.docker import DockerBackend  # noqa: E402
from harness.interrupt import sigterm_as_interrupt  # noqa: E402
from harness.packrun.plan import plan_of  # noqa: E402
from harness.packrun.result import PackValidation, validation_of  # noqa: E402
from harness.packrun.run import RunOptions, run_plan  # noqa: E402
from harness.profile import load_profile  # noqa: E402
from solver.packing import solve  # noqa: E402
from solver.packing.problem import PackingProblem, PackJob, ServerKind  # noqa: E402
from solver.problem import SolveOptions  # noqa: E402
from solver.profiles import Loaded, ProfileSet  # noqa: E402

MODELS = ("squeezenet1_1", "resnet18", "mobilenet_v2")
TARGET = 0.15


def job_spec(model: str) -> dict[str, Any]:
    return {
        "name": f"pk-{model}",
        "kind": "train",
        "model": model,
        "input_shape": [3, 64, 64],
        "num_classes": 10,
        "batch_size": 8,
        "data": {"source": "jpeg", "num_samples": 64, "stored_size": [72, 72]},
        "loader": {"kind": "torch", "workers": 0},
        "iterations": {"warmup": 2, "measured": 8, "stop": "fixed"},
    }


def profile(model: str, out: Path) -> Path:
    """A fresh training profile at 1 CPU on the docker backend (`harness profile`)."""
    spec = out / f"pk-{model}.yaml"
    spec.write_text(json.dumps(job_spec(model)))  # JSON is YAML
    prof = out / f"train-pk-{model}.json"
    prof.unlink(missing_ok=True)
    cmd = [sys.executable, "-m", "harness.cli", "profile", str(spec), "--cpu", "1"]
    cmd += ["--backend", "docker", "--out", str(prof)]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    with subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True) as p:  # fmt: skip
        try:
            _, err = p.communicate(timeout=900)
        except (KeyboardInterrupt, subprocess.TimeoutExpired):
            p.terminate()  # the profiler removes its containers on SIGTERM (not on a kill)
            p.wait()
            raise KeyboardInterrupt from None
    if p.returncode != 0 or not prof.is_file():
        sys.exit(f"profile {model} failed ({p.returncode}): {err[-500:]}")
    return prof


def decide(pair: tuple[str, str], files: dict[str, Path], out: Path, factor: float | None) -> Path:
    """The packing solver's decision for the pair on one 2-CPU server (factor: its kind's)."""
    loaded = [Loaded(files[m], load_profile(files[m])) for m in pair]
    kinds = [ServerKind(name="here", gpus=2, cpus=2, memory_gb=8, interference=factor)]
    jobs = [PackJob(name=m, gpus=1, profile=files[m].name) for m in pair]
    name = "-".join(pair) + ("-f" if factor is not None else "")
    problem = PackingProblem(name=name, servers=kinds, jobs=jobs, time_limit_s=10)
    sol = solve(problem, ProfileSet(loaded, out), SolveOptions())
    assert not any(sol.checks.values()), sol.checks
    path = out / f"{name}-packing-solution.json"
    path.write_text(sol.model_dump_json(indent=1))
    return path


def validate(sol: Path, backend: DockerBackend, batches: int, out: Path) -> PackValidation:
    plan = plan_of(sol, backend.host_cpus(), 0)
    run = run_plan(backend, plan, out / ("work-" + sol.stem), RunOptions(batches, 2, 900.0))
    v = validation_of(plan, run, batches, 2)
    (out / f"{sol.stem}-validation.json").write_text(v.model_dump_json(indent=1))
    return v


def predicted(sol: Path) -> dict[str, float]:
    raw = json.loads(sol.read_text())
    return {j["job"]: j["throughput"] for j in raw["placements"]["scip"]["jobs"]}


def _pct(x: float) -> str:
    return f"{x * 100:+.1f}%"


Pair = tuple[str, str]


def measure_all(
    out: Path, backend: DockerBackend, batches: int, reuse: bool
) -> tuple[dict[str, Path], dict[Pair, PackValidation], dict[Pair, dict[str, float]]]:
    """Profiles (fresh unless --reuse), then each pair's decision without a factor, run."""
    kept = {m: out / f"train-pk-{m}.json" for m in MODELS}
    if reuse and all(p.is_file() for p in kept.values()):
        files = kept
        print("profiles kept from an earlier run (--reuse)")
    else:
        files = {m: profile(m, out) for m in MODELS}
    runs: dict[Pair, PackValidation] = {}
    plain: dict[Pair, dict[str, float]] = {}
    for pair in itertools.combinations(MODELS, 2):
        sol = decide(pair, files, out, None)
        plain[pair] = predicted(sol)
        runs[pair] = validate(sol, backend, batches, out)
        print(f"ran {' + '.join(pair)}: measured factor {runs[pair].interference_measured}")
    return files, runs, plain


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--batches", type=int, default=20)
    ap.add_argument("--reuse", action="store_true", help="keep the profiles already in --out")
    ap.add_argument("--out", type=Path, default=ROOT / "out" / "packing_real")
    args = ap.parse_args()
    out: Path = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    with open("/proc/loadavg") as fh:
        print(f"load average at start: {fh.read().split()[0]} on {os.cpu_count()} cores")
    backend = DockerBackend()
    try:  # Ctrl-C or SIGTERM: the containers started are removed, never left behind
        with sigterm_as_interrupt():
            files, runs, plain = measure_all(out, backend, args.batches, args.reuse)
    except KeyboardInterrupt:
        backend.cleanup()
        sys.exit("interrupted: containers removed")
    pairs = list(runs)
    rows: list[dict[str, Any]] = []
    errs0: list[float] = []
    errs1: list[float] = []
    print(
        f"\n{'placement':<28} {'job':<14} {'alone':>7} {'together':>9} {'factor':>7} "
        f"{'pred no f':>9} {'err no f':>9} {'pred f':>7} {'err f':>8}"
    )
    for pair in pairs:
        others = [runs[p].interference_measured for p in pairs if p != pair]
        fs = [f for f in others if f is not None]
        factor = min(1.0, statistics.median(fs)) if fs else None
        with_f = predicted(decide(pair, files, out, factor)) if factor else plain[pair]
        for j in runs[pair].jobs:
            meas = j.measured_together
            if not meas:
                continue
            e0 = (plain[pair][j.job] - meas) / meas
            e1 = (with_f[j.job] - meas) / meas
            errs0.append(abs(e0))
            errs1.append(abs(e1))
            rows.append(
                {
                    "placement": "+".join(pair),
                    "job": j.job,
                    "alone": j.measured_alone,
                    "together": meas,
                    "factor": factor,
                    "error_without": e0,
                    "error_with": e1,
                }
            )
            print(
                f"{' + '.join(pair):<28} {j.job:<14} {j.measured_alone or 0:>7.2f} {meas:>9.2f} "
                f"{factor or 1:>7.3f} {plain[pair][j.job]:>9.2f} {_pct(e0):>9} "
                f"{with_f[j.job]:>7.2f} {_pct(e1):>8}"
            )
    med0 = statistics.median(errs0) if errs0 else float("nan")
    med1 = statistics.median(errs1) if errs1 else float("nan")
    holds = bool(rows) and med1 < TARGET
    with open("/proc/loadavg") as fh:
        print(f"load average at end: {fh.read().split()[0]} on {os.cpu_count()} cores")
    print(
        f"median |error| with the interference factor {med1 * 100:.1f}% (target < "
        f"{TARGET:.0%}): {'MET' if holds else 'MISSED'}; without it {med0 * 100:.1f}% "
        f"({len(rows)} jobs in {len(pairs)} placements)"
    )
    summary = {
        "rows": rows,
        "median_abs_error_with": med1,
        "median_abs_error_without": med0,
        "target": TARGET,
        "holds": holds,
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
