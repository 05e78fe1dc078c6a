"""How the split solver scales: SCIP model-build and solve time over chain length, devices and
frequencies (bundles up to 8 layers), and the whole Pareto front of 100 layers x 3 devices x 10
frequencies. Targets: a solve under 1 s and the front under 30 s for that instance. The exact
front comes from the label DP (solver/split_dp.pareto_plans) with SCIP certifying its two ends;
the SCIP epsilon-constraint walk is timed beside it (at 1%, and exact capped at 60 s in the full
run).

    python3 bench/split_scale.py [--quick]

Instances are synthetic (tests/profile_factory.random_instance): device 0 is a slow edge device,
every pair of devices is linked, energies follow a static + f^3 power model.
"""

from __future__ import annotations

import argparse
import bisect
import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from solver.pareto import Method, pareto_front  # noqa: E402
from solver.split import SplitModel  # noqa: E402
from solver.split_dp import pareto_labels, shortest_path  # noqa: E402
from tests.profile_factory import random_instance  # noqa: E402

MAX_LEN = 8


def scale_row(n: int, d: int, f: int, fixing: bool = True) -> dict[str, float]:
    inst = random_instance(n, d, f, MAX_LEN, seed=1)
    model = SplitModel(inst, fixing=fixing)
    t0 = time.perf_counter()
    out = model.solve("latency")
    wall = time.perf_counter() - t0
    dp = shortest_path(inst)
    assert out.path is not None and dp is not None
    assert abs(out.path.latency - dp.latency) <= 1e-9, "SCIP and DP disagree"
    return {
        "edges": len(inst.options) + len(inst.transfers),
        "vars": len(model.steps),
        "build": model.build_time_s,
        "pricing": model.prep_time_s,
        "scip": out.stats.solve_time_s,
        "wall": wall,
        "nodes": out.stats.nodes,
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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="fewer sizes, no exact SCIP walk")
    args = ap.parse_args()
    sizes = [20, 100] if args.quick else [20, 50, 100, 200]
    print("(timings on a shared 2-core machine: other jobs run beside this one)")
    print(f"{'layers':>6} {'dev':>3} {'freq':>4} {'edges':>7} {'vars':>6} {'build s':>8} "
          f"{'pricing s':>9} {'SCIP s':>7} {'solve s':>8} {'nodes':>5}")  # fmt: skip
    target_solve = None
    for n in sizes:
        for d in (2, 3):
            for f in (1, 10):
                r = scale_row(n, d, f)
                print(f"{n:>6} {d:>3} {f:>4} {r['edges']:>7.0f} {r['vars']:>6.0f} "
                      f"{r['build']:>8.3f} {r['pricing']:>9.3f} {r['scip']:>7.3f} "
                      f"{r['wall']:>8.3f} {r['nodes']:>5.0f}")  # fmt: skip
                if (n, d, f) == (100, 3, 10):
                    target_solve = r["wall"]
    r = scale_row(100, 3, 10, fixing=False)
    print(f"100x3x10 without shortest-path pricing: SCIP {r['scip']:.3f} s, "
          f"solve {r['wall']:.3f} s, {r['nodes']:.0f} nodes")  # fmt: skip
    assert target_solve is not None
    print(f"target solve < 1 s for 100x3x10 (pricing + SCIP, excluding build): "
          f"{target_solve:.3f} s -> {'MET' if target_solve < 1 else 'NOT MET'}")  # fmt: skip

    if not args.quick:
        # exactness at a size the DP's label sets can still enumerate
        small = random_instance(20, 2, 10, MAX_LEN, seed=1)
        labels = pareto_labels(small)
        methods: tuple[Method, ...] = ("scip", "dp")
        for method in methods:
            t0, c0 = time.perf_counter(), time.process_time()
            front = pareto_front(SplitModel(small), method=method)
            wall, cpu = time.perf_counter() - t0, time.process_time() - c0
            print(f"front 20x2x10 (exact, {method}): {len(front.points)} points in {wall:.1f} s "
                  f"wall ({cpu:.1f} s CPU); DP labels: {len(labels)} points; identical: "
                  f"{_same(labels, front.pairs())}")  # fmt: skip

    inst = random_instance(100, 3, 10, MAX_LEN, seed=1)
    # the label DP's exact front, certified by SCIP at both ends; then the SCIP epsilon walk
    runs: list[tuple[Method, float, float]] = [("dp", 0.0, 120.0), ("dp", 0.01, 120.0)]
    runs += [("scip", 0.01, 120.0)] if args.quick else [("scip", 0.01, 120.0), ("scip", 0.0, 60.0)]
    exact: list[tuple[float, float]] = []
    for method, res, cap in runs:
        t0, c0 = time.perf_counter(), time.process_time()
        model = SplitModel(inst)
        front = pareto_front(model, resolution=res, time_limit=cap, method=method)
        total = time.perf_counter() - t0
        cpu = time.process_time() - c0
        state = "complete" if front.complete else f"INCOMPLETE: {front.reason}"
        label = "exact" if res == 0 else f"resolution {res:g}"
        rate = len(front.points) / max(total, 1e-9)
        how = (
            "label DP + SCIP at both ends"
            if method == "dp"
            else f"SCIP epsilon walk, {front.solves} solves"
        )
        print(f"front 100x3x10 ({label}, {how}): {len(front.points)} points ({rate:.0f}/s), "
              f"{total:.1f} s wall incl. build ({cpu:.1f} s CPU), {state}; target < 30 s -> "
              f"{'MET' if front.complete and total < 30 else 'NOT MET'}")  # fmt: skip
        if method == "dp":
            ends = ", ".join(
                f"least {k} {s.status} in {s.solve_time_s:.2f} s" for k, s in front.checks.items()
            )
            print(f"  SCIP check of the DP front's ends: {ends}")
            if res == 0 and front.complete:
                exact = front.pairs()
        elif exact:
            on = sum(_on(p, exact) for p in front.pairs())
            print(f"  SCIP walk points on the DP's exact front: {on}/{len(front.points)}")


if __name__ == "__main__":
    main()
