"""The accuracy-aware split, measured against its targets (issue 16).

Prints, for a family of model variants (profiles that carry `variant`), on every domain they
were measured on (a problem file's devices, link and batch size are kept, its domains are not):
1. the throughput gain of the decision over the unpruned best split at epsilon = 1% and 3%,
   per domain (target: >= 1.5x at 3%);
2. the exact answer vs the seed's gradient descent over the LUT, over every domain x epsilon x
   link bandwidth (target: exact never worse; how often strictly better);
3. the accuracy surrogate's held-out (leave-one-variant-out) error;
4. real-mode prediction error, from measured runs (`harness run-split` /
   `harness validate-decision` results; target: throughput median < 15%, accuracy < 1 point).
   `real_mode_errors(solution, runs)` takes them; without `--measured` nothing is reported.

    python3 bench/accuracy_split.py profiles/accuracy/*.json --problem problems/accuracy-split.yaml
    python3 bench/accuracy_split.py --measured out/acc/measured.json profiles/accuracy/*.json
    python3 bench/accuracy_split.py               # SYNTHETIC factory variants (no measurement)
    python3 bench/accuracy_split.py profiles/accuracy/*.json \
        --problem problems/accuracy-split.yaml --fresh out/acc-fresh   # one window, ~12 min

`--fresh DIR` measures real mode the way a user would in one sitting: every given profile is
made again (the same variant, device name, CPUs and backend), the problem is solved with the
new profiles, and each decided domain's choice runs `--runs` times (interleaved) with
`harness validate-decision`; predictions and measurements then come from one window of this
machine, whose speed moves by tens of percent over hours. `--reuse` keeps profiles already in
DIR. `--remeasure` then profiles the choices' variants once more after solving and holds the
runs to those profiles (validate-decision --profiles): the chosen variant's own profile is the
best-looking of many noisy ones; the error is printed both ways.

`--solution FILE` sets the runs against that solution's predictions (a `--fresh` session's, as
committed under results/accuracy-split/one-window/) instead of the bench's own.

`--measured` (repeatable) is a `harness validate-decision --out` file of an accsplit solution
(its domain from the run's notes; the 'chosen' plan's streamed throughput and accuracy), or a
JSON list of {"domain", "throughput_rps", "accuracy"} (accuracy a share), one per domain. Work
is bounded by counts (the gradient descent's steps, the grid below); SCIP runs to a proven
optimum.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._shared import harness_cli  # noqa: E402
from solver.accsplit import solve  # noqa: E402
from solver.accsplit.problem import AccSplitProblem, default_problem  # noqa: E402
from solver.accsplit.solution import AccSplitSolution  # noqa: E402
from solver.problem import Link, SolveOptions, read_problem, validate_as  # noqa: E402
from solver.profiles import Loaded, ProfileSet  # noqa: E402

EPSILONS_GAIN = (0.01, 0.03)
EPSILONS_GD = (0.005, 0.01, 0.02, 0.03, 0.05)
BANDWIDTHS_MBPS = (5.0, 20.0, 100.0)
TARGET_GAIN = 1.5
TARGET_THROUGHPUT_ERR = 0.15
TARGET_ACCURACY_ERR = 0.01


def load(paths: list[str]) -> tuple[ProfileSet, str]:
    """The profiles given, else the factory's synthetic family (said so in the output)."""
    if paths:
        return ProfileSet.from_paths(paths), f"{len(paths)} profiles"
    from tests.factory.accsplit import make_variant_profiles

    profs = make_variant_profiles(n_layers=10, n_domains=6)
    given = [Loaded(Path(f"synthetic-{i}.json"), p) for i, p in enumerate(profs)]
    return ProfileSet(given), "SYNTHETIC factory variants (tests/factory/accsplit.py), not measured"


def base_problem(profiles: ProfileSet, path: str | None) -> AccSplitProblem:
    if path is None:
        return default_problem(profiles).model_copy(update={"domains": []})
    raw = read_problem(path)
    return validate_as(AccSplitProblem, raw, path)


def with_link(problem: AccSplitProblem, mbps: float | None, eps: float) -> AccSplitProblem:
    links = problem.links
    if mbps is not None:
        links = [
            Link(
                src=lk.src,
                dst=lk.dst,
                bandwidth_up_mbps=mbps,
                bandwidth_down_mbps=mbps,
                latency_ms=lk.latency_ms,
            )  # fmt: skip
            for lk in problem.links
        ]
    update = {"links": links, "epsilon": eps, "objective": "throughput", "domains": []}
    return problem.model_copy(update=update)


# ---------------------------------------------------------------- 1. gain


def gains(
    profiles: ProfileSet, problem: AccSplitProblem, synthetic: bool
) -> dict[float, AccSplitSolution]:
    out = {}
    print("1. throughput gain over the unpruned best split (per domain)")
    for eps in EPSILONS_GAIN:
        sol = solve(with_link(problem, None, eps), profiles, SolveOptions())
        out[eps] = sol
        rows = [d for d in sol.domains if d.gain_over_unpruned is not None]
        for d in sol.domains:
            c = d.choice
            if c is None:
                print(f"   eps {eps:.0%} {d.domain}: no choice ({d.reason})")
                continue
            print(
                f"   eps {eps:.0%} {d.domain}: {c.variant:>8} cut {c.cut:>2}/{c.n_layers} "
                f"acc {c.accuracy.value:.4f} (ref {d.reference_accuracy:.4f}) "
                f"{c.throughput_rps:9.1f} req/s  gain {d.gain_over_unpruned:.2f}x"
            )
        gs = [d.gain_over_unpruned for d in rows if d.gain_over_unpruned is not None]
        if gs:
            print(
                f"   eps {eps:.0%}: gain median {statistics.median(gs):.2f}x, "
                f"min {min(gs):.2f}x, max {max(gs):.2f}x over {len(gs)} domains"
            )
    gs3 = [d.gain_over_unpruned or 0.0 for d in out[0.03].domains if d.choice is not None]
    if gs3:
        med = statistics.median(gs3)
        verdict = "MET" if med >= TARGET_GAIN else "MISSED"
        on = " (on SYNTHETIC variants: not evidence)" if synthetic else ""
        print(f"   target: median gain >= {TARGET_GAIN}x at eps 3%: {med:.2f}x: {verdict}{on}")
    gains_by_link(profiles, problem)
    return out


def gains_by_link(profiles: ProfileSet, problem: AccSplitProblem) -> None:
    """The same gain on other links: pruning pays only where compute, not the input's upload,
    bounds the rate, and this says where that is."""
    parts = []
    for mbps in BANDWIDTHS_MBPS:
        sol = solve(with_link(problem, mbps, 0.03), profiles, SolveOptions())
        gs = [d.gain_over_unpruned for d in sol.domains if d.gain_over_unpruned is not None]
        necks = sorted({d.choice.stages.bottleneck for d in sol.domains if d.choice is not None})
        if gs:
            parts.append(
                f"{mbps:g} Mbit/s {statistics.median(gs):.2f}x ({min(gs):.2f}-{max(gs):.2f}x; "
                f"bound by {'/'.join(necks)})"
            )
    print(
        "   eps 3% on other links, gain median (range; what bounds the choices): "
        + "; ".join(parts)
    )


# ---------------------------------------------------------------- 2. exact vs the seed's GD


def exact_vs_gd(profiles: ProfileSet, problem: AccSplitProblem) -> None:
    print("2. exact (SCIP) vs the seed's gradient descent (throughput, per domain)")
    total = worse = strictly = 0
    ratios = []
    for mbps in BANDWIDTHS_MBPS:
        for eps in EPSILONS_GD:
            sol = solve(with_link(problem, mbps, eps), profiles, SolveOptions())
            for d in sol.domains:
                gd = next((b for b in d.baselines if b.name == "seed gradient descent"), None)
                if d.choice is None or gd is None or gd.choice is None:
                    continue
                total += 1
                r = d.choice.throughput_rps / gd.choice.throughput_rps
                ratios.append(r)
                worse += r < 1 - 1e-9
                strictly += r > 1 + 1e-9
    if not total:
        print("   no comparable decisions")
        return
    print(
        f"   {total} decisions ({len(BANDWIDTHS_MBPS)} links x {len(EPSILONS_GD)} epsilons x "
        f"domains): exact worse {worse} times, strictly better {strictly} times "
        f"({strictly / total:.0%}); exact/GD throughput median {statistics.median(ratios):.3f}x, "
        f"max {max(ratios):.3f}x"
    )
    print(f"   target: exact never worse: {'MET' if worse == 0 else 'MISSED'}")


# ---------------------------------------------------------------- 3. surrogate


def surrogate_error(sol: AccSplitSolution) -> None:
    print("3. accuracy surrogate, leave-one-variant-out error")
    s = sol.surrogate
    if s is None or s.loo_mae is None:
        n = 0 if s is None else s.n_variants
        print(f"   not enough measured pruned variants to hold one out ({n}; needs 3)")
        return
    print(
        f"   {s.method}; features: {', '.join(s.features)}; {s.n_variants} pruned variants: "
        f"mean {s.loo_mae * 100:.2f} points, max {(s.loo_max or 0) * 100:.2f} points"
    )
    if s.loo_interior_mae is not None:
        print(
            f"   interior variants only (interpolation, the surrogate's use): mean "
            f"{s.loo_interior_mae * 100:.2f} points"
        )
    if s.used_for:
        print(f"   predictions used (to re-measure): {', '.join(s.used_for)}")


# ---------------------------------------------------------------- 4. real mode


@dataclass(frozen=True)
class MeasuredRun:
    """One domain's decision run for real (run-split / validate-decision)."""

    domain: str
    throughput_rps: float
    accuracy: float  # a share
    # the compute (edge + server) per request the run measured over what the profiles
    # predicted: above 1 the machine computed slower than when it was profiled
    compute_drift: float | None = None
    source: str = ""
    # what validate-decision held the run to, and whether that was a profile made after the
    # choice (--profiles: the winner's curse taken out) rather than the one it was chosen by
    predicted_rps: float | None = None
    remeasured: bool = False
    # the run's throughput error once each side's compute is taken as the run measured it:
    # the link and pipeline model's own (validate-decision's throughput_error_at_compute)
    error_at_compute: float | None = None


@dataclass(frozen=True)
class RealModeErrors:
    domains: list[str]
    throughput_rel: list[float]  # |predicted - measured| / measured
    accuracy_abs: list[float]  # |predicted - measured|, a share
    missing: list[str]  # domains decided but not run
    runs: dict[str, int] = field(default_factory=dict)  # runs per domain (their median counts)


def real_mode_errors(
    sol: AccSplitSolution, runs: list[MeasuredRun], remeasured: bool = False
) -> RealModeErrors:
    """Predicted (the solution; with `remeasured`, what the runs were held to where a profile
    made after the choice priced them) vs measured (the runs), per domain that has both.
    Several runs of one domain count as one measurement: their median throughput (this
    machine's speed drifts by tens of percent from minute to minute; repeats say how much), the
    largest accuracy error."""
    by: dict[str, list[MeasuredRun]] = {}
    for r in runs:
        by.setdefault(r.domain, []).append(r)
    doms, thr, acc, missing = [], [], [], []
    for d in sol.domains:
        c = d.choice
        if c is None:
            continue
        rs = by.get(d.domain)
        if not rs:
            missing.append(d.domain)
            continue
        doms.append(d.domain)
        measured = statistics.median(r.throughput_rps for r in rs)
        thr.append(abs(_predicted(c.throughput_rps, rs, remeasured) - measured) / measured)
        acc.append(max(abs(c.accuracy.value - r.accuracy) for r in rs))
    return RealModeErrors(doms, thr, acc, missing, {k: len(v) for k, v in by.items()})


def _predicted(decided: float, runs: list[MeasuredRun], remeasured: bool) -> float:
    again = [r.predicted_rps for r in runs if r.remeasured and r.predicted_rps is not None]
    return statistics.median(again) if remeasured and again else decided


def read_measured(path: str) -> list[MeasuredRun]:
    """A JSON list of {domain, throughput_rps, accuracy}, or the `--out` file of
    `harness validate-decision` on an accsplit solution (one domain: the one its notes name;
    the measured streamed throughput and accuracy of its 'chosen' plan)."""
    from harness.profile import read_json

    raw: Any = read_json(path, "a validate-decision --out file or a JSON list of runs")
    if isinstance(raw, dict) and raw.get("kind") == "validate-decision":
        return _from_validation(raw, path)
    rows = raw.get("runs", raw) if isinstance(raw, dict) else raw
    try:
        return [MeasuredRun(str(r["domain"]), float(r["throughput_rps"]), float(r["accuracy"]))
                for r in rows]  # fmt: skip
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(
            f"{path}: expected a validate-decision --out file or a list of "
            f"{{domain, throughput_rps, accuracy}}, got {type(exc).__name__}: {exc}"
        ) from None


def _from_validation(raw: dict[str, Any], path: str) -> list[MeasuredRun]:
    import re

    notes = (raw.get("run") or {}).get("notes") or []
    domains = [m.group(1) for n in notes if (m := re.match(r"domain (\S+): variant", n))]
    chosen = [r for r in raw.get("rows", []) if r.get("plan") == "chosen"]
    by_mode = {r.get("mode"): r for r in chosen}
    row = by_mode.get("pipeline") or by_mode.get("throughput") or (chosen[0] if chosen else None)
    if not domains or row is None:
        return []
    thr, acc = row.get("measured_throughput"), row.get("measured_accuracy")
    if thr is None or acc is None:
        print(f"   {path}: the run measured no throughput or no accuracy")
        return []
    drift = _drift(row) or _drift(by_mode.get("latency"))
    again = any("priced from another profile" in n for n in notes)
    pred, known = row.get("predicted_throughput"), row.get("throughput_error_at_compute")
    return [
        MeasuredRun(
            domains[0], float(thr), float(acc), drift, path,
            None if pred is None else float(pred), again,
            None if known is None else float(known),
        )
    ]  # fmt: skip


def _drift(row: dict[str, Any] | None) -> float | None:
    """Measured over predicted compute (edge + server) per request, from the row's stages."""
    from harness.runsplit.compare import compute_ratio

    return (
        None
        if row is None
        else compute_ratio(row.get("predicted_stages"), row.get("measured_stages"))
    )


def report_real(sol: AccSplitSolution, measured: list[str] | None) -> None:
    print("4. real-mode prediction error (predicted vs measured)")
    if not measured:
        print(
            "   no real-mode results given (pass --measured FILE from harness run-split / "
            "validate-decision): not reported"
        )
        return
    runs = [r for m in measured for r in read_measured(m)]
    e = real_mode_errors(sol, runs)
    if not e.domains:
        print(f"   {', '.join(measured)}: no domain of the decision was run ({e.missing} decided)")
        return
    again = any(r.remeasured for r in runs)
    if again:  # the prediction as the choice made it, then as a profile made after it says
        _errors_line("as decided (the profiles it was chosen by)", e)
        e = real_mode_errors(sol, runs, remeasured=True)
        print("   re-measured: the chosen variants profiled again after the choice, and the")
        print("   runs held to those profiles (validate-decision --profiles):")
    tm = _errors_line("", e)
    am = max(e.accuracy_abs)
    if e.missing:
        print(f"   decided but not run: {', '.join(e.missing)}")
    known = [abs(r.error_at_compute) for r in runs if r.error_at_compute is not None]
    if known:
        print(
            f"   the link and pipeline model alone (each run's compute as it measured it): "
            f"median |error| {statistics.median(known):.1%} over {len(known)} runs (max "
            f"{max(known):.1%}); the rest is the sides computing off their profiles"
        )
    _per_run(sol, runs, again)
    print(
        f"   target: throughput median < {TARGET_THROUGHPUT_ERR:.0%}: "
        f"{'MET' if tm < TARGET_THROUGHPUT_ERR else 'MISSED'}; accuracy < "
        f"{TARGET_ACCURACY_ERR * 100:.0f} point: {'MET' if am < TARGET_ACCURACY_ERR else 'MISSED'}"
    )


def _errors_line(label: str, e: RealModeErrors) -> float:
    """One line of per-domain errors; the median throughput error."""
    tm = statistics.median(e.throughput_rel)
    am = max(e.accuracy_abs)
    per = ", ".join(
        f"{d} {err:+.1%} ({e.runs.get(d, 1)} run{'s' if e.runs.get(d, 1) > 1 else ''})"
        for d, err in zip(e.domains, e.throughput_rel, strict=True)
    )
    print(
        f"   {label + ': ' if label else ''}{len(e.domains)} domains: throughput error median "
        f"{tm:.1%} (max {max(e.throughput_rel):.1%}; |error| per domain, of the median run: "
        f"{per}); accuracy error max {am * 100:.2f} points"
    )
    return tm


def _per_run(sol: AccSplitSolution, runs: list[MeasuredRun], remeasured: bool = False) -> None:
    """Each run's error beside its compute drift: where the machine computed slower than when
    it was profiled, the throughput error follows the drift, not the pipeline model."""
    predicted = {d.domain: d.choice.throughput_rps for d in sol.domains if d.choice is not None}
    for r in runs:
        if r.domain not in predicted:
            continue
        pred = _predicted(predicted[r.domain], [r], remeasured)
        err = (pred - r.throughput_rps) / r.throughput_rps
        drift = "-" if r.compute_drift is None else f"x{r.compute_drift:.2f}"
        known = "" if r.error_at_compute is None else f", at its compute {r.error_at_compute:+.1%}"
        print(
            f"   {Path(r.source).name or r.domain}: {r.domain} measured "
            f"{r.throughput_rps:8.1f}/s, error {err:+6.1%}, compute drift {drift}{known}"
        )


def fresh_profiles(paths: list[str], folder: Path, reuse: bool) -> list[str]:
    """Each given variant profile made again into `folder`: its job, variant, device name,
    CPUs and backend, as `harness profile` takes them."""
    import yaml

    from harness.profile import load_profile
    from solver.profiles import profile_cpus

    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for path in paths:
        prof = load_profile(path)
        if prof.variant is None or prof.infer is None or prof.variant.weights is None:
            raise SystemExit(f"{path}: --fresh needs inference profiles of saved variants")
        spec = folder / f"{prof.job.name}.yaml"
        if not spec.exists():
            spec.write_text(yaml.safe_dump(prof.job.model_dump(mode="json"), sort_keys=False))
        manifest = Path(prof.variant.weights).parent / "manifest.json"
        dst = folder / Path(path).name
        out.append(str(dst))
        if reuse and dst.exists():
            continue
        harness_cli(
            "profile", str(spec), "--variant", f"{manifest}:{prof.variant.id}",
            "--device-name", prof.infer.device_name, "--cpu", f"{profile_cpus(prof):g}",
            "--backend", prof.backend, "--out", str(dst),
        )  # fmt: skip
    return out


def remeasured_profiles(
    sol: AccSplitSolution, solution: Path, folder: Path, reuse: bool
) -> list[str]:
    """The profiles each decided domain's choice was priced by, made once more after the
    choice: the run is then held to a measurement the choice did not select (the winner's
    curse: the chosen variant is the one whose profile read fastest)."""
    from harness.runsplit.decision import find_file

    cited = sorted({r.path for d in sol.domains if d.choice for r in d.choice.profiles})
    return fresh_profiles([str(find_file(c, solution, "profiles")) for c in cited], folder, reuse)


def fresh_real_mode(
    paths: list[str],
    problem: str | None,
    folder: Path,
    runs: int,
    requests: int,
    reuse: bool,
    remeasure: bool = False,
) -> tuple[AccSplitSolution, list[str], list[str]]:
    """Profile again, solve, (with `remeasure`, profile the chosen variants once more,) run
    each decided domain `runs` times (d0, d1, ..., d0, ...); the solution, the new profiles
    and the runs' validate-decision files."""
    import glob
    import os
    import time

    t0 = time.perf_counter()
    load = os.getloadavg()[0]
    fresh = fresh_profiles(paths, folder / "profiles", reuse)
    t_prof = time.perf_counter() - t0
    harness_cli("solve", *fresh, *(["--problem", problem] if problem else []),
                "--out", str(folder / "solve"))  # fmt: skip
    found = sorted(glob.glob(str(folder / "solve" / "*-accsplit-solution.json")))
    if not found:
        raise SystemExit(f"{folder / 'solve'}: harness solve wrote no accsplit solution")
    sol = AccSplitSolution.model_validate_json(Path(found[0]).read_text())
    domains = [d.domain for d in sol.domains if d.choice is not None]
    again = remeasured_profiles(sol, Path(found[0]), folder / "again", reuse) if remeasure else []
    extra = ["--profiles", ",".join(again)] if again else []
    measured = []
    for k in range(1, runs + 1):
        for d in domains:
            out = folder / f"{d}-run{k}.json"
            harness_cli("validate-decision", found[0], "--domain", d, "-n", str(requests),
                        *extra, "--out", str(out))  # fmt: skip
            measured.append(str(out))
    print(
        f"   fresh: {len(fresh)} profiles in {t_prof:.0f} s, solved, {len(measured)} runs; "
        f"{time.perf_counter() - t0:.0f} s in all; load average {load:.2f} at the start, "
        f"{os.getloadavg()[0]:.2f} at the end; {found[0]}"
    )
    return sol, fresh, measured


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("profiles", nargs="*", help="profiles that carry `variant`")
    ap.add_argument("--problem", help="an accsplit problem file (default: the derived one)")
    ap.add_argument(
        "--measured",
        action="append",
        help="real-mode results: validate-decision --out files, or a JSON list per domain "
        "(repeatable)",
    )
    ap.add_argument(
        "--fresh",
        type=Path,
        metavar="DIR",
        help="profile again, solve and run real mode in one window, under DIR",
    )
    ap.add_argument("--runs", type=int, default=3, help="--fresh: runs per domain (3)")
    ap.add_argument("-n", "--requests", type=int, default=30, help="--fresh: requests per phase")
    ap.add_argument("--reuse", action="store_true", help="--fresh: keep profiles already made")
    ap.add_argument(
        "--remeasure",
        action="store_true",
        help="--fresh: profile the chosen variants again after solving and hold the runs to "
        "those profiles (the winner's curse taken out)",
    )
    ap.add_argument(
        "--solution",
        type=Path,
        help="the accsplit solution the --measured runs ran (default: the bench's own at 3%%)",
    )
    args = ap.parse_args()
    if args.fresh is not None and not args.profiles:
        ap.error("--fresh needs the variant profiles to make again")
    decided, measured = None, list(args.measured or [])
    if args.solution is not None:
        decided = AccSplitSolution.model_validate_json(args.solution.read_text())
    if args.fresh is not None:  # the whole bench then reads the profiles of this window
        print(f"real mode in one window under {args.fresh} (profile again, solve, run)")
        decided, args.profiles, measured = fresh_real_mode(
            args.profiles, args.problem, args.fresh, args.runs, args.requests, args.reuse,
            args.remeasure,
        )  # fmt: skip
    profiles, what = load(args.profiles)
    problem = base_problem(profiles, args.problem)
    print(f"accuracy-aware split bench: {what}; devices {[d.name for d in problem.devices]}, "
          f"links {[(lk.src, lk.dst, lk.bandwidth_up_mbps) for lk in problem.links]}")  # fmt: skip
    sols = gains(profiles, problem, synthetic=not args.profiles)
    exact_vs_gd(profiles, problem)
    surrogate_error(sols[0.03])
    try:
        report_real(decided or sols[0.03], measured)
    except ValueError as exc:  # a --measured file that cannot be read: one line, exit 2
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
