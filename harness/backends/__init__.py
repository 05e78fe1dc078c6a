"""Where a probe runs. `get_backend` picks one; imports stay lazy (no docker at start-up)."""

from __future__ import annotations

from typing import Any


def docker_available() -> tuple[bool, str]:
    try:
        from harness.backends import docker as dk
    except ImportError as exc:
        return False, f"docker backend not importable: {exc}"
    try:
        ok = bool(dk.available())
    except Exception as exc:  # an engine that does not answer, a socket we cannot open
        return False, f"no Docker engine answers ({type(exc).__name__}: {exc})"
    return ok, "Docker engine answers" if ok else "no Docker engine answers"


def get_backend(name: str, **kwargs: Any) -> tuple[Any, str]:
    """The backend and one line saying why it was chosen."""
    if name == "local":
        from harness.backends.local import LocalBackend

        return LocalBackend(), "local backend (asked for)"
    if name == "docker":
        from harness.backends.docker import DockerBackend

        return DockerBackend(**kwargs), "docker backend (asked for)"
    if name != "auto":
        raise ValueError(f"--backend: expected auto, local or docker, got {name!r}")
    ok, why = docker_available()
    if ok:
        from harness.backends.docker import DockerBackend

        return DockerBackend(**kwargs), f"docker backend: {why}"
    from harness.backends.local import LocalBackend

    return LocalBackend(), f"local backend: {why}"
