"""Multi-node data-parallel profiles: pure planning/summaries, and two real nodes in containers."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from harness.backends.base import BackendError, ProbeRequest, ProbeRun
from harness.multinode import (
    MultiNodeRun,
    aggregate_throughput,
    node_result,
    plan_nodes,
    run_multinode,
)
from harness.profile import Caps, Outcome
from harness.spec import load_spec

ROOT = Path(__file__).resolve().parents[1]
CI = os.environ.get("CI") == "true"


def _batch(rank: int, step: int, batch_s: float, allreduce_s: float, warm: bool = False) -> dict:
    return {
        "type": "batch",
        "node_rank": rank,
        "global_step": step,
        "warmup": warm,
        "batch_size": 8,
        "batch_s": batch_s,
        "allreduce_s": allreduce_s,
        "images_per_s": 8 / batch_s,
    }


def test_plan_gives_nodes_on_one_engine_disjoint_cpusets() -> None:
    plans = plan_nodes(3, Caps(cpus=1.5))
    assert [p.cpu_offset for p in plans] == [0, 2, 4]
    assert all(p.host is None for p in plans)
    two_hosts = plan_nodes(2, Caps(cpus=4), ["ssh://a", "ssh://b"])
    assert [(p.host, p.cpu_offset) for p in two_hosts] == [("ssh://a", 0), ("ssh://b", 0)]
    with pytest.raises(BackendError, match="--hosts lists 3"):
        plan_nodes(2, Caps(cpus=1), ["a", "b", "c"])
    with pytest.raises(BackendError, match="at least 1"):
        plan_nodes(0, Caps(cpus=1))


def test_node_result_and_aggregate_from_records() -> None:
    recs = [_batch(0, 0, 1.0, 0.5, warm=True)]
    recs += [_batch(0, s, 0.5, 0.1) for s in (1, 2, 3)]
    recs += [_batch(1, s, 1.0, 0.4) for s in (1, 2, 3)]
    n0 = node_result(0, "local", Caps(cpus=1), recs)
    n1 = node_result(1, "local", Caps(cpus=1), recs)
    assert n0.throughput is not None and n0.throughput.median == pytest.approx(16.0)
    assert n1.throughput is not None and n1.throughput.median == pytest.approx(8.0)
    assert n0.comm_share == pytest.approx(0.2) and n1.comm_share == pytest.approx(0.4)
    agg = aggregate_throughput(recs, 2)  # 16 images per step, paced by the slower node (1 s)
    assert agg is not None and agg.n == 3 and agg.median == pytest.approx(16.0)
    assert aggregate_throughput(recs, 3) is None  # no step that all three nodes measured


def test_probe_run_of_a_multinode_run_takes_the_worst_outcome() -> None:
    ok = ProbeRun(outcome=Outcome.ok, records=[{"a": 1}], duration_s=2.0, cpu_time_s=1.0)
    bad = ProbeRun(outcome=Outcome.oom, records=[], duration_s=3.0, cpu_time_s=0.5, reason="x")
    run = MultiNodeRun(
        runs=[ok, bad], nodes=[], master_addr="m", master_port=1, network=None, records=[{"a": 1}]
    )
    merged = run.as_probe_run()
    assert merged.outcome == Outcome.oom and merged.reason == "x"
    assert merged.duration_s == 3.0 and merged.cpu_time_s == 1.5
    assert run.outcome == Outcome.oom


def test_several_remote_hosts_need_a_master_address(tmp_path: Path) -> None:
    req = ProbeRequest(spec={}, caps=Caps(cpus=1), workdir=tmp_path)
    with pytest.raises(BackendError, match="--master-addr"):
        run_multinode(req, 2, hosts=["tcp://127.0.0.1:2375", "tcp://127.0.0.1:2375"])


@pytest.fixture(scope="module")
def image() -> str:
    from harness.backends.docker import available
    from harness.images import find_image

    reason = None
    found = None
    if not available(timeout=5):
        reason = "no Docker engine answers (start one with .ci/docker.sh)"
    else:
        found = find_image("cpu")
        if found is None:
            reason = "no harness-job:cpu image (build it with `harness images build`)"
    if reason is not None:
        if CI:
            pytest.fail(f"CI=true: {reason}")
        pytest.skip(reason)
    assert found is not None
    return found


def _left(session: str) -> tuple[list[object], list[object]]:
    import docker

    cli = docker.from_env(timeout=30)
    flt = {"label": f"harness.session={session}"}
    return cli.containers.list(all=True, filters=flt), cli.networks.list(filters=flt)


@pytest.mark.docker
def test_two_node_cpu_training_across_two_containers(image: str, tmp_path: Path) -> None:
    """Two containers on a Docker network, gloo all-reduce, one CPU each."""
    spec = load_spec(ROOT / "tests" / "data" / "docker-tiny.yaml")
    req = ProbeRequest(
        spec=spec.model_dump(mode="json"),
        caps=Caps(cpus=1, memory_gb=2),
        workdir=tmp_path / "mn",
        timeout_s=300,
        data_dir=tmp_path / "data",
    )
    session = f"test-mn-{os.getpid()}"
    result = run_multinode(req, 2, image=image, session=session, master_port=29511)
    assert [r.outcome for r in result.runs] == [Outcome.ok, Outcome.ok], [
        (r.reason, r.log_tail[-3:]) for r in result.runs
    ]
    assert [n.rank for n in result.nodes] == [0, 1]
    assert all(n.throughput is not None and n.throughput.median > 0 for n in result.nodes)
    assert all(n.comm_share is not None and 0 < n.comm_share < 1 for n in result.nodes)
    assert result.aggregate is not None and result.aggregate.n == 4
    assert result.master_addr == f"harness-{session}-node0"
    # each node had its own core
    sets = [r.enforced.cpuset for r in result.runs if r.enforced is not None]
    assert len(sets) == 2 and sets[0] != sets[1]
    # both nodes trained the same model from the same broadcast weights: same world size
    metas = [r for r in result.records if r.get("type") == "meta" and "nnodes" in r]
    assert sorted(m["rank"] for m in metas) == [0, 1] and {m["nnodes"] for m in metas} == {2}
    containers, networks = _left(session)
    assert not containers and not networks


@pytest.mark.docker
def test_two_engines_path_with_host_network_and_archive_io(image: str, tmp_path: Path) -> None:
    """The several-hosts path (one engine per node, host networking, files in and out by
    archive as for ssh:// engines), here with both 'hosts' on this machine's engine."""
    spec = load_spec(ROOT / "tests" / "data" / "docker-tiny.yaml")
    req = ProbeRequest(
        spec=spec.model_dump(mode="json"),
        caps=Caps(cpus=1),
        workdir=tmp_path / "mh",
        timeout_s=300,
    )
    sock = "unix:///var/run/docker.sock"
    session = f"test-mh-{os.getpid()}"
    result = run_multinode(
        req, 2, hosts=[sock, sock], image=image, remote=True, session=session, master_port=29512
    )
    assert result.network == "host" and result.master_addr == "127.0.0.1"
    assert [r.outcome for r in result.runs] == [Outcome.ok, Outcome.ok], [
        (r.reason, r.log_tail[-3:]) for r in result.runs
    ]
    assert all(n.throughput is not None for n in result.nodes)
    assert (tmp_path / "mh" / "node1" / "records.jsonl").exists()  # fetched by archive
    containers, _ = _left(session)
    assert not containers
