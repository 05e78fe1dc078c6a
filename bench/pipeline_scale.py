"""Batch pipeline at scale: every method's makespan, SCIP time and gap, and the seed's kind of
model (big-M disjunctive, every option, no warm start) in scipy's HiGHS, side by side.

    python3 bench/pipeline_scale.py            # N = 5..100, seeds 1-5 (about 15-20 min)
    python3 bench/pipeline_scale.py --quick    # fewer seeds, shorter limits (a few minutes)

Instances: the seed's sampled experiment on the default resnet18-like chain (alpha uniform in
[1, 10], 100 Mbps). Ratios are to the best proven lower bound (the offline optimum's dual
bound), so they are upper bounds on the true ratios to the optimum. opt_s is the wall time of
the whole exact call (bounds, the bounded DP for N <= 14, SCIP); the next column says which
method proved the optimum or, when not proven, which one stopped at the time limit.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from solver.pipeline import solve_exact, solve_highs_bigm  # noqa: E402
from solver.pipeline_cli import compare_methods  # noqa: E402
from solver.pipeline_sample import sample_jobs  # noqa: E402

SHORT = {
    "DOPart FIFO": "fifo",
    "DOPart + Johnson": "john",
    "DOPart + Johnson/CDS": "john",
    "DOPart + NEH": "neh",
    "DOPart best order (exact)": "dp*",
    "SAIG split-aware greedy": "saig",
    "Offline OPT (exact)": "opt",
}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--sizes", default=None, help="comma-separated N (default 5,10,20,50,100)")
    args = ap.parse_args()
    sizes = [int(x) for x in args.sizes.split(",")] if args.sizes else [5, 10, 20, 50, 100]
    if args.quick:
        seeds = {n: [1, 2] if n <= 50 else [1] for n in sizes}
        scip_tl = {5: 5.0, 10: 10.0, 20: 15.0, 50: 20.0, 100: 20.0}
        highs_tl = 5.0
        heur = 1.0
    else:
        seeds = {n: [1, 2, 3, 4, 5] for n in sizes}
        scip_tl = {5: 10.0, 10: 10.0, 20: 30.0, 50: 60.0, 100: 60.0}
        highs_tl = 15.0
        heur = 2.0
    print(
        f"# pipeline_scale ({'quick' if args.quick else 'full'}); 2 shared cores, timings "
        "under contention; ratios are makespan / best proven lower bound"
    )
    cols = ["fifo", "john", "neh", "dp*", "saig", "opt"]
    print(
        f"{'N':>4} {'seed':>4} {'opts':>5} "
        + " ".join(f"{c:>6}" for c in cols)
        + f" {'OPT s':>9} {'LB s':>9} {'opt_s':>6} {'gap':>7} {'proved/stopped by':>17}"
        + f" | {'disj_s':>6} {'disj_gap':>8}"
        + f" | {'highs_ms':>9} {'highs_lb':>9} {'highs_s':>7} {'h_gap':>7}"
    )
    rows = []
    t_start = time.perf_counter()
    for n in sizes:
        for seed in seeds[n]:
            jobs = sample_jobs(num_jobs=n, seed=seed)
            tl = scip_tl.get(n, 60.0)
            runs = compare_methods(
                jobs,
                time_limit=tl,
                heuristic_time=heur,
                seed=seed,
                order_time_limit=min(tl, 20.0),
            )
            opt = runs[-1]
            lb = opt.lower_bound or opt.makespan
            ratio = {SHORT[r.name]: r.makespan / lb for r in runs}
            disj = ""
            if n <= 10:
                best = min(runs, key=lambda r: r.makespan)
                d = solve_exact(
                    jobs,
                    time_limit=tl,
                    warm=(best.order, best.splits),
                    formulation="disjunctive",
                    method="scip",
                )
                disj = f"{d.solve_s:6.1f} {d.gap:8.2%}"
            else:
                disj = f"{'-':>6} {'-':>8}"
            h = solve_highs_bigm(jobs, time_limit=highs_tl)
            hms = f"{h.makespan:9.4f}" if h.makespan is not None else f"{'none':>9}"
            hlb = f"{h.lower_bound:9.4f}" if h.lower_bound is not None else f"{'-':>9}"
            hgap = f"{h.gap:7.2%}" if h.gap is not None else f"{'-':>7}"
            print(
                f"{n:>4} {seed:>4} {len(jobs[0].options):>5} "
                + " ".join(f"{ratio[c]:6.3f}" for c in cols)
                + f" {opt.makespan:9.4f} {lb:9.4f} {opt.solve_s or 0:6.1f} {opt.gap or 0:7.2%}"
                + f" {opt.method or '-':>17}"
                + f" | {disj} | {hms} {hlb} {h.solve_s:7.1f} {hgap}",
                flush=True,
            )
            rows.append((n, seed, opt, ratio, runs))
    print(f"# total {time.perf_counter() - t_start:.0f} s")
    ten = [r for r in rows if r[0] == 10]
    fifty = [r for r in rows if r[0] == 50]
    small = [r for r in rows if r[0] <= 20]
    if ten:
        ok = all(o.exact and (o.solve_s or 0) < 5.0 for _n, _s, o, _r, _ in ten)
        times = ", ".join(f"{o.solve_s:.1f}s/{o.gap:.2%}/{o.method}" for _n, _s, o, _r, _ in ten)
        print(f"target N=10 proven optimal in < 5 s: {'HOLDS' if ok else 'MISSED'} ({times})")
    if fifty:
        ok = all((o.gap or 0) <= 0.01 for _n, _s, o, _r, _ in fifty)
        gaps = ", ".join(f"{o.gap:.2%}" for _n, _s, o, _r, _ in fifty)
        print(f"target N=50 within 1% gap in 60 s: {'HOLDS' if ok else 'MISSED'} ({gaps})")
    if small:
        for h in ("saig", "neh", "john"):
            # to the best found OPT (proven or not) and, conservatively, to the bound
            to_opt = statistics.mean(r[3][h] * r[2].lower_bound / r[2].makespan for r in small)
            to_lb = statistics.mean(r[3][h] for r in small)
            print(
                f"heuristic {h}: mean ratio N<=20 to OPT found {to_opt:.4f}, to bound {to_lb:.4f}"
            )
        best = statistics.mean(
            min(r[3][h] for h in ("saig", "neh", "john")) * r[2].lower_bound / r[2].makespan
            for r in small
        )
        best_lb = statistics.mean(min(r[3][h] for h in ("saig", "neh", "john")) for r in small)
        verdict = "HOLDS" if best_lb <= 1.02 else ("NOT PROVEN" if best <= 1.02 else "MISSED")
        print(
            "target a heuristic within 2% of the optimum on average for N<=20: "
            f"{verdict} (to the best schedule found {best:.4f}; to the proven bound {best_lb:.4f})"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
