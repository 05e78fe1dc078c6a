"""The job image for tests that run real containers: with CI=true a missing engine or image
fails the test, elsewhere it skips (a machine without Docker can still run the rest)."""

from __future__ import annotations

import os

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
