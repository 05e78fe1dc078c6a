"""The independent checker every reported choice passes.

It reads nothing the solver computed except the choice itself: from the profiles alone it
finds the variant's profile on each device, looks up every compute step as a measured bundle
(layers, clock, batch size, latency, energy, and its streamed occupancy under the CPU quota
the profile enforced), checks that the steps cover [0, cut) on the edge and [cut, L) on the
server in order, recomputes the transfer from the cut's bytes and the problem's link, the
three stage times (occupancies), the throughput they bound, latency and energy, and the
accuracy bound from the reference's own profile (a measured accuracy must be the profile's).
Each mismatch is one line. Pure Python.
"""

from __future__ import annotations

import math

from harness.profile import InferSection, VariantInfo
from solver.accsplit.problem import AccSplitProblem
from solver.accsplit.solution import ChoiceOut, StepOut
from solver.profiles import Loaded

REL = 1e-6


def _close(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    return math.isclose(a, b, rel_tol=REL, abs_tol=1e-12)


def check_choice(
    problem: AccSplitProblem, items: list[Loaded], domain: str, choice: ChoiceOut
) -> list[str]:
    """Every way `choice` disagrees with the profiles and the problem (empty: it passes)."""
    where = f"{domain}: {choice.variant}"
    mine = [it for it in items if it.profile.variant and it.profile.variant.id == choice.variant]
    refs = [it for it in items if it.profile.variant and it.profile.variant.reference]
    if not mine or not refs:
        return [f"{where}: no profile of this variant (or of the reference) to check against"]
    info = mine[0].profile.variant
    ref = refs[0].profile.variant
    assert info is not None and ref is not None
    out = _identity(where, info, choice)
    out += _accuracy(problem, where, domain, info, ref, choice)
    devs = {d.name: d for d in problem.devices}
    edge = [s for s in choice.plan.steps if s.kind == "compute" and s.device == choice.edge_device]
    srv = [s for s in choice.plan.steps if s.kind == "compute" and s.device != choice.edge_device]
    trans = [s for s in choice.plan.steps if s.kind == "transfer"]
    infer: dict[str, InferSection] = {}
    for name in {choice.edge_device, *([choice.server_device] if choice.server_device else [])}:
        got = [it for it in mine if name in devs and devs[name].matches(it)]
        if not got or got[0].profile.infer is None:
            return out + [f"{where}: no profile on device {name!r}"]
        infer[name] = got[0].profile.infer
    L = len(infer[choice.edge_device].layers)
    if choice.n_layers != L:
        out.append(f"{where}: n_layers {choice.n_layers}, the profile has {L}")
    out += _cover(where, edge, 0, choice.cut, "edge")
    out += _cover(where, srv, choice.cut, L if choice.server_device else choice.cut, "server")
    busy = []  # each compute step's occupancy, as the profile gives it
    for s in edge + srv:
        errors, b = _bundle(problem, where, infer[s.device], s)
        out += errors
        busy.append(b)
    t_edge, t_srv = sum(busy[: len(edge)]), sum(busy[len(edge) :])
    compute = sum(s.latency_s for s in edge + srv)
    t_link, prop = 0.0, 0.0
    if choice.server_device is not None:
        t_link, prop, more = _transfer(problem, where, infer[choice.edge_device], choice, trans)
        out += more
    elif trans:
        out.append(f"{where}: a transfer step, but everything runs on the edge")
    for name, a, b in (
        ("edge", choice.stages.edge_s, t_edge),
        ("link", choice.stages.link_s, t_link),
        ("server", choice.stages.server_s, t_srv),
    ):
        if not _close(a, b):
            out.append(f"{where}: {name} stage {a:g} s, its steps sum to {b:g} s")
    slowest = max(t_edge, t_link, t_srv)
    thr = problem.batch_size / slowest if slowest > 0 else math.inf
    if not _close(choice.throughput_rps, thr):
        out.append(f"{where}: throughput {choice.throughput_rps:g}/s, the stages give {thr:g}/s")
    lat = compute + t_link + prop
    if not _close(choice.latency_s, lat):
        out.append(f"{where}: latency {choice.latency_s:g} s, the steps give {lat:g} s")
    lim = problem.constraints
    if lim.latency_max_s is not None and lat > lim.latency_max_s * (1 + REL):
        out.append(f"{where}: latency {lat:g} s over latency_max_s {lim.latency_max_s:g}")
    if (
        lim.energy_max_j is not None
        and choice.energy_j is not None
        and choice.energy_j > lim.energy_max_j * (1 + REL)
    ):
        out.append(f"{where}: energy {choice.energy_j:g} J over energy_max_j {lim.energy_max_j:g}")
    return out


def _identity(where: str, info: VariantInfo, c: ChoiceOut) -> list[str]:
    out = []
    if (c.family, c.weights, c.weights_sha256, c.reference) != (
        info.family,
        info.weights,
        info.weights_sha256,
        info.reference,
    ):
        out.append(f"{where}: family, weights or sha256 differ from the variant's profile")
    return out


def _accuracy(
    problem: AccSplitProblem,
    where: str,
    domain: str,
    info: VariantInfo,
    ref: VariantInfo,
    c: ChoiceOut,
) -> list[str]:
    out = []
    if domain not in ref.domain_accuracy:
        return [f"{where}: the reference was not measured on {domain}"]
    bound = ref.domain_accuracy[domain].accuracy - problem.epsilon
    if c.accuracy.value < bound - 1e-12:
        out.append(f"{where}: accuracy {c.accuracy.value:.4f} below the bound {bound:.4f}")
    measured = info.domain_accuracy.get(domain)
    if c.accuracy.source == "measured":
        if measured is None:
            out.append(f"{where}: accuracy said measured, but {domain} was not measured")
        elif not _close(measured.accuracy, c.accuracy.value):
            out.append(
                f"{where}: accuracy {c.accuracy.value:.4f}, the profile measured "
                f"{measured.accuracy:.4f}"
            )
    elif measured is not None:
        out.append(f"{where}: a surrogate accuracy where a measured one exists")
    return out


def _cover(where: str, steps: list[StepOut], start: int, end: int, what: str) -> list[str]:
    at = start
    for s in steps:
        assert s.layers is not None
        if s.layers[0] != at:
            return [f"{where}: {what} steps do not run layers [{start}, {end}) in order"]
        at = s.layers[1]
    return [] if at == end else [f"{where}: {what} steps end at layer {at}, not {end}"]


def _bundle(
    problem: AccSplitProblem, where: str, inf: InferSection, s: StepOut
) -> tuple[list[str], float]:
    """The step's errors against its measured bundle, and its streamed occupancy (the
    profile's, not the step's)."""
    assert s.layers is not None
    b = inf.bundle(s.layers[0], s.layers[1], problem.batch_size, s.frequency_mhz)
    if b is None:
        missing = f"{where}: layers {s.layers} at {s.frequency_mhz} MHz on {s.device} not profiled"
        return [missing], s.latency_s
    busy = b.busy_s(inf.enforced.cpu_quota if inf.enforced is not None else None)
    if not _close(b.latency.median, s.latency_s):
        return [f"{where}: layers {s.layers} on {s.device}: {s.latency_s:g} s, measured "
                f"{b.latency.median:g} s"], busy  # fmt: skip
    said = s.latency_s if s.busy_s is None else s.busy_s
    if not _close(said, busy):
        return [f"{where}: layers {s.layers} on {s.device}: busy {said:g} s per batch when "
                f"streamed, the profile gives {busy:g} s"], busy  # fmt: skip
    return [], busy


def _transfer(
    problem: AccSplitProblem,
    where: str,
    inf: InferSection,
    c: ChoiceOut,
    trans: list[StepOut],
) -> tuple[float, float, list[str]]:
    edge, srv = c.edge_device, c.server_device
    link = next((lk for lk in problem.links if {lk.src, lk.dst} == {edge, srv}), None)
    if link is None:
        return 0.0, 0.0, [f"{where}: no link between {edge!r} and {srv!r}"]
    bw = link.bandwidth_up_mbps if link.src == edge else link.bandwidth_down_mbps
    bw = bw if bw is not None else link.bandwidth_up_mbps
    cut = inf.cuts[c.cut]
    nbytes = (
        cut.bytes_fp32 if problem.precision == "fp32" else cut.bytes_fp16
    ) * problem.batch_size
    t = nbytes * 8.0 / (bw * 1e6)
    prop = link.latency_ms / 1e3
    out = []
    if len(trans) != 1 or trans[0].cut != c.cut or not _close(trans[0].bytes, float(nbytes)):
        out.append(f"{where}: expected one transfer of cut {c.cut} ({nbytes} bytes)")
    elif not _close(trans[0].latency_s, t + prop):
        out.append(f"{where}: transfer {trans[0].latency_s:g} s, the link gives {t + prop:g} s")
    return t, prop, out
