"""The job image for tests that run real containers: with CI=true a missing engine or image
fails the test, elsewhere it skips (a machine without Docker can still run the rest)."""

from __future__ import annotations

import os
from typing import Any

import pytest

from harness.backends.docker import available

CI = os.environ.get("CI") == "true"


def need(reason: str) -> None:
    """Fail under CI (the engine is part of CI), skip elsewhere."""
    if CI:
        pytest.fail(f"CI=true: {reason}")
    pytest.skip(reason)


def job_image() -> str:
    """The CPU job image's name, once the engine answers and the image is built."""
    if not available(timeout=5):
        need("no Docker engine answers (start one with .ci/docker.sh)")
    from harness.images import find_image

    found = find_image("cpu")
    if found is None:
        need("no harness-job:cpu image (build it with `harness images build`)")
    assert found is not None
    return found


def containers(label: str | None = None) -> list[Any]:
    """The engine's containers, running or not, with `label` ("key" or "key=value"; None: all).
    One removed while they are listed (another test's clean-up) is left out, not an error."""
    import docker

    cli = docker.from_env(timeout=30)
    flt = {"label": label} if label else None
    return list(cli.containers.list(all=True, filters=flt, ignore_removed=True))
