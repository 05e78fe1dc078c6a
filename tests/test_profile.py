import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.profile import (
    SCHEMA_VERSION,
    Caps,
    Enforcement,
    Outcome,
    Probe,
    Profile,
    ProfileError,
    Stat,
    TrainSection,
    json_schema,
    load_profile,
    make_profile_id,
    now,
    save_profile,
    write_atomic,
)
from harness.spec import JobSpec


def _profile() -> Profile:
    created = now()
    spec = JobSpec(name="t", model="resnet18")
    probe = Probe(
        id="c1-mnone-g0-b32",
        caps=Caps(cpus=1),
        enforced=Enforcement(cpu="affinity(1)"),
        backend="local",
        outcome=Outcome.ok,
        started=created,
        duration_s=1.0,
        throughput=Stat.of([10.0, 11.0, 12.0]),
    )
    return Profile(
        id=make_profile_id("t", "h", created),
        created=created,
        harness_version="0.1.0",
        kind="train",
        job=spec,
        host={  # type: ignore[arg-type]
            "hostname": "h",
            "cpu_model": "x",
            "cores": 2,
            "memory_gb": 1.0,
            "os": "linux",
            "python_version": "3.11",
        },
        backend="local",
        train=TrainSection(probes=[probe]),
    )


def test_round_trip(tmp_path: Path) -> None:
    p = _profile()
    f = tmp_path / "p.json"
    save_profile(p, f)
    back = load_profile(f)
    assert back == p
    assert json.loads(f.read_text())["schema_version"] == SCHEMA_VERSION


def test_json_schema_validates_a_profile(tmp_path: Path) -> None:
    """The exported schema accepts what the harness writes and refuses what it would refuse."""
    import jsonschema  # dev extra: the schema is for other tools, so check it with one

    doc = json.loads(_profile().model_dump_json())
    jsonschema.validate(doc, json_schema())
    doc["train"]["probes"][0]["outcome"] = "exploded"
    with pytest.raises(jsonschema.ValidationError, match="exploded"):
        jsonschema.validate(doc, json_schema())


def test_wrong_version_is_one_line(tmp_path: Path) -> None:
    f = tmp_path / "p.json"
    d = json.loads(_profile().model_dump_json())
    d["schema_version"] = "0.1"
    f.write_text(json.dumps(d))
    with pytest.raises(ProfileError, match=r"field 'schema_version': expected '1.0'"):
        load_profile(f)


def test_missing_section_is_reported(tmp_path: Path) -> None:
    f = tmp_path / "p.json"
    d = json.loads(_profile().model_dump_json())
    d["train"] = None
    f.write_text(json.dumps(d))
    with pytest.raises(ProfileError, match="train"):
        load_profile(f)


def test_write_atomic_leaves_no_temp_on_error(tmp_path: Path) -> None:
    class Boom(str):
        def __str__(self) -> str:
            raise RuntimeError

    write_atomic(tmp_path / "a.json", "{}")
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]


@given(st.lists(st.floats(min_value=0.001, max_value=1e6), min_size=1, max_size=50))
def test_stat_orders_quantiles(xs: list[float]) -> None:
    s = Stat.of(xs)
    assert s.min <= s.p5 <= s.median <= s.p95 <= s.max
    assert s.n == len(xs) and s.cv >= 0
