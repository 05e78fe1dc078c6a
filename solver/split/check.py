"""The independent checker every split answer passes: the plan as reported, against the instance.

It trusts none of the reported numbers. Each reported step must be an edge of the instance
(a compute step: that device, those layers, that clock; a transfer: that cut, from that device
to that one) with the latency and energy the instance gives it; the steps, in order, must walk
from (cut 0, input device) to (cut L, output device); the plan's totals (and their compute and
communication parts) must be the sums recomputed here. `bound_violations` then holds the plan
against the problem's latency and energy bounds and each device's memory limit (the weights of
the layers placed there). `check_path` is the same walk over instance edges, for the DP's and
SCIP's own paths. A `Checker` indexes the instance once for many plans (a front); the three
functions are one-plan shorthands. Pure: no SCIP, no numpy.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from solver.split.instance import Option, SplitInstance, Transfer
from solver.split.solution import PlanOut, StepOut

TOL = 1e-9  # relative; the solvers add the same numbers, so anything more is a wrong answer

Edge = Option | Transfer


class Checker:
    """The instance's edges indexed once, so that a front of thousands of plans checks fast."""

    def __init__(self, inst: SplitInstance) -> None:
        self.inst = inst
        self.edges: set[Edge] = set(inst.options) | set(inst.transfers)
        self.compute: dict[tuple[int, int, int, float | None], list[Option]] = {}
        for o in inst.options:
            self.compute.setdefault((o.device, o.start, o.end, o.freq), []).append(o)
        self.transfer: dict[tuple[int, int, int], list[Transfer]] = {}
        for t in inst.transfers:
            self.transfer.setdefault((t.cut, t.src, t.dst), []).append(t)

    def path(self, steps: Sequence[Edge]) -> list[str]:
        """The steps, in order, walk from (0, source) to (L, sink) over edges of the instance."""
        inst = self.inst
        errs: list[str] = []
        node = (0, inst.source)
        for n, s in enumerate(steps, 1):
            if s not in self.edges:
                errs.append(f"step {n}: not an edge of the instance: {s}")
            start, end = _ends(s)
            if node != start:
                errs.append(
                    f"step {n} starts at {_node(inst, start)}, the plan is at {_node(inst, node)}"
                )
            node = end
        goal = (inst.n_layers, inst.sink)
        if node != goal:
            errs.append(f"the plan ends at {_node(inst, node)}, not at {_node(inst, goal)}")
        return errs

    def plan(self, plan: PlanOut) -> list[str]:
        """Every way the reported plan is not a valid path of the instance with these totals."""
        inst = self.inst
        errs: list[str] = []
        edges: list[Edge] = []
        for n, s in enumerate(plan.steps, 1):
            edge, why = self._edge_of(s)
            if edge is None:
                errs.append(f"step {n}: {why}")
                continue
            edges.append(edge)
            errs += [f"step {n}: {e}" for e in _step_numbers(inst, s, edge)]
        if errs:
            return errs
        errs += self.path(edges)
        comp = [e for e in edges if isinstance(e, Option)]
        comm = [e for e in edges if isinstance(e, Transfer)]
        sums: list[tuple[str, float | None, Sequence[Edge], str]] = [
            ("latency_s", plan.latency_s, edges, "latency"),
            ("compute_latency_s", plan.compute_latency_s, comp, "latency"),
            ("comm_latency_s", plan.comm_latency_s, comm, "latency"),
        ]
        if inst.energy_known:
            sums += [
                ("energy_j", plan.energy_j, edges, "energy"),
                ("compute_energy_j", plan.compute_energy_j, comp, "energy"),
                ("comm_energy_j", plan.comm_energy_j, comm, "energy"),
            ]
        for name, reported, part, what in sums:
            real = math.fsum(getattr(e, what) for e in part)
            if reported is None or not _close(reported, real):
                errs.append(f"{name} is {reported}, its steps add up to {real:.12g}")
        return errs

    def bounds(self, plan: PlanOut) -> list[str]:
        """The problem's latency and energy bounds and memory limits that the plan breaks."""
        inst = self.inst
        errs: list[str] = []
        if inst.latency_max is not None and plan.latency_s > inst.latency_max * (1 + TOL):
            errs.append(f"latency {plan.latency_s:.9g} s above latency_max_s={inst.latency_max:g}")
        en_max = inst.energy_max
        if en_max is not None and plan.energy_j is not None and plan.energy_j > en_max * (1 + TOL):
            errs.append(f"energy {plan.energy_j:.9g} J above energy_max_j={en_max:g}")
        used = [0.0] * len(inst.devices)
        for s in plan.steps:
            edge, _ = self._edge_of(s)
            if isinstance(edge, Option):
                used[edge.device] += edge.memory_mb
        for d, cap in enumerate(inst.memory_mb):
            if cap is not None and used[d] > cap * (1 + TOL):
                name = inst.devices[d]
                errs.append(f"device {name!r} holds {used[d]:.6g} MB of weights, limit {cap:g}")
        return errs

    def _edge_of(self, s: StepOut) -> tuple[Edge | None, str]:
        """The instance's edge a reported step names (of several alike, the one with its
        latency)."""
        devices = self.inst.devices
        if s.device not in devices:
            return None, f"device {s.device!r} is not in the problem"
        dev = devices.index(s.device)
        cands: Sequence[Edge]
        if s.kind == "compute":
            if s.layers is None:
                return None, "a compute step without layers"
            start, end = s.layers
            cands = self.compute.get((dev, start, end, s.frequency_mhz), [])
            what = f"layers [{start},{end}) on {s.device!r} at {s.frequency_mhz} MHz"
        else:
            if s.to_device not in devices or s.cut is None:
                return None, f"a transfer to {s.to_device!r} at cut {s.cut}: not in the problem"
            cands = self.transfer.get((s.cut, dev, devices.index(s.to_device)), [])
            what = f"a transfer at cut {s.cut} from {s.device!r} to {s.to_device!r}"
        if not cands:
            return None, f"{what} is not an edge of the instance"
        fit = [c for c in cands if _close(c.latency, s.latency_s)]
        return (fit or cands)[0], ""


def check_path(inst: SplitInstance, steps: Sequence[Edge]) -> list[str]:
    """The steps, in order, walk from (0, source) to (L, sink) over edges of the instance."""
    return Checker(inst).path(steps)


def check_plan(inst: SplitInstance, plan: PlanOut) -> list[str]:
    """Every way the reported plan is not a valid path of the instance with these totals."""
    return Checker(inst).plan(plan)


def bound_violations(inst: SplitInstance, plan: PlanOut) -> list[str]:
    """The problem's latency and energy bounds and memory limits that the plan breaks."""
    return Checker(inst).bounds(plan)


def _step_numbers(inst: SplitInstance, s: StepOut, edge: Edge) -> list[str]:
    errs = []
    if not _close(s.latency_s, edge.latency):
        errs.append(f"latency {s.latency_s} s, the instance says {edge.latency:.12g} s")
    if inst.energy_known and (s.energy_j is None or not _close(s.energy_j, edge.energy)):
        errs.append(f"energy {s.energy_j} J, the instance says {edge.energy:.12g} J")
    if isinstance(edge, Option) and (s.first_layer, s.last_layer) != (
        inst.layer_names[edge.start],
        inst.layer_names[edge.end - 1],
    ):
        errs.append(f"layers named {s.first_layer}..{s.last_layer}, the instance says otherwise")
    if isinstance(edge, Transfer) and (s.bytes is None or not _close(s.bytes, edge.nbytes)):
        errs.append(f"{s.bytes} bytes, the instance says {edge.nbytes:g}")
    return errs


def _ends(s: Edge) -> tuple[tuple[int, int], tuple[int, int]]:
    if isinstance(s, Transfer):
        return (s.cut, s.src), (s.cut, s.dst)
    return (s.start, s.device), (s.end, s.device)


def _node(inst: SplitInstance, node: tuple[int, int]) -> str:
    k, d = node
    name = inst.devices[d] if 0 <= d < len(inst.devices) else f"device {d}"
    return f"(cut {k}, {name})"


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=TOL, abs_tol=1e-15)
