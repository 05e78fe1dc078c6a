"""What more than one bench needs (not a bench: `just bench` skips files named `_*`)."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def harness_cli(*argv: str) -> None:
    """One of the user's commands, as they type it; only a failure is printed (its last line)."""
    cmd = ["harness", *argv]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:]
        raise SystemExit(f"`{' '.join(cmd)}` failed (exit {done.returncode}): {tail}")
