"""The problem file's jobs: priced by profiles (through the one resolver), inline, sampled; and
the default problem the front door derives from profiles alone."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from harness.profile import save_profile
from solver.pipeline.problem import PipelineProblem, build_jobs, default_problem
from solver.problem import ProblemError, validate_as
from solver.profiles import ProfileSet
from tests.factory.pipeline import chain_profile


def _profiles(tmp: Path, *specs: tuple[str, str, float]) -> list[Path]:
    paths = []
    for model, device, scale in specs:
        p = tmp / f"{model}-{device}.json"
        save_profile(chain_profile(device, scale, model=model), p)
        paths.append(p)
    return paths


def _problem(**kw: Any) -> PipelineProblem:
    return validate_as(PipelineProblem, {"kind": "pipeline", **kw}, "p.yaml")


EDGE_SERVER: dict[str, Any] = {
    "devices": [{"name": "edge"}, {"name": "server"}],
    "links": [{"src": "edge", "dst": "server", "bandwidth_up_mbps": 8, "latency_ms": 1}],
    "jobs": [{"name": "cam", "count": 4, "local": "edge", "remote": "server"}],
}


def test_jobs_priced_by_the_profiles_of_their_devices(tmp_path: Path) -> None:
    paths = _profiles(tmp_path, ("tiny", "edge", 10.0), ("tiny", "server", 1.0))
    inst = build_jobs(_problem(**EDGE_SERVER), ProfileSet.from_paths(paths))
    assert [j.name for j in inst.jobs] == ["cam-0", "cam-1", "cam-2", "cam-3"]
    assert inst.source == "profiles" and inst.profiles == ["tiny-edge", "tiny-server"]
    opts = inst.jobs[0].options
    assert [o.cut for o in opts] == [0, 1, 2, 3]
    assert opts[1].comm_s == pytest.approx(8000 * 8 / 8e6 + 0.001)  # 8000 B at 8 Mbps + 1 ms
    assert opts[3].comm_s == 0 and opts[3].remote_s == 0  # all local: nothing sent
    assert opts[3].local_s == pytest.approx(10 * 0.9 * 0.035)
    assert opts[0].local_s == 0 and opts[0].remote_s == pytest.approx(0.9 * 0.035)


def test_device_profiles_named_by_path_resolve_beside_the_problem_file(tmp_path: Path) -> None:
    paths = _profiles(tmp_path, ("tiny", "edge", 10.0), ("tiny", "server", 1.0))
    raw = EDGE_SERVER | {
        "devices": [
            {"name": "a", "profiles": [paths[0].name]},
            {"name": "b", "profiles": [paths[1].name]},
        ],
        "links": [{"src": "b", "dst": "a", "bandwidth_up_mbps": 8, "bandwidth_down_mbps": 4}],
        "jobs": [{"name": "cam", "local": "a", "remote": "b"}],
    }
    inst = build_jobs(_problem(**raw), ProfileSet(base_dir=tmp_path))
    # the link is given from b to a: a -> b takes its down bandwidth
    assert inst.jobs[0].options[1].comm_s == pytest.approx(8000 * 8 / 4e6)
    with pytest.raises(ProblemError, match=r"field 'devices.0.profiles.0': no profile matches"):
        build_jobs(_problem(**raw), ProfileSet(base_dir=tmp_path / "elsewhere"))


def test_a_problem_its_profiles_cannot_price_is_one_line(tmp_path: Path) -> None:
    paths = _profiles(tmp_path, ("tiny", "edge", 10.0), ("tiny", "server", 1.0))
    given = ProfileSet.from_paths(paths)
    with pytest.raises(ProblemError, match="device 'cloud' is not in 'devices'"):
        build_jobs(
            _problem(devices=[{"name": "edge"}], jobs=[{"local": "edge", "remote": "cloud"}]), given
        )
    with pytest.raises(ProblemError, match="no link between 'edge' and 'server'"):
        build_jobs(_problem(**(EDGE_SERVER | {"links": []})), given)
    other = EDGE_SERVER | {"jobs": [{"local": "edge", "remote": "server", "model": "vgg"}]}
    with pytest.raises(ProblemError, match="no inference profile of model 'vgg'"):
        build_jobs(_problem(**other), given)
    big = EDGE_SERVER | {"jobs": [{"local": "edge", "remote": "server", "batch_size": 8}]}
    with pytest.raises(ProblemError, match="no bundle at batch size 8"):
        build_jobs(_problem(**big), given)


def test_inline_and_sampled_jobs(tmp_path: Path) -> None:
    remote = [{"cut": 0, "local_s": 0, "comm_s": 1, "remote_s": 2}]
    local = [{"cut": 1, "local_s": 3, "comm_s": 0, "remote_s": 0}]
    inline = _problem(
        inline_jobs=[{"name": "a", "count": 2, "options": remote}, {"name": "b", "options": local}]
    )
    inst = build_jobs(inline, ProfileSet())
    assert [j.name for j in inst.jobs] == ["a-0", "a-1", "b"] and inst.source == "inline"
    sampled = build_jobs(_problem(sample={"num_jobs": 3, "seed": 4}), ProfileSet())
    assert len(sampled.jobs) == 3 and "seed 4" in sampled.source and sampled.profiles == []
    (path,) = _profiles(tmp_path, ("tiny", "server", 1.0))
    on_profile = _problem(sample={"num_jobs": 2, "profile": path.name})
    got = build_jobs(on_profile, ProfileSet(base_dir=tmp_path))
    assert got.profiles == ["tiny-server"] and "tiny@server" in got.source
    with pytest.raises(ProblemError, match="field 'sample.num_jobs'"):
        _problem(sample={"num_jobs": 0})
    with pytest.raises(ProblemError, match="not both"):
        _problem(sample={}, **EDGE_SERVER)


def test_default_problem_of_two_models_on_two_devices(tmp_path: Path) -> None:
    paths = _profiles(
        tmp_path,
        ("neta", "fast", 1.0),
        ("neta", "slow", 5.0),
        ("netb", "fast", 1.0),
        ("netb", "slow", 5.0),
    )
    profiles = ProfileSet.from_paths(paths)
    prob = default_problem(profiles)
    assert prob.name == "batch-pipeline"
    assert [(g.model, g.count, g.local, g.remote) for g in prob.jobs] == [
        ("neta", 4, "slow", "fast"),
        ("netb", 4, "slow", "fast"),
    ]
    assert [ln.bandwidth_up_mbps for ln in prob.links] == [100.0]
    inst = build_jobs(prob, profiles)
    assert len(inst.jobs) == 8
    assert inst.profiles == ["neta-fast", "neta-slow", "netb-fast", "netb-slow"]


def test_default_problem_of_one_model_and_of_none(tmp_path: Path) -> None:
    paths = _profiles(
        tmp_path, ("tiny", "server", 1.0), ("tiny", "edge", 10.0), ("lone", "edge", 1.0)
    )
    prob = default_problem(ProfileSet.from_paths(paths))
    assert [(g.model, g.count, g.local, g.remote) for g in prob.jobs] == [
        ("tiny", 10, "edge", "server")
    ]
    with pytest.raises(ProblemError, match="two devices.*lone on edge"):
        default_problem(ProfileSet.from_paths(paths[2:]))
    with pytest.raises(ProblemError, match="none"):
        default_problem(ProfileSet())
