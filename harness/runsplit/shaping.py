"""Shape the split link with tc, on the host side of each container's veth.

Traffic from the edge to the server leaves the host through the server's veth, and the reply
through the edge's, so a `tbf` on each host-side veth shapes each direction at its own rate
without any privilege inside the containers (the job image has no iproute2 anyway). The
host-side veth is found from the container's eth0 `iflink`, which the worker reports.

The link's one-way latency is applied by the sender (see bucket.py): netem is not built into
every kernel (this one has only tbf/htb), and a per-message delay is also exactly what the
solver's transfer model charges. When tc cannot be used at all (not root, no tc, a remote
engine), the caller falls back to the application-level token bucket and says so.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path

SYS_NET = Path("/sys/class/net")
MTU_BYTES = 1514

Runner = Callable[[Sequence[str]], tuple[int, str]]


def _run(cmd: Sequence[str]) -> tuple[int, str]:
    try:
        p = subprocess.run(list(cmd), capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return 127, str(exc)
    return p.returncode, (p.stderr or p.stdout).strip()


def host_veth(iflink: int | None, sys_net: Path = SYS_NET) -> str | None:
    """The host interface whose index is the container's eth0 iflink (None if not here)."""
    if iflink is None or not sys_net.is_dir():
        return None
    for dev in sorted(sys_net.iterdir()):
        try:
            if int((dev / "ifindex").read_text()) == iflink:
                return dev.name
        except (OSError, ValueError):
            continue
    return None


def tbf_params(rate_mbps: float) -> tuple[int, int]:
    """(burst, limit) in bytes for a tbf at this rate.

    burst: a few packets, or 1 ms of the rate when that is more (a slower timer must still
    reach the rate); small, so a message pays bytes / rate almost from its first byte. limit:
    2 s of traffic and at least 8 MiB, so a whole activation queues instead of being dropped
    (drops would make TCP back off and the link slower than its rate).
    """
    rate_bytes = rate_mbps * 1e6 / 8.0
    burst = int(max(4 * MTU_BYTES, rate_bytes * 1e-3))
    limit = int(max(8 << 20, rate_bytes * 2.0))
    return burst, limit


def tbf_command(dev: str, rate_mbps: float) -> list[str]:
    burst, limit = tbf_params(rate_mbps)
    rate_kbit = max(1, int(round(rate_mbps * 1000)))
    return [
        "tc",
        "qdisc",
        "replace",
        "dev",
        dev,
        "root",
        "tbf",
        "rate",
        f"{rate_kbit}kbit",
        "burst",
        str(burst),
        "limit",
        str(limit),
    ]


class TcShaper:
    """Applies and removes tbf qdiscs on host interfaces; remembers what it touched."""

    def __init__(self, run: Runner = _run) -> None:
        self.run = run
        self.touched: set[str] = set()

    @staticmethod
    def available() -> tuple[bool, str]:
        if shutil.which("tc") is None:
            return False, "no tc on this host"
        return True, "tc found"

    def apply(self, dev: str, rate_mbps: float) -> tuple[bool, str]:
        cmd = tbf_command(dev, rate_mbps)
        rc, out = self.run(cmd)
        if rc != 0:
            return False, f"`{' '.join(cmd)}` failed: {out or f'exit {rc}'}"
        self.touched.add(dev)
        return True, " ".join(cmd[2:])

    def clear(self) -> None:
        for dev in sorted(self.touched):
            self.run(["tc", "qdisc", "del", "dev", dev, "root"])  # gone with the veth anyway
        self.touched.clear()
