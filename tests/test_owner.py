"""Owners: a label names its process exactly, and only an ended process of this host counts
as gone (a reused PID, another host, boot or namespace never does)."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace

from harness import owner
from tests.factory.procs import zombie


def _ended_process() -> owner.Owner:
    """A real process of this host that has run and ended, as an owner."""
    out = subprocess.run(
        [sys.executable, "-c", "from harness import owner; print(owner.me().label())"],
        capture_output=True,
        text=True,
        check=True,
    )
    o = owner.Owner.parse(out.stdout.strip())
    assert o is not None
    return o


def test_a_label_round_trips_and_foreign_labels_name_no_owner() -> None:
    me = owner.me()
    assert owner.Owner.parse(me.label()) == me
    assert me.start > 0 and me.pid > 0
    for text in (None, "", "12345-abcd", "a/b/c/x/1", "a/b/c/1"):
        assert owner.Owner.parse(text) is None


def test_this_process_is_not_gone_and_an_ended_one_is() -> None:
    assert owner.gone(owner.me()) is False
    assert owner.gone(_ended_process()) is True


def test_a_killed_process_its_parent_has_not_collected_is_gone() -> None:
    """A zombie keeps its PID and /proc entry but runs no clean-up: what it made is orphaned."""
    with zombie() as (pid, start):
        assert owner.start_time(pid) is None
        assert owner.gone(replace(owner.me(), pid=pid, start=start)) is True
    assert not owner.zombie(os.getpid())


def test_a_reused_pid_counts_as_gone_and_other_hosts_or_namespaces_are_not_judged() -> None:
    me = owner.me()
    assert owner.gone(replace(me, start=me.start + 1)) is True  # the PID now names another
    assert owner.gone(replace(me, host=me.host + "-other")) is None
    assert owner.gone(replace(me, pidns=me.pidns + "0")) is None
    assert owner.gone(replace(me, boot="unknown")) is None
    assert owner.gone(replace(me, boot=me.boot + "-old")) is True  # this host restarted since


def test_a_forked_child_is_its_own_owner() -> None:
    import os

    parent = owner.me()
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its label must name its own PID and start time
        os.write(w, owner.me().label().encode())
        os._exit(0)
    os.close(w)
    os.waitpid(pid, 0)
    child = owner.Owner.parse(os.read(r, 4096).decode())
    os.close(r)
    assert child is not None and child.pid == pid != parent.pid
    assert owner.gone(child) is True and owner.gone(parent) is False
