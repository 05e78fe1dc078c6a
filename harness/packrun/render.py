"""A packing validation as a table: per job predicted vs measured images/s and the slowdown."""

from __future__ import annotations

from harness.packrun.result import PackValidation


def _f(x: float | None, fmt: str = ".2f") -> str:
    return "-" if x is None else format(x, fmt)


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x:+.1%}"


def render(v: PackValidation) -> str:
    lines = [
        f"packing decision {v.solution}: server {v.server} (kind {v.server_kind}), "
        f"{len(v.jobs)} jobs together on a {v.host_cpus}-core host, {v.batches} measured "
        f"batches each (after {v.warmup} warm-up)",
        "predicted vs measured images/s, together and alone:",
        f"  {'job':<18} {'CPUs':>5} {'cores':>7} {'predicted':>10} {'together':>9} "
        f"{'alone':>8} {'slowdown':>9} {'error':>8}",
    ]
    for j in v.jobs:
        cores = ",".join(map(str, j.cpuset_together))
        lines.append(
            f"  {j.job:<18} {j.cpus:>5g} {cores:>7} {_f(j.predicted):>10} "
            f"{_f(j.measured_together):>9} {_f(j.measured_alone):>8} "
            f"{_f(j.slowdown, '.3f'):>9} {_pct(j.error):>8}"
        )
    lines.append(
        f"median |error| {_pct(v.median_abs_error).lstrip('+')}; interference used "
        f"{_f(v.interference_used, '.3f')}, measured {_f(v.interference_measured, '.3f')}"
    )
    if v.problem_line:
        lines.append(f"to price it, in the problem: {v.problem_line}")
    for s in v.shared_cores:
        lines.append(f"shared cores {s.cores}: {', '.join(s.by)}")
    lines += [f"note: {n}" for n in v.notes]
    return "\n".join(lines)
