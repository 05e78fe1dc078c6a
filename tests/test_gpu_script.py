"""bench/gpu.sh on a machine without an NVIDIA GPU: one line and exit 2, nothing measured."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _has_gpu() -> bool:
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return False
    listed = subprocess.run([smi, "-L"], capture_output=True, text=True)
    return any(line.startswith("GPU ") for line in listed.stdout.splitlines())


@pytest.mark.skipif(_has_gpu(), reason="this machine has a GPU: bench/gpu.sh would measure it")
def test_gpu_script_stops_at_once_without_a_gpu(tmp_path: Path) -> None:
    r = subprocess.run(
        ["bash", str(ROOT / "bench" / "gpu.sh"), str(tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 2
    assert r.stderr.strip().count("\n") == 0 and "no NVIDIA GPU" in r.stderr
    assert not (tmp_path / "out").exists()
