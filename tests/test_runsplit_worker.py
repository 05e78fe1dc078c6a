"""The split worker for real, without Docker: server and edge as two local processes over
loopback TCP, shaped by the token bucket (the fallback when tc cannot be used)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from harness.runsplit.plan import (
    LinkSetting,
    ModelRef,
    Phase,
    PipelineJob,
    PlanSpec,
    Segment,
    WorkerConfig,
)

ROOT = Path(__file__).resolve().parents[1]
SPEC = {
    "name": "split-tiny",
    "kind": "infer",
    "model": "resnet18",
    "input_shape": [3, 64, 64],
    "num_classes": 10,
    "data": {"source": "synthetic"},
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.mark.slow
def test_split_over_loopback_matches_the_whole_model_and_feels_the_bandwidth(
    tmp_path: Path,
) -> None:
    port = _free_port()
    ref = ModelRef(key="resnet18", spec=SPEC, n_layers=10)
    plan = PlanSpec(
        name="cut3",
        model="resnet18",
        segments=[Segment(role="edge", start=0, end=3), Segment(role="server", start=3, end=10)],
    )
    fast = LinkSetting(up_mbps=400, down_mbps=400, latency_ms=1)
    slow = LinkSetting(up_mbps=4, down_mbps=4, latency_ms=1)
    phases = [
        Phase(name="fast", link=fast, plan=plan, requests=4, warmup=1),
        Phase(name="slow", link=slow, plan=plan, requests=4, warmup=1),
        Phase(name="window", mode="throughput", link=fast, plan=plan, requests=4, window=3),
        Phase(
            name="pipe",
            mode="pipeline",
            link=fast,
            repeats=1,
            jobs=[
                PipelineJob(name=f"j{i}", model="resnet18", cut=c, n_layers=10)
                for i, c in enumerate([0, 3, 10])
            ],
        ),
    ]
    procs = []
    for role in ("server", "edge"):
        cfg = WorkerConfig(
            role=role,
            server="127.0.0.1",
            port=port,
            models=[ref],  # type: ignore[arg-type]
            phases=phases if role == "edge" else [],
            handshake=False,
            connect_timeout_s=120,
        )
        req = tmp_path / f"{role}.json"
        req.write_text(
            json.dumps(
                {
                    "records": str(tmp_path / f"{role}.jsonl"),
                    "threads": 1,
                    "overrides": {"runsplit": cfg.model_dump(mode="json")},
                }
            )
        )
        procs.append(
            subprocess.Popen(
                [sys.executable, "-m", "harness.runsplit.worker", str(req)],
                cwd=ROOT,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    try:
        for p in procs:
            _, err = p.communicate(timeout=300)
            assert p.returncode == 0, err[-2000:]
    finally:
        for p in procs:
            p.kill()
            p.wait()
    edge = _records(tmp_path / "edge.jsonl")
    assert [r["type"] for r in edge if r["type"] == "error"] == []
    done = {r["phase"]: r for r in edge if r["type"] == "phase_done"}
    assert all(d["outputs_match"] for d in done.values()), done
    starts = [r for r in edge if r["type"] == "phase_start"]
    assert {s["shaping"] for s in starts} == {"token-bucket"}
    lat = {
        i: sorted(r["up_s"] for r in edge if r["type"] == "request" and r["phase"] == i)
        for i in (0, 1)
    }
    nbytes = 64 * 16 * 16 * 4  # resnet18's layer1 output at 64x64
    expected_gap = (nbytes - 16 * 1024) * 8 * (1 / 4e6 - 1 / 400e6)
    assert lat[1][len(lat[1]) // 2] - lat[0][len(lat[0]) // 2] > 0.7 * expected_gap
    pipe = next(r for r in edge if r["type"] == "pipeline")
    assert pipe["makespan_s"] > 0 and [j["cut"] for j in pipe["jobs"]] == [0, 3, 10]
    assert "local" not in pipe["jobs"][0] and "remote" not in pipe["jobs"][2]
    server = _records(tmp_path / "server.jsonl")
    served = next(r for r in server if r["type"] == "served")
    assert served["requests"] == 5 + 5 + 6 + 2 + 2  # warm-ups included; pipeline warms too
