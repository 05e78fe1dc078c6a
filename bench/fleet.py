"""What concurrency costs: N jobs profiled one after another vs all at once through Slurm.

Both ways run on the same Slurm cluster (on this machine: .ci/slurm.sh, partition `debug`,
one node with the host's cores), with the same options (`--cpu 2 --memory 1`, the adaptive
search: probes at 2 and 1 CPUs):
- one after another: `harness profile JOB --backend slurm` once per job, each alone;
- at once: `harness profile JOB1 JOB2 ... --backend slurm`, one command, sweeps side by side.
Printed: the wall time and probe count of each way, then for every probe (job x CPUs) its
median images/s run alone and run beside the others: Slurm gives the probes on one node
disjoint cores, so what is left of the difference is what they still share (caches, memory
bandwidth, the disk, SMT siblings), the price of profiling side by side. A probe that shared a
core with another (two Slurm nodes on one machine) says so in its `shared_cores`.

Default: jobs/tiny-train.yaml and tests/data/docker-tiny.yaml (a couple of minutes here);
--jobs N repeats them under distinct names; --rounds R alternates the two ways R times.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
BASE = (ROOT / "jobs" / "tiny-train.yaml", ROOT / "tests" / "data" / "docker-tiny.yaml")


def make_jobs(n: int, folder: Path) -> list[Path]:
    out = []
    for i in range(n):
        raw = yaml.safe_load(BASE[i % len(BASE)].read_text())
        raw["name"] = f"{raw['name']}-{i}"
        path = folder / f"{raw['name']}.yaml"
        path.write_text(yaml.safe_dump(raw))
        out.append(path)
    return out


def profile(jobs: list[Path], out: Path, data: Path, args: list[str]) -> float:
    cmd = [sys.executable, "-m", "harness.cli", "profile", *map(str, jobs), "--backend", "slurm"]
    cmd += [*args, "--out", str(out), "--data-dir", str(data)]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    t0 = time.perf_counter()
    p = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=3600)
    if p.returncode != 0:
        raise SystemExit(f"harness profile failed ({p.returncode}): {p.stderr.strip()[-600:]}")
    return time.perf_counter() - t0


def probes(folder: Path) -> dict[tuple[str, float], tuple[float | None, bool]]:
    """(job, CPUs) -> (median images/s, shared a core) of every probe in the folder's profiles."""
    from harness.profile import load_profile

    out = {}
    for f in sorted(folder.glob("*.json")):
        prof = load_profile(f)
        for p in prof.train.probes if prof.train else []:
            ips = p.throughput.median if p.throughput and p.outcome == "ok" else None
            shared = bool(p.shared_cores)
            out[(prof.job.name, p.caps.cpus)] = (ips, shared)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--jobs", type=int, default=2, help="jobs profiled (default 2)")
    ap.add_argument("--rounds", type=int, default=1, help="times each way runs (default 1)")
    ap.add_argument("--cpu", default="2", help="--cpu of every sweep (default 2)")
    ap.add_argument("--memory", default="1", help="--memory GB of every probe (default 1)")
    a = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    from harness.slurm.commands import available

    ok, why = available()
    if not ok:
        raise SystemExit(f"no Slurm controller answers ({why}): start one with .ci/slurm.sh")
    args = ["--cpu", a.cpu, "--memory", a.memory]
    data = Path(os.environ.get("HARNESS_DATA", ROOT / ".cache" / "data"))
    walls: dict[str, list[float]] = {"one after another": [], "at once": []}
    seen: dict[str, dict[tuple[str, float], list[float]]] = {"alone": {}, "beside": {}}
    counts: dict[str, int] = {}
    shared = 0
    with tempfile.TemporaryDirectory(prefix="fleet-bench-") as tmp:
        jobs = make_jobs(a.jobs, Path(tmp))
        for r in range(a.rounds):
            order = ["one after another", "at once"]
            for way in order if r % 2 == 0 else order[::-1]:
                out = Path(tmp) / f"{way.replace(' ', '-')}-{r}"
                if way == "at once":
                    walls[way].append(profile(jobs, out, data, args))
                else:
                    walls[way].append(sum(profile([j], out, data, args) for j in jobs))
                got = probes(out)
                counts[way] = len(got)
                key = "beside" if way == "at once" else "alone"
                for k, (ips, flag) in got.items():
                    if ips is not None:
                        seen[key].setdefault(k, []).append(ips)
                    shared += int(flag)
    print(f"{a.jobs} jobs, --cpu {a.cpu} --memory {a.memory}, {a.rounds} round(s), Slurm")
    for way, w in walls.items():
        print(f"  {way:18s} wall {statistics.median(w):7.1f} s   probes {counts.get(way, 0)}")
    seq, par = statistics.median(walls["one after another"]), statistics.median(walls["at once"])
    print(f"  at once takes {par / seq:.0%} of the wall time of one after another")
    print(f"  {'probe':28s} {'alone img/s':>12s} {'beside img/s':>13s} {'change':>8s}")
    for k in sorted(set(seen["alone"]) | set(seen["beside"])):
        alone = statistics.median(seen["alone"][k]) if k in seen["alone"] else None
        beside = statistics.median(seen["beside"][k]) if k in seen["beside"] else None
        change = f"{beside / alone - 1:+.0%}" if alone and beside else "-"
        fa = f"{alone:.1f}" if alone else "-"
        fb = f"{beside:.1f}" if beside else "-"
        print(f"  {k[0] + ' @ ' + format(k[1], 'g') + ' CPU':28s} {fa:>12s} {fb:>13s} {change:>8s}")
    print(f"  probes that shared a core with another (shared_cores): {shared}")


if __name__ == "__main__":
    main()
