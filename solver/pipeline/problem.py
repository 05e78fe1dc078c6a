"""The `kind: pipeline` problem file, and the jobs it describes (a plain `Instance`).

Jobs come from one of: `jobs:` groups priced by real inference profiles (a local device's, a
remote device's, and the link between them; a device's profiles are the ones it names, else the
given ones whose `infer.device_name` is its name), `inline_jobs:` with stage times written out,
or `sample:` (the seed's sampled experiment, on a profile's chain or the built-in default).

`default_problem(profiles)`, for the front door: inference profiles of two or more models on
the same two devices -> one job group per model (4 jobs each), from the slower device (the
larger total time) to the faster over a 100 Mbps link; profiles of one model on two devices ->
10 jobs of that model. Pure pydantic and the standard library at import.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import Field, model_validator

from harness.spec import Strict
from solver.pipeline.jobs import Job, SplitOption
from solver.pipeline.sample import Chain, chain_from_infer, jobs_from_chains, sample_jobs
from solver.problem import (
    MAX_DEVICES,
    MAX_PIPELINE_JOBS,
    MAX_SECONDS,
    Amount,
    Device,
    FileError,
    Link,
    PositiveAmount,
    ProblemError,
    Seconds,
    TimeLimit,
    beyond,
)
from solver.profiles import Loaded, ProfileSet

DEFAULT_BANDWIDTH_MBPS = 100.0
DEFAULT_COUNT = 10  # jobs of the one model, when the profiles hold one
DEFAULT_COUNT_PER_MODEL = 4  # jobs per model, when they hold several
DEFAULT_NAME = "batch-pipeline"


JobCount = Annotated[int, Field(gt=0, le=MAX_PIPELINE_JOBS)]


class SampleSpec(Strict):
    num_jobs: JobCount = 5
    seed: Annotated[int, Field(ge=0, lt=2**63)] = 1
    alpha_min: PositiveAmount = 1.0
    alpha_max: PositiveAmount = 10.0
    log_uniform: bool = False
    comms_uniform: bool = False
    lower_bound: Seconds = 0.005
    upper_bound: Seconds = 0.05
    bandwidth_mbps: PositiveAmount = DEFAULT_BANDWIDTH_MBPS
    latency_ms: Amount = 0.0
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
    count: JobCount = 1
    model: str | None = Field(default=None, description="infer.model of the profiles to use")
    local: str
    remote: str
    batch_size: Annotated[int, Field(gt=0, le=1_000_000)] | None = None
    precision: Literal["fp32", "fp16"] = "fp32"
    local_frequency_mhz: PositiveAmount | None = None
    remote_frequency_mhz: PositiveAmount | None = None
    local_scale: Annotated[PositiveAmount, Field(le=1e6)] = 1.0


class InlineOption(Strict):
    cut: Annotated[int, Field(ge=0, le=1_000_000)]
    local_s: Seconds
    comm_s: Seconds
    remote_s: Seconds


class InlineJob(Strict):
    name: str
    count: JobCount = 1
    options: Annotated[list[InlineOption], Field(min_length=1, max_length=10_000)]


class PipelineProblem(Strict):
    kind: Literal["pipeline"] = "pipeline"
    name: str | None = None
    description: str | None = None
    objective: Literal["makespan"] = "makespan"
    devices: Annotated[list[Device], Field(max_length=MAX_DEVICES)] = Field(default_factory=list)
    links: list[Link] = Field(default_factory=list)
    jobs: list[JobGroup] = Field(default_factory=list)
    inline_jobs: list[InlineJob] = Field(default_factory=list)
    sample: SampleSpec | None = None
    time_limit_s: TimeLimit | None = 60.0
    heuristic_time_s: Seconds | None = None  # a cap on SAIG; its work bounds it
    formulation: Literal["position", "disjunctive"] = "position"

    @model_validator(mode="after")
    def _one_source(self) -> PipelineProblem:
        if self.sample is not None and (self.jobs or self.inline_jobs):
            raise ValueError("give either 'sample' or 'jobs'/'inline_jobs', not both")
        if self.sample is None and not self.jobs and not self.inline_jobs:
            raise ValueError("expected 'jobs', 'inline_jobs' or 'sample'")
        total = sum(g.count for g in self.jobs) + sum(j.count for j in self.inline_jobs)
        if total > MAX_PIPELINE_JOBS:
            raise ValueError(
                f"{total:,} jobs in all (the counts of 'jobs' and 'inline_jobs' summed): "
                f"at most {MAX_PIPELINE_JOBS:,} jobs in a pipeline problem"
            )
        return self


# ---------------------------------------------------------------- the jobs of a problem


@dataclass(frozen=True)
class Instance:
    """The plain instance a problem describes, where its jobs came from, the profiles used."""

    jobs: list[Job]
    source: str
    profiles: list[str]  # ids


def build_jobs(problem: PipelineProblem, profiles: ProfileSet) -> Instance:
    """The jobs of `problem`; a problem its profiles cannot price is one ProblemError line."""
    if problem.sample is not None:
        return _sampled(problem.sample, profiles)
    jobs: list[Job] = []
    used: list[str] = []
    for gi, group in enumerate(problem.jobs):
        group_jobs, ids = _priced(problem, gi, group, profiles)
        jobs += group_jobs
        used += ids
    for ij in problem.inline_jobs:
        opts = tuple(SplitOption(o.cut, o.local_s, o.comm_s, o.remote_s) for o in ij.options)
        jobs += [Job(ij.name if ij.count == 1 else f"{ij.name}-{i}", opts) for i in range(ij.count)]
    return Instance(jobs, "profiles" if problem.jobs else "inline", sorted(set(used)))


def _sampled(sp: SampleSpec, profiles: ProfileSet) -> Instance:
    chain = None
    used: list[str] = []
    if sp.profile is not None:
        it = _infer(profiles.one(sp.profile, "field 'sample.profile'"), "field 'sample.profile'")
        chain = _chain(it, str(it.path))
        used = [it.profile.id]
    try:
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
    except ValueError as exc:
        raise ProblemError(f"field 'sample': {exc}") from None
    if chain is not None:
        for job in jobs:  # each sampled job scales the chain by its own alpha
            _check_times([job], f"field 'sample.profile': the times of {sp.profile}")
    src = f"sampled (seed {sp.seed}) on {chain.name if chain else 'the default chain'}"
    return Instance(jobs, src, used)


def _priced(
    problem: PipelineProblem, gi: int, g: JobGroup, profiles: ProfileSet
) -> tuple[list[Job], list[str]]:
    """One `jobs:` group's jobs, priced by its devices' profiles, and the ids of those."""
    where = f"jobs.{gi}"
    devices = {d.name: (i, d) for i, d in enumerate(problem.devices)}
    roles = (("local", g.local), ("remote", g.remote))
    for role, dev_name in roles:
        if dev_name not in devices:
            raise ProblemError(f"field '{where}.{role}': device {dev_name!r} is not in 'devices'")
    picked: list[Loaded] = []
    for role, dev_name in roles:
        i, dev = devices[dev_name]
        found = profiles.of_device(dev, f"devices.{i}")
        picked.append(_pick(found, g.model, f"field '{where}.{role}' (device {dev_name!r})"))
    lp, rp = picked
    bw, lat = link_for(problem.links, g.local, g.remote)
    lc = _chain(
        lp,
        f"field '{where}.local': profile {lp.profile.id}",
        g.batch_size,
        g.local_frequency_mhz,
        g.precision,
    )
    rc = _chain(
        rp,
        f"field '{where}.remote': profile {rp.profile.id}",
        g.batch_size,
        g.remote_frequency_mhz,
        g.precision,
    )
    try:
        jobs = jobs_from_chains(
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
        raise ProblemError(f"field '{where}': {exc}") from None
    _check_times(jobs, f"field '{where}': the times of profiles {lp.path} and {rp.path}")
    return jobs, [lp.profile.id, rp.profile.id]


def _check_times(jobs: Sequence[Job], where: str) -> None:
    """Times priced from profiles a model can take (a profile's 1e300 s would reach SCIP)."""
    for job in jobs[:1]:  # the jobs of one group or sample share their chain's magnitudes
        for o in job.options:
            if any(beyond(t, MAX_SECONDS) for t in o.times):
                raise FileError(
                    f"{where}: the split at cut {o.cut} takes {o.local_s:g} s local, "
                    f"{o.comm_s:g} s link, {o.remote_s:g} s remote: past what a model takes "
                    f"(at most {MAX_SECONDS:g} s a stage)"
                )


def _chain(
    it: Loaded,
    where: str,
    batch_size: int | None = None,
    frequency_mhz: float | None = None,
    precision: str = "fp32",
) -> Chain:
    """The chain of an inference profile; what it cannot price is one ProblemError line."""
    assert it.profile.infer is not None
    try:
        return chain_from_infer(
            it.profile.infer,
            batch_size=batch_size,
            frequency_mhz=frequency_mhz,
            precision=precision,
            where=where,
        )
    except ValueError as exc:
        raise ProblemError(str(exc)) from None


def _infer(it: Loaded, where: str) -> Loaded:
    if it.profile.infer is None:
        raise ProblemError(
            f"{where}: {it.path}: expected an 'infer' profile, got '{it.profile.kind}'"
        )
    return it


def _pick(found: Sequence[Loaded], model: str | None, where: str) -> Loaded:
    cands = [
        it
        for it in found
        if it.profile.infer is not None and (model is None or it.profile.infer.model == model)
    ]
    if not cands:
        raise ProblemError(
            f"{where}: no inference profile" + (f" of model {model!r}" if model else "")
        )
    if len({it.profile.infer.model for it in cands if it.profile.infer is not None}) > 1:
        raise ProblemError(f"{where}: profiles of several models; set 'model' in the job group")
    return cands[0]


def link_for(links: Sequence[Link], src: str, dst: str) -> tuple[float, float]:
    """(bandwidth Mbps, latency ms) from `src` to `dst`: a link either way round."""
    for ln in links:
        if (ln.src, ln.dst) == (src, dst):
            return ln.bandwidth_up_mbps, ln.latency_ms
        if (ln.src, ln.dst) == (dst, src):
            return ln.bandwidth_down_mbps or ln.bandwidth_up_mbps, ln.latency_ms
    raise ProblemError(f"field 'links': no link between {src!r} and {dst!r}")


# ---------------------------------------------------------------- the front door's problem


def default_problem(profiles: ProfileSet) -> PipelineProblem:
    """The batch pipeline the profiles support (see the module docstring)."""
    by_model: dict[str, dict[str, Loaded]] = {}  # model -> device -> its first profile
    for it in profiles.of_kind("infer"):
        assert it.profile.infer is not None
        by_model.setdefault(it.profile.infer.model, {}).setdefault(it.profile.infer.device_name, it)
    shared = _shared_pair(by_model)
    if shared is not None:
        pair, models = shared
        count = DEFAULT_COUNT_PER_MODEL
        total = {d: sum(_total_s(by_model[m][d]) for m in models) for d in pair}
    else:
        one = next((m for m, devs in by_model.items() if len(devs) >= 2), None)
        if one is None:
            seen = "; ".join(f"{m} on {', '.join(d)}" for m, d in by_model.items()) or "none"
            raise ProblemError(
                "a batch pipeline needs inference profiles of a model on two devices "
                f"(infer.device_name); the profiles hold: {seen}"
            )
        models, count = [one], DEFAULT_COUNT
        total = {d: _total_s(it) for d, it in by_model[one].items()}
    ranked = sorted(total, key=lambda d: (total[d], d))
    fast, slow = ranked[0], ranked[-1]
    return PipelineProblem(
        name=DEFAULT_NAME,
        devices=[
            Device(name=d, profiles=[str(by_model[m][d].path) for m in models])
            for d in (slow, fast)
        ],
        links=[Link(src=slow, dst=fast, bandwidth_up_mbps=DEFAULT_BANDWIDTH_MBPS)],
        jobs=[JobGroup(name=m, count=count, model=m, local=slow, remote=fast) for m in models],
    )


def _shared_pair(
    by_model: dict[str, dict[str, Loaded]],
) -> tuple[tuple[str, str], list[str]] | None:
    """The first device pair (in sorted order) that two or more models were measured on."""
    pairs: dict[tuple[str, str], list[str]] = {}
    for model, devs in by_model.items():
        names = sorted(devs)
        for i, a in enumerate(names):
            for b in names[i + 1 :]:
                pairs.setdefault((a, b), []).append(model)
    return next(((p, ms) for p, ms in sorted(pairs.items()) if len(ms) >= 2), None)


def _total_s(it: Loaded) -> float:
    """The whole network's time on this profile's device (at its least batch size)."""
    return _chain(it, str(it.path)).prefix_s[-1]
