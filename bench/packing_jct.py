"""Average JCT and makespan of a >= 500-job trace under GPU-proportional, greedy and SCIP packing.

The trace is built from the complete training profiles in profiles/train-*.json (kind 'train',
`complete` true, with probes and a usable throughput curve; others are skipped and named);
when there are none, from the seven synthetic profiles of
tests/factory/train_profiles.py (it says which). Poisson arrivals at `--load` times what the
cluster serves at proportional shares, Synergy-like GPU demands, durations exponential with
mean `--mean-hours` at the proportional share. Cluster: Synergy's 16 servers of 8 GPUs, 24 CPUs,
500 GB; rounds of 300 s; SCIP gets `--round-limit` seconds per round. Every placement of every
policy passes the independent checker (simulate() raises otherwise). Synergy reports up to
3.4x better average JCT than GPU-proportional on its traces; the last line says what this gets:
avg JCT(proportional) / avg JCT(SCIP), and the same for greedy.

    python3 bench/packing_jct.py [--quick] [--jobs 500] [--round-limit 2]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness.profile import ProfileError, load_profile  # noqa: E402
from solver.packing.problem import SYNERGY_CLUSTER, ServerKind  # noqa: E402
from solver.packing.simulate import job_tables, make_trace, simulate  # noqa: E402
from solver.packing.table import curve_model  # noqa: E402
from solver.profiles import Loaded, ProfileSet  # noqa: E402


def committed_profiles(folder: Path = ROOT / "profiles") -> tuple[ProfileSet, list[str]]:
    """Complete training profiles among folder/train-*.json (the first of each job name), and a
    line per file skipped (a sweep still running writes `complete: false`; its partial curve
    must not price a trace)."""
    out: dict[str, Loaded] = {}
    skipped: list[str] = []
    for p in sorted(folder.glob("train-*.json")):
        try:
            prof = load_profile(p)
        except ProfileError as exc:
            skipped.append(f"{p.name}: not a valid profile ({exc})")
            continue
        if prof.kind != "train" or prof.train is None or not prof.train.probes:
            skipped.append(f"{p.name}: not a training profile with probes")
            continue
        if not prof.complete:
            skipped.append(f"{p.name}: incomplete (complete: false, a sweep still running)")
            continue
        try:
            curve_model(prof)
        except ValueError as exc:
            skipped.append(f"{p.name}: no usable throughput curve ({exc})")
            continue
        out.setdefault(prof.job.name, Loaded(p, prof))
    return ProfileSet(list(out.values())), skipped


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="120 jobs on 4 servers")
    ap.add_argument("--jobs", type=int, default=500)
    ap.add_argument("--load", type=float, default=1.3)
    ap.add_argument("--mean-hours", type=float, default=1.0)
    ap.add_argument("--round-s", type=float, default=300.0)
    ap.add_argument("--round-limit", type=float, default=2.0, help="SCIP seconds per round")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--synthetic", action="store_true", help="ignore profiles/ even if present")
    args = ap.parse_args()
    kinds = list(SYNERGY_CLUSTER)
    n_jobs = args.jobs
    if args.quick:
        kinds = [ServerKind(name="synergy", count=4, gpus=8, cpus=24, memory_gb=500)]
        n_jobs = 120
    profs, skipped = (ProfileSet(), []) if args.synthetic else committed_profiles()
    for line in skipped:
        print(f"profiles: skipped {line}")
    synthetic = False
    if len(profs):
        names = sorted(it.profile.job.name for it in profs)
        print(f"profiles: {len(profs)} committed train profiles from profiles/: {names}")
    else:
        from tests.factory.packing import synthetic_set

        profs = synthetic_set()
        synthetic = True
        names = sorted(it.profile.job.name for it in profs)
        print(
            "profiles: no train profile in profiles/ (or --synthetic): the factory's "
            f"synthetic ones: {names}"
        )
    trace = make_trace(
        profs, n_jobs, kinds, seed=args.seed, load=args.load, mean_hours=args.mean_hours
    )
    tables = job_tables(trace, kinds, profs)
    extrap = sum(any(c.source == "extrapolated" for c in t.configs) for t in tables)
    print(
        f"trace: {n_jobs} jobs, {sum(k.count for k in kinds)} servers, load {args.load}, "
        f"mean {args.mean_hours} h at the proportional share; {extrap} jobs have extrapolated "
        "configurations"
    )
    print(
        f"{'policy':>12} {'avg JCT h':>9} {'median h':>8} {'makespan h':>10} {'JCT vs prop':>11} "
        f"{'GPU':>5} {'CPU':>5} {'mem':>5} {'rounds':>6} {'solves':>6} {'solver s':>8} "
        f"{'gap mean/max':>14} {'wall s':>6}"
    )
    base = None
    avg: dict[str, float] = {}
    checked = 0
    for pol in ("proportional", "greedy", "scip"):
        t0 = time.perf_counter()
        r = simulate(trace, tables, kinds, pol, args.round_s, args.round_limit)  # type: ignore[arg-type]
        wall = time.perf_counter() - t0
        avg[pol] = r.avg_jct_s
        checked += r.checked
        if base is None:
            base = r.avg_jct_s
        ratio = base / r.avg_jct_s if r.avg_jct_s else float("nan")
        u = r.utilisation
        gap = (
            "-"
            if r.max_gap is None or r.mean_gap is None
            else f"{100 * r.mean_gap:.2f}/{100 * r.max_gap:.0f}%"
        )
        print(
            f"{pol:>12} {r.avg_jct_s / 3600:>9.2f} {r.median_jct_s / 3600:>8.2f} "
            f"{r.makespan_s / 3600:>10.2f} {ratio:>10.2f}x {100 * u['gpu']:>4.0f}% "
            f"{100 * u['cpu']:>4.0f}% {100 * u['memory']:>4.0f}% {r.rounds:>6} {r.solves:>6} "
            f"{r.solver_time_s:>8.1f} {gap:>14} {wall:>6.1f}"
            + ("" if r.finished == r.jobs else f"  only {r.finished}/{r.jobs} finished")
        )
    print("gap: SCIP's proven gap per re-pack (mean / worst) under the per-round time limit.")
    print(f"checker: all {checked} placements (every policy, every re-pack) passed.")
    print("Timings on a shared 2-core machine (other work running beside it).")

    def better(pol: str) -> str:
        return f"{avg['proportional'] / avg[pol]:.2f}x" if avg[pol] > 0 else "n/a"

    print(
        "vs Synergy's 'up to 3.4x better average JCT than GPU-proportional': here "
        f"avg JCT(proportional) / avg JCT(SCIP) = {better('scip')}, "
        f"/ avg JCT(greedy) = {better('greedy')} "
        f"({n_jobs} jobs, load {args.load}, {'synthetic' if synthetic else 'measured'} profiles)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
