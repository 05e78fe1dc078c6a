from pathlib import Path

import pytest

from harness.spec import JobKind, SpecError, load_spec

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("path", sorted((ROOT / "jobs").glob("*.yaml")), ids=lambda p: p.name)
def test_every_shipped_job_spec_loads(path: Path) -> None:
    spec = load_spec(path)
    assert spec.name
    assert spec.kind in (JobKind.train, JobKind.infer)


def test_unknown_field_is_named(tmp_path: Path) -> None:
    f = tmp_path / "bad.yaml"
    f.write_text("name: x\nmodel: resnet18\nbatchsize: 4\n")
    with pytest.raises(SpecError) as exc:
        load_spec(f)
    msg = str(exc.value)
    assert str(f) in msg and "batchsize" in msg and "\n" not in msg


def test_wrong_type_names_field_and_expectation(tmp_path: Path) -> None:
    f = tmp_path / "bad.yaml"
    f.write_text("name: x\nmodel: resnet18\nbatch_size: -3\n")
    with pytest.raises(SpecError, match=r"field 'batch_size'.*greater than 0"):
        load_spec(f)


def test_infer_kind_gets_default_infer_section(tmp_path: Path) -> None:
    f = tmp_path / "i.yaml"
    f.write_text("name: i\nkind: infer\nmodel: resnet18\n")
    spec = load_spec(f)
    assert spec.infer is not None and spec.infer.batch_sizes == [1]


def test_yaml_syntax_error_has_line(tmp_path: Path) -> None:
    f = tmp_path / "bad.yaml"
    f.write_text("name: x\nmodel: [unclosed\n")
    with pytest.raises(SpecError, match="invalid YAML"):
        load_spec(f)
