"""Where a probe runs. `get_backend` picks one; imports stay lazy (no docker at start-up).

`--backend auto` takes Docker only when it can run a probe there: an engine that answers *and*
the job image on it. An engine without the image would fail on the first probe, so auto then
falls back to the local backend and says why (and how to get the image). `--backend slurm`
submits every probe to a Slurm cluster as a batch job (backends/slurm.py); auto never picks it
(a cluster is a choice, not a fallback).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

# (answers, why) of the engine; (present, image name) of the job image on it
EngineCheck = Callable[[], tuple[bool, str]]
ImageCheck = Callable[[str | None, str], tuple[bool, str]]


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


def job_image_present(image: str | None, kind: str) -> tuple[bool, str]:
    """Is the image a docker probe would run (`image`, else harness-job:KIND) on the engine?"""
    from harness import images

    name = image or f"{images.REPO}:{kind}"
    try:
        cli = images.client(timeout=10)
        return images.image_exists(cli, name) is not None, name
    except Exception as exc:  # an engine that stopped answering, an unreadable image list
        return False, f"{name} (cannot list images: {type(exc).__name__})"


def get_backend(
    name: str,
    *,
    image_kind: str = "cpu",
    engine: EngineCheck = docker_available,
    image_lookup: ImageCheck = job_image_present,
    allow_oversubscribe: bool = False,
    **kwargs: Any,
) -> tuple[Any, str]:
    """The backend and one line saying why it was chosen.

    `image_kind` (cpu / cuda) names the job image auto needs; `engine` and `image_lookup` are
    the checks auto makes (parameters so that the choice is testable without an engine).
    `allow_oversubscribe`: probes may run on cores others hold (recorded; else refused).
    """
    if allow_oversubscribe:
        kwargs["allow_oversubscribe"] = True
    if name == "local":
        from harness.backends.local import LocalBackend

        return LocalBackend(allow_oversubscribe=allow_oversubscribe), "local backend (asked for)"
    if name == "docker":
        from harness.backends.docker import DockerBackend

        return DockerBackend(**kwargs), "docker backend (asked for)"
    if name == "slurm":
        from harness.backends.slurm import SlurmBackend
        from harness.slurm.settings import SlurmSettings

        settings = SlurmSettings.from_env(partition=kwargs.get("partition"))
        return SlurmBackend(settings), "slurm backend (asked for)"
    if name != "auto":
        raise ValueError(f"--backend: expected auto, local, docker or slurm, got {name!r}")
    ok, why = engine()
    if ok:
        present, image = image_lookup(kwargs.get("image"), image_kind)
        if present:
            from harness.backends.docker import DockerBackend

            return DockerBackend(**kwargs), f"docker backend: {why}, job image {image} present"
        build = "harness images build" + (" --cuda" if image_kind == "cuda" else "")
        why = f"{why} but has no job image {image} (make it with `{build}`)"
    from harness.backends.local import LocalBackend

    return LocalBackend(allow_oversubscribe=allow_oversubscribe), f"local backend: {why}"
