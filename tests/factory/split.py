"""Split instances built by hand, every plan of a small instance by brute force, and a split
solution file solved for real on factory profiles."""

from __future__ import annotations

import itertools
from pathlib import Path

from harness.profile import save_profile
from solver.split.instance import Option, SplitInstance, Transfer
from tests.factory.infer_profiles import make_infer_profile


def edge_server_profiles(
    tmp_path: Path,
    after_idle: list[tuple[float, float]] | None = None,
    beside_wakeups: list[tuple[float, float]] | None = None,
) -> tuple[Path, Path]:
    """A 1-CPU edge and a 4x faster 2-CPU server, 6 layers of one model, saved; both sides'
    `after_idle` (gap s, ratio) and `beside_wakeups` (wake-ups per s, ratio) curves."""
    curves = {"after_idle": after_idle, "beside_wakeups": beside_wakeups}
    edge = make_infer_profile(device_name="edge", n_layers=6, cpus=1.0, **curves)
    server = make_infer_profile(device_name="server", n_layers=6, speed=4.0, cpus=2.0, **curves)
    pe, ps = tmp_path / "edge.json", tmp_path / "server.json"
    save_profile(edge, pe)
    save_profile(server, ps)
    return pe, ps


def split_solution(
    tmp_path: Path,
    bw: float = 20.0,
    after_idle: list[tuple[float, float]] | None = None,
    beside_wakeups: list[tuple[float, float]] | None = None,
) -> Path:
    """`harness solve`'s split solution of those profiles (link `bw` Mbit/s, 5 ms), saved."""
    from solver.problem import SolveOptions
    from solver.profiles import ProfileSet
    from solver.split import SplitProblem, solve

    pe, ps = edge_server_profiles(tmp_path, after_idle, beside_wakeups)
    raw = {
        "kind": "split",
        "name": "t",
        "devices": [{"name": "edge"}, {"name": "server"}],
        "links": [{"src": "edge", "dst": "server", "bandwidth_up_mbps": bw, "latency_ms": 5}],
        "pins": {"input": "edge"},
    }
    sol = solve(SplitProblem.model_validate(raw), ProfileSet.from_paths([pe, ps]), SolveOptions())
    assert sol.summary().ok
    path = tmp_path / "out" / "t-split-solution.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(sol.model_dump_json(indent=1))
    return path


def hand_instance() -> SplitInstance:
    """3 layers; edge (source and sink) and server. Worked out by hand:
    all on edge 25 ms (bundle [0,3)); edge [0,1) + server [1,3) = 10 + 4 + 1.5 + 2 = 17.5 ms;
    all on server 20 + 2.5 + 2 = 24.5 ms. Energy: edge computes at 5 W, links at 1 W, the server
    is free: split 0.056 J, all on server 0.022 J, all on edge 0.125 J."""
    ms = 1e-3
    edge = [(0, 1, 10), (1, 2, 10), (2, 3, 10), (0, 3, 25)]
    server = [(0, 1, 1), (1, 2, 1), (2, 3, 1), (1, 3, 1.5)]
    opts = [Option(0, None, i, j, t * ms, 5.0 * t * ms) for i, j, t in edge]
    opts += [Option(1, None, i, j, t * ms, 0.0) for i, j, t in server]
    cut_ms = [20, 4, 6, 2]
    trs = [Transfer(k, a, b, c * ms, c * ms, 1000.0) for k, c in enumerate(cut_ms) for a, b in
           ((0, 1), (1, 0))]  # fmt: skip
    return SplitInstance(3, ["edge", "server"], opts, trs, source=0, sink=0)


def all_paths(inst: SplitInstance) -> list[tuple[float, float]]:
    """Brute force for 2 devices: every cover of the layers by options, with the transfers
    a device change forces (direct links only)."""
    out = []
    n = inst.n_layers
    tr = {(t.cut, t.src, t.dst): t for t in inst.transfers}
    for mask in range(1 << (n - 1)):
        cuts = [0] + [k for k in range(1, n) if mask >> (k - 1) & 1] + [n]
        segs = list(itertools.pairwise(cuts))
        choices = [[o for o in inst.options if (o.start, o.end) == s] for s in segs]
        for combo in itertools.product(*choices):
            lat = en = 0.0
            where = inst.source
            ok = True
            for o in combo:
                if o.device != where:
                    t = tr.get((o.start, where, o.device))
                    if t is None:
                        ok = False
                        break
                    lat, en = lat + t.latency, en + t.energy
                lat, en, where = lat + o.latency, en + o.energy, o.device
            if ok and where != inst.sink:
                t = tr.get((n, where, inst.sink))
                ok = t is not None
                if t is not None:
                    lat, en = lat + t.latency, en + t.energy
            if ok:
                out.append((lat, en))
    return out
