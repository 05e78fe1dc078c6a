"""A side the host cannot give its profiled CPUs, priced at the CPUs it does get (pure).

A decision is priced from profiles measured at, say, 2 CPUs for the server; on a host with
fewer cores than the two sides ask for together, run-split clips the server (orchestrate's
place_sides), and its compute then takes about twice as long as the plan said. Comparing that
run with the 2-CPU prediction tests the host, not the cost model. When the profiles the
solution cites (or --profiles) hold one of the same model measured at the CPUs the side gets,
its compute steps are re-priced from that profile, bundle by bundle, and the decision says so
before the run; where none is, the plan keeps its prediction and the run is flagged as not
comparable, as before.

The same re-pricing takes a variant's later profile (`remeasured`): an accuracy-aware decision
re-measured after it was made is predicted from the new profile, not from the one it was chosen
by.
"""

from __future__ import annotations

from collections.abc import Sequence

from harness.profile import Profile
from harness.runsplit.plan import PlanStep
from solver.split.solution import profile_cpus


def at_cpus(pool: Sequence[Profile], like: Profile, cpus: float) -> Profile | None:
    """A CPU inference profile of `like`'s model measured on `like`'s machine (same host name
    and CPU model: another device's profile at those CPUs says nothing of this one) at `cpus`
    CPUs, from `pool`."""
    assert like.infer is not None
    for p in pool:
        inf = p.infer
        if (
            inf is not None
            and inf.device_kind == "cpu"
            and inf.model == like.infer.model
            and len(inf.layers) == len(like.infer.layers)
            and (p.host.hostname, p.host.cpu_model) == (like.host.hostname, like.host.cpu_model)
            and profile_cpus(p) == cpus
        ):
            return p
    return None


def remeasured(pool: Sequence[Profile], was: Profile) -> Profile | None:
    """Another profile of `was`'s variant (the same weights; else the same job) on the same
    device, host and CPUs, from `pool`: a measurement independent of the decision's own. A
    choice among many variants (or cuts), each profiled once on a machine whose speed moves,
    picks the one whose profile read fastest, so its own profile reads optimistic (the winner's
    curse); one made after the choice does not. Of several, the latest."""
    v, inf = was.variant, was.infer
    assert inf is not None
    same = [
        p
        for p in pool
        if (
            p.variant is not None and p.variant.weights_sha256 == v.weights_sha256
            if v is not None
            else p.variant is None and p.job == was.job
        )
        and p.id != was.id
        and p.infer is not None
        and p.infer.device_name == inf.device_name
        and len(p.infer.layers) == len(inf.layers)
        and (p.host.hostname, p.host.cpu_model) == (was.host.hostname, was.host.cpu_model)
        and profile_cpus(p) == profile_cpus(was)
    ]
    return max(same, key=lambda p: p.created, default=None)  # several: the latest


def repriced(
    steps: Sequence[PlanStep], role: str, prof: Profile, batch_size: int
) -> list[PlanStep] | None:
    """The plan's steps with `role`'s compute steps timed by `prof` (the same bundles at the
    same batch size, default clock); None when `prof` did not measure one of them."""
    assert prof.infer is not None
    quota = profile_cpus(prof)
    out = []
    for st in steps:
        if st.kind != "compute" or st.role != role:
            out.append(st)
            continue
        b = prof.infer.bundle(st.start, st.end, batch_size)
        if b is None:
            return None
        busy = b.busy_s(quota) if st.busy_s is not None else None
        out.append(PlanStep("compute", st.role, b.latency.median, st.start, st.end, busy_s=busy))
    return out
