"""`harness variants make` and `harness profile --variant` through the real CLI: a tiny
reference trained on the digits, one pruned variant, and that variant's inference profile
(layers, cuts, bundles) with its saved weights and its measured accuracy recorded."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sklearn  # noqa: F401  (the ml extra: missing, it fails, never skips)
import torch_pruning  # noqa: F401  (the ml extra: missing, it fails, never skips)
from typer.testing import CliRunner

from harness.cli import app
from harness.manifest import load_manifest
from harness.profile import load_profile
from tests.factory.digits_jobs import write_tiny_digits

runner = CliRunner()


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(folder, infer job): variants ref and p50 made once for the module."""
    folder = tmp_path_factory.mktemp("variants")
    train, infer = write_tiny_digits(folder)
    r = runner.invoke(
        app,
        ["variants", "make", str(train), "--ratios", "0.5", "--branches", "s1"]
        + ["--out", str(folder / "v")],
    )
    assert r.exit_code == 0, r.output
    return folder, infer


def test_make_writes_weights_and_a_manifest_of_measured_variants(made: tuple[Path, Path]) -> None:
    folder, _ = made
    m = load_manifest(folder / "v" / "manifest.json")
    assert [v.id for v in m.variants] == ["ref", "p50", "bs1"]
    ref, p50, bs1 = m.variants
    assert bs1.branches == ["3x3+1x1+id", "1x1+id"] and bs1.macs < ref.macs
    assert ref.reference and not p50.reference
    assert ref.accuracy > 0.5  # chance is 0.1
    assert p50.macs < ref.macs and p50.params < ref.params
    assert p50.ratios == {"s0": 0.5, "s1": 0.5}
    assert set(p50.domain_accuracy) == {"d0", "d1", "d2", "d3"}
    assert m.holdout_samples == sum(sum(c) for c in m.domain_labels.values())
    assert (folder / "v" / "p50.pt").stat().st_size < 50_000


def test_profile_of_a_variant_loads_its_weights_and_records_it(made: tuple[Path, Path]) -> None:
    folder, infer = made
    out = folder / "p50-edge.json"
    r = runner.invoke(
        app,
        [
            "profile",
            str(infer),
            "--variant",
            f"{folder / 'v' / 'manifest.json'}:p50",
            "--cpu",
            "1",
            "--backend",
            "local",
            "--device-name",
            "edge",
            "--out",
            str(out),
        ],
    )
    assert r.exit_code == 0, r.output
    prof = load_profile(out)
    assert prof.variant is not None and prof.variant.id == "p50"
    assert prof.options["variant"].endswith("manifest.json:p50")
    inf = prof.infer
    assert inf is not None and inf.device_name == "edge"
    # blocks, the pool merged into the last one (cuts.py), the head
    assert [c.shape for c in inf.cuts] == [[1, 12, 12], [4, 12, 12], [8], [10]]
    assert sum(layer.params for layer in inf.layers) == prof.variant.params
    assert inf.bundles and all(b.batch_size == 4 for b in inf.bundles)


def test_a_variant_that_is_not_in_the_manifest_is_one_line(made: tuple[Path, Path]) -> None:
    folder, infer = made
    ref = f"{folder / 'v' / 'manifest.json'}:p99"
    r = runner.invoke(app, ["profile", str(infer), "--variant", ref, "--backend", "local"])
    assert r.exit_code == 2
    assert "has no variant 'p99' (it has: ref, p50, bs1)" in r.output
    assert len(r.output.strip().splitlines()) == 1


def test_changed_weights_are_refused(made: tuple[Path, Path], tmp_path: Path) -> None:
    folder, infer = made
    copy = tmp_path / "v"
    copy.mkdir()
    manifest = json.loads((folder / "v" / "manifest.json").read_text())
    for v in manifest["variants"]:
        v["weights"] = str(copy / Path(v["weights"]).name)
        (copy / Path(v["weights"]).name).write_bytes(b"not the weights")
    (copy / "manifest.json").write_text(json.dumps(manifest))
    r = runner.invoke(
        app, ["profile", str(infer), "--variant", f"{copy}/manifest.json:ref", "--backend", "local"]
    )
    assert r.exit_code == 2
    assert "weights changed since they were measured" in r.output


def test_bad_ratios_and_branches_are_one_line(tmp_path: Path) -> None:
    train, _ = write_tiny_digits(tmp_path)
    r = runner.invoke(app, ["variants", "make", str(train), "--ratios", "0.5,1.2"])
    assert r.exit_code == 2
    assert "--ratios: expected shares in (0, 1), got 1.2" in r.output
    r = runner.invoke(app, ["variants", "make", str(train), "--branches", "s1+x"])
    assert r.exit_code == 2
    assert "--branches: expected stages like s1 or s1+s2, got 's1+x'" in r.output
    r = runner.invoke(
        app, ["variants", "make", str(train), "--branches", "s5", "-o", str(tmp_path)]
    )
    assert r.exit_code == 2
    assert "--branches: stage s5: the model has s0..s1" in r.output


def test_validate_reads_the_manifest(made: tuple[Path, Path]) -> None:
    folder, _ = made
    r = runner.invoke(app, ["validate", str(folder / "v" / "manifest.json")])
    assert r.exit_code == 0, r.output


def test_without_a_variant_the_digits_job_profiles_random_weights_on_real_scans(
    tmp_path: Path,
) -> None:
    _, infer = write_tiny_digits(tmp_path)
    out = tmp_path / "plain.json"
    argv = ["profile", str(infer), "--cpu", "1", "--backend", "local", "--out", str(out)]
    r = runner.invoke(app, argv)
    assert r.exit_code == 0, r.output
    prof = load_profile(out)
    assert prof.variant is None and "variant" not in prof.options
    assert prof.infer is not None and len(prof.infer.layers) == 3


def test_a_throughput_profile_of_the_digits_training_is_refused(tmp_path: Path) -> None:
    train, _ = write_tiny_digits(tmp_path)
    r = runner.invoke(app, ["profile", str(train), "--cpu", "1", "--backend", "local"])
    assert r.exit_code == 2
    assert "run `harness variants make` with it" in r.output
