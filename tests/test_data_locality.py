"""Data locality: a probe starts with its dataset out of the page cache, counts what it reads
from storage, and a memory cap below the dataset sends every epoch back to the disk.

The host-side parts run on this machine's real disk; the sweep runs in real containers with
real memory and disk-bandwidth caps (with CI=true a missing engine fails, never skips).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from harness.backends.base import block_device
from harness.workloads.data import disk_read_bytes, evict_page_cache

ROOT = Path(__file__).resolve().parents[1]
CI = os.environ.get("CI") == "true"


def _read_all(path: Path) -> None:
    with open(path, "rb") as fh:
        while fh.read(1 << 20):
            pass


def _on_a_block_device(path: Path) -> None:
    if block_device(path) is None:
        pytest.fail(f"{path} is on no block device: the page-cache tests need a real disk")


def test_evicted_files_are_read_from_the_disk_again(tmp_path: Path) -> None:
    _on_a_block_device(tmp_path)
    d = tmp_path / "ds" / "class_000"
    d.mkdir(parents=True)
    for i in range(4):
        (d / f"f{i}.bin").write_bytes(os.urandom(2 << 20))
    for f in d.iterdir():
        _read_all(f)  # now in the page cache
    before = disk_read_bytes()
    for f in d.iterdir():
        _read_all(f)
    warm = disk_read_bytes()
    assert before is not None and warm is not None
    assert warm - before < 1 << 20, "a cached read went to the disk"
    advised = evict_page_cache(tmp_path / "ds")
    assert advised == 4 * (2 << 20)
    for f in d.iterdir():
        _read_all(f)
    cold = disk_read_bytes()
    assert cold is not None
    assert cold - warm >= 0.9 * advised, "evicted pages were still served from the cache"


def test_disk_reads_count_the_loader_workers(tmp_path: Path) -> None:
    """A child (as a DataLoader worker is) reading cold data counts in its parent's total."""
    _on_a_block_device(tmp_path)
    f = tmp_path / "big.bin"
    f.write_bytes(os.urandom(8 << 20))
    evict_page_cache(tmp_path)
    before = disk_read_bytes()
    code = textwrap.dedent(
        f"""
        import sys, time
        with open({str(f)!r}, "rb") as fh:
            while fh.read(1 << 20):
                pass
        print("read", flush=True)
        time.sleep(30)
        """
    )
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == b"read"
        during = disk_read_bytes()
    finally:
        child.kill()
        child.wait()
    assert before is not None and during is not None
    assert during - before >= 0.9 * (8 << 20)


def test_block_device_of_a_disk_and_of_memory(tmp_path: Path) -> None:
    dev = block_device(tmp_path)
    assert dev is None or (dev.startswith("/dev/") and Path(dev).exists())
    assert block_device(Path("/proc")) is None


# ---------------------------------------------------------------- in containers

JOB = """
name: locality-test
kind: train
model: squeezenet1_1
input_shape: [3, 32, 32]
num_classes: 10
batch_size: 16
data: {source: jpeg, num_samples: 320, stored_size: [1024, 1024], cold_cache: true}
loader: {kind: torch, workers: 0}
iterations: {warmup: 20, measured: 20, stop: fixed}  # the measured batches: one epoch
"""


@pytest.mark.docker
@pytest.mark.slow
def test_memory_cap_below_the_dataset_rereads_it_from_a_capped_disk(tmp_path: Path) -> None:
    """A 0.45 GB cap cannot cache a ~140 MB dataset beside torch; a 3 GB cap can. Warm-up is
    one epoch, so the measured epoch is served from the page cache or re-read from the disk,
    whose read bandwidth the container's blkio throttle holds at 8 MB/s."""
    from harness.backends.docker import available
    from harness.images import find_image

    if not available(timeout=5) or find_image("cpu") is None:
        msg = "no Docker engine or no harness-job:cpu image"
        if CI:
            pytest.fail(f"CI=true: {msg}")
        pytest.skip(msg)
    _on_a_block_device(tmp_path)
    job = tmp_path / "job.yaml"
    job.write_text(JOB)
    out = tmp_path / "p.json"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    cmd = [sys.executable, "-m", "harness.cli", "profile", str(job), "--cpu", "1"]
    cmd += ["--memory-sweep", "0.45,3", "--disk-read-mbps", "8", "--backend", "docker"]
    cmd += ["--out", str(out), "--data-dir", str(tmp_path / "data")]
    proc = subprocess.run(cmd, env=env, cwd=tmp_path, capture_output=True, timeout=900)
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    assert (
        subprocess.run([sys.executable, "-m", "harness.cli", "validate", str(out)]).returncode == 0
    )
    train = json.loads(out.read_text())["train"]
    dataset_mb = train["dataset_bytes"] / 1e6
    assert dataset_mb > 100
    cells = {c["memory_gb"]: c for c in train["memory_axis"]}
    probes = {p["id"]: p for p in train["probes"]}
    small, big = cells[0.45], cells[3.0]
    assert small["outcome"] == "ok" and big["outcome"] == "ok"
    for cell in (small, big):
        enforced = probes[cell["probe_id"]]["enforced"]
        assert enforced["memory_enforced"] and "device-read-bps" in enforced["disk"]
    # the measured epoch: re-read whole from the disk under the small cap, cached under the big
    assert small["disk_read_mb"] >= 0.8 * dataset_mb, (small, dataset_mb)
    assert big["disk_read_mb"] <= 0.3 * dataset_mb, (big, dataset_mb)
    assert small["throughput"] < big["throughput"]
