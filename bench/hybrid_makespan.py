"""Makespans of CPU-only, GPU-only, greedy and SCIP on generated job sets of 20, 100, 500 jobs.

Jobs are drawn (seeded) from the seed's workloads W1-W7 (jobs/W*.yaml): each job is one
workload at a batch size of 1/4 to 2x its spec's and 50 to 1000 batches. Workers: four CPU
workers (2, 2, 1, 1 CPUs) and one GPU worker.

Times per job come from the cost model: --cost-model FILE, else
profiles/fitted/costmodel.json, else one fitted on the committed train profiles, else one
fitted on a short real timing sweep of W1-W7 on this host (contended: say so when quoting).
GPU times: from the cost model when it holds 'cuda' data (a committed GPU profile); otherwise
the documented speed-up model of solver.hybrid.problem.GpuFallback (t_cuda = overhead +
t_cpu(1 CPU) / speed-up), and the output says so.

For each set: makespan of each method, its ratio to SCIP's dual bound (1.00 = proven
optimal), SCIP's status and gap, and the independent checker's verdict on every schedule.

Run: python3 bench/hybrid_makespan.py [--quick] [--cost-model FILE] [--time-limit S]
"""

from __future__ import annotations

import argparse
import glob
import os
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from harness.profile import ProfileError, load_profile  # noqa: E402
from harness.spec import load_spec  # noqa: E402
from solver.hybrid.check import check_schedule  # noqa: E402
from solver.hybrid.costmodel.features import (  # noqa: E402
    Sample,
    samples_from_profile,
    samples_from_profiles,
)
from solver.hybrid.costmodel.fit import CostModel, fit, load  # noqa: E402
from solver.hybrid.model import solve_all  # noqa: E402
from solver.hybrid.problem import (  # noqa: E402
    GpuFallback,
    HybridJob,
    HybridProblem,
    Worker,
    job_times,
)
from tests.factory.timed_profiles import timed_train_profile  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
WORKERS = [
    Worker(name="cpu0", device="cpu", cpus=2),
    Worker(name="cpu1", device="cpu", cpus=2),
    Worker(name="cpu2", device="cpu", cpus=1),
    Worker(name="cpu3", device="cpu", cpus=1),
    Worker(name="gpu0", device="cuda", cpus=2),
]


def get_cost_model(path: Path | None, quick: bool) -> tuple[CostModel, str]:
    if path is not None:
        return load(path), f"cost model {path}"
    default = ROOT / "profiles" / "fitted" / "costmodel.json"
    if default.exists():
        return load(default), f"cost model {default}"
    samples: list[Sample] = []
    for p in sorted(glob.glob(str(ROOT / "profiles" / "**" / "*.json"), recursive=True)):
        try:
            prof = load_profile(p)
        except ProfileError:
            continue
        samples.extend(samples_from_profile(prof, Path(p).name))
    models = {s.model for s in samples}
    if {"simple_cnn", "resnet18_2d", "cnn3d"} <= models:
        return fit(samples), f"cost model fitted on {len(samples)} committed probes"
    print("no cost model or W1-W7 train profiles committed: timing W1-W7 here (contended host)")
    from harness.telemetry.host import host_facts
    from harness.workloads.medmnist import time_train_steps

    host = host_facts()
    profs = []
    t0 = time.perf_counter()
    for i in range(1, 8):
        spec = load_spec(ROOT / "jobs" / f"W{i}.yaml")
        for frac in (16, 4):
            b = max(1, spec.batch_size // frac)
            pts = []
            for cpus in (1, 2):
                rows = time_train_steps(
                    spec.model, spec.input_shape, spec.num_classes, str(spec.data.task), b,
                    steps=1 if quick else 2, warmup=1, threads=cpus,
                )  # fmt: skip
                pts.append((float(cpus), [r["batch_s"] for r in rows]))
            profs.append(timed_train_profile(spec, "cpu", pts, batch_size=b, host=host))
    samples = samples_from_profiles(profs)
    note = (
        f"cost model fitted on {len(samples)} probes timed here in {time.perf_counter() - t0:.0f} s"
    )
    return fit(samples), note


def make_jobs(n: int, seed: int) -> list[HybridJob]:
    rng = random.Random(seed)
    specs = [load_spec(ROOT / "jobs" / f"W{i}.yaml") for i in range(1, 8)]
    jobs = []
    for k in range(n):
        s = rng.choice(specs)
        b = max(1, int(s.batch_size * rng.choice((0.25, 0.5, 1.0, 2.0))))
        jobs.append(
            HybridJob(
                name=f"{s.workload_id}-{k}",
                model=s.model,
                batch_size=b,
                input_shape=list(s.input_shape),
                num_batches=rng.randint(50, 1000),
            )
        )
    return jobs


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="shorter SCIP limits (about a minute)")
    ap.add_argument("--cost-model", type=Path, default=None)
    ap.add_argument("--time-limit", type=float, default=None, help="SCIP limit per set, s")
    ap.add_argument("--sizes", default="20,100,500")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    limit = args.time_limit or (10.0 if args.quick else 40.0)

    cm, note = get_cost_model(args.cost_model, args.quick)
    fb = GpuFallback()
    print(f"times: {note}; devices in it: {', '.join(cm.devices)}")
    if "cuda" not in cm.devices:
        print(
            "GPU worker: no GPU profile committed (no GPU on this host) -> documented speed-up "
            f"model t_cuda = {fb.overhead_s:g} s + t_cpu({fb.reference_cpus:g} CPU) / "
            f"{fb.speedup:g}"
        )
    print(f"workers: {', '.join(f'{w.name}({w.device},{w.cpus:g} cpu)' for w in WORKERS)}")
    print(f"SCIP: assignment MILP, warm-started with greedy, time limit {limit:g} s per set\n")
    head = f"{'jobs':>5s} {'method':9s} {'makespan s':>12s} {'/ bound':>8s} {'status':>10s}"
    print(head + f" {'gap':>7s} {'solve s':>8s} checker")
    for n in (int(x) for x in args.sizes.split(",")):
        prob = HybridProblem(jobs=make_jobs(n, args.seed + n), workers=WORKERS, gpu_fallback=fb)
        t = job_times(prob, cm)
        res = solve_all(t.p, [w.device for w in WORKERS], limit)
        bound = res["scip"].dual_bound or float("nan")
        for name in ("cpu-only", "gpu-only", "greedy", "scip"):
            s = res[name]
            errs = check_schedule(s.model_dump(), t.p)
            gap = "" if s.gap is None else f"{s.gap:.2%}"
            print(
                f"{n:5d} {name:9s} {s.span:12.1f} {s.span / bound:8.3f} {s.status:>10s} "
                f"{gap:>7s} {s.solve_s:8.2f} {'ok' if not errs else 'FAIL: ' + errs[0]}"
            )
        print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
