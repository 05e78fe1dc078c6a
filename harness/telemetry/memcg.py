"""The memory cgroup's own counters over a window: why a point of the memory axis is where it is.

Pure Python, read from inside the probe (the workload calls `snapshot()` at the start and the
end of its measured window and emits `window(start, end)` as a record), so one code path
serves every backend: in a container the cgroup mount is the container's own cgroup; on the
local backend the probe's cgroup is the one the child joined (HARNESS_CGROUP_PROCS names it).
A probe in no cgroup of its own reads the one it shares and says so (`own: false`).

What is read, by cgroup version (absent counters stay None, never 0):

- v1 `memory.stat`: the hierarchical `total_*` figures where present, else the cgroup's own:
  pgmajfault, pgfault, pgpgin/pgpgout (pages charged to / uncharged from the cgroup: churn),
  workingset_refault_file/anon (pages read back soon after reclaim evicted them), pgscan* and
  pgsteal* where the kernel reports them (v1 usually does not), cache (page cache held),
  rss; `memory.failcnt` (times a charge hit the limit; seen staying 0 on this host's 6.18
  kernel even with usage at the limit and pages reclaimed, where pgpgout and the refaults
  moved); `memory.usage_in_bytes`, `memory.limit_in_bytes`; `cpuacct.stat` user/system and
  `cpu.stat` nr_throttled / throttled_time (CFS quota).
- v2 `memory.stat` (file, anon, pgscan, pgsteal, pgmajfault, pgfault, workingset_refault_*),
  `memory.events` (high, max, oom_kill), `memory.pressure` (some/full stall totals),
  `memory.current`, `memory.max`; `cpu.stat` user_usec/system_usec, nr_throttled,
  throttled_usec.

Counters are given as deltas over the window; levels (page cache, usage) at its start and end.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CGROUP_ROOT = Path("/sys/fs/cgroup")
USER_HZ = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100

# memory.stat counters that only grow (their window delta is what is reported)
_V1_COUNTERS = (
    "pgmajfault",
    "pgfault",
    "pgpgin",
    "pgpgout",
    "workingset_refault_file",
    "workingset_refault_anon",
)
_V2_COUNTERS = (
    "pgmajfault",
    "pgfault",
    "pgscan",
    "pgsteal",
    "workingset_refault_file",
    "workingset_refault_anon",
)


@dataclass(frozen=True)
class Where:
    """The memory (and cpu) cgroup dirs a probe reads, its version, and whether it is the
    probe's own cgroup or one shared with other processes."""

    version: int
    memory: Path
    cpu: Path | None
    cpuacct: Path | None
    own: bool


def locate(
    root: Path = CGROUP_ROOT,
    proc_self_cgroup: str | None = None,
    joined: str | None = None,
    in_container: bool | None = None,
) -> Where | None:
    """Where this process's cgroup counters are; None where no memory cgroup is mounted.

    `joined` is HARNESS_CGROUP_PROCS (the cgroup.procs files the local backend made the child
    join); `in_container` defaults to whether /.dockerenv exists.
    """
    if proc_self_cgroup is None:
        try:
            proc_self_cgroup = Path("/proc/self/cgroup").read_text()
        except OSError:
            proc_self_cgroup = ""
    joined = os.environ.get("HARNESS_CGROUP_PROCS", "") if joined is None else joined
    if in_container is None:
        in_container = Path("/.dockerenv").exists()
    dirs = [Path(p).parent for p in joined.split(os.pathsep) if p]
    paths = _self_paths(proc_self_cgroup)
    if (root / "cgroup.controllers").is_file():  # v2: one unified tree
        mine = next((d for d in dirs if (d / "memory.stat").is_file()), None)
        if mine is not None:
            return Where(2, mine, mine, None, True)
        d, own = _resolve(root, paths.get("", "/"), in_container)
        return Where(2, d, d, None, own) if (d / "memory.stat").is_file() else None
    mem_root = root / "memory"
    if not (mem_root / "memory.stat").is_file():
        return None
    mine = next((d for d in dirs if d.parent == mem_root and (d / "memory.stat").is_file()), None)
    if mine is not None:
        mem, own = mine, True
    else:
        mem, own = _resolve(mem_root, paths.get("memory", "/"), in_container)
    cpu = _v1_dir(root, ("cpu", "cpu,cpuacct"), paths, "cpu", dirs)
    acct = _v1_dir(root, ("cpuacct", "cpu,cpuacct"), paths, "cpuacct", dirs)
    return Where(1, mem, cpu, acct, own)


def _self_paths(text: str) -> dict[str, str]:
    """controller -> cgroup path from /proc/self/cgroup ('' for the v2 line)."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        for c in parts[1].split(","):
            out[c] = parts[2].strip() or "/"
    return out


def _resolve(mount: Path, path: str, in_container: bool) -> tuple[Path, bool]:
    """The cgroup dir for `path` under `mount`. A container sees its own cgroup at the mount
    itself (the host-side path in /proc/self/cgroup does not exist inside it)."""
    d = mount / path.lstrip("/")
    if path not in ("", "/") and d.is_dir():
        return d, in_container
    return mount, in_container


def _v1_dir(
    root: Path, names: tuple[str, ...], paths: dict[str, str], ctrl: str, joined: list[Path]
) -> Path | None:
    for name in names:
        mount = root / name
        if not mount.is_dir():
            continue
        mine = next((d for d in joined if d.parent == mount), None)
        if mine is not None:
            return mine
        return _resolve(mount, paths.get(ctrl, "/"), True)[0]
    return None


# ---------------------------------------------------------------- reading


def _flat(path: Path) -> dict[str, int]:
    """'key value' lines; missing file or odd lines give what could be read."""
    out: dict[str, int] = {}
    try:
        text = path.read_text()
    except OSError:
        return out
    for line in text.splitlines():
        k, _, v = line.partition(" ")
        try:
            out[k] = int(v.split()[0])
        except (ValueError, IndexError):
            continue
    return out


def _int(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    if text == "max":
        return None
    try:
        return int(text)
    except ValueError:
        return None


def _pressure(path: Path) -> dict[str, int]:
    """memory.pressure: {'some': total_us, 'full': total_us}."""
    out: dict[str, int] = {}
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return out
    for line in lines:
        kind, *fields = line.split()
        for f in fields:
            if f.startswith("total="):
                out[kind] = int(f[6:])
    return out


def snapshot(where: Where | None = None) -> dict[str, Any] | None:
    """Every counter and level, now; None where no memory cgroup can be read."""
    where = where if where is not None else locate()
    if where is None:
        return None
    return _snap_v2(where) if where.version == 2 else _snap_v1(where)


def _snap_v1(w: Where) -> dict[str, Any] | None:
    stat = _flat(w.memory / "memory.stat")
    if not stat:
        return None

    def get(key: str) -> int | None:
        return stat.get(f"total_{key}", stat.get(key))

    c: dict[str, int | None] = {k: get(k) for k in _V1_COUNTERS}
    scans = [v for k, v in stat.items() if k.startswith("pgscan") and not k.startswith("total_")]
    steals = [v for k, v in stat.items() if k.startswith("pgsteal") and not k.startswith("total_")]
    c["pgscan"] = sum(scans) if scans else None
    c["pgsteal"] = sum(steals) if steals else None
    c["failcnt"] = _int(w.memory / "memory.failcnt")
    if w.cpuacct is not None:
        acct = _flat(w.cpuacct / "cpuacct.stat")
        c["cpu_user_us"] = acct["user"] * 1_000_000 // USER_HZ if "user" in acct else None
        c["cpu_system_us"] = acct["system"] * 1_000_000 // USER_HZ if "system" in acct else None
    if w.cpu is not None:
        cs = _flat(w.cpu / "cpu.stat")
        c["nr_throttled"] = cs.get("nr_throttled")
        c["throttled_us"] = cs["throttled_time"] // 1000 if "throttled_time" in cs else None
    levels = {
        "cache_bytes": get("cache"),
        "rss_bytes": get("rss"),
        "usage_bytes": _int(w.memory / "memory.usage_in_bytes"),
        "limit_bytes": _limit(_int(w.memory / "memory.limit_in_bytes")),
    }
    return {"version": 1, "cgroup": str(w.memory), "own": w.own, "counters": c, "levels": levels}


def _snap_v2(w: Where) -> dict[str, Any] | None:
    stat = _flat(w.memory / "memory.stat")
    if not stat:
        return None
    c: dict[str, int | None] = {k: stat.get(k) for k in _V2_COUNTERS}
    events = _flat(w.memory / "memory.events")
    c["events_high"] = events.get("high")
    c["events_max"] = events.get("max")
    c["oom_kill"] = events.get("oom_kill")
    psi = _pressure(w.memory / "memory.pressure")
    c["pressure_some_us"] = psi.get("some")
    c["pressure_full_us"] = psi.get("full")
    cs = _flat(w.memory / "cpu.stat")
    c["cpu_user_us"] = cs.get("user_usec")
    c["cpu_system_us"] = cs.get("system_usec")
    c["nr_throttled"] = cs.get("nr_throttled")
    c["throttled_us"] = cs.get("throttled_usec")
    levels = {
        "cache_bytes": stat.get("file"),
        "rss_bytes": stat.get("anon"),
        "usage_bytes": _int(w.memory / "memory.current"),
        "limit_bytes": _int(w.memory / "memory.max"),
    }
    return {"version": 2, "cgroup": str(w.memory), "own": w.own, "counters": c, "levels": levels}


def _limit(v: int | None) -> int | None:
    """v1 reports 'no limit' as a huge page-rounded number: None for anything above 2^60."""
    return None if v is None or v >= 1 << 60 else v


def window(start: dict[str, Any], end: dict[str, Any], seconds: float) -> dict[str, Any]:
    """The record of a measured window: each counter's delta (None where either end lacks it),
    the levels at both ends."""
    deltas: dict[str, int | None] = {}
    for k, b in end["counters"].items():
        a = start["counters"].get(k)
        deltas[k] = b - a if a is not None and b is not None else None
    return {
        "type": "memcg",
        "cgroup_version": f"v{end['version']}",
        "cgroup": end["cgroup"],
        "own": end["own"],
        "window_s": seconds,
        "deltas": deltas,
        "start": start["levels"],
        "end": end["levels"],
    }
