"""Cores for probes and nodes on one host: disjoint sets, a one-line refusal, or shared cores
written down; and the ledger that keeps them across processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.cores import (
    CoreLedger,
    CoresBusy,
    CoresRefused,
    Want,
    assign,
    core_text,
    overlaps,
    parse_cores,
)
from tests.factory.cores import other_probe_holding
from tests.factory.procs import zombie


def test_nodes_get_disjoint_cores_from_the_top_down() -> None:
    g = assign([Want("node0", 1.5), Want("node1", 1), Want("node2", 2)], range(6))
    assert g.cpusets == {"node0": [4, 5], "node1": [3], "node2": [1, 2]}
    assert g.shared == []


def test_busy_cores_are_avoided() -> None:
    g = assign([Want("p", 2)], range(4), {3: ["probe x (pid 1)"]})
    assert g.cpusets == {"p": [1, 2]} and g.shared == []


def test_two_nodes_of_two_cpus_on_two_cores_are_refused_in_one_line() -> None:
    with pytest.raises(CoresRefused) as exc:
        assign([Want("node0", 2), Want("node1", 2)], range(2), what="--nnodes 2 x --cpu 2")
    msg = str(exc.value)
    assert "\n" not in msg
    assert msg.startswith("--nnodes 2 x --cpu 2: 2 x 2 CPUs at once need 4 cores")
    assert "this host has 2 (0-1)" in msg and "--allow-oversubscribe" in msg


def test_refusal_names_who_holds_the_busy_cores() -> None:
    with pytest.raises(CoresRefused, match=r"1 of them \(1\) in use by probe a \(pid 7\)"):
        assign([Want("p", 2)], range(2), {1: ["probe a (pid 7)"]}, what="--cpu 2")


def test_oversubscription_allowed_shares_the_least_used_cores_and_says_so() -> None:
    g = assign([Want("node0", 2), Want("node1", 2)], range(2), allow_oversubscribe=True, host="h")
    assert g.cpusets == {"node0": [0, 1], "node1": [0, 1]}
    assert [(s.cores, s.by, s.host) for s in g.shared] == [([0, 1], ["node0", "node1"], "h")]
    g = assign([Want("a", 1), Want("b", 1), Want("c", 1)], range(2), allow_oversubscribe=True)
    assert g.cpusets == {"a": [1], "b": [0], "c": [1]}  # spread: the third doubles up once
    assert [(s.cores, s.by) for s in g.shared] == [([1], ["a", "c"])]


def test_one_want_above_the_host_is_refused_even_when_sharing_is_allowed() -> None:
    with pytest.raises(CoresRefused, match="has 2 cores"):
        assign([Want("node0", 3)], range(2), allow_oversubscribe=True)


def test_overlaps_groups_cores_by_their_holders() -> None:
    shared = overlaps({"n0": [0, 1, 2], "n1": [2, 3]}, {0: ["other"]})
    assert [(s.cores, s.by) for s in shared] == [([0], ["n0", "other"]), ([2], ["n0", "n1"])]
    assert overlaps({"n0": [0], "n1": [1]}) == []
    assert overlaps({"n0": [0]}, {1: ["a", "b"]}) == []  # others' sharing is not this probe's


def test_core_lists_read_and_written_as_the_kernel_does() -> None:
    assert parse_cores("0-3,6") == [0, 1, 2, 3, 6]
    assert parse_cores("5") == [5] and parse_cores("") == []
    assert core_text([6, 0, 1, 2, 3]) == "0-3,6"


def test_a_lease_holds_its_cores_until_released(tmp_path: Path) -> None:
    ledger = CoreLedger(tmp_path)
    with ledger.lease([Want("probe a", 1)], range(2)) as g:
        assert g.cpusets == {"probe a": [1]}
        assert ledger.busy() == {1: [f"probe a (pid {os.getpid()})"]}
        with ledger.lease([Want("probe b", 1)], range(2)) as g2:
            assert g2.cpusets == {"probe b": [0]}
        too_many = ledger.lease([Want("probe c", 2)], range(2), what="--cpu 2", wait_s=0)
        with pytest.raises(CoresRefused, match="--cpu 2: 2 CPUs need 2 cores"), too_many:
            pass
    assert ledger.busy() == {}
    assert not list(tmp_path.glob("*.json"))


def test_a_lease_of_a_process_that_is_gone_holds_nothing(tmp_path: Path) -> None:
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        text=True,
        capture_output=True,
        check=True,
    )
    lease = tmp_path / "gone.json"
    lease.write_text(json.dumps({"pid": int(dead.stdout), "cpusets": {"probe z": [0, 1]}}))
    assert CoreLedger(tmp_path).busy() == {}
    assert not lease.exists()


def test_a_lease_of_a_killed_process_not_yet_collected_holds_nothing(tmp_path: Path) -> None:
    """A zombie's PID still answers kill(0); its cores must not stay held until its parent
    waits (a parent that never does would hold them for good)."""
    with zombie() as (pid, _):
        lease = tmp_path / "zombie.json"
        lease.write_text(json.dumps({"pid": pid, "cpusets": {"probe z": [0, 1]}}))
        assert CoreLedger(tmp_path).busy() == {}
        assert not lease.exists()


def test_a_lease_whose_pid_now_names_a_later_process_holds_nothing(tmp_path: Path) -> None:
    """The PID answers (here: this very process), but not the process that made the lease:
    its start time differs, so the kernel gave that PID to another process since."""
    from harness import owner

    me = owner.me()
    reused = tmp_path / "reused.json"
    reused.write_text(json.dumps({"pid": me.pid, "start": me.start - 1, "cpusets": {"p": [0]}}))
    mine = tmp_path / "mine.json"
    mine.write_text(json.dumps({"pid": me.pid, "start": me.start, "cpusets": {"q": [1]}}))
    assert CoreLedger(tmp_path).busy() == {1: [f"q (pid {me.pid})"]}
    assert not reused.exists() and mine.exists()


def test_two_processes_lease_disjoint_cores(tmp_path: Path) -> None:
    """A second harness process on the host sees the first one's cores as busy."""
    with other_probe_holding(tmp_path, 1) as (pid, held):
        top = max(os.sched_getaffinity(0))
        assert held == [top]
        cores = sorted(os.sched_getaffinity(0))
        with CoreLedger(tmp_path).lease([Want("probe mine", 1)], cores) as g:
            assert g.cpusets["probe mine"] != held
        n = len(cores)
        big = CoreLedger(tmp_path).lease([Want("probe big", n)], cores, what=f"--cpu {n}", wait_s=0)
        with pytest.raises(CoresRefused, match=f"in use by probe other \\(pid {pid}\\)"), big:
            pass


def test_held_cores_are_waited_for_and_cores_the_host_lacks_are_not(tmp_path: Path) -> None:
    """Busy cores free up (another probe ends): the lease waits for them; a want the host can
    never hold is refused at once, however long it may wait."""
    ledger = CoreLedger(tmp_path)
    n = len(os.sched_getaffinity(0))
    cores = sorted(os.sched_getaffinity(0))
    t0 = time.monotonic()
    mine = ledger.lease([Want("probe mine", n)], cores, wait_s=60)
    with other_probe_holding(tmp_path, n, hold_s=1.5), mine as g:
        waited = time.monotonic() - t0
        assert sorted(g.cpusets["probe mine"]) == cores
    assert 1.0 < waited < 30
    t0 = time.monotonic()
    never = ledger.lease([Want("probe huge", n + 1)], cores, what="--cpu 99", wait_s=60)
    with pytest.raises(CoresRefused) as exc, never:
        pass
    assert not isinstance(exc.value, CoresBusy) and time.monotonic() - t0 < 5


def test_a_holder_named_with_its_process_is_not_named_twice(tmp_path: Path) -> None:
    name = f"probe x (pid {os.getpid()})"
    with CoreLedger(tmp_path).lease([Want(name, 1)], range(2)):
        assert CoreLedger(tmp_path).busy() == {1: [name]}
