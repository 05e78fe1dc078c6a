"""What a profile costs, fixed-count against confidence stopping (issue 20, part 1).

For each job, `harness profile JOB --cpu 1 --backend local` runs three ways, alternated in one
window (the order reversed every round, ABCCBA...) so that all see the host's drift alike:
- `fixed`: `iterations.stop: fixed`, the spec's own count (and its min_duration_s);
- `fixed-max`: a fixed count of 4 x `measured`, the most confidence mode may spend: the count a
  fixed rule needs to be as sure on a noisy stream as confidence mode is at worst;
- `confidence`: `iterations.stop: confidence`, the median images/s known to +-2% at 95%, from 6
  batches (and min_duration_s) to 4 x `measured`.
Printed per run: the profile's wall time, the measured window's share of it, the batches
measured, the interval of the median images/s and why the probe stopped; then per job the
medians and the target line against each fixed rule.

Target: the same or tighter intervals (relative half-width) in at most half the wall time.
A fixed count below 6 batches has no 95% interval at all (shown as "none").
Default: jobs/tiny-train.yaml and jobs/shufflenet.yaml, 2 rounds (a few minutes);
--quick: tiny-train only, one round.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
JOBS = ("jobs/tiny-train.yaml", "jobs/shufflenet.yaml")
MODES = ("fixed", "fixed-max", "confidence")


def profile(job: Path, out: Path, data: Path, *extra: str) -> tuple[float, dict]:
    """Wall seconds of one `harness profile` at 1 CPU on the local backend, and its probe."""
    cmd = [sys.executable, "-m", "harness.cli", "profile", str(job), "--cpu", "1"]
    cmd += ["--backend", "local", "--out", str(out), "--data-dir", str(data), *extra]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    t0 = time.perf_counter()
    p = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        raise SystemExit(f"{job}: harness profile failed: {p.stderr.strip()[-400:]}")
    (probe,) = json.loads(out.read_text())["train"]["probes"]
    return wall, probe


def with_stop(job: Path, mode: str, folder: Path) -> Path:
    raw = yaml.safe_load(job.read_text())
    its = raw.setdefault("iterations", {})
    its["stop"] = "fixed" if mode.startswith("fixed") else mode
    if mode == "fixed-max":
        its["measured"] = 4 * its.get("measured", 20)
    raw["name"] = f"{raw['name']}-{mode}"
    out = folder / f"{raw['name']}.yaml"
    out.write_text(yaml.safe_dump(raw))
    return out


def window_s(probe: dict) -> float:
    measured = [r for r in probe.get("records") or [] if not r["warmup"]]
    return sum(r["batch_s"] for r in measured)


def half_width(probe: dict) -> float:
    ci = probe.get("median_ci") or {}
    v = ci.get("rel_half_width")
    return float(v) if v is not None else float("inf")


def fmt_ci(probe: dict) -> str:
    ci = probe.get("median_ci") or {}
    if ci.get("lo") is None:
        return f"none ({ci.get('n', 0)} < 6 batches)"
    return f"{ci['lo']:.1f}-{ci['hi']:.1f} (+-{ci['rel_half_width']:.1%})"


def bench(job: Path, rounds: int, folder: Path) -> bool:
    specs = {m: with_stop(job, m, folder) for m in MODES}
    data, out = folder / "data", folder / job.stem
    prep = ("--max-iterations", "1")
    profile(specs["fixed"], out / "prep.json", data, *prep)  # make the dataset, untimed
    runs: dict[str, list[tuple[float, dict]]] = {m: [] for m in MODES}
    print(f"{job.name} at 1 CPU, local backend, {rounds} round(s), the order reversed each round:")
    print(
        f"  {'stop':<10} {'round':>5} {'wall s':>7} {'window s':>8} {'batches':>7}  "
        f"{'median img/s':>12}  {'95% interval of the median':<32} stopped"
    )
    for k in range(rounds):
        for m in MODES if k % 2 == 0 else MODES[::-1]:  # ABC CBA: each sees the drift alike
            wall, p = profile(specs[m], out / f"{m}-{k}.json", data)
            runs[m].append((wall, p))
            ci = p.get("median_ci") or {}
            print(
                f"  {m:<10} {k:>5} {wall:>7.1f} {window_s(p):>8.1f} {ci.get('n', 0):>7}  "
                f"{p['throughput']['median']:>12.1f}  {fmt_ci(p):<32} {ci.get('stopped')}"
            )
    wall = {m: statistics.median(w for w, _ in runs[m]) for m in MODES}
    width = {m: statistics.median(half_width(p) for _, p in runs[m]) for m in MODES}
    window = {m: statistics.median(window_s(p) for _, p in runs[m]) for m in MODES}
    print(
        "  medians: "
        + "; ".join(
            f"{m} {wall[m]:.1f} s (window {window[m]:.1f} s), +-{width[m]:.1%}" for m in MODES
        )
    )
    ok = True
    for base in MODES[:2]:
        tighter = width["confidence"] <= width[base]
        ratio = wall["confidence"] / wall[base]
        holds = tighter and ratio <= 0.5
        ok = ok and holds
        print(
            f"  target against {base} (the same or tighter interval in at most half the wall "
            f"time): interval {'same or tighter' if tighter else 'WIDER'}, wall time "
            f"x{ratio:.2f}, measured window x{window['confidence'] / window[base]:.2f}: "
            f"{'holds' if holds else 'MISSED'}"
        )
    return ok


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="tiny-train only, one round (AB)")
    ap.add_argument("--rounds", type=int, default=None)
    ap.add_argument("jobs", nargs="*", default=None)
    a = ap.parse_args()
    jobs = a.jobs or (JOBS[:1] if a.quick else JOBS)
    rounds = a.rounds or (1 if a.quick else 2)
    with tempfile.TemporaryDirectory(prefix="profile-cost-") as d:
        for job in jobs:
            bench(ROOT / job, rounds, Path(d))


if __name__ == "__main__":
    main()
