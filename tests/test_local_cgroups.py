"""The local backend's cgroup v1 and v2 handling against FAKE cgroup trees in tmp_path.

This host is cgroup v1, so a v2 host is what it lacks: these fakes stand in for one (and for a
v1 tree, to check both the same way). A fake tree is plain files: writing a pid to its
cgroup.procs confines nothing, so no process is run in one. What is checked is the pure part:
which files get which values for given caps, what the Enforcement record says, how CPU time and
OOM kills are read back from what the kernel would write, and that cleanup removes the dirs.
The real confinement is exercised on this host by tests/test_local_backend.py.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from harness.backends import local
from harness.backends.local import (
    CgroupHost,
    LocalBackend,
    classify,
    host_cpu_list,
    own_cgroup_v2,
    sweep_stale_cgroups,
    v2_parents,
)
from harness.profile import Caps, Outcome

GIB_QUARTER = str(2**30 // 4)


@pytest.fixture(autouse=True)
def fake_tree_rmdir(monkeypatch: pytest.MonkeyPatch) -> None:
    """cgroupfs drops a cgroup's interface files with its dir; in a FAKE tree they are plain
    files, so removing a fake cgroup removes them too (what rmdir does on the real thing)."""
    monkeypatch.setattr(local, "_rmdir", lambda d: shutil.rmtree(d, ignore_errors=True))


TOP = [host_cpu_list()[-1]]  # the core a 1-CPU probe is given first: the host's last


def _fake_cgroup(d: Path, controllers: str = "", subtree: str = "") -> Path:
    """A fake v2 cgroup dir: the interface files the kernel would show in one."""
    d.mkdir(parents=True, exist_ok=True)
    (d / "cgroup.procs").write_text("")
    (d / "cgroup.controllers").write_text(controllers + "\n")
    (d / "cgroup.subtree_control").write_text(subtree + "\n")
    return d


def _fake_cgroup2_tree(root: Path, slice_controllers: str, slice_subtree: str) -> Path:
    """A fake v2 host: the root, and user.slice (delegated) holding the harness's own scope."""
    _fake_cgroup(root, "cpuset cpu io memory hugetlb pids", "cpuset cpu io memory pids")
    base = _fake_cgroup(root / "user.slice", slice_controllers, slice_subtree)
    _fake_cgroup(base / "harness.scope")
    return base


def _fake_cgroup1_tree(root: Path) -> None:
    for c in ("cpu", "cpuset", "memory", "cpuacct"):
        (root / c).mkdir(parents=True)
        (root / c / "cgroup.procs").write_text("")
    (root / "cpuset" / "cpuset.mems").write_text("0\n")
    (root / "unified").mkdir()  # hybrid hosts mount an empty cgroup2 here: still v1


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", ""])
    p.wait()
    return p.pid


def test_fake_cgroup2_tree_gets_cpu_max_memory_max_and_swap_off(tmp_path: Path) -> None:
    base = _fake_cgroup2_tree(tmp_path, "cpuset cpu memory pids", "cpuset cpu memory")
    backend = LocalBackend(cgroup_root=tmp_path, own_cgroup="/user.slice/harness.scope")
    assert backend.host.version == 2 and backend.host.base == base
    assert backend.cg_cpu and backend.cg_cpuset and backend.cg_mem and backend.cg_cpuacct
    assert "cgroup v2 under" in backend.describe()

    cg = backend.new_cgroups()
    env, enf = backend._confine(Caps(cpus=0.5, memory_gb=0.25), cg, TOP)
    d = base / cg.name
    top = str(host_cpu_list()[-1])
    assert (d / "cpu.max").read_text() == "50000 100000"
    assert (d / "cpuset.cpus").read_text() == top
    assert not (d / "cpuset.mems").exists()  # v2 inherits the parent's memory nodes
    assert (d / "memory.max").read_text() == GIB_QUARTER
    assert (d / "memory.swap.max").read_text() == "0"
    assert env["HARNESS_CGROUP_PROCS"] == str(d / "cgroup.procs")  # one dir, one join
    assert env["HARNESS_AFFINITY"] == top
    assert enf.cpu == f"cgroup v2 cpuset({top})+cpu.max(50000 100000)"
    assert enf.cpu_quota == 0.5 and enf.cpuset == [int(top)]
    assert enf.memory_enforced and (enf.memory or "").startswith("cgroup v2 memory.max 0.25 GiB")
    assert "swap off" in (enf.memory or "")
    assert not (tmp_path / "cpu").exists() and not (tmp_path / "memory").exists()  # no v1 dirs
    cg.remove()
    assert not d.exists()


def test_fake_cgroup2_reads_cpu_time_and_oom_kills_back(tmp_path: Path) -> None:
    base = _fake_cgroup2_tree(tmp_path, "cpuset cpu memory", "cpuset cpu memory")
    backend = LocalBackend(cgroup_root=tmp_path, own_cgroup="/user.slice/harness.scope")
    cg = backend.new_cgroups()
    backend._confine(Caps(cpus=1, memory_gb=0.25), cg, TOP)
    d = base / cg.name
    assert cg.cpu_time() is None and cg.oom_kills() == 0  # nothing written by the kernel yet
    # What the kernel writes for a probe that ran 2.5 s of CPU and had one process OOM-killed:
    (d / "cpu.stat").write_text(
        "usage_usec 2500000\nuser_usec 2000000\nsystem_usec 500000\nnr_periods 40\n"
    )
    (d / "memory.events").write_text("low 0\nhigh 0\nmax 12\noom 2\noom_kill 1\noom_group_kill 0\n")
    (d / "cgroup.kill").write_text("0")  # Linux 5.14+
    assert cg.cpu_time() == 2.5
    ooms = cg.oom_kills()
    assert ooms == 1
    assert classify(-9, ooms, [])[0] == Outcome.oom
    cg.remove()
    assert not d.exists() and not cg.dirs
    assert base.exists()


def test_fake_cgroup2_enables_offered_controllers_and_falls_back_to_affinity(
    tmp_path: Path,
) -> None:
    """A delegated slice offering cpu and memory but not cpuset (systemd's default): the two
    are enabled in its subtree_control, the cores are pinned by affinity instead."""
    base = _fake_cgroup2_tree(tmp_path, "cpu memory pids", "")
    backend = LocalBackend(cgroup_root=tmp_path, own_cgroup="/user.slice/harness.scope")
    assert (backend.host.cpu, backend.host.memory, backend.host.cpuset) == (True, True, False)
    assert (base / "cgroup.subtree_control").read_text().startswith("+")  # was written
    cg = backend.new_cgroups()
    _, enf = backend._confine(Caps(cpus=1), cg, TOP)
    top = str(host_cpu_list()[-1])
    assert enf.cpu == f"cgroup v2 affinity({top})+cpu.max(100000 100000)"
    assert not (base / cg.name / "cpuset.cpus").exists()
    assert enf.memory is None  # no memory cap asked for
    cg.remove()


def test_fake_cgroup2_without_memory_controller_records_memory_not_enforced(
    tmp_path: Path,
) -> None:
    base = _fake_cgroup2_tree(tmp_path, "cpu pids", "cpu")
    backend = LocalBackend(cgroup_root=tmp_path, own_cgroup="/user.slice/harness.scope")
    assert not backend.cg_mem
    cg = backend.new_cgroups()
    _, enf = backend._confine(Caps(cpus=1, memory_gb=0.25), cg, TOP)
    assert not enf.memory_enforced
    assert enf.memory == f"not enforced: memory controller not delegated to {base}"
    assert not (base / cg.name / "memory.max").exists()
    assert (base / cg.name).is_dir()  # still made: its cpu.stat counts the CPU time
    cg.remove()


def test_fake_cgroup2_parent_is_beside_own_cgroup_else_root(tmp_path: Path) -> None:
    assert own_cgroup_v2("12:memory:/x\n0::/user.slice/s.scope\n") == "/user.slice/s.scope"
    assert own_cgroup_v2("4:memory:/x\n") == "/"
    assert own_cgroup_v2("0::/\n") == "/"
    assert v2_parents(tmp_path, "/") == [tmp_path]
    assert v2_parents(tmp_path, "/a") == [tmp_path]
    assert v2_parents(tmp_path, "/a/b") == [tmp_path / "a", tmp_path]
    _fake_cgroup2_tree(tmp_path, "cpu memory", "cpu memory")
    # The own cgroup's parent is not a cgroup (no cgroup.procs): the root is used.
    host = CgroupHost.detect(tmp_path, own="/system.slice/harness.service")
    assert host.version == 2 and host.base == tmp_path
    assert (host.cpu, host.cpuset, host.memory) == (True, True, True)


def test_fake_cgroup1_tree_gets_cfs_quota_memory_limit_and_cpuacct(tmp_path: Path) -> None:
    _fake_cgroup1_tree(tmp_path)
    backend = LocalBackend(cgroup_root=tmp_path)
    assert backend.host.version == 1
    assert backend.cg_cpu and backend.cg_cpuset and backend.cg_mem and backend.cg_cpuacct
    cg = backend.new_cgroups()
    env, enf = backend._confine(Caps(cpus=0.5, memory_gb=0.25), cg, TOP)
    top = str(host_cpu_list()[-1])
    dirs = {c: tmp_path / c / cg.name for c in ("cpu", "cpuset", "memory", "cpuacct")}
    assert (dirs["cpu"] / "cpu.cfs_period_us").read_text() == "100000"
    assert (dirs["cpu"] / "cpu.cfs_quota_us").read_text() == "50000"
    assert (dirs["cpuset"] / "cpuset.mems").read_text() == "0\n"  # copied from the parent
    assert (dirs["cpuset"] / "cpuset.cpus").read_text() == top
    assert (dirs["memory"] / "memory.limit_in_bytes").read_text() == GIB_QUARTER
    assert sorted(env["HARNESS_CGROUP_PROCS"].split(os.pathsep)) == sorted(
        str(d / "cgroup.procs") for d in dirs.values()
    )
    assert enf.cpu == f"cgroup v1 cpuset({top})+cfs_quota(50000/100000)"
    assert enf.memory_enforced and (enf.memory or "").startswith("cgroup v1 memory limit 0.25 GiB")
    assert not (tmp_path / cg.name).exists()  # nothing in v2 style
    # What the kernel writes: 1.5 s of CPU, three OOM kills.
    (dirs["cpuacct"] / "cpuacct.usage").write_text("1500000000\n")
    (dirs["memory"] / "memory.oom_control").write_text(
        "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n"
    )
    assert cg.cpu_time() == 1.5
    assert cg.oom_kills() == 3
    cg.remove()
    assert not any(d.exists() for d in dirs.values())


def test_fake_trees_without_cgroups_pin_by_affinity_only(tmp_path: Path) -> None:
    _fake_cgroup1_tree(tmp_path)
    backend = LocalBackend(use_cgroups=False, cgroup_root=tmp_path)
    cg = backend.new_cgroups()
    env, enf = backend._confine(Caps(cpus=1, memory_gb=0.25), cg, TOP)
    assert env["HARNESS_CGROUP_PROCS"] == "" and not cg.dirs
    assert enf.cpu == f"affinity({host_cpu_list()[-1]})" and enf.cpu_quota is None
    assert not enf.memory_enforced and "not enforced" in (enf.memory or "")


def test_fake_trees_sweep_only_stale_cgroups(tmp_path: Path) -> None:
    dead, alive = _dead_pid(), os.getppid()
    v2 = tmp_path / "v2"
    base = _fake_cgroup2_tree(v2, "cpu memory", "cpu memory")
    stale = base / f"harness-{dead}-aa"
    stale.mkdir()
    (stale / "cpu.max").write_text("50000 100000")
    live = base / f"harness-{alive}-bb"
    live.mkdir()
    (base / "harness-notapid").mkdir()
    assert len(sweep_stale_cgroups(v2, own="/user.slice/harness.scope")) == 1
    assert not stale.exists() and live.exists() and (base / "harness-notapid").exists()
    assert (base / "harness.scope").exists()

    v1 = tmp_path / "v1"
    _fake_cgroup1_tree(v1)
    for c in ("cpu", "memory"):
        (v1 / c / f"harness-{dead}-cc").mkdir()
    (v1 / "cpuset" / f"harness-{alive}-dd").mkdir()
    assert len(sweep_stale_cgroups(v1)) == 2
    assert not (v1 / "cpu" / f"harness-{dead}-cc").exists()
    assert not (v1 / "memory" / f"harness-{dead}-cc").exists()
    assert (v1 / "cpuset" / f"harness-{alive}-dd").exists()
