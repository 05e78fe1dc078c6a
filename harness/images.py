"""Job images: a local base image, a wheelhouse, and the CPU / CUDA images built from them.

Why it is done this way: where no registry can be reached (this machine, CI, air-gapped
sites) nothing can be pulled, so the base image is made locally with debootstrap + docker
import, and python packages are downloaded on the host (pip, with its cache) and served to the
build on 127.0.0.1, so the build itself needs no network and the wheels never land in a layer.
Images are tagged with a hash of what went into them and reused when present.

The docker SDK is imported inside functions: the host CLI must start fast.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import http.server
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

Kind = Literal["cpu", "cuda"]
OnEvent = Callable[[str], None]

REPO = "harness-job"
DEFAULT_BASE_NAME = "harness-base:bookworm"
LABEL_KIND = "harness.image.kind"
LABEL_HASH = "harness.image.hash"
WHEELS_PORT = 38765  # fixed, so the build argument (and the layer cache) stays the same

# The workloads' packages, as pinned in pyproject.toml's `workloads` extra (a test checks they
# agree), plus what harness.spec / harness.workloads import.
PINS: tuple[str, ...] = (
    "torch==2.14.1",
    "torchvision==0.29.2",
    "nvidia-dali-cuda120==2.4.0",
    "pillow>=10",
    "pydantic>=2.6",
    "pyyaml>=6",
    "numpy>=1.26",
    "psutil>=5.9",
)
BASE_PACKAGES: tuple[str, ...] = (
    "python3",
    "python3-venv",
    "ca-certificates",
    "libgomp1",
    "procps",
)
MIN_PYTHON = (3, 11)


class ImageError(RuntimeError):
    """An image cannot be made or built; the message is one line that says what to do."""


@dataclass(frozen=True)
class PyTarget:
    """The interpreter inside an image: what the wheelhouse must match."""

    version: str  # "3.11"
    machine: str  # "x86_64", "aarch64"
    glibc: str  # "2.36"

    def matches_host(self) -> bool:
        host = f"{sys.version_info.major}.{sys.version_info.minor}"
        return host == self.version and platform.machine() == self.machine

    def platforms(self) -> list[str]:
        """manylinux tags this glibc accepts, newest first (pip needs them spelled out)."""
        major, minor = (int(x) for x in self.glibc.split(".")[:2])
        tags = [f"manylinux_{major}_{m}_{self.machine}" for m in range(minor, 16, -1)]
        tags += [f"manylinux2014_{self.machine}", f"linux_{self.machine}"]
        return tags


@dataclass
class BuildResult:
    tag: str
    kind: Kind
    reused: bool
    seconds: float
    size_bytes: int
    base: str


# ---------------------------------------------------------------- paths and hashes


def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent


def dockerfile(kind: Kind) -> Path:
    return repo_root() / "images" / f"Dockerfile.{kind}"


def package_dir() -> Path:
    return Path(__file__).resolve().parent


def _source_files(root: Path) -> list[Path]:
    return sorted(
        p
        for p in root.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix in (".py", ".typed", ".json")
    )


def source_hash(root: Path | None = None) -> str:
    root = root or package_dir()
    h = hashlib.sha256()
    for p in _source_files(root):
        h.update(str(p.relative_to(root)).encode())
        h.update(p.read_bytes())
    return h.hexdigest()


def content_hash(dockerfile_text: str, pins: tuple[str, ...], base_id: str, src: str = "") -> str:
    """Key of an image: Dockerfile, pins, base image id and the harness source it carries."""
    blob = json.dumps([dockerfile_text, list(pins), base_id, src])
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def default_base(kind: Kind) -> str:
    """The BASE_IMAGE default written in the Dockerfile (the public image a user would pull)."""
    for line in dockerfile(kind).read_text().splitlines():
        if line.startswith("ARG BASE_IMAGE="):
            return line.split("=", 1)[1].strip()
    raise ImageError(f"{dockerfile(kind)}: no 'ARG BASE_IMAGE=' line")


# ---------------------------------------------------------------- docker client


def client(timeout: int = 600) -> Any:
    """A docker client from the environment (DOCKER_HOST works, ssh:// included)."""
    import docker

    try:
        c = docker.from_env(timeout=timeout)
        c.ping()
    except Exception as exc:
        raise ImageError(
            f"no Docker engine answers ({type(exc).__name__}): start dockerd"
        ) from None
    return c


def image_exists(cli: Any, name: str) -> Any | None:
    import docker

    try:
        return cli.images.get(name)
    except docker.errors.ImageNotFound:
        return None


# ---------------------------------------------------------------- base image


def make_base(
    name: str = DEFAULT_BASE_NAME,
    *,
    suite: str = "bookworm",
    mirror: str | None = None,
    packages: tuple[str, ...] = BASE_PACKAGES,
    cli: Any = None,
    force: bool = False,
    on_event: OnEvent | None = None,
) -> tuple[str, bool]:
    """Make `name` from debootstrap + docker import; returns (image id, reused)."""
    say = on_event or (lambda _m: None)
    cli = cli or client()
    found = image_exists(cli, name)
    if found is not None and not force:
        say(f"base image {name} present ({found.short_id}); reusing it")
        return found.id, True
    if shutil.which("debootstrap") is None:
        raise ImageError("debootstrap not found: apt-get install debootstrap (or pass --base)")
    if os.geteuid() != 0:
        raise ImageError("debootstrap needs root: run `harness images base` as root")
    with tempfile.TemporaryDirectory(prefix="harness-rootfs-") as tmp:
        root = Path(tmp) / "rootfs"
        cmd = [
            "debootstrap",
            "--variant=minbase",
            f"--include={','.join(packages)}",
            suite,
            str(root),
        ]
        if mirror:
            cmd.append(mirror)
        say("debootstrap: " + " ".join(cmd))
        _run_streaming(cmd, say)
        say(f"docker import -> {name}")
        tar = subprocess.Popen(["tar", "-C", str(root), "-c", "."], stdout=subprocess.PIPE)
        assert tar.stdout is not None
        repo, _, tag = name.partition(":")
        try:
            out = cli.api.import_image_from_stream(tar.stdout, repository=repo, tag=tag or "latest")
        finally:
            tar.stdout.close()
            tar.wait()
        if tar.returncode != 0:
            raise ImageError(f"tar of the rootfs failed (exit {tar.returncode})")
        say(f"imported: {str(out).strip()[:120]}")
    img = image_exists(cli, name)
    if img is None:
        raise ImageError(f"docker import did not produce {name}")
    return img.id, False


def _run_streaming(cmd: list[str], say: OnEvent) -> None:
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    tail: list[str] = []
    for line in proc.stdout:
        line = line.rstrip()
        if line:
            tail = (tail + [line])[-5:]
            say(line)
    if proc.wait() != 0:
        last = tail[-1] if tail else ""
        raise ImageError(f"{cmd[0]} failed (exit {proc.returncode}): {last}")


# ---------------------------------------------------------------- wheelhouse


def probe_python(cli: Any, image: str) -> PyTarget:
    """Ask an image's python3 for its version, machine and glibc."""
    code = (
        "import json,platform,sys;print(json.dumps([f'{sys.version_info[0]}.{sys.version_info[1]}',"
        "platform.machine(),platform.libc_ver()[1]]))"
    )
    try:
        out = cli.containers.run(
            image, ["python3", "-c", code], remove=True, network_mode="none", user="0"
        )
    except Exception as exc:
        raise ImageError(f"{image}: cannot run python3 in it ({type(exc).__name__})") from None
    version, machine, glibc = json.loads(out.decode().strip().splitlines()[-1])
    if tuple(int(x) for x in version.split(".")) < MIN_PYTHON:
        raise ImageError(f"{image}: python {version} inside; the harness needs >= 3.11")
    return PyTarget(version=version, machine=machine, glibc=glibc or "2.17")


def wheelhouse_dir(target: PyTarget) -> Path:
    base = Path(os.environ.get("HARNESS_WHEELHOUSE", Path.home() / ".cache" / "harness"))
    return base / f"wheelhouse-py{target.version}-{target.machine}"


def download_wheelhouse(
    dest: Path,
    target: PyTarget,
    pins: tuple[str, ...] = PINS,
    on_event: OnEvent | None = None,
) -> Path:
    """`pip download` the pins (and their dependencies) for the image's interpreter."""
    say = on_event or (lambda _m: None)
    stamp = dest / f".complete-{hashlib.sha256(' '.join(pins).encode()).hexdigest()[:12]}"
    if stamp.exists():
        say(f"wheelhouse {dest} complete for these pins; reusing it")
        return dest
    dest.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "download", "--progress-bar", "off", "-d", str(dest)]
    if not target.matches_host():
        cmd += ["--only-binary=:all:", "--python-version", target.version]
        for tag in target.platforms():
            cmd += ["--platform", tag]
    cmd += [*pins, "pip", "setuptools", "wheel"]
    say(f"wheelhouse: pip download for python {target.version} {target.machine} -> {dest}")
    _run_streaming(cmd, lambda line: say(line) if line.startswith(("Saved", "File was")) else None)
    stamp.write_text(" ".join(pins))
    return dest


@contextlib.contextmanager
def serve_dir(path: Path, port: int = WHEELS_PORT) -> Iterator[str]:
    """Serve a folder read-only on 127.0.0.1 for the duration of a build."""
    handler = functools.partial(_QuietHandler, directory=str(path))
    try:
        server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    except OSError:
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


# ---------------------------------------------------------------- build


def _context(kind: Kind, tmp: Path) -> Path:
    shutil.copy(dockerfile(kind), tmp / "Dockerfile")
    src = package_dir()
    for p in _source_files(src):
        dst = tmp / "harness" / p.relative_to(src)
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(p, dst)
    return tmp


def _stream_build(cli: Any, say: OnEvent, **kwargs: Any) -> str | None:
    """Run one low-level build and relay its decoded stream; returns the image id."""
    image_id = None
    for chunk in cli.api.build(decode=True, rm=True, forcerm=True, **kwargs):
        if "error" in chunk:
            detail = chunk.get("errorDetail", {}).get("message", chunk["error"])
            raise ImageError(f"image build failed: {str(detail).strip().splitlines()[-1]}")
        if "stream" in chunk:
            for line in str(chunk["stream"]).splitlines():
                if line.strip():
                    say(line.rstrip())
        if "aux" in chunk and isinstance(chunk["aux"], dict):
            image_id = chunk["aux"].get("ID", image_id)
    return image_id


def build_image(
    kind: Kind = "cpu",
    base: str | None = None,
    *,
    cli: Any = None,
    force: bool = False,
    pins: tuple[str, ...] = PINS,
    on_event: OnEvent | None = None,
) -> BuildResult:
    """Build (or reuse) the job image of `kind` on `base`; tags REPO:KIND-HASH and REPO:KIND."""
    say = on_event or (lambda _m: None)
    cli = cli or client()
    t0 = time.monotonic()
    if base is None:
        base = DEFAULT_BASE_NAME if image_exists(cli, DEFAULT_BASE_NAME) else default_base(kind)
    base_img = image_exists(cli, base)
    if base_img is None:
        raise ImageError(
            f"base image {base} not present and no registry to pull it from: "
            "run `harness images base` (debootstrap) or pass --base IMAGE"
        )
    text = dockerfile(kind).read_text()
    digest = content_hash(text, pins, base_img.id, source_hash())
    tag = f"{REPO}:{kind}-{digest}"
    found = image_exists(cli, tag)
    if found is not None and not force:
        found.tag(REPO, kind)
        say(f"{tag} present; reusing it")
        return BuildResult(tag, kind, True, time.monotonic() - t0, _size(found), base)
    labels = {LABEL_KIND: kind, LABEL_HASH: digest, "harness.image.base": base}
    packages = " ".join(pins)
    with tempfile.TemporaryDirectory(prefix="harness-build-") as tmp:
        ctx = _context(kind, Path(tmp))
        say(f"stage runtime: python3 + venv on {base}")
        runtime_tag = f"{REPO}-runtime:{kind}-{digest}"
        common = {"path": str(ctx), "dockerfile": "Dockerfile", "network_mode": "host"}
        _stream_build(
            cli,
            say,
            tag=runtime_tag,
            target="runtime",
            buildargs={"BASE_IMAGE": base},
            **common,
        )
        target = probe_python(cli, runtime_tag)
        house = download_wheelhouse(wheelhouse_dir(target), target, pins, say)
        with serve_dir(house) as url:
            say(f"stage deps + job: pip install --no-index --find-links {url}")
            _stream_build(
                cli,
                say,
                tag=tag,
                target="job",
                labels=labels,
                buildargs={"BASE_IMAGE": base, "WHEELS": url, "PACKAGES": packages},
                **common,
            )
    with contextlib.suppress(Exception):
        cli.images.remove(runtime_tag, noprune=True)
    img = image_exists(cli, tag)
    if img is None:
        raise ImageError(f"build finished without an image tagged {tag}")
    img.tag(REPO, kind)
    _untag_older(cli, kind, keep=tag)
    return BuildResult(tag, kind, False, time.monotonic() - t0, _size(img), base)


def _untag_older(cli: Any, kind: Kind, keep: str) -> None:
    """Drop older REPO:KIND-HASH tags (the layers they share with the new image stay)."""
    for img in cli.images.list(name=REPO):
        for t in img.tags:
            if t.startswith(f"{REPO}:{kind}-") and t != keep:
                with contextlib.suppress(Exception):
                    cli.images.remove(t)


def _size(img: Any) -> int:
    return int(img.attrs.get("Size") or 0)


def find_image(kind: Kind = "cpu", cli: Any = None) -> str | None:
    """The job image a probe should use: REPO:KIND when present."""
    cli = cli or client(timeout=10)
    img = image_exists(cli, f"{REPO}:{kind}")
    return f"{REPO}:{kind}" if img is not None else None


def list_images(cli: Any = None) -> list[dict[str, Any]]:
    """Job and base images present on the engine, newest first."""
    cli = cli or client(timeout=30)
    rows = []
    for img in cli.images.list():
        tags = [t for t in img.tags if t.startswith((REPO + ":", "harness-base"))]
        if not tags:
            continue
        rows.append(
            {
                "tags": tags,
                "id": img.id.removeprefix("sha256:")[:12],
                "kind": img.labels.get(LABEL_KIND, "base"),
                "size_gb": _size(img) / 1e9,
                "created": img.attrs.get("Created", "")[:19],
            }
        )
    return sorted(rows, key=lambda r: r["created"], reverse=True)


def ensure_images(
    base_name: str = DEFAULT_BASE_NAME, cuda: bool = False, on_event: OnEvent | None = None
) -> list[BuildResult]:
    """What CI needs: the local base image and the job image(s), reused when present."""
    cli = client()
    make_base(base_name, cli=cli, on_event=on_event)
    kinds: list[Kind] = ["cpu", "cuda"] if cuda else ["cpu"]
    return [build_image(k, base_name, cli=cli, on_event=on_event) for k in kinds]
