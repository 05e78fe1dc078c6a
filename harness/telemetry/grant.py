"""What a probe was granted, read from inside it: its cpuset, memory limit, GPUs and node.

A cap that was asked for is not a cap until the kernel enforces it, so the workload reads its
own grant where it runs (every backend; it matters most under Slurm, where the cluster's
cgroup plugin, not the harness, writes the limits) and emits it as a `grant` record:

- cpus: the CPUs this process may run on (sched_getaffinity), and the cpuset cgroup's own
  `cpuset.effective_cpus` (v1: `cpuset.cpus` where effective is absent) with its path;
- memory: the tightest limit on the way from the probe's memory cgroup up to the mount (Slurm
  sets it on the job and step dirs, not on the task dir the process sits in; v1
  `memory.limit_in_bytes`, v2 `memory.max`), None when no ancestor limits it;
- gpus: CUDA_VISIBLE_DEVICES as the process sees it (Slurm sets it from --gres);
- node: the Slurm node name (SLURMD_NODENAME) where there is one, else the host name; the
  host name itself (several Slurm nodes may be one machine); the Slurm job id where there is
  one; the time it was read (unix seconds: when the probe started running).

Pure Python (no torch); `root` and the texts are parameters so that fake trees test it.
"""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path
from typing import Any

CGROUP_ROOT = Path("/sys/fs/cgroup")
UNLIMITED = 2**62  # v1 reports "no limit" as a page-rounded LONG_MAX


def parse_cpu_list(text: str) -> list[int]:
    """'0-2,5' -> [0, 1, 2, 5] (the kernel's list format)."""
    out: set[int] = set()
    for part in text.strip().split(","):
        part = part.strip()
        if not part:
            continue
        lo, _, hi = part.partition("-")
        out.update(range(int(lo), int(hi or lo) + 1))
    return sorted(out)


def _paths(proc_self_cgroup: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in proc_self_cgroup.splitlines():
        parts = line.split(":", 2)
        if len(parts) == 3:
            for c in parts[1].split(","):
                out[c] = parts[2].strip() or "/"
    return out


def _dir(mount: Path, path: str) -> Path:
    """The cgroup dir of `path` under `mount`; the mount itself where the path is not there
    (a container sees its own cgroup at the mount)."""
    d = mount / path.lstrip("/")
    return d if d.is_dir() else mount


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def memory_limit(root: Path, paths: dict[str, str]) -> tuple[int | None, str | None]:
    """(the tightest memory limit in bytes, the cgroup dir that sets it), or (None, dir)."""
    v2 = (root / "cgroup.controllers").is_file()
    mount = root if v2 else root / "memory"
    if not mount.is_dir():
        return None, None
    name = "memory.max" if v2 else "memory.limit_in_bytes"
    d = _dir(mount, paths.get("" if v2 else "memory", "/"))
    best: tuple[int | None, str | None] = (None, str(d))
    while True:
        text = _read(d / name)
        if text is not None and text != "max":
            try:
                val = int(text)
            except ValueError:
                val = UNLIMITED
            if val < UNLIMITED and (best[0] is None or val < best[0]):
                best = (val, str(d))
        if d == mount or mount not in d.parents:
            return best
        d = d.parent


def cpuset(root: Path, paths: dict[str, str]) -> tuple[list[int] | None, str | None]:
    """(the cpuset cgroup's CPUs, its dir), or (None, None) with no cpuset controller."""
    v2 = (root / "cgroup.controllers").is_file()
    mount = root if v2 else root / "cpuset"
    if not mount.is_dir():
        return None, None
    d = _dir(mount, paths.get("" if v2 else "cpuset", "/"))
    for name in ("cpuset.effective_cpus", "cpuset.cpus.effective", "cpuset.cpus"):
        text = _read(d / name)
        if text:
            return parse_cpu_list(text), str(d)
    return None, str(d)


def read_grant(
    root: Path = CGROUP_ROOT,
    proc_self_cgroup: str | None = None,
    env: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The `grant` record: what this process may use, as the kernel and Slurm set it."""
    env = dict(os.environ) if env is None else env
    if proc_self_cgroup is None:
        proc_self_cgroup = _read(Path("/proc/self/cgroup")) or ""
    paths = _paths(proc_self_cgroup)
    limit, mem_dir = memory_limit(root, paths)
    cset, cset_dir = cpuset(root, paths)
    return {
        "type": "grant",
        "node": env.get("SLURMD_NODENAME") or socket.gethostname(),
        "host": socket.gethostname(),
        "at": time.time(),
        "slurm_job": env.get("SLURM_JOB_ID"),
        "affinity": sorted(os.sched_getaffinity(0)),
        "cpuset": cset,
        "cpuset_cgroup": cset_dir,
        "memory_limit_bytes": limit,
        "memory_cgroup": mem_dir,
        "gpus": env.get("CUDA_VISIBLE_DEVICES"),
    }


def seen_cores(grant: dict[str, Any] | None) -> list[int]:
    """The CPUs a grant record says its probe could run on: its affinity (the one fact every
    backend reads the same way), else its cpuset cgroup's CPUs."""
    g = grant or {}
    return [int(c) for c in (g.get("affinity") or g.get("cpuset") or [])]


def shared_cores(grants: list[dict[str, Any] | None], names: list[str]) -> list[list[Any]]:
    """For grants held at the same time (`names[i]` is who held `grants[i]`): per grant, the
    cores it shared with the others on the same machine (`host`), as the profile's
    `shared_cores` records them (CoreShare: the cores, who held them, the host); empty when
    its cores were its own. Two Slurm nodes can be one machine (several slurmd on one host)
    and each hands out its cores from 0: two probes that ran side by side on 'different
    nodes' then shared cores, and the profile must say so as every backend does."""
    from harness.cores import overlaps

    out: list[list[Any]] = []
    for i, g in enumerate(grants):
        host = (g or {}).get("host")
        if g is None or host is None:
            out.append([])
            continue
        busy: dict[int, list[str]] = {}  # keyed by index: two holders may share a name
        for j, o in enumerate(grants):
            if j != i and o is not None and o.get("host") == host:
                for c in seen_cores(o):
                    busy.setdefault(c, []).append(str(j))
        shares = overlaps({str(i): seen_cores(g)}, busy, host=str(host))
        for s in shares:
            s.by = sorted(names[int(k)] for k in s.by)
        out.append(shares)
    return out
