"""The fleet's pure parts: where each sweep's profile goes, --out for several, and the probes
that shared cores with others beside them on one machine (marked from their grants)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

from harness.fleet import Entry, check_out, mark_shared_cores, profile_path
from harness.profile import CoreShare, Enforcement, Grant
from tests.factory.train_profiles import make_train_profile


def test_one_profile_per_job_per_node_type() -> None:
    spec = make_train_profile(max_cpus=2, measured_cpus=(1, 2), knee_gb=None).job
    assert profile_path(Path("p.json"), spec, "slurm", None, False) == Path("p.json")
    assert profile_path(None, spec, "slurm", None, False) == Path("profiles/res18-slurm.json")
    assert profile_path(Path("out"), spec, "slurm", "a100", True) == Path(
        "out/res18-slurm-a100.json"
    )
    assert check_out(Path("out"), 4) is None and check_out(Path("p.json"), 1) is None
    assert (check_out(Path("p.json"), 2) or "").startswith("--out: 2 sweeps")
    assert "at most" in (check_out(None, 10_000) or "")


class _Sweep:
    def __init__(self, profile: Any) -> None:
        self.profile = profile
        self.saved = 0

    def save(self) -> None:
        self.saved += 1


def _entry(node: str, cores: list[int], at: float, host: str = "vm") -> Entry:
    prof = make_train_profile(max_cpus=1, measured_cpus=(1,), knee_gb=None)
    (p,) = prof.train.probes  # type: ignore[union-attr]
    p.duration_s = 10.0
    p.enforced = Enforcement(cpu="slurm --cpus-per-task=1")
    p.granted = Grant(node=node, host=host, affinity=cores, at=at)
    e = Entry(spec=prof.job, backend=SimpleNamespace(name="slurm"), out=Path("x"))  # type: ignore[arg-type]
    e.sweep = _Sweep(prof)  # type: ignore[assignment]
    return e


def _shared(e: Entry) -> list[CoreShare]:
    return e.sweep.profile.train.probes[0].shared_cores  # type: ignore[union-attr]


def test_probes_sharing_cores_at_the_same_time_on_one_machine_are_marked() -> None:
    a, b = _entry("n1", [0], 100.0), _entry("n2", [0], 105.0)  # overlap in time and core
    c = _entry("n1", [1], 100.0)  # another core
    d = _entry("n2", [0], 200.0)  # later
    e = _entry("x", [0], 100.0, host="other")  # another machine
    assert mark_shared_cores([a, b, c, d, e]) == 2
    (share,) = _shared(a)  # as every backend records it: the cores, who, the machine
    assert share.cores == [0] and share.host == "vm"
    assert share.by == ["res18 probe c1 on n1", "res18 probe c1 on n2"]
    assert _shared(b) == [share] and a.sweep.saved == 1  # type: ignore[union-attr]
    assert all(_shared(x) == [] for x in (c, d, e))
    assert mark_shared_cores([a, b]) == 0  # marked once


def test_several_jobs_need_a_folder_at_out(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from harness.cli import app

    root = Path(__file__).resolve().parents[1]
    jobs = [
        str(root / "jobs" / "tiny-train.yaml"),
        str(root / "tests" / "data" / "docker-tiny.yaml"),
    ]
    r = CliRunner().invoke(
        app, ["profile", *jobs, "--backend", "local", "--out", str(tmp_path / "p.json")]
    )
    assert r.exit_code == 2, r.output
    assert "--out: 2 sweeps (jobs x node types) write one profile each" in r.output
    assert not list(tmp_path.iterdir())  # nothing run, nothing written
