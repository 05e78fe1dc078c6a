"""Multi-node data-parallel profiles: pure planning/summaries, and two real nodes in containers."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.backends.base import BackendError, ProbeRequest, ProbeRun
from harness.multinode import (
    MultiNodeRun,
    aggregate_throughput,
    node_result,
    plan_nodes,
    run_multinode,
    torchrun_entry,
)
from harness.profile import Caps, Outcome
from harness.spec import load_spec
from tests.factory.docker import containers

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


def test_plan_gives_each_node_its_caps_and_engine() -> None:
    plans = plan_nodes(3, Caps(cpus=1.5))
    assert [p.name for p in plans] == ["node0", "node1", "node2"]
    assert all(p.host is None and p.cpuset is None for p in plans)  # cores: open_cluster
    two_hosts = plan_nodes(2, Caps(cpus=4), ["ssh://a", "ssh://b"])
    assert [p.host for p in two_hosts] == ["ssh://a", "ssh://b"]
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


def test_node_command_is_a_static_torchrun_rendezvous() -> None:
    """The node's command parses with torchrun's own argument parser as asked."""
    from torch.distributed.run import get_args_parser

    cmd = torchrun_entry(3, 2, "harness-s-node0", 29555)
    assert cmd[:3] == ["python", "-m", "torch.distributed.run"]
    args = get_args_parser().parse_args(cmd[3:])
    assert (args.nnodes, args.nproc_per_node, args.node_rank) == ("3", "1", 2)
    assert (args.master_addr, args.master_port) == ("harness-s-node0", 29555)
    assert args.rdzv_backend == "static" and args.max_restarts == 0 and args.module
    assert args.training_script == "harness.workloads.run"
    assert args.training_script_args == ["/probe/request.json"]


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


@pytest.fixture(scope="module")
def image_with_source(image: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The job image with this tree's harness package layered on top. Remote engines get no
    source mount, so the remote path runs the image's own copy, which lags an edited tree."""
    import docker

    from harness.backends.docker import SOURCE_DIR

    ctx = tmp_path_factory.mktemp("src-image")
    shutil.copytree(ROOT / "harness", ctx / "harness", ignore=shutil.ignore_patterns("__pycache__"))
    (ctx / "Dockerfile").write_text(f"FROM {image}\nCOPY harness {SOURCE_DIR}\n")
    tag = f"harness-job:test-src-{os.getpid()}"
    cli = docker.from_env(timeout=300)
    cli.images.build(path=str(ctx), tag=tag, rm=True)
    yield tag
    with contextlib.suppress(Exception):
        cli.images.remove(tag)


def _left(session: str) -> tuple[list[object], list[object]]:
    import docker

    cli = docker.from_env(timeout=30)
    flt = {"label": f"harness.session={session}"}
    return containers(flt["label"]), cli.networks.list(filters=flt)


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
    assert {m["launcher"] for m in metas} == {"torchrun"}  # ranks came from torchrun's env
    kept, networks = _left(session)
    assert not kept and not networks


@pytest.mark.docker
def test_two_engines_path_with_host_network_and_archive_io(
    image_with_source: str, tmp_path: Path
) -> None:
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
        req,
        2,
        hosts=[sock, sock],
        image=image_with_source,
        remote=True,
        session=session,
        master_port=29512,
    )
    assert result.network == "host" and result.master_addr == "127.0.0.1"
    assert [r.outcome for r in result.runs] == [Outcome.ok, Outcome.ok], [
        (r.reason, r.log_tail[-3:]) for r in result.runs
    ]
    assert all(n.throughput is not None for n in result.nodes)
    assert (tmp_path / "mh" / "node1" / "records.jsonl").exists()  # fetched by archive
    metas = [r for r in result.records if r.get("type") == "meta" and "nnodes" in r]
    assert sorted((m["launcher"], m["rank"]) for m in metas) == [("torchrun", 0), ("torchrun", 1)]
    kept, _ = _left(session)
    assert not kept


@pytest.mark.docker
def test_profile_cli_two_nodes_writes_a_valid_profile(image: str, tmp_path: Path) -> None:
    """`harness profile JOB --nnodes 2 --backend docker` end to end, then `harness validate`."""
    from typer.testing import CliRunner

    from harness.cli import app
    from harness.profile import load_profile

    out = tmp_path / "tiny-2nodes.json"
    argv = ["profile", str(ROOT / "jobs" / "tiny-train.yaml"), "--nnodes", "2"]
    argv += ["--backend", "docker", "--image", image, "--cpu", "1", "--memory", "2"]
    argv += ["--max-iterations", "3", "--timeout", "300", "--master-port", "29513"]
    argv += ["--out", str(out), "--data-dir", str(tmp_path / "data")]
    runner = CliRunner()
    r = runner.invoke(app, argv)
    assert r.exit_code == 0, r.output
    assert "aggregate:" in r.output and "all-reduce" in r.output
    v = runner.invoke(app, ["validate", str(out)])
    assert v.exit_code == 0, v.output
    prof = load_profile(out)
    assert prof.train is not None and prof.train.nnodes == 2
    (probe,) = prof.train.probes
    assert probe.outcome == Outcome.ok and probe.backend == "docker"
    assert [n.rank for n in probe.nodes] == [0, 1]
    shares = []
    for n in probe.nodes:
        assert n.throughput is not None and n.throughput.median > 0
        assert n.comm_share is not None and 0 < n.comm_share < 1
        shares.append(n.comm_share)
    assert probe.throughput is not None and probe.throughput.n == 3  # all-node steps
    assert probe.comm_share == pytest.approx(sum(shares) / 2)  # median of two nodes
    assert probe.records is not None and {b.node_rank for b in probe.records} == {0, 1}
    # each node's workload was started by torchrun and took its rank from it
    metas = []
    for f in sorted(tmp_path.rglob("node*/records.jsonl")):
        metas += [json.loads(ln) for ln in f.read_text().splitlines() if '"meta"' in ln]
    assert [(m["launcher"], m["rank"], m["nnodes"]) for m in metas] == [
        ("torchrun", 0, 2),
        ("torchrun", 1, 2),
    ]
    # the CLI ran in this process: its session id starts with our pid; nothing of it is left
    import docker

    cli = docker.from_env(timeout=30)
    left = [c.labels.get("harness.session", "") for c in containers()]
    left += [(n.attrs.get("Labels") or {}).get("harness.session", "") for n in cli.networks.list()]
    assert not [x for x in left if x.startswith(f"{os.getpid()}-")]


@pytest.mark.docker
def test_ctrl_c_to_a_two_node_profile_leaves_no_container_or_network(
    image: str, tmp_path: Path
) -> None:
    """SIGINT to `harness profile --nnodes 2` while both nodes' torchrun containers run."""
    import docker

    env = dict(os.environ, PYTHONPATH=str(ROOT))
    cmd = [sys.executable, "-m", "harness.cli", "profile", str(ROOT / "jobs" / "tiny-train.yaml")]
    cmd += ["--nnodes", "2", "--backend", "docker", "--image", image, "--cpu", "1"]
    cmd += ["--max-iterations", "100000", "--out", str(tmp_path / "p.json")]
    cmd += ["--data-dir", str(tmp_path / "data")]
    proc = subprocess.Popen(cmd, env=env, cwd=tmp_path, stderr=subprocess.PIPE)
    cli = docker.from_env(timeout=30)

    def mine() -> tuple[list[Any], list[Any]]:
        """This run's containers and networks, as the engine lists them (one call each, no
        inspect: a container removed meanwhile must not fail the listing)."""
        flt = {"label": "harness.session"}
        cs = cli.api.containers(all=True, filters=flt)
        ns = cli.api.networks(filters=flt)
        pre = f"{proc.pid}-"
        return (
            [c for c in cs if (c.get("Labels") or {})["harness.session"].startswith(pre)],
            [n for n in ns if (n.get("Labels") or {})["harness.session"].startswith(pre)],
        )

    def running_nodes() -> list[Any]:
        return [
            c
            for c in mine()[0]
            if c["Labels"].get("harness.role") == "node" and c.get("State") == "running"
        ]

    try:
        deadline = time.monotonic() + 180
        while len(running_nodes()) < 2:
            assert proc.poll() is None, proc.communicate()[1].decode()[-2000:]
            assert time.monotonic() < deadline, "the two node containers never ran"
            time.sleep(0.3)
        time.sleep(3)  # torchrun's agents up and their workers started
        proc.send_signal(signal.SIGINT)
        rc = proc.wait(60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert rc == 130, rc
    kept, networks = mine()
    assert not kept and not networks


@pytest.mark.docker
def test_nodes_that_need_more_cores_than_the_host_has_are_refused_before_anything_runs(
    image: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two nodes of all the host's CPUs each (on 2 cores: `--cpu 2 --nnodes 2`): exit 2 with
    one line naming the options and what the host has; no container, network or profile."""
    import docker
    from typer.testing import CliRunner

    from harness.cli import app

    monkeypatch.setenv("HARNESS_CORES_DIR", str(tmp_path / "cores"))
    n = int(docker.from_env(timeout=30).info()["NCPU"])
    out = tmp_path / "p.json"
    argv = ["profile", str(ROOT / "jobs" / "tiny-train.yaml"), "--nnodes", "2"]
    argv += ["--backend", "docker", "--image", image, "--cpu", str(n), "--out", str(out)]
    r = CliRunner().invoke(app, argv)
    assert r.exit_code == 2, r.output
    (line,) = [ln for ln in r.output.splitlines() if ln.strip()]
    assert line.startswith(
        f"error: --nnodes 2 x --cpu {n}: 2 x {n} CPUs at once need {2 * n} cores of their own "
        f"on one host, but "
    ), line
    assert f"has {n} (0-{n - 1})" in line and "--allow-oversubscribe" in line
    assert not out.exists()
    cli = docker.from_env(timeout=30)
    left = [c.labels.get("harness.session", "") for c in containers()]
    left += [(x.attrs.get("Labels") or {}).get("harness.session", "") for x in cli.networks.list()]
    assert not [x for x in left if x.startswith(f"{os.getpid()}-")]


@pytest.mark.docker
def test_oversubscribed_nodes_run_and_the_profile_says_which_cores_they_shared(
    image: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same two nodes with --allow-oversubscribe: they run, and the profile records the
    cores both had, as each node read its own cpuset inside its container."""
    import docker
    from typer.testing import CliRunner

    from harness.cli import app
    from harness.profile import load_profile

    monkeypatch.setenv("HARNESS_CORES_DIR", str(tmp_path / "cores"))
    n = int(docker.from_env(timeout=30).info()["NCPU"])
    out = tmp_path / "p.json"
    argv = ["profile", str(ROOT / "jobs" / "tiny-train.yaml"), "--nnodes", "2"]
    argv += ["--backend", "docker", "--image", image, "--cpu", str(n), "--out", str(out)]
    argv += ["--max-iterations", "3", "--timeout", "300", "--master-port", "29514"]
    argv += ["--data-dir", str(tmp_path / "data"), "--allow-oversubscribe"]
    r = CliRunner().invoke(app, argv)
    assert r.exit_code == 0, r.output
    assert "oversubscribed: cores" in r.output
    prof = load_profile(out)
    assert prof.train is not None
    (probe,) = prof.train.probes
    assert [nd.cpuset for nd in probe.nodes] == [list(range(n))] * 2  # read inside each node
    both = [s for s in probe.shared_cores if {"node0", "node1"} <= set(s.by)]
    assert sorted(c for s in both for c in s.cores) == list(range(n))  # (others' probes too)


class _Engine:
    """A stand-in for a DockerBackend's core bookkeeping: its host's name and its cores."""

    def __init__(self, machine: str, ncpu: int, ledger: Path) -> None:
        from harness.cores import CoreLedger

        self.name, self.ncpu, self.ledger = machine, ncpu, CoreLedger(ledger)

    def machine(self) -> str:
        return self.name

    def engine_busy(self) -> dict[int, list[str]]:
        return {}

    def lease(self, wants: Any, what: str | None = None, extra_busy: Any = None) -> Any:
        return self.ledger.lease(
            wants, range(self.ncpu), what=what, host=self.name, extra_busy=extra_busy, wait_s=0
        )


def test_engines_of_one_host_under_different_urls_share_its_cores(tmp_path: Path) -> None:
    """--hosts naming one machine twice (two sockets, two URLs): its nodes are one host's."""
    from harness.cores import CoresRefused
    from harness.multinode import _lease_cores

    plans = plan_nodes(2, Caps(cpus=1), ["unix:///a.sock", "unix:///b.sock"])
    engines = {h: _Engine("vm", 2, tmp_path / "l") for h in ("unix:///a.sock", "unix:///b.sock")}
    with contextlib.ExitStack() as leases:
        grants = _lease_cores(plans, engines, leases, multi_host=True)
        assert list(grants) == ["vm"]
        assert sorted(p.cpuset[0] for p in plans if p.cpuset) == [0, 1]  # disjoint
    plans = plan_nodes(2, Caps(cpus=2), ["unix:///a.sock", "unix:///b.sock"])
    with contextlib.ExitStack() as leases, pytest.raises(CoresRefused) as exc:
        _lease_cores(plans, engines, leases, multi_host=True)
    assert str(exc.value).startswith("--hosts: 2 node(s) on vm: 2 x 2 CPUs at once need 4 cores")
    two = {"ssh://a": _Engine("a", 2, tmp_path / "a"), "ssh://b": _Engine("b", 2, tmp_path / "b")}
    plans = plan_nodes(2, Caps(cpus=2), ["ssh://a", "ssh://b"])
    with contextlib.ExitStack() as leases:  # two machines: two cores each, no sharing
        assert sorted(_lease_cores(plans, two, leases, multi_host=True)) == ["a", "b"]
        assert [p.cpuset for p in plans] == [[0, 1], [0, 1]]
