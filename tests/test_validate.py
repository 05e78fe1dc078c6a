"""`harness validate` meets malformed input: one specific line per problem, never a traceback.

The hypothesis tests drive the real CLI (typer's CliRunner) and use the loaders
(`load_spec`, `load_profile`, which stop at the first error) as the oracle for whether a file
is valid: the validator must agree with them on exit code, and word every problem it finds.
"""

import json
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_profile import _profile
from typer.testing import CliRunner

from harness.cli import app
from harness.profile import ProfileError, load_profile
from harness.spec import SpecError, load_spec

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()
FALLBACKS = ("cannot be read as", "Traceback")

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda kids: (
        st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=8), kids, max_size=4)
    ),
    max_leaves=12,
)

SPEC_KEYS = ["name", "kind", "model", "input_shape", "batch_size", "data", "loader", "iterations"]
FIELD = re.compile(r"^error: (?P<file>\S+): (field '(?P<field>[^']*)'|field name |top level|)")
HYPO = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _loads(path: Path) -> bool:
    """The oracle: does the loader the harness itself uses accept the file?"""
    try:
        (load_profile if path.suffix == ".json" else load_spec)(path)
    except (ProfileError, SpecError):
        return False
    return True


def _validate(path: Path) -> list[str]:
    """Run `harness validate PATH`; the error lines (checked for shape) it printed."""
    r = runner.invoke(app, ["validate", str(path)])
    assert r.exception is None or isinstance(r.exception, SystemExit), r.exception
    for bad in FALLBACKS:
        assert bad not in r.output, r.output
    if _loads(path):
        assert r.exit_code == 0 and r.stdout.strip() == f"ok: {path}" and not r.stderr
        return []
    assert r.exit_code == 1 and "ok:" not in r.stdout, r.output
    lines = r.stderr.splitlines()
    assert lines, "an invalid file got no error line"
    assert len(lines) == len(set(lines)), f"a problem reported twice: {lines}"
    for line in lines:
        assert line.startswith(f"error: {path}: "), line
    return lines


def _fields(lines: list[str]) -> list[str]:
    out = []
    for line in lines:
        m = FIELD.match(line)
        assert m, line
        out.append(m.group("field") or "")
    return out


@HYPO
@given(st.binary(max_size=200))
def test_random_bytes_as_yaml_and_json(tmp_path_factory, data: bytes) -> None:  # type: ignore[no-untyped-def]
    d = tmp_path_factory.mktemp("v")
    for name in ("x.yaml", "x.json"):
        f = d / name
        f.write_bytes(data)
        _validate(f)


@HYPO
@given(st.dictionaries(st.sampled_from(SPEC_KEYS), json_values, max_size=6))
def test_random_spec_mappings(tmp_path_factory, doc: dict) -> None:  # type: ignore[no-untyped-def]
    f = tmp_path_factory.mktemp("v") / "job.yaml"
    f.write_text(json.dumps(doc))  # JSON is valid YAML
    for field in _fields(_validate(f)):
        top = field.split(".")[0]
        # every line is about a key the document has, or a required one it lacks
        assert top in doc or top in ("name", "model") or field == "", (field, doc)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.sampled_from(["schema_version", "kind", "job", "host", "train", "created", "id"]),
    json_values,
)
def test_profile_with_one_field_broken(tmp_path_factory, key: str, value: object) -> None:  # type: ignore[no-untyped-def]
    doc = json.loads(_profile().model_dump_json())
    doc[key] = value
    f = tmp_path_factory.mktemp("v") / "p.json"
    f.write_text(json.dumps(doc))
    lines = _validate(f)
    for field, line in zip(_fields(lines), lines, strict=True):
        # only the broken field is reported, or a whole-profile rule about it: a 'kind' that
        # needs another section, a missing 'train' section
        whole = f"'{key}'" in line or (key == "kind" and "profile needs" in line)
        assert field.split(".")[0] == key or (field == "" and whole), (line, key)


SPEC = "name: j\nmodel: resnet18\n"
CASES = [
    # (file name, content, the one line expected, after the file name)
    ("a.yaml", "name: [\n", "invalid YAML at line 2"),
    ("b.json", '{"kind": ', "invalid JSON at line 1 column 10"),
    ("c.yaml", "- 1\n- 2\n", "top level: expected a mapping of job fields, got a list"),
    ("d.json", "[1, 2]", "top level: expected a JSON object (a profile), got a list"),
    ("e.yaml", "model: resnet18\n", "field 'name': missing (required)"),
    ("f.yaml", SPEC + "batch_size: many\n", "field 'batch_size': expected a valid integer, got"),
    ("g.yaml", SPEC + "kind: bake\n", "field 'kind': expected 'train' or 'infer', got 'bake'"),
    ("h.yaml", SPEC + "loader: {wrokers: 2}\n", "field 'loader.wrokers': unknown field"),
    ("i.yaml", SPEC + "loader: {workers: x}\n", "field 'loader.workers': expected a valid integer"),
    ("j.yaml", SPEC + "batch_size: 0\n", "field 'batch_size': expected a number greater than 0"),
    ("k.yaml", SPEC + "input_shape: [3]\n", "field 'input_shape': expected [C, H, W]"),
    # a date is no YAML date here: the field says what it wanted (2021-02-30 used to crash)
    ("l.yaml", SPEC + "batch_size: 2021-02-30\n", "field 'batch_size': expected a valid integer"),
    ("l2.yaml", SPEC + "seed: " + "7" * 5000 + "\n", "invalid YAML: a value cannot be read"),
    ("l3.yaml", "[" * 100_000, "invalid YAML: nested too deeply to read"),
    ("l4.json", "[" * 100_000, "invalid JSON: nested too deeply to read"),
    ("l5.json", '{"n": ' + "7" * 5000 + "}", "invalid JSON: Exceeds the limit (4300 digits)"),
    ("m.yaml", b"\xff\xfe", "not UTF-8 text"),
]


@pytest.mark.parametrize(("name", "content", "expected"), CASES, ids=[c[0] for c in CASES])
def test_each_kind_of_problem_has_its_sentence(
    tmp_path: Path, name: str, content: str | bytes, expected: str
) -> None:
    f = tmp_path / name
    if isinstance(content, bytes):
        f.write_bytes(content)
    else:
        f.write_text(content)
    lines = _validate(f)
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"error: {f}: {expected}"), lines[0]


def test_every_problem_of_a_file_on_its_own_line(tmp_path: Path) -> None:
    f = tmp_path / "job.yaml"
    f.write_text("name: j\nkind: bake\nbatch_size: -1\nloader: {workers: 1.5, x: 1}\n")
    fields = _fields(_validate(f))
    assert fields == ["kind", "model", "batch_size", "loader.workers", "loader.x"], fields


def test_unknown_field_lists_the_allowed_ones(tmp_path: Path) -> None:
    doc = json.loads(_profile().model_dump_json())
    doc["host"]["cpu_modle"] = "x"
    f = tmp_path / "p.json"
    f.write_text(json.dumps(doc))
    (line,) = _validate(f)
    assert "field 'host.cpu_modle': unknown field (expected one of: hostname, cpu_model" in line


def _committed_profiles() -> list[Path]:
    """Every JSON under profiles/ that is a profile (by its 'kind'), not e.g. a cost model."""
    found = []
    for f in sorted((ROOT / "profiles").rglob("*.json")):
        doc = json.loads(f.read_text())
        if isinstance(doc, dict) and doc.get("kind") in ("train", "infer"):
            found.append(f)
    return found


def test_committed_profiles_validate() -> None:
    files = _committed_profiles()
    assert files, "no committed profiles found"
    r = runner.invoke(app, ["validate", *map(str, files)])
    assert r.exit_code == 0, r.output
    assert r.stdout.splitlines() == [f"ok: {f}" for f in files]


def test_cli_exit_codes(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [\n")
    good = ROOT / "jobs" / "res18.yaml"
    r = runner.invoke(app, ["validate", str(good), str(bad)])
    assert r.exit_code == 1
    assert r.stdout.strip() == f"ok: {good}"
    assert r.stderr.startswith(f"error: {bad}: invalid YAML")
    r = runner.invoke(app, ["validate", str(good)])
    assert r.exit_code == 0


def test_missing_file_and_folder(tmp_path: Path) -> None:
    r = runner.invoke(app, ["validate", str(tmp_path / "nope.json"), str(tmp_path)])
    assert r.exit_code == 1
    assert r.stderr.splitlines() == [
        f"error: {tmp_path / 'nope.json'}: no such file",
        f"error: {tmp_path}: is a folder (expected a .yaml job spec or a .json profile)",
    ]
