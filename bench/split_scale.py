"""How the split solver scales: SCIP model-build time and SCIP solve time over chain length (20,
50, 100, 200 layers), devices (2, 3) and frequencies (1, 10), bundles up to 8 layers; then the
whole latency-energy Pareto front of 100 layers x 3 devices x 10 frequencies.

Targets (issue 5): a SCIP solve under 1 s for 100 x 3 x 10, and the whole front of that instance
under 30 s. Twice the scale (issue 17): 500 layers x 4 devices x 10 frequencies, latency in
under 1 s and its exact front in under 30 s (`--large`, or `--large-only`; the front's cap is 60
s; judged on wall time, the model's build included). The 100 x 3 x 10 solve target is judged on
SCIP's own solving time (getSolvingTime) in the configuration `harness solve` uses: shortest-
path pricing fixes edges first (its time is printed apart), so SCIP's time is also printed
without it. The front target is judged on the SCIP epsilon-constraint walk (front.method: scip;
one model, freeTransform between solves); the label DP's front (front.method: dp / auto, SCIP
certifying its two ends) is timed beside it.

    python3 bench/split_scale.py [--quick] [--walk-cap SECONDS] [--large | --large-only]
        [--front-cap SECONDS]

Instances are synthetic (tests/factory/infer_profiles.random_instance): device 0 is a slow edge
device, every pair of devices is linked, energies follow a static + f^3 power model."""

from __future__ import annotations

import argparse
import bisect
import math
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from solver.split.dp import pareto_labels, shortest_path  # noqa: E402
from solver.split.model import SplitModel  # noqa: E402
from solver.split.pareto import Front, Method, pareto_front  # noqa: E402
from tests.factory.infer_profiles import random_instance  # noqa: E402

MAX_LEN = 8
TARGET = (100, 3, 10)
LARGE = (500, 4, 10)


def large_rows(repeat: int = 5, front_cap: float = 60.0) -> None:
    """500 x 4 x 10: the latency solve as `harness solve` makes it (model build with pruning,
    pricing, the columns pricing leaves and SCIP, wall time; median of `repeat` runs), the DP's
    shortest path beside it, and the DP's exact front (capped)."""
    inst = random_instance(*LARGE, MAX_LEN, seed=1)
    walls = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        model = SplitModel(inst)
        out = model.solve("latency")
        walls.append(time.perf_counter() - t0)
    wall = statistics.median(walls)
    t1 = time.perf_counter()
    dp = shortest_path(inst)
    dp_s = time.perf_counter() - t1
    assert out.path is not None and dp is not None
    same = abs(out.path.latency - dp.latency) <= 1e-9
    print(f"500x4x10: {len(inst.options)} options, {len(inst.transfers)} transfers")
    print(f"  latency by SCIP: {wall:.2f} s wall, median of {repeat} "
          f"({', '.join(f'{w:.2f}' for w in walls)}); last run: build {model.build_time_s:.2f} s "
          f"(pruning included), pricing {model.prep_time_s:.2f} s, SCIP "
          f"{out.stats.solve_time_s:.3f} s, {out.stats.status}, {len(model.steps)} of "
          f"{model.variables} edges built; the DP's shortest path {dp_s:.3f} s, same latency: "
          f"{same}")  # fmt: skip
    print(f"target: latency of 500x4x10 in < 1 s: {'MET' if wall < 1 else 'NOT MET'} "
          f"({wall:.2f} s, median)")  # fmt: skip
    fr, f_wall, f_cpu, _ = timed_front(*LARGE, "dp", 0.0, front_cap, max_points=10**6)
    state = "complete" if fr.complete else f"INCOMPLETE ({fr.reason})"
    print(f"  exact front by the label DP: {len(fr.points)} points, {f_wall:.1f} s wall "
          f"({f_cpu:.1f} s CPU), {state}")  # fmt: skip
    met = fr.complete and f_wall < 30
    print(f"target: exact front of 500x4x10 in < 30 s: {'MET' if met else 'NOT MET'} "
          f"({f_wall:.1f} s{'' if fr.complete else ', stopped'})")  # fmt: skip


def solve_row(n: int, d: int, f: int, fixing: bool) -> dict[str, float]:
    """Build the model and minimise latency once; check SCIP against the DP."""
    inst = random_instance(n, d, f, MAX_LEN, seed=1)
    model = SplitModel(inst, fixing=fixing)
    out = model.solve("latency")
    dp = shortest_path(inst)
    assert out.path is not None and dp is not None
    assert abs(out.path.latency - dp.latency) <= 1e-9, "SCIP and DP disagree"
    return {
        "edges": len(inst.options) + len(inst.transfers),
        "vars": len(model.steps),
        "build": model.build_time_s,
        "pricing": model.prep_time_s,
        "scip": out.stats.solve_time_s,
        "nodes": out.stats.nodes,
        "fixed": model.fixed,
    }


def _same(a: list[tuple[float, float]], b: list[tuple[float, float]]) -> bool:
    return len(a) == len(b) and all(
        math.isclose(x, u, rel_tol=1e-9) and math.isclose(y, v, rel_tol=1e-9)
        for (x, y), (u, v) in zip(sorted(a), sorted(b), strict=True)
    )


def _on(p: tuple[float, float], front: list[tuple[float, float]]) -> bool:
    """p is one of the points of `front` (sorted), to 1e-9 relative."""
    i = bisect.bisect_left(front, (p[0] * (1 - 1e-9), -math.inf))
    return i < len(front) and _same([p], [front[i]])


def timed_front(
    n: int, d: int, f: int, method: Method, res: float, cap: float, max_points: int = 5000
) -> tuple[Front, float, float, float]:
    """Front on a fresh model: (front, wall s incl. build, CPU s, SCIP solving s summed)."""
    inst = random_instance(n, d, f, MAX_LEN, seed=1)
    t0, c0 = time.perf_counter(), time.process_time()
    front = pareto_front(
        SplitModel(inst), resolution=res, time_limit=cap, method=method, max_points=max_points
    )
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    stats = [p.stats for p in front.points if p.stats] + list(front.checks.values())
    return front, wall, cpu, sum(s.solve_time_s for s in stats)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="20 and 100 layers, shorter walk cap")
    ap.add_argument("--walk-cap", type=float, default=None, help="cap on the exact SCIP walk, s")
    ap.add_argument("--large", action="store_true", help="also 500 x 4 x 10 (twice the scale)")
    ap.add_argument("--large-only", action="store_true", help="500 x 4 x 10 only")
    ap.add_argument("--front-cap", type=float, default=60.0, help="cap on the 500x4x10 front, s")
    args = ap.parse_args()
    if args.large_only:
        large_rows(front_cap=args.front_cap)
        return
    sizes = [20, 100] if args.quick else [20, 50, 100, 200]
    cap = args.walk_cap if args.walk_cap is not None else (30.0 if args.quick else 90.0)
    print("(timings on a shared 2-core machine: other jobs run beside this one)")
    print("SCIP s = SCIP's own solving time; pricing s = shortest-path fixing before SCIP (CLI "
          "default); 'no pricing' = the whole model handed to SCIP")  # fmt: skip
    print(f"{'layers':>6} {'dev':>3} {'freq':>4} {'edges':>6} {'vars':>6} {'build s':>8} "
          f"{'pricing s':>9} {'SCIP s':>7} {'nodes':>5} {'fixed':>6} | {'no pricing: build s':>19} "
          f"{'SCIP s':>7} {'nodes':>5}")  # fmt: skip
    target: dict[str, float] = {}
    for n in sizes:
        for d in (2, 3):
            for f in (1, 10):
                r = solve_row(n, d, f, fixing=True)
                u = solve_row(n, d, f, fixing=False)
                print(f"{n:>6} {d:>3} {f:>4} {r['edges']:>6.0f} {r['vars']:>6.0f} "
                      f"{r['build']:>8.3f} {r['pricing']:>9.3f} {r['scip']:>7.3f} "
                      f"{r['nodes']:>5.0f} {r['fixed']:>6.0f} | {u['build']:>19.3f} "
                      f"{u['scip']:>7.3f} {u['nodes']:>5.0f}")  # fmt: skip
                if (n, d, f) == TARGET:
                    target = {"with": r["scip"], "pricing": r["pricing"], "without": u["scip"]}
    if target:
        ok = target["with"] < 1
        print(f"target: SCIP solve < 1 s for 100x3x10, CLI default (pricing on): SCIP "
              f"{target['with']:.3f} s (+ pricing {target['pricing']:.3f} s) -> "
              f"{'MET' if ok else 'NOT MET'}; without pricing SCIP takes "
              f"{target['without']:.3f} s")  # fmt: skip

    if not args.quick:
        # exactness of both methods at a size where the exact SCIP walk ends quickly
        labels = pareto_labels(random_instance(20, 2, 10, MAX_LEN, seed=1))
        for method in ("scip", "dp"):
            fr, wall, cpu, _ = timed_front(20, 2, 10, method, 0.0, 120.0)  # type: ignore[arg-type]
            print(f"front 20x2x10 (exact, {method}): {len(fr.points)} points in {wall:.1f} s wall "
                  f"({cpu:.1f} s CPU), {fr.solves} SCIP solves; identical to the DP's labels "
                  f"({len(labels)}): {_same(labels, fr.pairs())}")  # fmt: skip

    # the DP's exact front first: it tells how many points the whole front has
    print("front of 100x3x10 (wall time includes the model build):")
    dp, dp_wall, dp_cpu, _ = timed_front(*TARGET, "dp", 0.0, 120.0)
    exact = dp.pairs() if dp.complete else []
    ends = ", ".join(
        f"least {k} {s.status} in {s.solve_time_s:.2f} s" for k, s in dp.checks.items()
    )
    state = "complete" if dp.complete else dp.reason
    print(f"  label DP, exact: {len(dp.points)} points, {dp_wall:.1f} s wall "
          f"({dp_cpu:.1f} s CPU), {state}; SCIP check of its ends: {ends}")  # fmt: skip
    walks = [(0.01, 120.0), (0.0, cap)]
    verdicts = []
    for res, wcap in walks:
        fr, wall, cpu, scip_s = timed_front(*TARGET, "scip", res, wcap)
        label = "exact" if res == 0 else f"resolution {res:g}"
        state = "complete" if fr.complete else f"INCOMPLETE ({fr.reason})"
        per = wall / max(fr.solves, 1)
        line = (f"  SCIP epsilon walk, {label}: {len(fr.points)} points, {fr.solves} solves, "
                f"{wall:.1f} s wall ({cpu:.1f} s CPU, SCIP solving {scip_s:.1f} s, "
                f"{per:.2f} s/solve), {state}")  # fmt: skip
        if exact:
            on = sum(_on(p, exact) for p in fr.pairs())
            line += f"; {on}/{len(fr.points)} on the DP's exact front"
        print(line)
        if res == 0 and not fr.complete and exact:
            print(f"    at that rate the whole exact front ({len(exact)} points) needs about "
                  f"{per * (len(exact) + 1):.0f} s")  # fmt: skip
        met = fr.complete and wall < 30
        verdicts.append(f"{label} {wall:.1f} s{'' if fr.complete else ' (stopped)'} -> "
                        f"{'MET' if met else 'NOT MET'}")  # fmt: skip
    print(f"target: whole front of 100x3x10 < 30 s by the SCIP epsilon walk: "
          f"{'; '.join(verdicts)}; (label DP exact: {dp_wall:.1f} s)")  # fmt: skip
    if args.large:
        large_rows(front_cap=args.front_cap)


if __name__ == "__main__":
    main()
