"""Probes each CPU-search strategy spends, and how far its curve is from the exhaustive one.

Synthetic throughput-vs-CPU curves of 8, 24, 64 and 128 CPUs in several shapes: linear, capped
(min(a*c, cap)), Amdahl, smooth saturating, noisy (+-2% per point, seeded), a dip (a 15% drop
half-way up a rising curve, then rising again: a NUMA crossing), a hump (contention past the
optimum), flat, and three hard shapes (marked *): `step`, a 15% cliff on the plateau;
`wide-dip`, a smooth dip whose edges fall symmetrically on the probes; `weak`, Amdahl p = 0.5,
a job that barely scales. For each strategy: probes used, the largest relative error of its
curve against the exhaustive sweep, and how far its knee is from the exhaustive curve's knee;
then, per curve, adaptive's probes minus the seed's and whether every point is within 5%.

Targets (issue 2): at most 10 probes on every 24-CPU curve with every point within 5% of the
exhaustive curve, and fewer probes than the seed's algorithm on every curve. Every curve counts;
the target lines name the curves where a target is missed, so the exceptions are in plain
sight. The adaptive search stops one probe short of what the seed's walk would spend on the
curve as it has estimated it; on 8 CPUs that can be 3 probes, too few to resolve a dip or a
cliff (its error there is 10-15%, not a target, and its confidence says so).

Run: python3 bench/search_cost.py [--quick]
"""

from __future__ import annotations

import argparse
import math
import random
import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness.search import STRATEGIES, run_search  # noqa: E402

Curve = Callable[[int], float]


def shapes(n: int, seed: int = 0) -> dict[str, Curve]:
    """Named synthetic curves over 1..n CPUs (images/s)."""
    rng = random.Random(seed * 1009 + n)
    noise = {c: 1 + rng.uniform(-0.02, 0.02) for c in range(1, n + 1)}
    cap = max(2, round(0.4 * n))
    tau = n / 5

    def amdahl(c: int, p: float = 0.95) -> float:
        return 100 / ((1 - p) + p / c)

    def smooth(c: int) -> float:
        return 1000 * (1 - math.exp(-c / tau))

    return {
        "linear": lambda c: 50.0 * c,
        "capped": lambda c: 60.0 * min(c, cap),
        "amdahl": amdahl,
        "smooth": smooth,
        "noisy-amdahl": lambda c: amdahl(c) * noise[c],
        "noisy-capped": lambda c: 60.0 * min(c, cap) * noise[c],
        "dip": lambda c: amdahl(c, 0.97) * (0.85 if c > n // 2 else 1.0),
        "step": lambda c: smooth(c) * (0.85 if c > round(0.6 * n) else 1.0),
        "wide-dip": lambda c: (
            smooth(c) * (1 - 0.15 * math.exp(-(((c - 0.6 * n) / (0.2 * n)) ** 2)))
        ),
        "hump": lambda c: amdahl(c, 0.97) * (1 - 0.4 * max(0.0, c / n - 0.5)),
        "flat": lambda c: 400.0,
        "weak": lambda c: amdahl(c, 0.5),
    }


STRESS = ("step", "wide-dip", "weak")  # hard shapes, marked * (still counted)


def knee_of(values: dict[int, float], fraction: float = 0.9) -> int:
    peak = max(values.values())
    return min(c for c, v in values.items() if v >= fraction * peak)


def evaluate(n: int, f: Curve, strategies: list[str]) -> dict[str, tuple[int, float, int]]:
    truth = {c: f(c) for c in range(1, n + 1)}
    true_knee = knee_of(truth)
    out: dict[str, tuple[int, float, int]] = {}
    for strategy in strategies:
        res = run_search(f, n, strategy=strategy)
        err = max(abs(p.throughput - truth[int(p.cpus)]) / truth[int(p.cpus)] for p in res.curve)
        knee_err = abs(int(res.knee.cpus) - true_knee) if res.knee else n
        out[strategy] = (res.probes_used, err, knee_err)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="8 and 24 CPUs only")
    ap.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    ap.add_argument("--sizes", type=int, nargs="*", default=None, help="CPU counts to sweep")
    args = ap.parse_args(argv)
    sizes = args.sizes or ([8, 24] if args.quick else [8, 24, 64, 128])
    strategies: list[str] = [s for s in ("adaptive", "seed", "halving", "exhaustive")]
    assert set(strategies) <= set(STRATEGIES)

    head = f"{'cpus':>4} {'curve':<13}" + "".join(f" {s:>22}" for s in strategies)
    print("each strategy: probes / max rel error vs exhaustive / knee error (CPUs)")
    print(f"{head}  {'vs seed':>7} {'<=5%':>4}")
    print("-" * (len(head) + 13))
    not_fewer: list[str] = []
    missed_24: list[str] = []
    worst_24 = (0, 0.0)
    curves = 0
    for n in sizes:
        for name, f in shapes(n).items():
            row = evaluate(n, f, strategies)
            cells = "".join(f" {p:>6} {e:>8.1%} {k:>6}" for p, e, k in row.values())
            mark = "*" if name in STRESS else " "
            ap_probes, ap_err, _ = row["adaptive"]
            seed_probes = row["seed"][0]
            within = ap_err <= 0.05
            print(
                f"{n:>4} {name + mark:<13}{cells}  {ap_probes - seed_probes:>+7d} "
                f"{'yes' if within else 'NO':>4}"
            )
            curves += 1
            if ap_probes >= seed_probes:
                not_fewer.append(f"{n} {name} ({ap_probes} vs {seed_probes})")
            if n == 24:
                worst_24 = (max(worst_24[0], ap_probes), max(worst_24[1], ap_err))
                if ap_probes > 10 or not within:
                    missed_24.append(f"{name} ({ap_probes} probes, {ap_err:.1%})")
    print("* hard shape (see the module docstring); counted in the targets like every other")
    print()
    if 24 in sizes:
        n24 = len(shapes(24))
        print(
            f"target: 24-CPU curves in <= 10 probes, every point within 5%: "
            f"{'MET' if not missed_24 else 'MISSED'} "
            f"(met on {n24 - len(missed_24)} of {n24} curves; "
            f"worst: {worst_24[0]} probes, {worst_24[1]:.1%} error)"
            + (f"; missed on: {', '.join(missed_24)}" if missed_24 else "")
        )
    print(
        f"target: fewer probes than the seed's algorithm on every curve: "
        f"{'MET' if not not_fewer else 'MISSED'} "
        f"(met on {curves - len(not_fewer)} of {curves} curves)"
        + (f"; not fewer on: {', '.join(not_fewer)}" if not_fewer else "")
    )
    return 1 if args.strict and (not_fewer or missed_24) else 0


if __name__ == "__main__":
    raise SystemExit(main())
