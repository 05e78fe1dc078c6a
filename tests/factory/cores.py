"""Another harness process holding cores on this host, as a sweep running beside a test would."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

_HOLD = (
    "import sys, time; from pathlib import Path; from harness.cores import CoreLedger, Want\n"
    "n = float(sys.argv[2])\n"
    "cores = sorted(__import__('os').sched_getaffinity(0))\n"
    "with CoreLedger(Path(sys.argv[1])).lease([Want('probe other', n)], cores) as g:\n"
    "    print(g.cpusets['probe other'], flush=True); time.sleep(float(sys.argv[3]))\n"
)


@contextlib.contextmanager
def other_probe_holding(
    ledger_dir: Path, cpus: float, hold_s: float = 600
) -> Iterator[tuple[int, list[int]]]:
    """A live process that leases `cpus` CPUs in the ledger at `ledger_dir` for `hold_s`
    seconds: (its pid, its cores) while the block runs; it is killed at the end at the latest
    (its lease dies with it)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(
        [sys.executable, "-c", _HOLD, str(ledger_dir), str(cpus), str(hold_s)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        assert line.startswith("["), f"the holder did not lease its cores: {line!r}"
        yield proc.pid, [int(c) for c in line.strip("[]").split(",")]
    finally:
        proc.kill()
        proc.wait()
