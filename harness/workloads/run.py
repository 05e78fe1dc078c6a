"""Entry point of a probe: `python -m harness.workloads.run REQUEST.json`.

Runs in the job image (Docker backend) or as a child process (local backend). It sizes
torch's threads and the loader's workers from the caps granted, runs the job, and writes JSON
lines to the records file, flushing each one so that a crash loses nothing already measured.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
import traceback
from pathlib import Path
from typing import Any, TextIO

from harness.spec import JobSpec


def granted_cpus() -> int:
    """CPUs this process may really use: affinity and CFS quota, not os.cpu_count()."""
    n = len(os.sched_getaffinity(0))
    for quota_file, period_file in (
        ("/sys/fs/cgroup/cpu.max", None),
        ("/sys/fs/cgroup/cpu/cpu.cfs_quota_us", "/sys/fs/cgroup/cpu/cpu.cfs_period_us"),
    ):
        try:
            text = Path(quota_file).read_text().split()
            if period_file is None:
                if text[0] != "max":
                    n = min(n, max(1, int(float(text[0]) / float(text[1]) + 0.5)))
            elif int(text[0]) > 0:
                period = int(Path(period_file).read_text())
                n = min(n, max(1, int(int(text[0]) / period + 0.5)))
        except (OSError, ValueError, IndexError):
            continue
    return max(1, n)


def join_confinement() -> bool | None:
    """Join the cgroups and CPU set the backend prepared, before any thread exists.

    Returns None when nothing was asked, else whether every step succeeded.
    """
    procs = [p for p in os.environ.get("HARNESS_CGROUP_PROCS", "").split(os.pathsep) if p]
    affinity = os.environ.get("HARNESS_AFFINITY")
    if not procs and not affinity:
        return None
    ok = True
    for path in procs:
        try:
            Path(path).write_text(str(os.getpid()))
        except OSError:
            ok = False
    if affinity:
        try:
            os.sched_setaffinity(0, {int(c) for c in affinity.split(",")})
        except OSError:
            ok = False
    return ok


def loader_workers(spec: JobSpec, cpus: int, override: Any) -> int:
    if override is not None:
        return int(override)
    w = spec.loader.workers
    if w == "auto":
        return max(0, cpus - 1) if spec.data.source != "synthetic" else 0
    return int(w)


class Emitter:
    def __init__(self, fh: TextIO) -> None:
        self.fh = fh

    def __call__(self, rec: dict[str, Any]) -> None:
        self.fh.write(json.dumps(rec, default=float) + "\n")
        self.fh.flush()


def run_script(spec: JobSpec, request: dict[str, Any], emit: Emitter, cpus: int) -> int:
    """External training script (seed contract): profiler options override the script's own.

    The script is timed by its optimizer steps (harness/workloads/script_steps.py); the
    `script_done` record (its whole run, start-up included) is the fallback for a script in
    which no step was seen.
    """
    assert spec.script is not None
    ov = request.get("overrides") or {}
    batch = int(ov.get("batch_size") or spec.batch_size)
    iters = int(ov.get("max_iterations") or spec.iterations.measured)
    workers = loader_workers(spec, cpus, request.get("workers"))
    from harness.workloads.data import prepare_data

    root = prepare_data(spec, request.get("data_dir"))
    ours = {
        "--batch": str(batch),
        "--workers": str(workers),
        "--max_iterations": str(iters),
        "--data": str(root or ""),
    }
    aliases = {"-b": "--batch", "-j": "--workers"}
    args: list[str] = []
    skip = False
    for i, a in enumerate(spec.script.args):
        if skip:
            skip = False
            continue
        key = aliases.get(a.split("=")[0], a.split("=")[0])
        if key in ours:
            skip = "=" not in a and i + 1 < len(spec.script.args)
            continue
        args.append(a)
    for k, v in ours.items():
        args += [k, v]
    env = dict(os.environ, HARNESS_RECORDS=request["records"], OMP_NUM_THREADS=str(cpus))
    emit({"type": "meta", "script": spec.script.path, "argv": args, "workers": workers})
    t0 = time.perf_counter()
    # the script runs unchanged, under a wrapper that times its optimizer steps (script_steps)
    timer = ["-m", "harness.workloads.script_steps", "--batch", str(batch)]
    timer += ["--warmup", str(spec.iterations.warmup)]
    proc = subprocess.run([sys.executable, *timer, spec.script.path, *args], env=env)
    elapsed = time.perf_counter() - t0
    if proc.returncode == 0:
        emit({"type": "script_done", "elapsed_s": elapsed, "iterations": iters, "batch": batch})
    return proc.returncode


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    joined = join_confinement()
    request = json.loads(Path(argv[0]).read_text())
    spec = JobSpec.model_validate(request["spec"])
    cpus = granted_cpus()
    threads = int(request.get("threads") or cpus)
    workers = loader_workers(spec, cpus, request.get("workers"))
    request["workers"] = workers
    os.environ.setdefault("OMP_NUM_THREADS", str(threads))
    with open(request["records"], "a") as fh:
        emit = Emitter(fh)
        try:
            from harness.telemetry.grant import read_grant

            emit(read_grant())  # what it may use, as seen from here (not what was asked)
            if spec.script is not None:
                return run_script(spec, request, emit, cpus)
            from harness.workloads.models import set_threads

            set_threads(threads)
            emit(
                {
                    "type": "caps",
                    "granted_cpus": cpus,
                    "threads": threads,
                    "workers": workers,
                    "joined": joined,
                }
            )
            if spec.kind == "infer":
                from harness.workloads.infer import run_infer

                run_infer(spec, request, emit)
            else:
                from harness.workloads.train import run_train

                run_train(spec, request, emit)
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
            emit({"type": "done", "peak_rss_mb": max(peak, kids)})
            return 0
        except MemoryError:
            emit({"type": "error", "message": "MemoryError"})
            return 137
        except Exception as exc:
            emit({"type": "error", "message": f"{type(exc).__name__}: {exc}"})
            traceback.print_exc()
            return 1


if __name__ == "__main__":
    sys.exit(main())
