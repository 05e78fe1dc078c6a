"""From a solution JSON to a session to run and the predictions to hold it against.

- `kind: split` (harness solve ... --problem edge-cloud.yaml): the chosen plan and every
  baseline's plan, each run as a latency phase (and a throughput phase), on the problem's link,
  with the edge (pins.input) and the other device's caps taken from the problem or from the
  profiles the solution names (their `job` says which model, input and data to build).
- `kind: pipeline` (problem with `jobs:` groups priced by profiles): every method's schedule
  (order and cuts) run as a pipeline phase; the prediction is its makespan.

Every bad input is a DecisionError: one line naming the file, the field and what was expected.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.profile import Profile, ProfileError, load_profile, read_json
from harness.runsplit.compare import Prediction, predict
from harness.runsplit.orchestrate import Session
from harness.runsplit.plan import (
    LinkSetting,
    Mode,
    ModelRef,
    Phase,
    PipelineJob,
    PlanError,
    PlanSpec,
    PlanStep,
    Precision,
    output_role,
    segments_of,
)


class DecisionError(ValueError):
    """A solution file that cannot be run; one line naming file and field."""


@dataclass
class RunOptions:
    requests: int = 10
    warmup: int = 2
    window: int = 4
    throughput: bool = True
    repeats: int = 3
    bandwidth_mbps: float | None = None
    latency_ms: float | None = None
    baselines: bool = True
    methods: list[str] | None = None  # pipeline methods to run (None: all)
    domain: str | None = None  # accsplit: the domain whose decision runs (None: the first)
    profiles: list[Path] = field(default_factory=list)  # extra profile files to look in
    host_cpus: int | None = None  # the cores the run may use: a side clipped is re-priced


@dataclass
class PlanCase:
    """One plan of the decision: its steps, prediction, and the phases measuring it."""

    name: str
    steps: list[PlanStep]
    prediction: Prediction
    phases: dict[str, int] = field(default_factory=dict)  # mode -> phase index
    predicted_accuracy: float | None = None  # accsplit: the variant's on the domain
    idle: dict[str, list[tuple[float, float]]] = field(default_factory=dict)  # role -> curve
    wakes: dict[str, list[tuple[float, float]]] = field(default_factory=dict)  # role -> curve


@dataclass
class MethodCase:
    method: str
    predicted_makespan_s: float
    phase: int


@dataclass
class Decision:
    kind: str
    session: Session
    plans: list[PlanCase] = field(default_factory=list)
    methods: list[MethodCase] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    repriced: list[str] = field(default_factory=list)  # sides priced at the CPUs the host gives


def read_solution(path: Path) -> dict[str, Any]:
    raw = read_json(path, "a solution JSON (written by `harness solve`)", DecisionError)
    if not isinstance(raw, dict):
        raise DecisionError(f"{path}: expected a JSON object with a 'kind' field")
    kind = raw.get("kind")
    if kind not in ("split", "pipeline", "accsplit"):
        raise DecisionError(
            f"{path}: field 'kind': expected 'split', 'pipeline' or 'accsplit' (a solution "
            f"written by `harness solve`), got {kind!r}"
        )
    return raw


def _validate(model: Any, raw: dict[str, Any], path: Path) -> Any:
    from pydantic import ValidationError

    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(x) for x in err["loc"]) or "(top level)"
        raise DecisionError(f"{path}: field '{loc}': {err['msg']}") from None


def find_file(ref: str, path: Path, where: str) -> Path:
    """A file the solution at `path` cites: as recorded, relative to the solution, or by name
    beside it (a solution moved with its profiles)."""
    p = Path(ref)
    for cand in (p, path.parent / p, path.parent / p.name):
        if cand.is_file():
            return cand
    raise DecisionError(f"{path}: field '{where}': profile file {ref!r} not found")


def _load(p: Path, path: Path, where: str) -> Profile:
    try:
        prof = load_profile(p)
    except ProfileError as exc:
        raise DecisionError(f"{path}: field '{where}': {exc}") from None
    if prof.infer is None:
        raise DecisionError(f"{path}: field '{where}': {p} is not an inference profile")
    return prof


def _model_ref(prof: Profile) -> ModelRef:
    assert prof.infer is not None
    return ModelRef(
        key=prof.infer.model,
        spec=prof.job.model_dump(mode="json"),
        n_layers=len(prof.infer.layers),
    )


def _caps(cpus: float | None, prof: Profile) -> tuple[float, float | None]:
    from solver.split.solution import profile_cpus

    inf = prof.infer
    mem = inf.caps.memory_gb if inf is not None and inf.caps is not None else None
    return float(cpus or profile_cpus(prof) or 1.0), mem


def link_between(links: list[Any], edge: str, server: str) -> LinkSetting | None:
    """The problem's link seen from the edge: up = edge -> server."""
    for lk in links:
        if (lk.src, lk.dst) == (edge, server):
            down = lk.bandwidth_down_mbps or lk.bandwidth_up_mbps
            return LinkSetting(
                up_mbps=lk.bandwidth_up_mbps, down_mbps=down, latency_ms=lk.latency_ms
            )
        if (lk.src, lk.dst) == (server, edge):
            up = lk.bandwidth_down_mbps or lk.bandwidth_up_mbps
            return LinkSetting(up_mbps=up, down_mbps=lk.bandwidth_up_mbps, latency_ms=lk.latency_ms)
    return None


def _override(link: LinkSetting, opts: RunOptions) -> LinkSetting:
    upd: dict[str, float] = {}
    if opts.bandwidth_mbps is not None:
        upd.update(up_mbps=opts.bandwidth_mbps, down_mbps=opts.bandwidth_mbps)
    if opts.latency_ms is not None:
        upd["latency_ms"] = opts.latency_ms
    return link.model_copy(update=upd)


# ---------------------------------------------------------------- split


def steps_of(plan: Any, edge: str, server: str) -> list[PlanStep]:
    """A solver PlanOut's steps with device names mapped to edge/server roles."""
    out: list[PlanStep] = []
    roles = {edge: "edge", server: "server"}
    for s in plan.steps:
        for dev in (s.device, s.to_device):
            if dev is not None and dev not in roles:
                raise PlanError(
                    f"uses device {dev!r}: a run has an edge ({edge}) and a server ({server}) only"
                )
        if s.kind == "compute":
            assert s.layers is not None
            out.append(
                PlanStep(
                    "compute",
                    roles[s.device],  # type: ignore[arg-type]
                    s.latency_s,
                    s.layers[0],
                    s.layers[1],
                    busy_s=getattr(s, "busy_s", None),
                )
            )
        else:
            out.append(
                PlanStep("transfer", roles[s.device], s.latency_s, nbytes=float(s.bytes or 0.0))  # type: ignore[arg-type]
            )
    return out


def split_decision(raw: dict[str, Any], path: Path, opts: RunOptions) -> Decision:
    """A split solution -> the plans to run (the chosen one, and the baselines if asked)."""
    from solver.split.solution import SplitSolution

    sol = _validate(SplitSolution, raw, path)
    prob = sol.problem
    edge = prob.pins.input
    if sol.plan is None:
        raise DecisionError(f"{path}: field 'plan': the solver found no plan, nothing to run")
    named = [("chosen", sol.plan)]
    if opts.baselines:
        named += [(b.name, b.plan) for b in sol.baselines if b.plan is not None]
    used = {d for _, p in named for s in p.steps for d in (s.device, s.to_device) if d}
    others = [d.name for d in prob.devices if d.name != edge]
    server = next((d for d in others if d in used), others[0] if others else None)
    if server is None:
        raise DecisionError(f"{path}: field 'problem.devices': only {edge!r}: nothing to split")
    if prob.output_device not in (edge, server):
        raise DecisionError(f"{path}: field 'problem.pins.output': not {edge!r} or {server!r}")
    profs, pool, extra = _split_profiles(sol, path, opts, (edge, server))
    link = _link(prob.links, edge, server, path, opts)
    notes: list[str] = []
    reply = reply_bytes(profs[edge], prob.precision)
    phases, cases = _split_phases(
        named, sol, (edge, server), link, _model_ref(profs[edge]), opts, notes, reply
    )
    if not phases:
        raise DecisionError(f"{path}: no plan can run on two devices: {'; '.join(notes)}")
    devs = {d.name: d for d in prob.devices}
    session = _session(
        [_model_ref(profs[edge])],
        phases,
        _caps(devs[edge].cpus, profs[edge]),
        _caps(devs[server].cpus, profs[server]),
    )
    dec = Decision("split", session, plans=cases, notes=notes)
    sides = {"edge": profs[edge], "server": profs[server]}
    for c in cases:
        c.idle, c.wakes = curves(sides, prob.batch_size)
    _remeasure(dec, {c.name: sides for c in cases}, extra, prob.batch_size, link, reply)
    if opts.host_cpus:
        _reprice(dec, sides, pool, prob.batch_size, link, reply, opts.host_cpus)
    return dec


def _reprice(
    dec: Decision,
    sides: dict[str, Profile],
    pool: list[Profile],
    batch: int,
    link: LinkSetting | None,
    reply: int,
    host_cpus: int,
) -> None:
    """Re-price each side the host clips from a profile at the CPUs it gets (reprice.py)."""
    from harness.runsplit.orchestrate import place_sides
    from harness.runsplit.reprice import at_cpus, repriced

    s = dec.session
    got = place_sides(s.edge_cpus, s.server_cpus, host_cpus, s.edge_memory_gb, s.server_memory_gb)
    for side in got[:2]:
        if side.cpus >= side.asked_cpus:
            continue
        alt = at_cpus(pool, sides[side.role], side.cpus)
        if alt is None:
            continue
        new = [repriced(c.steps, side.role, alt, batch) for c in dec.plans]
        if any(n is None for n in new):
            continue
        for c, steps in zip(dec.plans, new, strict=True):
            assert steps is not None
            c.steps, c.prediction = steps, predict(steps, batch, link, reply * batch)
            _update_curves(c, {side.role: alt}, batch)
        dec.repriced.append(side.role)
        at = f"{side.cpus:g} CPU{'' if side.cpus == 1 else 's'}"
        dec.notes.append(
            f"{side.role}: this host gives it {side.cpus:g} of the {side.asked_cpus:g} CPUs its "
            f"profile was measured at; its compute is predicted from "
            f"{alt.infer.device_name if alt.infer else '?'} (measured at {at})"
        )


def _split_profiles(
    sol: Any, path: Path, opts: RunOptions, roles: tuple[str, str]
) -> tuple[dict[str, Profile], list[Profile], list[tuple[Path, Profile]]]:
    """The edge's and the server's profile (those the solution cites, then --profiles), every
    profile read, and the --profiles ones with their paths."""
    from solver.split.solution import Loaded

    prob = sol.problem
    loaded = []
    for i, ref in enumerate(sol.profiles):
        p = find_file(ref.path, path, f"profiles.{i}.path")
        loaded.append(Loaded(p, _load(p, path, f"profiles.{i}.path")))
    extra = [(p, _load(p, path, "--profiles")) for p in opts.profiles]
    loaded += [Loaded(p, prof) for p, prof in extra]
    devs = {d.name: d for d in prob.devices}
    profs: dict[str, Profile] = {}
    for role_dev in roles:
        mine = [it for it in loaded if devs[role_dev].matches(it)]
        if prob.model is not None:
            mine = [it for it in mine if it.profile.infer and it.profile.infer.model == prob.model]
        if not mine:
            raise DecisionError(
                f"{path}: field 'profiles': no profile of device {role_dev!r} among "
                f"{[str(it.path) for it in loaded]}"
            )
        profs[role_dev] = mine[0].profile
    return profs, [it.profile for it in loaded], extra


Curves = dict[str, list[tuple[float, float]]]


def curves(sides: dict[str, Profile], batch: int) -> tuple[Curves, Curves]:
    """Role -> its profile's whole model after idle gaps (runsplit/idle.py), and role -> beside
    a waking thread (wakeups.py), at `batch`."""
    idle = {r: p.infer.idle_curve(batch) for r, p in sides.items() if p.infer is not None}
    wakes = {r: p.infer.wake_curve(batch) for r, p in sides.items() if p.infer is not None}
    return idle, wakes


def _update_curves(case: PlanCase, sides: dict[str, Profile], batch: int) -> None:
    """A side re-priced from another profile takes that profile's curves too."""
    idle, wakes = curves(sides, batch)
    case.idle.update(idle)
    case.wakes.update(wakes)


def reply_bytes(prof: Profile, precision: str) -> int:
    """Bytes per sample of the model's result (its last cut) as the server sends it back."""
    assert prof.infer is not None
    last = max(prof.infer.cuts, key=lambda c: c.index)
    return last.bytes_fp16 if precision == "fp16" else last.bytes_fp32


def _split_phases(
    named: list[tuple[str, Any]],
    sol: Any,
    roles: tuple[str, str],
    link: LinkSetting,
    ref: ModelRef,
    opts: RunOptions,
    notes: list[str],
    reply: int = 0,
) -> tuple[list[Phase], list[PlanCase]]:
    """One phase per distinct plan and mode; a plan that repeats another is measured once.
    `reply`: the result's bytes per sample (the completion notice's size)."""
    prob = sol.problem
    edge, server = roles
    phases: list[Phase] = []
    cases: list[PlanCase] = []
    by_segments: dict[str, PlanCase] = {}
    for name, plan in named:
        try:
            steps = steps_of(plan, edge, server)
            segs = segments_of(steps)
        except PlanError as exc:
            notes.append(f"plan {name!r} not run: {exc}")
            continue
        freqs = {s.frequency_mhz for s in plan.steps if s.frequency_mhz is not None}
        if freqs:
            notes.append(
                f"plan {name!r}: clocks {sorted(freqs)} MHz are not set by run-split "
                "(it runs at the default clock)"
            )
        case = PlanCase(name, steps, predict(steps, prob.batch_size, link, reply * prob.batch_size))
        cases.append(case)
        key = json.dumps([s.model_dump() for s in segs])
        if key in by_segments:  # the same plan under another name: measured once
            case.phases = by_segments[key].phases
            continue
        by_segments[key] = case
        spec = PlanSpec(
            name=name,
            model=ref.key,
            segments=segs,
            batch_size=prob.batch_size,
            precision=prob.precision,
            output_role=output_role(steps),
        )
        modes: list[Mode] = ["latency", "throughput"] if opts.throughput else ["latency"]
        for mode in modes:
            case.phases[mode] = len(phases)
            phases.append(
                Phase(
                    name=f"{name} ({mode})",
                    mode=mode,
                    link=link,
                    plan=spec,
                    requests=opts.requests,
                    warmup=opts.warmup,
                    window=opts.window,
                )
            )
    return phases, cases


def _link(links: Any, edge: str, server: str, path: Path, opts: RunOptions) -> LinkSetting:
    link = link_between(links, edge, server)
    if link is None:
        raise DecisionError(
            f"{path}: field 'problem.links': no link between {edge!r} and {server!r}"
        )
    return _override(link, opts)


def _session(
    refs: list[ModelRef],
    phases: list[Phase],
    edge_caps: tuple[float, float | None],
    server_caps: tuple[float, float | None],
) -> Session:
    return Session(
        models=refs,
        phases=phases,
        edge_cpus=edge_caps[0],
        server_cpus=server_caps[0],
        edge_memory_gb=edge_caps[1],
        server_memory_gb=server_caps[1],
    )


# ---------------------------------------------------------------- pipeline


Group = tuple[ModelRef, int, Precision, int]


def pipeline_decision(raw: dict[str, Any], path: Path, opts: RunOptions) -> Decision:
    """A pipeline solution -> each method's schedule, run once per distinct schedule."""
    from solver.pipeline.solution import PipelineSolution

    sol = _validate(PipelineSolution, raw, path)
    prob = sol.problem
    if not prob.jobs:
        source = "sampled" if prob.sample is not None else "inline stage times"
        raise DecisionError(
            f"{path}: field 'problem.jobs': the jobs come from {source}, with no model to run; "
            "run-split needs a problem whose `jobs:` groups are priced by profiles"
        )
    locals_ = {g.local for g in prob.jobs}
    remotes = {g.remote for g in prob.jobs}
    if len(locals_) != 1 or len(remotes) != 1:
        raise DecisionError(
            f"{path}: field 'problem.jobs': jobs use local devices {sorted(locals_)} and remote "
            f"devices {sorted(remotes)}; a run has one edge and one server"
        )
    edge, server = next(iter(locals_)), next(iter(remotes))
    notes: list[str] = []
    groups, (e_prof, s_prof) = _pipeline_groups(sol, path, opts, notes)
    link = _link(prob.links, edge, server, path, opts)
    if opts.bandwidth_mbps is not None or opts.latency_ms is not None:
        notes.append("link overridden: the predicted makespans are the solver's, at its own link")
    phases, cases = _pipeline_phases(sol, groups, link, path, opts)
    if not phases:
        raise DecisionError(f"{path}: field 'methods': no method to run (asked: {opts.methods})")
    refs = {ref.key: ref for ref, *_ in groups.values()}
    session = _session(list(refs.values()), phases, _caps(None, e_prof), _caps(None, s_prof))
    return Decision("pipeline", session, methods=cases, notes=notes)


def _pipeline_profile(
    sol: Any,
    extra: list[tuple[Path, Profile]],
    dev_name: str,
    model: str | None,
    path: Path,
    where: str,
) -> Profile:
    """The profile a device names (by id, path or file name), else one given with
    --profiles that was measured on it or that the solution cites."""
    dev = {d.name: d for d in sol.problem.devices}.get(dev_name)
    cands: list[Profile] = []
    if dev is not None:
        for k, ref in enumerate(dev.profiles):
            hit = [pr for p, pr in extra if ref in (pr.id, str(p), p.name)]
            if not hit:
                try:
                    p = find_file(ref, path, f"{where}.profiles.{k}")
                except DecisionError:
                    continue
                hit = [_load(p, path, f"{where}.profiles.{k}")]
            cands += hit
    if not cands:
        cands = [
            pr
            for _, pr in extra
            if pr.infer is not None and (pr.infer.device_name == dev_name or pr.id in sol.profiles)
        ]
    cands = [pr for pr in cands if model is None or (pr.infer and pr.infer.model == model)]
    if not cands:
        raise DecisionError(
            f"{path}: field '{where}': no profile of device {dev_name!r}"
            + (f" and model {model!r}" if model else "")
            + " found (pass the profile files with --profiles)"
        )
    return cands[0]


def _pipeline_groups(
    sol: Any, path: Path, opts: RunOptions, notes: list[str]
) -> tuple[dict[str, Group], tuple[Profile, Profile]]:
    """Each job group's model, batch size, precision and layer count, and the first group's
    edge and server profiles (their caps are the run's)."""
    extra = [(p, _load(p, path, "--profiles")) for p in opts.profiles]
    groups: dict[str, Group] = {}
    e_prof = s_prof = None
    for gi, g in enumerate(sol.problem.jobs):
        lp = _pipeline_profile(sol, extra, g.local, g.model, path, f"problem.devices[{g.local}]")
        rp = _pipeline_profile(sol, extra, g.remote, g.model, path, f"problem.devices[{g.remote}]")
        e_prof, s_prof = e_prof or lp, s_prof or rp
        assert lp.infer is not None
        bs = g.batch_size or min(lp.infer.batch_sizes)
        groups[g.name] = (_model_ref(lp), bs, g.precision, len(lp.infer.layers))
        if g.local_scale != 1.0:
            notes.append(
                f"problem.jobs[{gi}].local_scale={g.local_scale:g} is priced, not emulated: "
                "the edge runs at its own speed"
            )
    assert e_prof is not None and s_prof is not None
    return groups, (e_prof, s_prof)


def _pipeline_phases(
    sol: Any, groups: dict[str, Group], link: LinkSetting, path: Path, opts: RunOptions
) -> tuple[list[Phase], list[MethodCase]]:
    """One phase per distinct schedule among the methods asked for."""
    phases: list[Phase] = []
    cases: list[MethodCase] = []
    seen: dict[str, int] = {}
    for m in sol.methods:
        if opts.methods is not None and m.method not in opts.methods:
            continue
        jobs: list[PipelineJob] = []
        for js in sorted(m.schedule, key=lambda s: s.position):
            gname = js.job.rsplit("-", 1)[0] if js.job not in groups else js.job
            if gname not in groups:
                raise DecisionError(
                    f"{path}: field 'methods[{m.method}].schedule': job {js.job!r} is in no "
                    f"group of problem.jobs ({sorted(groups)})"
                )
            ref, bs, prec, n = groups[gname]
            jobs.append(
                PipelineJob(
                    name=js.job,
                    model=ref.key,
                    cut=js.cut,
                    n_layers=n,
                    batch_size=bs,
                    precision=prec,
                )
            )
        key = json.dumps([(j.name, j.cut) for j in jobs])
        if key in seen:
            cases.append(MethodCase(m.method, m.makespan_s, seen[key]))
            continue
        seen[key] = len(phases)
        cases.append(MethodCase(m.method, m.makespan_s, len(phases)))
        phases.append(
            Phase(
                name=m.method,
                mode="pipeline",
                link=link,
                jobs=jobs,
                repeats=opts.repeats,
                warmup=opts.warmup,
            )
        )
    return phases, cases


def load_decision(path: Path, opts: RunOptions) -> Decision:
    raw = read_solution(path)
    if raw["kind"] == "split":
        return split_decision(raw, path, opts)
    if raw["kind"] == "accsplit":
        return accsplit_decision(raw, path, opts)
    return pipeline_decision(raw, path, opts)


# ---------------------------------------------------------------- accsplit


SAMPLES_FILE = "domain.npz"


def accsplit_decision(raw: dict[str, Any], path: Path, opts: RunOptions) -> Decision:
    """An accuracy-aware split solution -> one domain's chosen variant split (and, when
    validating, the unpruned best split beside it), run on that domain's real held-out
    samples: each variant's weights and the domain's labelled samples are staged in the
    containers' folders, and every streamed sample is scored."""
    from solver.accsplit.solution import AccSplitSolution

    sol = _validate(AccSplitSolution, raw, path)
    dec = _domain(sol, path, opts.domain)
    named = [("chosen", dec.choice)]
    ub = dec.unpruned_best
    if (
        opts.baselines
        and ub is not None
        and (ub.variant, ub.plan) != (dec.choice.variant, dec.choice.plan)
    ):
        named.append(("unpruned best", ub))
    edge, server = dec.choice.edge_device, _server_of(sol, dec.choice)
    link = _link(sol.problem.links, edge, server, path, opts)
    files: dict[str, str] = {}
    refs: dict[str, ModelRef] = {}
    prof: Profile | None = None
    where = f"domains.{dec.domain}.choice.profiles"
    priced_by = {  # plan name -> role -> the profile it was priced by, each read once
        name: {role: _choice_profile(choice, path, where, d) for role, d in _roles(edge, server)}
        for name, choice in named
    }
    caps = {d: _caps(None, priced_by["chosen"][role]) for role, d in _roles(edge, server)}
    for i, (name, choice) in enumerate(named):
        prof = priced_by[name]["edge"]
        key = f"{choice.family}-{choice.variant}"
        if key not in refs:
            name = f"variant-{choice.variant}.pt"
            files[name] = str(_weights(choice, path, i))
            refs[key] = ModelRef(
                key=key,
                spec=prof.job.model_dump(mode="json"),
                n_layers=choice.n_layers,
                weights=name,
                inputs=SAMPLES_FILE,
            )
    assert prof is not None
    split = sol.domain_split or (prof.variant.domains if prof.variant else None)
    if split is None:
        raise DecisionError(f"{path}: field 'domain_split': missing, and no profile has one")
    blobs: dict[str, bytes] = {}
    n = _stage_samples(split, dec.domain, prof.job.input_shape[-1], blobs)
    batch = sol.problem.batch_size
    notes: list[str] = []
    need = -(-n // batch)  # batches that cover the domain once
    run_opts = opts
    if opts.warmup + opts.requests < need:
        run_opts = RunOptions(**{**opts.__dict__, "requests": need - opts.warmup})
        notes.append(f"{dec.domain}: {need} batches cover its {n} samples: --requests raised")
    phases: list[Phase] = []
    cases: list[PlanCase] = []
    for name, choice in named:
        ref = refs[f"{choice.family}-{choice.variant}"]
        reply = reply_bytes(prof, sol.problem.precision)
        ph, cs = _split_phases(
            [(name, choice.plan)], sol, (edge, server), link, ref, run_opts, notes, reply
        )
        for c in cs:
            c.predicted_accuracy = choice.accuracy.value
            c.idle, c.wakes = curves(priced_by[name], sol.problem.batch_size)
            c.phases = {m: k + len(phases) for m, k in c.phases.items()}
        phases += ph
        cases += cs
    devs = {d.name: d for d in sol.problem.devices}
    session = _session(
        list(refs.values()),
        phases,
        (devs[edge].cpus or caps[edge][0], caps[edge][1]),
        (devs[server].cpus or caps[server][0], caps[server][1]),
    )
    session.files = files
    session.blobs = blobs
    notes.append(
        f"domain {dec.domain}: variant {dec.choice.variant}, predicted accuracy "
        f"{dec.choice.accuracy.value:.4f} ({dec.choice.accuracy.source}) on {n} samples"
    )
    result = Decision("accsplit", session, plans=cases, notes=notes)
    pool = [(p, _load(p, path, "--profiles")) for p in opts.profiles]
    before = len(notes)
    _remeasure(result, priced_by, pool, batch, link, reply_bytes(prof, sol.problem.precision))
    rivals = sum(p.feasible for p in dec.front) - 1
    if len(notes) == before and rivals > 0:
        notes.append(
            f"domain {dec.domain}: variant {dec.choice.variant} looked best of "
            f"{rivals + 1} feasible variants, each profiled once: where the machine's speed "
            "moves, the winner's profile reads optimistic; profile it again and pass the "
            "files with --profiles to hold the run to that measurement"
        )
    return result


def _roles(edge: str, server: str) -> tuple[tuple[str, str], tuple[str, str]]:
    return (("edge", edge), ("server", server))


def _remeasure(
    dec: Decision,
    priced_by: dict[str, dict[str, Profile]],
    pool: list[tuple[Path, Profile]],
    batch: int,
    link: LinkSetting,
    reply: int,
) -> None:
    """Each plan's sides re-priced from a later profile of what priced them, found among
    --profiles (reprice.remeasured): the prediction the run is held to is then one measured
    independently of the choice. `priced_by`: plan name -> role -> its profile."""
    from harness.runsplit.reprice import remeasured, repriced

    files = {id(p): f for f, p in pool}
    for case in dec.plans:
        for role, was in priced_by.get(case.name, {}).items():
            before = _side_s(case.prediction, role)
            again = remeasured([p for _, p in pool], was) if before else None
            steps = None if again is None else repriced(case.steps, role, again, batch)
            if again is None or steps is None:
                continue
            case.steps = steps
            case.prediction = predict(steps, batch, link, reply * batch)
            _update_curves(case, {role: again}, batch)
            v, inf = was.variant, was.infer
            what = f"variant {v.id}" if v else (inf.model if inf else "its model")
            dec.notes.append(
                f"{case.name}: {role} compute priced from another profile of {what} "
                f"({files[id(again)].name}): {_side_s(case.prediction, role) * 1e3:.1f} ms a "
                f"batch, where the profile it was chosen by read {before * 1e3:.1f} ms"
            )


def _side_s(pred: Prediction, role: str) -> float:
    """A side's compute seconds per batch in a prediction."""
    return pred.edge_s if role == "edge" else pred.server_s


def _domain(sol: Any, path: Path, want: str | None) -> Any:
    ran = [d for d in sol.domains if d.choice is not None]
    if want is not None:
        ran = [d for d in sol.domains if d.domain == want]
        if not ran:
            known = ", ".join(d.domain for d in sol.domains)
            raise DecisionError(f"--domain: {path} decides no domain {want!r} (it has: {known})")
        if ran[0].choice is None:
            raise DecisionError(f"--domain: {path}: domain {want!r} has no choice: {ran[0].reason}")
    if not ran:
        raise DecisionError(f"{path}: field 'domains': no domain has a choice, nothing to run")
    return ran[0]


def _server_of(sol: Any, choice: Any) -> str:
    if choice.server_device is not None:
        return str(choice.server_device)
    others = [d.name for d in sol.problem.devices if d.name != choice.edge_device]
    return str(others[0])


def _choice_profile(choice: Any, path: Path, where: str, device: str) -> Profile:
    """The profile of `device` the choice was priced by (its caps are that side's)."""
    mine = [r for r in choice.profiles if r.device_name == device] or list(choice.profiles)
    if not mine:
        raise DecisionError(f"{path}: field '{where}': the choice names no profile")
    return _load(find_file(mine[0].path, path, where), path, where)


def _weights(choice: Any, path: Path, i: int) -> Path:
    """The variant's weights file, found as the solution records it and checked by sha256."""
    import hashlib

    p = Path(choice.weights)
    for cand in (p, path.parent / p, path.parent / p.name):
        if cand.is_file():
            digest = hashlib.sha256(cand.read_bytes()).hexdigest()
            if digest != choice.weights_sha256:
                raise DecisionError(
                    f"{path}: variant {choice.variant!r}: {cand} is not the weights the "
                    f"decision was measured with (sha256 {digest[:12]}...)"
                )
            return cand
    raise DecisionError(f"{path}: variant {choice.variant!r}: weights {choice.weights} not found")


def _stage_samples(split: Any, domain: str, size: int, blobs: dict[str, bytes]) -> int:
    """The domain's labelled held-out samples, kept as the file's bytes for the session to
    write into both probe folders (nothing is written on the host to be left behind)."""
    from harness.workloads.digits import DigitsError, make_split, samples_bytes

    try:
        samples = make_split(split, size).domains.get(domain)
    except DigitsError as exc:
        raise DecisionError(str(exc)) from None
    if samples is None:
        raise DecisionError(f"domain {domain!r}: not among the {split.count} domains of the split")
    blobs[SAMPLES_FILE] = samples_bytes(samples)
    return len(samples.labels)
