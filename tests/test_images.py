"""Job images: pins, hashes and Dockerfiles (pure), and the built image for real (docker)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import tomllib
import urllib.request
from pathlib import Path

import pytest

from harness import images

ROOT = Path(__file__).resolve().parents[1]
CI = os.environ.get("CI") == "true"


def test_image_pins_match_the_workloads_extra() -> None:
    """The image must carry the same torch/torchvision/DALI pair the project pins."""
    extra = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    exact = {p for p in extra["workloads"] if "==" in p}
    assert exact and exact <= set(images.PINS)


def test_dockerfiles_take_the_base_as_an_argument_and_install_offline() -> None:
    for kind in ("cpu", "cuda"):
        text = images.dockerfile(kind).read_text()  # type: ignore[arg-type]
        assert "ARG BASE_IMAGE=" in text and "FROM ${BASE_IMAGE} AS runtime" in text
        assert "--no-index --find-links" in text
        for stage in ("AS runtime", "AS deps", "AS job"):
            assert stage in text
    assert images.default_base("cpu") == "python:3.11-slim-bookworm"
    assert images.default_base("cuda").startswith("nvidia/cuda:")


def test_content_hash_changes_with_each_input() -> None:
    base = images.content_hash("FROM x", ("a==1",), "sha256:1", "s")
    assert base == images.content_hash("FROM x", ("a==1",), "sha256:1", "s")
    others = {
        images.content_hash("FROM y", ("a==1",), "sha256:1", "s"),
        images.content_hash("FROM x", ("a==2",), "sha256:1", "s"),
        images.content_hash("FROM x", ("a==1",), "sha256:2", "s"),
        images.content_hash("FROM x", ("a==1",), "sha256:1", "t"),
    }
    assert base not in others and len(others) == 4


def test_source_hash_follows_the_package_source(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("x = 1\n")
    h1 = images.source_hash(tmp_path)
    (tmp_path / "__pycache__").mkdir()
    (tmp_path / "__pycache__" / "a.pyc").write_bytes(b"junk")
    assert images.source_hash(tmp_path) == h1
    (tmp_path / "a.py").write_text("x = 2\n")
    assert images.source_hash(tmp_path) != h1


def test_wheel_platform_tags_for_another_interpreter() -> None:
    t = images.PyTarget(version="3.12", machine="aarch64", glibc="2.39")
    tags = t.platforms()
    assert tags[0] == "manylinux_2_39_aarch64" and "manylinux_2_17_aarch64" in tags
    assert "manylinux2014_aarch64" in tags and not t.matches_host()


def test_wheelhouse_is_served_read_only_on_loopback(tmp_path: Path) -> None:
    (tmp_path / "pkg-1.0-py3-none-any.whl").write_bytes(b"wheel")
    with images.serve_dir(tmp_path, port=0) as url:
        assert url.startswith("http://127.0.0.1:")
        listing = urllib.request.urlopen(url, timeout=10).read().decode()
        assert "pkg-1.0-py3-none-any.whl" in listing
        body = urllib.request.urlopen(url + "pkg-1.0-py3-none-any.whl", timeout=10).read()
        assert body == b"wheel"


# ---------------------------------------------------------------- real engine


@pytest.fixture(scope="module")
def cli() -> object:
    try:
        return images.client(timeout=30)
    except images.ImageError as exc:
        if CI:
            pytest.fail(f"CI=true: {exc}")
        pytest.skip(str(exc))


@pytest.fixture(scope="module")
def job_image(cli: object) -> str:
    found = images.find_image("cpu", cli)
    if found is None:
        msg = "no harness-job:cpu image (build it with `harness images build`)"
        if CI:
            pytest.fail(f"CI=true: {msg}")
        pytest.skip(msg)
    assert found is not None
    return found


@pytest.mark.docker
def test_job_image_runs_torch_torchvision_and_dali_on_the_cpu(cli: object, job_image: str) -> None:
    code = (
        "import json, torch, torchvision, nvidia.dali, harness.workloads.run;"
        "m = torchvision.models.resnet18(num_classes=10);"
        "y = m(torch.rand(2, 3, 32, 32));"
        "k = torchvision.ops.nms(torch.tensor([[0., 0, 1, 1]]), torch.tensor([1.]), 0.5);"
        "print(json.dumps([torch.__version__, torchvision.__version__, list(y.shape), len(k)]))"
    )
    out = cli.containers.run(  # type: ignore[attr-defined]
        job_image, ["python", "-c", code], remove=True, network_mode="none"
    )
    torch_v, tv_v, shape, kept = json.loads(out.decode().strip().splitlines()[-1])
    assert torch_v.startswith("2.14.1") and tv_v.startswith("0.29.2")
    assert shape == [2, 10] and kept == 1


@pytest.mark.docker
def test_job_image_is_labelled_and_built_on_a_local_base(cli: object, job_image: str) -> None:
    img = cli.images.get(job_image)  # type: ignore[attr-defined]
    assert img.labels[images.LABEL_KIND] == "cpu"
    assert len(img.labels[images.LABEL_HASH]) == 12
    cfg = img.attrs["Config"]
    assert "PYTHONPATH=/opt/harness" in cfg["Env"]
    assert cfg["Cmd"][:3] == ["python", "-m", "harness.workloads.run"]


@pytest.mark.docker
def test_base_image_present_is_reused_without_debootstrap(cli: object) -> None:
    if images.image_exists(cli, images.DEFAULT_BASE_NAME) is None:
        msg = f"no {images.DEFAULT_BASE_NAME} (make it with `harness images base`)"
        if CI:
            pytest.fail(f"CI=true: {msg}")
        pytest.skip(msg)
    t0 = time.monotonic()
    _, reused = images.make_base(images.DEFAULT_BASE_NAME, cli=cli)
    assert reused and time.monotonic() - t0 < 10


@pytest.mark.docker
def test_images_list_cli_shows_the_job_image(job_image: str) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "harness.cli", "images", "list", "--json"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)
    assert any(job_image in r["tags"] for r in rows)


@pytest.mark.docker
def test_images_build_with_a_missing_base_says_what_to_do(cli: object) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "harness.cli", "images", "build", "--base", "nope/absent:1"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert out.returncode == 1
    assert "nope/absent:1 not present" in out.stderr and "harness images base" in out.stderr
    assert "Traceback" not in out.stderr
