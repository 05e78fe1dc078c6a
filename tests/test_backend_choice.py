"""`--backend auto`: Docker only when an engine answers and the job image is on it.

The engine and image checks are injected (this machine may have no engine); the backends
themselves are real: local is built for real, and Docker is only built when a check says an
engine answers, which these tests never do.
"""

import pytest

from harness.backends import get_backend
from harness.backends.local import LocalBackend


def no_engine() -> tuple[bool, str]:
    return False, "no Docker engine answers"


def engine_up() -> tuple[bool, str]:
    return True, "Docker engine answers"


def test_auto_without_engine_is_local() -> None:
    def must_not_look(image: str | None, kind: str) -> tuple[bool, str]:
        raise AssertionError("no engine: there are no images to look up")

    backend, why = get_backend("auto", engine=no_engine, image_lookup=must_not_look)
    assert isinstance(backend, LocalBackend)
    assert why == "local backend: no Docker engine answers"


@pytest.mark.parametrize(
    ("kind", "image", "looked_for"),
    [
        ("cpu", None, "harness-job:cpu"),
        ("cuda", None, "harness-job:cuda"),
        ("cpu", "mine:1", "mine:1"),
    ],
)
def test_auto_with_engine_but_no_image_is_local_and_says_so(
    kind: str, image: str | None, looked_for: str
) -> None:
    asked: list[tuple[str | None, str]] = []

    def absent(img: str | None, k: str) -> tuple[bool, str]:
        asked.append((img, k))
        return False, img or f"harness-job:{k}"

    kwargs = {"image": image} if image else {}
    backend, why = get_backend(
        "auto", image_kind=kind, engine=engine_up, image_lookup=absent, **kwargs
    )
    assert isinstance(backend, LocalBackend)
    assert asked == [(image, kind)]
    assert why.startswith("local backend: Docker engine answers but has no job image ")
    assert looked_for in why and "harness images build" in why
    assert ("--cuda" in why) == (kind == "cuda")


def test_auto_with_engine_and_image_is_docker(monkeypatch: pytest.MonkeyPatch) -> None:
    import harness.backends.docker as dk

    made: list[dict] = []

    class FakeDockerBackend:  # a fake: this machine may have no engine to build the real one
        def __init__(self, **kwargs: object) -> None:
            made.append(kwargs)

    monkeypatch.setattr(dk, "DockerBackend", FakeDockerBackend)
    backend, why = get_backend(
        "auto", engine=engine_up, image_lookup=lambda img, k: (True, "harness-job:cpu")
    )
    assert isinstance(backend, FakeDockerBackend) and made == [{}]
    assert why == "docker backend: Docker engine answers, job image harness-job:cpu present"


def test_explicit_choices_and_bad_name() -> None:
    backend, why = get_backend("local", engine=engine_up)
    assert isinstance(backend, LocalBackend) and why == "local backend (asked for)"
    with pytest.raises(ValueError, match="expected auto, local, docker or slurm"):
        get_backend("kubernetes")
