"""`harness solve` for `kind: pipeline`: makespan of a batch through local -> link -> remote.

Jobs come from (in the problem file) `jobs:` groups priced by real inference profiles (a local
device's, a remote device's, and the link between them), `inline_jobs:` with stage times
written out, or `sample:` (the seed's sampled experiment, on a profile's chain or the built-in
default). With no problem file: two or more devices' profiles of one model -> 10 jobs from the
slowest device to the fastest over a 100 Mbps link; one profile -> sampled on its chain; none
-> sampled on the default chain. The problem solved is printed.

Every method's schedule is re-checked by the independent checker before it is reported.
Extra options (beside time_limit and print_jobs): heuristic_time (s, default 2),
formulation ('position' or 'disjunctive'), and the sample options of `harness pipeline sample`.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from solver.pipeline import (
    Job,
    JobSchedule,
    MethodResult,
    PipelineSolution,
    SplitOption,
    StageSpan,
    balance_bound_and_splits,
    nondominated,
    solve_exact,
)
from solver.problem import Device, Link, ProblemError, validate_as

DEFAULT_BANDWIDTH_MBPS = 100.0
DEFAULT_COUNT = 10
# the (and the seed's) names of the ratios, where they differ from the method's name
RATIO_LABEL = {"DOPart best order (exact)": "DOPart best schedule"}


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SampleSpec(Strict):
    num_jobs: Annotated[int, Field(gt=0)] = 5
    seed: int = 1
    alpha_min: Annotated[float, Field(gt=0)] = 1.0
    alpha_max: Annotated[float, Field(gt=0)] = 10.0
    log_uniform: bool = False
    comms_uniform: bool = False
    lower_bound: Annotated[float, Field(ge=0)] = 0.005
    upper_bound: Annotated[float, Field(ge=0)] = 0.05
    bandwidth_mbps: Annotated[float, Field(gt=0)] = DEFAULT_BANDWIDTH_MBPS
    latency_ms: Annotated[float, Field(ge=0)] = 0.0
    profile: str | None = Field(
        default=None, description="remote device's inference profile; default chain when None"
    )

    @model_validator(mode="after")
    def _ranges(self) -> SampleSpec:
        if self.alpha_max < self.alpha_min:
            raise ValueError("alpha_max must be >= alpha_min")
        if self.upper_bound < self.lower_bound:
            raise ValueError("upper_bound must be >= lower_bound")
        return self


class JobGroup(Strict):
    name: str = "job"
    count: Annotated[int, Field(gt=0)] = 1
    model: str | None = Field(default=None, description="infer.model of the profiles to use")
    local: str
    remote: str
    batch_size: Annotated[int, Field(gt=0)] | None = None
    precision: Literal["fp32", "fp16"] = "fp32"
    local_frequency_mhz: float | None = None
    remote_frequency_mhz: float | None = None
    local_scale: Annotated[float, Field(gt=0)] = 1.0


class InlineOption(Strict):
    cut: int
    local_s: Annotated[float, Field(ge=0)]
    comm_s: Annotated[float, Field(ge=0)]
    remote_s: Annotated[float, Field(ge=0)]


class InlineJob(Strict):
    name: str
    count: Annotated[int, Field(gt=0)] = 1
    options: Annotated[list[InlineOption], Field(min_length=1)]


class PipelineProblem(Strict):
    kind: Literal["pipeline"] = "pipeline"
    name: str | None = None
    description: str | None = None
    objective: Literal["makespan"] = "makespan"
    devices: list[Device] = Field(default_factory=list)
    links: list[Link] = Field(default_factory=list)
    jobs: list[JobGroup] = Field(default_factory=list)
    inline_jobs: list[InlineJob] = Field(default_factory=list)
    sample: SampleSpec | None = None
    time_limit_s: Annotated[float, Field(gt=0)] | None = 60.0
    heuristic_time_s: Annotated[float, Field(ge=0)] = 2.0
    formulation: Literal["position", "disjunctive"] = "position"

    @model_validator(mode="after")
    def _one_source(self) -> PipelineProblem:
        if self.sample is not None and (self.jobs or self.inline_jobs):
            raise ValueError("give either 'sample' or 'jobs'/'inline_jobs', not both")
        if self.sample is None and not self.jobs and not self.inline_jobs:
            raise ValueError("expected 'jobs', 'inline_jobs' or 'sample'")
        return self


# ---------------------------------------------------------------- building the jobs


def _load_profiles(paths: Sequence[Path]) -> list[tuple[Path, Any]]:
    from harness.profile import load_profile

    out = []
    for p in paths:
        prof = load_profile(p)
        if prof.infer is None:
            raise ProblemError(f"{p}: field 'kind': expected an 'infer' profile, got '{prof.kind}'")
        out.append((p, prof))
    return out


def _device_profiles(
    dev: Device, loaded: list[tuple[Path, Any]], base: Path | None
) -> list[tuple[Path, Any]]:
    if not dev.profiles:
        return [(p, pr) for p, pr in loaded if pr.infer.device_name == dev.name]
    found: list[tuple[Path, Any]] = []
    for ref in dev.profiles:
        hit = [
            (p, pr)
            for p, pr in loaded
            if ref in (pr.id, str(p), p.name) or Path(ref).resolve() == p.resolve()
        ]
        if not hit and base is not None and (base / ref).is_file():
            hit = _load_profiles([base / ref])
        if not hit and Path(ref).is_file():
            hit = _load_profiles([Path(ref)])
        found.extend(hit)
    return found


def _pick(profs: list[tuple[Path, Any]], model: str | None, what: str) -> Any:
    cands = [pr for _p, pr in profs if model is None or pr.infer.model == model]
    if not cands:
        raise ProblemError(
            f"{what}: no inference profile" + (f" of model {model!r}" if model else "")
        )
    if len({pr.infer.model for pr in cands}) > 1:
        raise ProblemError(f"{what}: profiles of several models; set 'model' in the job group")
    return cands[0]


def _link_for(links: Sequence[Link], src: str, dst: str, where: str) -> tuple[float, float]:
    for ln in links:
        if (ln.src, ln.dst) == (src, dst):
            return ln.bandwidth_up_mbps, ln.latency_ms
        if (ln.src, ln.dst) == (dst, src):
            return ln.bandwidth_down_mbps or ln.bandwidth_up_mbps, ln.latency_ms
    raise ProblemError(f"{where}: field 'links': no link between {src!r} and {dst!r}")


def build_jobs(
    prob: PipelineProblem, profiles: Sequence[Path], where: str
) -> tuple[list[Job], str, list[str]]:
    """The jobs of a problem, where they came from, and the ids of the profiles used."""
    from solver.pipeline_sample import chain_from_infer, jobs_from_chains, sample_jobs

    base = Path(where).parent if where != "(defaults)" else None
    loaded = _load_profiles(profiles)
    if prob.sample is not None:
        sp = prob.sample
        chain = None
        used: list[str] = []
        if sp.profile is not None:
            ppath = Path(sp.profile)
            if base is not None and not ppath.is_file():
                ppath = base / sp.profile
            prof = _load_profiles([ppath])[0][1]
            chain = chain_from_infer(prof.infer, where=str(ppath))
            used = [prof.id]
        jobs = sample_jobs(
            chain,
            num_jobs=sp.num_jobs,
            seed=sp.seed,
            alpha_min=sp.alpha_min,
            alpha_max=sp.alpha_max,
            log_uniform=sp.log_uniform,
            comms_uniform=sp.comms_uniform,
            lower_bound=sp.lower_bound,
            upper_bound=sp.upper_bound,
            bandwidth_mbps=sp.bandwidth_mbps,
            latency_ms=sp.latency_ms,
        )
        src = f"sampled (seed {sp.seed}) on {chain.name if chain else 'the default chain'}"
        return jobs, src, used
    jobs = []
    used = []
    devices = {d.name: d for d in prob.devices}
    for gi, g in enumerate(prob.jobs):
        gwhere = f"{where}: jobs[{gi}]"
        for role in (g.local, g.remote):
            if role not in devices:
                raise ProblemError(f"{gwhere}: device {role!r} is not in 'devices'")
        lp = _pick(_device_profiles(devices[g.local], loaded, base), g.model, f"{gwhere} local")
        rp = _pick(_device_profiles(devices[g.remote], loaded, base), g.model, f"{gwhere} remote")
        bw, lat = _link_for(prob.links, g.local, g.remote, where)
        try:
            lc = chain_from_infer(
                lp.infer,
                batch_size=g.batch_size,
                frequency_mhz=g.local_frequency_mhz,
                precision=g.precision,
                where=f"{gwhere} local profile {lp.id}",
            )
            rc = chain_from_infer(
                rp.infer,
                batch_size=g.batch_size,
                frequency_mhz=g.remote_frequency_mhz,
                precision=g.precision,
                where=f"{gwhere} remote profile {rp.id}",
            )
            jobs += jobs_from_chains(
                lc,
                rc,
                count=g.count,
                bandwidth_mbps=bw,
                latency_ms=lat,
                name=g.name,
                local_scale=g.local_scale,
                first_index=0,
            )
        except ValueError as exc:
            raise ProblemError(str(exc)) from None
        used += [lp.id, rp.id]
    for ij in prob.inline_jobs:
        opts = tuple(SplitOption(o.cut, o.local_s, o.comm_s, o.remote_s) for o in ij.options)
        jobs += [Job(ij.name if ij.count == 1 else f"{ij.name}-{i}", opts) for i in range(ij.count)]
    return jobs, "profiles" if prob.jobs else "inline", sorted(set(used))


def default_problem(profiles: Sequence[Path]) -> dict[str, Any]:
    """A sensible problem for the given profiles (see the module docstring)."""
    loaded = _load_profiles(profiles)
    by_model: dict[str, list[tuple[Path, Any]]] = {}
    for p, pr in loaded:
        by_model.setdefault(pr.infer.model, []).append((p, pr))
    for model, profs in by_model.items():
        names = {pr.infer.device_name for _p, pr in profs}
        if len(names) >= 2:
            from solver.pipeline_sample import chain_from_infer

            def total(pr: Any) -> float:
                return chain_from_infer(pr.infer, where=pr.id).prefix_s[-1]

            ranked = sorted(profs, key=lambda t: total(t[1]))
            fast, slow = ranked[0], ranked[-1]
            return {
                "kind": "pipeline",
                "devices": [
                    {"name": slow[1].infer.device_name, "profiles": [str(slow[0])]},
                    {"name": fast[1].infer.device_name, "profiles": [str(fast[0])]},
                ],
                "links": [
                    {
                        "src": slow[1].infer.device_name,
                        "dst": fast[1].infer.device_name,
                        "bandwidth_up_mbps": DEFAULT_BANDWIDTH_MBPS,
                    }
                ],
                "jobs": [
                    {
                        "name": model,
                        "count": DEFAULT_COUNT,
                        "model": model,
                        "local": slow[1].infer.device_name,
                        "remote": fast[1].infer.device_name,
                    }
                ],
            }
    sample: dict[str, Any] = {}
    if loaded:
        sample["profile"] = str(loaded[0][0])
    return {"kind": "pipeline", "sample": sample}


# ---------------------------------------------------------------- the comparison


@dataclass
class MethodRun:
    name: str
    order: list[int]
    splits: list[int]
    makespan: float
    exact: bool
    lower_bound: float | None = None
    gap: float | None = None
    status: str | None = None
    solve_s: float | None = None
    nodes: int | None = None
    note: str | None = None
    method: str | None = None  # for the exact runs: "bdp", "scip-position", ...


def compare_methods(
    jobs: Sequence[Job],
    *,
    time_limit: float | None = 60.0,
    heuristic_time: float = 2.0,
    formulation: str = "position",
    seed: int = 0,
    order_time_limit: float | None = None,
) -> list[MethodRun]:
    """Every method of the issue, each schedule checked; the last run is the offline optimum."""
    from solver.pipeline_heuristics import (
        dopart_splits,
        fifo_order,
        johnson_order,
        neh_order,
        order_for_splits,
        split_aware_greedy,
    )
    from solver.pipeline_sim import makespan_of

    n = len(jobs)
    dp = dopart_splits(jobs)
    dp_times = [jobs[j].options[dp[j]].times for j in range(n)]
    runs: list[MethodRun] = []

    def add(name: str, order: list[int], splits: list[int], exact: bool = False, **kw: Any) -> None:
        runs.append(MethodRun(name, order, splits, makespan_of(jobs, order, splits), exact, **kw))

    add("DOPart FIFO", fifo_order(n), dp)
    j_order, j_exact = johnson_order(dp_times)
    add(
        "DOPart + Johnson" if j_exact else "DOPart + Johnson/CDS",
        j_order,
        dp,
        exact=j_exact,
        note="Johnson's conditions hold: exact" if j_exact else "CDS heuristic (conditions fail)",
    )
    add("DOPart + NEH", neh_order(dp_times), dp)
    warm_dp = min(runs, key=lambda r: r.makespan)
    r = solve_exact(
        jobs,
        fixed_splits=dp,
        time_limit=order_time_limit if order_time_limit is not None else time_limit,
        warm=(warm_dp.order, dp),
        formulation=formulation,  # type: ignore[arg-type]
    )
    add(
        "DOPart best order (exact)",
        r.order,
        r.splits,
        exact=r.optimal,
        lower_bound=r.lower_bound,
        gap=r.gap,
        status=r.status,
        solve_s=r.solve_s,
        nodes=r.nodes,
        method=r.method,
    )
    t0 = time.perf_counter()
    # Two independent runs, half the time each: from DOPart's best order, and from the balance
    # relaxation's splits (SAIG's single-job moves don't rebalance big batches: at N = 50 the
    # first run ends 4-7% above the bound, the second 0.3-1.3%); one shared run would follow
    # only the better start's trajectory, which at N = 20 lost 1.4% against the first alone.
    cands = [
        split_aware_greedy(
            jobs, seed=seed, time_limit=heuristic_time / 2, starts=[(r.order, r.splits)]
        )
    ]
    if n >= 2:
        options = [nondominated(j) for j in jobs]
        _lb, bal = balance_bound_and_splits(jobs, options, max(2.0, min(5.0, heuristic_time)))
        if bal is not None:
            bal_start = (order_for_splits(jobs, bal), bal)
            cands.append(
                split_aware_greedy(
                    jobs, seed=seed, time_limit=heuristic_time / 2, starts=[bal_start]
                )
            )
    g_order, g_splits = min(cands, key=lambda c: makespan_of(jobs, c[0], c[1]))
    add(
        "SAIG split-aware greedy",
        g_order,
        g_splits,
        solve_s=time.perf_counter() - t0,
        note="best of two runs: from DOPart's best order, from the balance relaxation's splits",
    )
    warm = min(runs, key=lambda x: x.makespan)
    o = solve_exact(
        jobs,
        time_limit=time_limit,
        warm=(warm.order, warm.splits),
        formulation=formulation,  # type: ignore[arg-type]
    )
    how = {
        "bdp": "bounded DP",
        "bound": "the balance bound (the best schedule found meets it)",
    }.get(o.method, f"SCIP ({o.method.removeprefix('scip-')} model)")
    note = f"proven optimal by {how}"
    if not o.optimal:
        note = (
            f"stopped ({o.status}, {how}): best {o.makespan:.6g} s, proven lower bound "
            f"{o.lower_bound:.6g} s, gap {o.gap:.2%}"
        )
    add(
        "Offline OPT (exact)",
        o.order,
        o.splits,
        exact=o.optimal,
        lower_bound=o.lower_bound,
        gap=o.gap,
        status=o.status,
        solve_s=o.solve_s,
        nodes=o.nodes,
        note=note,
        method=o.method,
    )
    _check_all(jobs, runs)
    return runs


def _check_all(jobs: Sequence[Job], runs: Sequence[MethodRun]) -> None:
    from solver.pipeline_sim import check_schedule, simulate

    for run in runs:
        errs = check_schedule(jobs, simulate(jobs, run.order, run.splits))
        if errs:
            raise RuntimeError(f"{run.name}: schedule fails the checker: {errs[0]}")


def solution_of(
    jobs: Sequence[Job],
    runs: Sequence[MethodRun],
    *,
    source: str,
    time_limit: float | None,
    problem: dict[str, Any],
    profiles: list[str],
) -> PipelineSolution:
    from solver.pipeline_sim import simulate

    opt = runs[-1]
    methods = []
    for run in runs:
        sched = [
            JobSchedule(
                job=jobs[s.job].name,
                position=pos,
                cut=jobs[s.job].options[s.option].cut,
                local=StageSpan(start_s=s.spans[0][0], end_s=s.spans[0][1]),
                comm=StageSpan(start_s=s.spans[1][0], end_s=s.spans[1][1]),
                remote=StageSpan(start_s=s.spans[2][0], end_s=s.spans[2][1]),
            )
            for pos, s in enumerate(simulate(jobs, run.order, run.splits))
        ]
        methods.append(
            MethodResult(
                method=run.name,
                makespan_s=run.makespan,
                ratio_to_opt=run.makespan / opt.makespan if opt.makespan > 0 else None,
                exact=run.exact,
                lower_bound_s=run.lower_bound,
                gap=run.gap,
                status=run.status,
                solve_s=run.solve_s,
                nodes=run.nodes,
                note=run.note,
                schedule=sched,
            )
        )
    ratios = {
        f"{RATIO_LABEL.get(m.method, m.method)} / Offline OPT": m.ratio_to_opt
        for m in methods[:-1]
        if m.ratio_to_opt is not None
    }
    return PipelineSolution(
        source=source,
        num_jobs=len(jobs),
        time_limit_s=time_limit,
        problem=problem,
        profiles=profiles,
        methods=methods,
        ratios=ratios,
        best_lower_bound_s=opt.lower_bound if opt.lower_bound is not None else opt.makespan,
    )


# ---------------------------------------------------------------- printing


def _print_table(sol: PipelineSolution, print_jobs: bool, problem_note: str | None) -> None:
    import shutil

    from rich.console import Console
    from rich.table import Table

    con = Console(width=max(130, shutil.get_terminal_size().columns))
    if problem_note:
        con.print(problem_note)
    con.print(f"[bold]Batch pipeline[/bold]: {sol.num_jobs} jobs, {sol.source}; objective makespan")
    t = Table(
        "method", "makespan (s)", "/ Offline OPT", "exact", "lower bound (s)", "gap", "time (s)"
    )
    for m in sol.methods:
        t.add_row(
            m.method,
            f"{m.makespan_s:.6f}",
            f"{m.ratio_to_opt:.4f}" if m.ratio_to_opt is not None else "-",
            "yes" if m.exact else "no",
            f"{m.lower_bound_s:.6f}" if m.lower_bound_s is not None else "-",
            f"{m.gap:.2%}" if m.gap is not None else "-",
            f"{m.solve_s:.2f}" if m.solve_s is not None else "-",
        )
    con.print(t)
    fifo = sol.methods[0]
    best = next(m for m in sol.methods if m.method.startswith("DOPart best order"))
    opt = sol.methods[-1]
    con.print(f"DOPart FIFO makespan: {fifo.makespan_s:.6f} s")
    con.print(f"DOPart best offline schedule makespan: {best.makespan_s:.6f} s")
    con.print(f"Offline optimal makespan: {opt.makespan_s:.6f} s")
    for name, val in sol.ratios.items():
        con.print(f"{name}: {val:.4f}")
    for m in sol.methods:
        if m.note and m.lower_bound_s is not None and (m is not opt or opt.exact):
            con.print(f"[yellow]{m.method}: {m.note}[/yellow]")
    if not opt.exact:
        # one line, never wrapped, with the three numbers a stopped solve owes the user
        con.print(
            f"[yellow]Offline OPT not proven (stopped: {opt.status}): best schedule found "
            f"{opt.makespan_s:.6f} s, proven lower bound {opt.lower_bound_s:.6f} s, "
            f"gap {opt.gap:.2%}[/yellow]",
            soft_wrap=True,
        )
        con.print(
            "[yellow]  ratios above are to the best schedule found (its per-job table: "
            "--print-jobs); best / bound = "
            f"x{opt.makespan_s / max(opt.lower_bound_s or 1e-300, 1e-300):.4f}[/yellow]",
            soft_wrap=True,
        )
    if print_jobs:
        for m in (fifo, opt):
            jt = Table(
                "job",
                "pos",
                "split (cut)",
                "local start-end",
                "comm start-end",
                "remote start-end",
                title=m.method,
            )
            for s in m.schedule:
                jt.add_row(
                    s.job,
                    str(s.position),
                    str(s.cut),
                    f"{s.local.start_s:.5f}-{s.local.end_s:.5f}",
                    f"{s.comm.start_s:.5f}-{s.comm.end_s:.5f}",
                    f"{s.remote.start_s:.5f}-{s.remote.end_s:.5f}",
                )
            con.print(jt)
    if sol.gantt_png:
        con.print(f"Gantt chart: {sol.gantt_png}")


def solve_command(
    raw: dict[str, Any] | None,
    problem_path: Path | None,
    profiles: list[Path],
    out_dir: Path,
    fmt: str,
    options: dict[str, Any],
) -> int:
    """The `kind: pipeline` entry point of `harness solve` (see solver/problem.py)."""
    from harness.profile import ProfileError
    from solver.gantt import gantt_png
    from solver.pipeline_sim import simulate

    where = str(problem_path) if problem_path is not None else "(defaults)"
    try:
        note = None
        if raw is None:
            raw = default_problem(profiles)
            note = "No problem file: solving\n" + json.dumps(raw, indent=1)
        prob = validate_as(PipelineProblem, raw, where)
        jobs, source, used = build_jobs(prob, profiles, where)
    except (ProblemError, ProfileError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    tl = options.get("time_limit")
    time_limit = float(tl) if tl is not None else prob.time_limit_s
    heur = float(options.get("heuristic_time") or prob.heuristic_time_s)
    form = str(options.get("formulation") or prob.formulation)
    runs = compare_methods(
        jobs,
        time_limit=time_limit,
        heuristic_time=heur,
        formulation=form,
        seed=prob.sample.seed if prob.sample else 0,
    )
    sol = solution_of(
        jobs,
        runs,
        source=source,
        time_limit=time_limit,
        problem=prob.model_dump(mode="json", exclude_none=True),
        profiles=used,
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    png = out_dir / "pipeline-gantt.png"
    panels = [
        (r.name, simulate(jobs, r.order, r.splits))
        for r in runs
        if r.name in ("DOPart FIFO", "DOPart best order (exact)", "Offline OPT (exact)")
    ]
    gantt_png(jobs, panels, png)
    sol.gantt_png = str(png)
    from harness.profile import write_atomic

    write_atomic(out_dir / "pipeline-solution.json", sol.model_dump_json(indent=1) + "\n")
    if fmt == "json":
        print(sol.model_dump_json(indent=1))
    else:
        _print_table(sol, bool(options.get("print_jobs")), note)
        print(f"Solution JSON: {out_dir / 'pipeline-solution.json'}")
    return 0
