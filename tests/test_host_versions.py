"""Host facts of a sweep: the engine's version for Docker runs, and the torch that ran the job
(the image's, reported by the workload's first record), not the host's."""

from __future__ import annotations

import dataclasses
from importlib import metadata
from pathlib import Path
from typing import Any

from harness.backends.base import ProbeRequest, ProbeRun
from harness.backends.local import LocalBackend
from harness.options import ProfileOptions
from harness.profile import Caps, HostFacts, Outcome
from harness.spec import load_spec
from harness.sweep import Sweep
from harness.telemetry.host import absorb_probe_versions, engine_version, host_facts

ROOT = Path(__file__).resolve().parents[1]


class FakeDockerBackend:
    """A fake engine (this machine may have none): a real local probe, reported as if it ran in
    an image whose torch differs from the host's."""

    name = "docker"
    info = {"ServerVersion": "26.1.5+fake"}
    image_torch = "9.9.9+image"

    def __init__(self) -> None:
        self.inner = LocalBackend()
        self.real_meta: dict[str, Any] | None = None

    def describe(self) -> str:
        return "fake docker"

    def host_cpus(self) -> int:
        return self.inner.host_cpus()

    def run_probe(self, request: ProbeRequest, on_record: Any = None) -> ProbeRun:
        run = self.inner.run_probe(request, on_record)
        records = []
        for r in run.records:
            if r.get("type") == "meta":
                self.real_meta = dict(r)
                r = {**r, "torch_version": self.image_torch}
            records.append(r)
        return dataclasses.replace(run, records=records)

    def cleanup(self) -> None:
        self.inner.cleanup()


def test_engine_version_only_for_docker() -> None:
    assert engine_version(FakeDockerBackend()) == "26.1.5+fake"
    assert engine_version(LocalBackend()) is None

    class DeadEngine:
        name = "docker"

        @property
        def info(self) -> dict[str, Any]:
            raise ConnectionError("engine went away")

    assert engine_version(DeadEngine()) is None


def test_probe_versions_replace_the_hosts() -> None:
    host = host_facts()
    absorb_probe_versions(host, [{"type": "batch"}])  # no meta record: nothing changes
    assert host == host_facts()
    meta = {"type": "meta", "torch_version": "2.0.0+cu118", "cuda_version": "11.8"}
    absorb_probe_versions(host, [meta, {"type": "meta", "torch_version": "later"}])
    assert (host.torch_version, host.cuda_version) == ("2.0.0+cu118", "11.8")
    absorb_probe_versions(host, [{"type": "meta", "torch_version": "2.1.0+cpu"}])
    assert (host.torch_version, host.cuda_version) == ("2.1.0+cpu", None)
    HostFacts.model_validate(host.model_dump())


def test_sweep_records_engine_and_image_torch(tmp_path: Path) -> None:
    spec = load_spec(ROOT / "jobs" / "tiny-train.yaml")
    backend = FakeDockerBackend()
    opts = ProfileOptions(cpu=1, max_iterations=1, strategy="exhaustive")
    sweep = Sweep(spec, backend, opts, tmp_path / "p.json", tmp_path / "work")  # type: ignore[arg-type]
    assert sweep.profile.host.docker_version == "26.1.5+fake"
    assert sweep.profile.host.torch_version == metadata.version("torch")  # before any probe
    probe = sweep.run_caps(Caps(cpus=1))
    assert probe.outcome == Outcome.ok, probe.reason
    assert backend.real_meta is not None  # the real workload reports the torch it imported
    assert str(backend.real_meta["torch_version"]).startswith(metadata.version("torch"))
    assert sweep.profile.host.torch_version == "9.9.9+image"
