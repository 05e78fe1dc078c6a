"""`harness validate` meets malformed input: always one clean line, never a traceback."""

import json
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from harness.cli import app
from harness.validate import validate_file

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda kids: (
        st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=8), kids, max_size=4)
    ),
    max_leaves=12,
)

SPEC_KEYS = ["name", "kind", "model", "input_shape", "batch_size", "data", "loader", "iterations"]


def _check(result: str | None, path: Path) -> None:
    assert result is not None
    assert "\n" not in result and "Traceback" not in result
    assert str(path) in result


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.binary(max_size=200))
def test_random_bytes_as_yaml_and_json(tmp_path_factory, data: bytes) -> None:  # type: ignore[no-untyped-def]
    d = tmp_path_factory.mktemp("v")
    for name in ("x.yaml", "x.json"):
        f = d / name
        f.write_bytes(data)
        res = validate_file(f)
        if res is not None:
            _check(res, f)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.dictionaries(st.sampled_from(SPEC_KEYS), json_values, max_size=6))
def test_random_spec_mappings(tmp_path_factory, doc: dict) -> None:  # type: ignore[no-untyped-def]
    f = tmp_path_factory.mktemp("v") / "job.yaml"
    f.write_text(json.dumps(doc))  # JSON is valid YAML
    res = validate_file(f)
    if res is not None:
        _check(res, f)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.sampled_from(["schema_version", "kind", "job", "host", "train", "created", "id"]),
    json_values,
)
def test_profile_with_one_field_broken(tmp_path_factory, key: str, value: object) -> None:  # type: ignore[no-untyped-def]
    from test_profile import _profile

    doc = json.loads(_profile().model_dump_json())
    doc[key] = value
    f = tmp_path_factory.mktemp("v") / "p.json"
    f.write_text(json.dumps(doc))
    res = validate_file(f)
    if res is not None:
        _check(res, f)


def test_cli_exit_codes(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [\n")
    good = ROOT / "jobs" / "res18.yaml"
    r = runner.invoke(app, ["validate", str(good), str(bad)])
    assert r.exit_code == 1
    assert "ok:" in r.output and "invalid YAML" in r.output
    assert "Traceback" not in r.output
    r = runner.invoke(app, ["validate", str(good)])
    assert r.exit_code == 0


def test_missing_file_and_folder(tmp_path: Path) -> None:
    assert "no such file" in (validate_file(tmp_path / "nope.json") or "")
    assert "folder" in (validate_file(tmp_path) or "")
