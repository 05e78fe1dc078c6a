"""Memory-cgroup counters on fake v1 and v2 trees: which cgroup is read, and window deltas."""

from __future__ import annotations

from pathlib import Path

from harness.profile import MemoryCounters
from harness.telemetry import memcg


def _v1_tree(root: Path, probe: str = "harness-1-ab", faults: int = 10) -> Path:
    """A v1 root with the host's memory cgroup, a probe's, and cpu/cpuacct beside them."""
    mem = root / "memory"
    for d in (mem, mem / probe):
        d.mkdir(parents=True, exist_ok=True)
        (d / "memory.stat").write_text(
            f"cache 4096\nrss 8192\npgmajfault {faults}\npgfault {faults * 100}\n"
            f"pgpgin 50\npgpgout 20\nworkingset_refault_file 3\n"
            f"total_cache 2000000\ntotal_pgmajfault {faults}\ntotal_pgfault {faults * 100}\n"
        )
        (d / "memory.failcnt").write_text("7\n")
        (d / "memory.usage_in_bytes").write_text("300000000\n")
        (d / "memory.limit_in_bytes").write_text("1073741824\n")
    (mem / "memory.limit_in_bytes").write_text("9223372036854771712\n")
    for c in ("cpu", "cpuacct"):
        (root / c / probe).mkdir(parents=True, exist_ok=True)
    (root / "cpuacct" / probe / "cpuacct.stat").write_text("user 150\nsystem 25\n")
    (root / "cpu" / probe / "cpu.stat").write_text(
        "nr_periods 10\nnr_throttled 4\nthrottled_time 2000000\n"
    )
    return mem / probe


def test_v1_the_probe_reads_the_cgroup_it_joined(tmp_path: Path) -> None:
    d = _v1_tree(tmp_path)
    joined = ":".join(
        f"{tmp_path}/{c}/harness-1-ab/cgroup.procs" for c in ("cpuset", "memory", "cpu", "cpuacct")
    )
    w = memcg.locate(tmp_path, "4:memory:/harness-1-ab\n", joined=joined, in_container=False)
    assert w is not None and (w.version, w.memory, w.own) == (1, d, True)
    snap = memcg.snapshot(w)
    assert snap is not None
    c, lv = snap["counters"], snap["levels"]
    assert c["pgmajfault"] == 10 and c["failcnt"] == 7 and c["pgscan"] is None  # v1: absent
    assert c["cpu_user_us"] == 150 * 1_000_000 // memcg.USER_HZ and c["throttled_us"] == 2000
    assert lv["cache_bytes"] == 2_000_000  # the hierarchical figure wins
    assert lv["limit_bytes"] == 1 << 30


def test_v1_a_container_reads_its_own_cgroup_at_the_mount(tmp_path: Path) -> None:
    _v1_tree(tmp_path)
    # /proc/self/cgroup names the host-side path, which does not exist inside the container
    w = memcg.locate(tmp_path, "4:memory:/docker/0123abc\n", joined="", in_container=True)
    assert w is not None and w.memory == tmp_path / "memory" and w.own
    snap = memcg.snapshot(w)
    assert snap is not None and snap["levels"]["limit_bytes"] is None  # "no limit", not 2^63


def test_v1_a_process_in_a_shared_cgroup_says_it_is_not_its_own(tmp_path: Path) -> None:
    _v1_tree(tmp_path, probe="session")
    w = memcg.locate(tmp_path, "4:memory:/session\n", joined="", in_container=False)
    assert w is not None and w.memory == tmp_path / "memory" / "session" and not w.own


def test_no_memory_cgroup_mounted_reads_nothing(tmp_path: Path) -> None:
    assert memcg.locate(tmp_path, "", joined="", in_container=False) is None


def test_v2_counters_events_and_pressure(tmp_path: Path) -> None:
    (tmp_path / "cgroup.controllers").write_text("cpu memory\n")
    d = tmp_path / "harness-2-cd"
    d.mkdir()
    (d / "memory.stat").write_text(
        "anon 1000\nfile 5000000\npgscan 40\npgsteal 30\npgmajfault 2\npgfault 90\n"
        "workingset_refault_file 6\n"
    )
    (d / "memory.events").write_text("low 0\nhigh 0\nmax 5\noom 0\noom_kill 0\n")
    (d / "memory.pressure").write_text(
        "some avg10=0.00 avg60=0.00 avg300=0.00 total=1500\n"
        "full avg10=0.00 avg60=0.00 avg300=0.00 total=700\n"
    )
    (d / "memory.current").write_text("6000000\n")
    (d / "memory.max").write_text("max\n")
    (d / "cpu.stat").write_text("usage_usec 9\nuser_usec 6\nsystem_usec 3\nnr_throttled 1\n")
    w = memcg.locate(tmp_path, "0::/x\n", joined=str(d / "cgroup.procs"), in_container=False)
    assert w is not None and (w.version, w.memory, w.own) == (2, d, True)
    start = memcg.snapshot(w)
    assert start is not None
    (d / "memory.stat").write_text(
        "anon 1000\nfile 9000000\npgscan 140\npgsteal 100\npgmajfault 12\npgfault 190\n"
        "workingset_refault_file 26\n"
    )
    (d / "memory.events").write_text("low 0\nhigh 0\nmax 9\noom 0\noom_kill 0\n")
    end = memcg.snapshot(w)
    assert end is not None
    rec = memcg.window(start, end, 2.5)
    delta = rec["deltas"]
    assert (delta["pgscan"], delta["pgsteal"], delta["pgmajfault"]) == (100, 70, 10)
    assert delta["workingset_refault_file"] == 20 and delta["events_max"] == 4
    assert delta["pressure_some_us"] == 0 and "failcnt" not in delta  # v1 only
    m = MemoryCounters.of(rec)
    assert m.cgroup_version == "v2" and m.window_s == 2.5
    assert (m.cache_mb_start, m.cache_mb_end, m.limit_mb) == (5.0, 9.0, None)
    assert m.pgsteal == 70 and m.failcnt is None


def test_window_deltas_are_end_minus_start_and_none_where_a_side_lacks_one(tmp_path: Path) -> None:
    d = _v1_tree(tmp_path, faults=10)
    joined = f"{d}/cgroup.procs:{tmp_path}/cpuacct/harness-1-ab/cgroup.procs"
    w = memcg.locate(tmp_path, "", joined=joined, in_container=False)
    start = memcg.snapshot(w)
    _v1_tree(tmp_path, faults=25)
    (tmp_path / "cpuacct" / "harness-1-ab" / "cpuacct.stat").unlink()
    end = memcg.snapshot(w)
    assert start is not None and end is not None
    rec = memcg.window(start, end, 1.0)
    assert rec["deltas"]["pgmajfault"] == 15 and rec["deltas"]["pgfault"] == 1500
    assert rec["deltas"]["cpu_user_us"] is None  # unreadable at the end: unknown, not 0
    m = MemoryCounters.of(rec)
    assert m.pgmajfault == 15 and m.cpu_user_s is None and m.own
