"""Profiles + an accsplit problem -> the plain tables every algorithm here reads.

A family's variants (profiles carrying `Profile.variant`) each become a `Variant`: its layers,
the bytes crossing each cut (times the batch size), its accuracy per domain, and for every
device and clock the cheapest chain of profiled bundles that runs the edge's prefix [0, k) or
a server's suffix [k, L) (a shortest path over the bundles, like the split kind's). A `Point`
is one element of the decision space, variant x cut x server x edge clock x server clock, with
its three stage times: the edge's, the link's (bytes x 8 / bandwidth: the time the link is
busy with one batch) and the server's. Streamed inference runs the three concurrently, so the
rate is batch / the slowest; latency is their sum plus the link's propagation delay. Energy is
each counted device's measured bundle energy (or its power model) plus the radio's. Pure
Python: no SCIP, no numpy.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from harness.profile import InferSection, VariantInfo
from solver.accsplit.problem import AccSplitProblem
from solver.problem import MAX_AMOUNT, MAX_SECONDS, FileError, ProblemError, beyond
from solver.profiles import Loaded, ProfileSet
from solver.split.problem import SplitDevice

Freq = float | None


@dataclass(frozen=True)
class Acc:
    """A variant's accuracy on one domain: measured, or the surrogate's prediction."""

    value: float
    source: str  # "measured" | "surrogate"
    samples: int | None = None
    correct: int | None = None


Bundle = tuple[int, int, float, float, float]  # start, end, latency, energy, busy


@dataclass(frozen=True)
class Run:
    """Layers [start, end) on one device at one clock, as a chain of profiled bundles.

    `busy`: seconds the device is occupied per batch when batches stream, the sum of its
    bundles' `BundleTiming.busy_s` (the latency, or the CPU time over a fractional CPU quota
    when that is longer); the latency when not set."""

    start: int
    end: int
    latency: float
    energy: float  # NaN: counted but unknown
    bundles: tuple[Bundle, ...] = ()  # (start, end, latency, energy, busy)
    busy: float | None = None

    @property
    def stage_s(self) -> float:
        return self.latency if self.busy is None else self.busy


EMPTY = Run(0, 0, 0.0, 0.0)


@dataclass(frozen=True)
class LinkCost:
    """The edge -> server direction of a link."""

    s_per_byte: float
    latency_s: float
    radio_w: float  # charged: (alpha * bandwidth + beta) while the link is busy


@dataclass
class Variant:
    id: str
    info: VariantInfo
    n_layers: int
    layer_names: list[str]
    cut_bytes: list[float]
    # device -> clock -> cut k -> the run of the edge prefix [0, k) or the server suffix [k, L)
    runs: dict[int, dict[Freq, list[Run | None]]]
    profiles: dict[int, list[Loaded]]
    accuracy: dict[str, Acc] = field(default_factory=dict)
    path: Path = Path()  # the first of its profiles (what an error names)


@dataclass(frozen=True)
class Point:
    """variant x cut x server x clocks, with its stage times (seconds per batch)."""

    variant: int
    cut: int
    server: int | None  # None: all on the edge (cut == L)
    f_edge: Freq
    f_server: Freq
    edge: Run
    srv: Run
    link_s: float
    link_latency_s: float
    link_energy: float

    @property
    def bottleneck_s(self) -> float:
        return max(self.edge.stage_s, self.link_s, self.srv.stage_s)

    @property
    def latency(self) -> float:
        return self.edge.latency + self.link_s + self.link_latency_s + self.srv.latency

    @property
    def energy(self) -> float:
        return self.edge.energy + self.link_energy + self.srv.energy

    @property
    def bottleneck(self) -> str:
        stages = {"edge": self.edge.stage_s, "link": self.link_s, "server": self.srv.stage_s}
        return max(stages, key=lambda k: stages[k])


@dataclass
class AccInstance:
    family: str
    devices: list[str]
    edge: int
    servers: list[int]
    links: dict[int, LinkCost]
    batch_size: int
    objective: str
    variants: list[Variant]
    reference: int
    domains: list[str]
    candidates: list[int]  # the variants that may run
    epsilon: float
    latency_max: float | None = None
    energy_max: float | None = None
    energy_known: bool = True
    energy_note: str = ""

    def bound(self, domain: str) -> float:
        return self.variants[self.reference].accuracy[domain].value - self.epsilon

    def points(self, v: int) -> Iterator[Point]:
        """Every measured point of variant `v` (cut L: the edge alone; else one per server
        reachable over a link, each clock pair)."""
        var = self.variants[v]
        L = var.n_layers
        edge_runs = var.runs.get(self.edge, {})
        for k in range(L + 1):
            edge_opts = [(None, EMPTY)] if k == 0 else _at(edge_runs, k)
            if k == L:
                for fe, run in edge_opts:
                    yield Point(v, k, None, fe, None, run, EMPTY, 0.0, 0.0, 0.0)
                continue
            for s in self.servers:
                link = self.links.get(s)
                if link is None:
                    continue
                nbytes = var.cut_bytes[k]
                t = nbytes * link.s_per_byte
                srv_opts = _at(var.runs.get(s, {}), k)
                for fe, erun in edge_opts:
                    for fs, srun in srv_opts:
                        yield Point(
                            v, k, s, fe, fs, erun, srun, t, link.latency_s, link.radio_w * t
                        )

    def value(self, p: Point) -> float:
        """What the objective minimises at `p` (throughput: the slowest stage's seconds)."""
        if self.objective == "throughput":
            return p.bottleneck_s
        if self.objective == "latency":
            return p.latency
        return p.energy

    def within_limits(self, p: Point) -> bool:
        eps = 1e-9
        if self.latency_max is not None and p.latency > self.latency_max * (1 + eps):
            return False
        return not (self.energy_max is not None and not p.energy <= self.energy_max * (1 + eps))

    def throughput(self, p: Point) -> float:
        return self.batch_size / p.bottleneck_s if p.bottleneck_s > 0 else math.inf


def _at(runs: dict[Freq, list[Run | None]], k: int) -> list[tuple[Freq, Run]]:
    out = []
    for f, table in runs.items():
        run = table[k]
        if run is not None:
            out.append((f, run))
    return out


# ---------------------------------------------------------------- profiles -> instance


def variant_profiles(profiles: ProfileSet, family: str | None) -> tuple[str, list[Loaded]]:
    """The inference profiles that carry a variant of one family (the problem's, else the only
    one); mixing families without naming one is an error."""
    items = [it for it in profiles.of_kind("infer") if it.profile.variant is not None]
    families = sorted({it.profile.variant.family for it in items if it.profile.variant})
    if not items:
        raise ProblemError(
            "no profile carries a model variant ('variant' field): an accsplit decision needs "
            "the variants' inference profiles with their measured accuracy"
        )
    if family is None:
        if len(families) > 1:
            raise ProblemError(
                f"profiles hold variants of several families {families}: set 'family:' in the "
                "problem"
            )
        family = families[0]
    chosen = [it for it in items if it.profile.variant and it.profile.variant.family == family]
    if not chosen:
        raise ProblemError(f"field 'family': no variant of {family!r}; profiles: {families}")
    return family, chosen


def build_instance(problem: AccSplitProblem, profiles: ProfileSet) -> AccInstance:
    """Check that the profiles fit the problem and together, and make the plain tables."""
    family, items = variant_profiles(profiles, problem.family)
    names = [d.name for d in problem.devices]
    edge = names.index(problem.edge)
    by_variant = _group(items)
    variants = [_variant(problem, vid, group, names) for vid, group in by_variant.items()]
    # the reference first, then the larger variants first
    variants.sort(key=lambda v: (not v.info.reference, -v.info.macs, v.id))
    refs = [i for i, v in enumerate(variants) if v.info.reference]
    if len(refs) != 1:
        found = ", ".join(f"{variants[i].id!r} ({variants[i].path})" for i in refs) or "none"
        raise ProblemError(
            f"family {family!r}: field 'variant.reference': expected exactly one reference "
            f"variant (the unpruned one the bound is taken from), found {found}"
        )
    ref = refs[0]
    _same_domains(variants, ref)
    if not variants[ref].runs.get(edge):
        raise ProblemError(
            f"no profile of the reference {variants[ref].id!r} for the edge {problem.edge!r} "
            f"(pins.input); its profiles are for {_devices_of(variants[ref], names)}"
        )
    domains = _domains(problem, variants[ref])
    candidates = _candidates(problem, variants)
    counted = set(problem.energy_devices if problem.energy_devices is not None else names)
    unknown = sorted(
        {
            names[d]
            for v in variants
            for d, table in v.runs.items()
            for runs in table.values()
            for r in runs
            if r is not None and math.isnan(r.energy)
        }
    )
    links = _links(problem, names, counted)
    _check_transfers(variants, links, names)
    return AccInstance(
        family=family,
        devices=names,
        edge=edge,
        servers=[i for i, n in enumerate(names) if i != edge],
        links=links,
        batch_size=problem.batch_size,
        objective=problem.objective,
        variants=variants,
        reference=ref,
        domains=domains,
        candidates=candidates,
        epsilon=problem.epsilon,
        latency_max=problem.constraints.latency_max_s,
        energy_max=problem.constraints.energy_max_j,
        energy_known=not unknown,
        energy_note=(
            f"energy unknown: device {unknown[0]!r} has bundles without measured energy and no "
            "power model (give devices[].power)"
            if unknown
            else ""
        ),
    )


def _group(items: list[Loaded]) -> dict[str, list[Loaded]]:
    """Profiles by variant id; one id with two different weights is an error."""
    out: dict[str, list[Loaded]] = {}
    for it in items:
        v = it.profile.variant
        assert v is not None
        group = out.setdefault(v.id, [])
        if group:
            first = group[0]
            assert first.profile.variant is not None
            if first.profile.variant.weights_sha256 != v.weights_sha256:
                raise FileError(
                    f"{it.path}: field 'variant.weights_sha256': variant {v.id!r} has other "
                    f"weights in {first.path.name}: one id, one set of weights"
                )
        group.append(it)
    return out


def _variant(problem: AccSplitProblem, vid: str, group: list[Loaded], names: list[str]) -> Variant:
    info = group[0].profile.variant
    assert info is not None
    ref_inf = _fit(group)
    L = len(ref_inf.layers)
    width = 4 if problem.precision == "fp32" else 2
    cut_bytes = [
        float((c.bytes_fp32 if width == 4 else c.bytes_fp16) * problem.batch_size)
        for c in ref_inf.cuts
    ]
    counted = set(problem.energy_devices if problem.energy_devices is not None else names)
    runs: dict[int, dict[Freq, list[Run | None]]] = {}
    profiles: dict[int, list[Loaded]] = {}
    for di, dev in enumerate(problem.devices):
        mine = [it for it in group if dev.matches(it)]
        if not mine:
            continue
        profiles[di] = mine
        bundles = _bundles(problem, dev, mine, dev.name in counted)
        prefix = di == names.index(problem.edge)
        runs[di] = {f: _chains(bs, L, prefix, problem.objective) for f, bs in bundles.items()}
    accuracy = {
        d: Acc(a.accuracy, "measured", a.samples, a.correct)
        for d, a in info.domain_accuracy.items()
    }
    names_ = [ly.name for ly in ref_inf.layers]
    return Variant(vid, info, L, names_, cut_bytes, runs, profiles, accuracy, group[0].path)


def _fit(group: list[Loaded]) -> InferSection:
    """One variant's profiles describe the same network (layers, cut sizes)."""
    first = group[0]
    inf0 = first.profile.infer
    assert inf0 is not None
    for it in group[1:]:
        inf = it.profile.infer
        assert inf is not None
        if [ly.name for ly in inf.layers] != [ly.name for ly in inf0.layers] or [
            c.bytes_fp32 for c in inf.cuts
        ] != [c.bytes_fp32 for c in inf0.cuts]:
            raise FileError(
                f"{it.path}: field 'infer.layers': variant {it.profile.variant.id!r} has other "  # type: ignore[union-attr]
                f"layers or cut sizes than in {first.path.name}: not the same network"
            )
    return inf0


def _bundles(
    problem: AccSplitProblem, dev: SplitDevice, mine: list[Loaded], counted: bool
) -> dict[Freq, list[Bundle]]:
    """The device's bundles at the batch size, by clock (the first profile that has one wins),
    each with its streamed occupancy under the CPU quota its profile enforced."""
    out: dict[Freq, list[Bundle]] = {}
    seen: set[tuple[int, int, Freq]] = set()
    for it in mine:
        inf = it.profile.infer
        assert inf is not None
        quota = inf.enforced.cpu_quota if inf.enforced is not None else None
        for b in inf.bundles:
            if b.batch_size != problem.batch_size:
                continue
            if dev.frequencies_mhz is not None and b.frequency_mhz not in dev.frequencies_mhz:
                continue
            key = (b.start, b.end, b.frequency_mhz)
            if key in seen:
                continue
            seen.add(key)
            lat = b.latency.median
            own = b.energy_j
            if own is None and dev.power is not None:
                own = dev.power.compute_w * lat
            en = (math.nan if own is None else own) if counted else 0.0
            if beyond(lat, MAX_SECONDS) or (not math.isnan(en) and beyond(en, MAX_AMOUNT)):
                raise FileError(
                    f"{it.path}: field 'infer.bundles' (layers {b.start}-{b.end}): {lat:g} s, "
                    f"{en:g} J: past what a model takes"
                )
            out.setdefault(b.frequency_mhz, []).append((b.start, b.end, lat, en, b.busy_s(quota)))
    if not out:
        raise ProblemError(
            f"field 'batch_size': {problem.batch_size} was not profiled on device {dev.name!r} "
            f"for variant {mine[0].profile.variant.id!r} ({mine[0].path.name})"  # type: ignore[union-attr]
        )
    return out


def _chains(bundles: list[Bundle], L: int, prefix: bool, objective: str) -> list[Run | None]:
    """Per cut k, the run of [0, k) (prefix) or [k, L) (suffix): the bundle that is exactly
    that segment when it was profiled (run-split runs a side's layers as one segment, and a
    whole segment measured directly beats a sum of its parts, which the cheapest-of-many-sums
    would bias low), else the cheapest chain of bundles: by streamed occupancy for the
    throughput objective, by latency for the latency one, by energy for the energy one (then
    the others break ties)."""

    def key(c: tuple[float, float, float, tuple[Bundle, ...]]) -> tuple[float, ...]:
        lat, en, busy = c[0], (c[1] if not math.isnan(c[1]) else math.inf), c[2]
        if objective == "energy":
            return (en, lat, busy)
        return (busy, lat, en) if objective == "throughput" else (lat, busy, en)

    def run(k: int, c: tuple[float, float, float, tuple[Bundle, ...]] | None) -> Run | None:
        if c is None:
            return None
        return Run(0, k, c[0], c[1], c[3], c[2]) if prefix else Run(k, L, c[0], c[1], c[3], c[2])

    best: list[tuple[float, float, float, tuple[Bundle, ...]] | None] = [None] * (L + 1)
    order = range(1, L + 1) if prefix else range(L - 1, -1, -1)
    best[0 if prefix else L] = (0.0, 0.0, 0.0, ())
    for j in order:
        for b in bundles:
            src = b[0] if prefix else b[1]
            if (b[1] if prefix else b[0]) != j or (prev := best[src]) is None:
                continue
            chain = (*prev[3], b) if prefix else (b, *prev[3])
            cand = (prev[0] + b[2], prev[1] + b[3], prev[2] + b[4], chain)
            if (cur := best[j]) is None or key(cand) < key(cur):
                best[j] = cand
    for b in bundles:
        k = b[1] if prefix else b[0]
        if (b[0] == 0) if prefix else (b[1] == L):
            best[k] = (b[2], b[3], b[4], (b,))
    return [run(k, c) for k, c in enumerate(best)]


def _same_domains(variants: list[Variant], ref: int) -> None:
    split = variants[ref].info.domains
    for v in variants:
        if v.info.domains != split:
            where = v.path
            raise FileError(
                f"{where}: field 'variant.domains': variant {v.id!r} was measured on other "
                f"domains than the reference {variants[ref].id!r}: accuracies do not compare"
            )


def _domain_order(d: str) -> tuple[str, int]:
    m = re.match(r"^(.*?)(\d+)$", d)
    return (m.group(1), int(m.group(2))) if m else (d, -1)


def _domains(problem: AccSplitProblem, ref: Variant) -> list[str]:
    have = sorted(ref.accuracy, key=_domain_order)
    if not problem.domains:
        if not have:
            raise ProblemError(f"the reference {ref.id!r} has no measured domain accuracy")
        return have
    for i, d in enumerate(problem.domains):
        if d not in ref.accuracy:
            raise ProblemError(
                f"field 'domains.{i}': {d!r} is not a domain the reference {ref.id!r} was "
                f"measured on (it has {have})"
            )
    return list(problem.domains)


def _candidates(problem: AccSplitProblem, variants: list[Variant]) -> list[int]:
    ids = [v.id for v in variants]
    if not problem.variants:
        return list(range(len(variants)))
    for i, vid in enumerate(problem.variants):
        if vid not in ids:
            raise ProblemError(f"field 'variants.{i}': no variant {vid!r}; profiled: {ids}")
    return [ids.index(vid) for vid in problem.variants]


def _devices_of(v: Variant, names: list[str]) -> list[str]:
    return [names[d] for d in v.runs]


def _check_transfers(variants: list[Variant], links: dict[int, LinkCost], names: list[str]) -> None:
    """Every tensor's transfer time is a number a model can take (a cut of absurd size is
    refused here, naming the variant's profile and the cut)."""
    for v in variants:
        for s, link in links.items():
            for k, nbytes in enumerate(v.cut_bytes):
                t = nbytes * link.s_per_byte
                if beyond(t, MAX_SECONDS) or beyond(t * link.radio_w, MAX_AMOUNT):
                    where = v.path
                    raise FileError(
                        f"{where}: field 'infer.cuts.{k}': {nbytes:g} bytes take {t:g} s to "
                        f"{names[s]!r}: past what a model takes (at most {MAX_SECONDS:g} s)"
                    )


def _links(problem: AccSplitProblem, names: list[str], counted: set[str]) -> dict[int, LinkCost]:
    """Per server, the edge -> server direction of the first link between them."""
    edge = problem.edge
    out: dict[int, LinkCost] = {}
    for lk in problem.links:
        if edge not in (lk.src, lk.dst):
            continue
        other = lk.dst if lk.src == edge else lk.src
        s = names.index(other)
        if s in out or other == edge:
            continue
        bw = lk.bandwidth_up_mbps if lk.src == edge else lk.bandwidth_down_mbps
        bw = bw if bw is not None else lk.bandwidth_up_mbps
        charged = edge in counted or other in counted
        radio = (lk.alpha_w_per_mbps * bw + lk.beta_w) if charged else 0.0
        out[s] = LinkCost(8.0 / (bw * 1e6), lk.latency_ms / 1e3, radio)
    return out
