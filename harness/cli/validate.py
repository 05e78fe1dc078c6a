"""`harness validate`: one line per problem, naming the file, the field and what was expected.

The loaders (`load_spec`, `load_profile`) stop at the first error: a loader needs one reason to
refuse. A validator is read by a person fixing a file, so it lists every problem, each in words
(not pydantic's), and never falls back to a traceback or a catch-all message: every kind of bad
input (not text, not YAML/JSON, wrong top-level type, missing / unknown field, wrong type, bad
enum, constraint) has its own sentence. Models are imported lazily (CLI start-up stays lean).
"""

from __future__ import annotations

import types
import typing
from pathlib import Path
from typing import Annotated, Any

import typer

_KEEP_LAST = ("missing", "extra_forbidden", "invalid_key")  # the last loc item names the field


def register(app: typer.Typer) -> None:
    app.command()(validate)


def validate(
    files: Annotated[
        list[Path],
        typer.Argument(
            help="YAML: job specs, problems, clusters, traces; JSON: profiles, solutions"
        ),
    ],
) -> None:
    """Check each file against the model of its kind; one line per problem.

    Job specs, problem files (split, pipeline, packing, hybrid, accsplit), clusters and traces
    (.yaml);
    profiles, solutions and fitted cost models (.json).
    """
    bad = 0
    for f in files:
        found = problems(f)
        if not found:
            typer.echo(f"ok: {f}")
        bad += bool(found)
        for line in found:
            typer.echo(f"error: {line}", err=True)
    raise typer.Exit(1 if bad else 0)


def validate_file(path: Path) -> str | None:
    """None when the file is valid; else its problems, one line each (joined by newlines)."""
    found = problems(path)
    return "\n".join(found) if found else None


def problems(path: Path) -> list[str]:
    """Every problem in a job spec (.yaml), problem file (.yaml) or profile (.json)."""
    from harness.spec import one_line

    return [one_line(p) for p in _problems(path)]


def _problems(path: Path) -> list[str]:
    if not path.exists():
        return [f"{path}: no such file"]
    if path.is_dir():
        return [f"{path}: is a folder (expected a .yaml job spec or a .json profile)"]
    suffix = path.suffix.lower()
    if suffix not in (".json", ".yaml", ".yml"):
        return [f"{path}: unknown file type {path.suffix!r} (expected .yaml/.yml or .json)"]
    from harness.profile import parse_json
    from harness.spec import parse_yaml, read_text

    what = "a JSON profile" if suffix == ".json" else "a YAML job spec"
    parse = parse_json if suffix == ".json" else parse_yaml
    try:
        raw = parse(read_text(path, what), str(path))
    except ValueError as exc:  # the readers' one line: not text, not JSON/YAML, too deep
        return [str(exc)]
    trace = isinstance(raw, list) and raw and all(isinstance(x, dict) for x in raw)
    if suffix != ".json" and trace:  # a trace may be its list of jobs alone
        from solver.packing.simulate import Trace

        return _model_problems(path, Trace, {"jobs": raw})
    if not isinstance(raw, dict):
        expected = "a JSON object (a profile)" if suffix == ".json" else "a mapping of job fields"
        return [f"{path}: top level: expected {expected}, got {_kind(raw)}"]
    model = _json_model(raw) if suffix == ".json" else _yaml_model(raw)
    return _model_problems(path, model, raw)


def _json_model(raw: dict[str, Any]) -> Any:
    """Which model a JSON document claims to be: a profile unless it says otherwise."""
    from solver.kinds import get_kind
    from solver.problem import KIND_NAMES

    if raw.get("format") == "harness.costmodel":
        from solver.hybrid.costmodel import CostModelFile

        return CostModelFile
    if "schema_version" not in raw and raw.get("kind") in KIND_NAMES:
        return get_kind(str(raw["kind"])).solution
    if "variants" in raw and "family" in raw:  # harness variants make's manifest.json
        from harness.manifest import VariantManifest

        return VariantManifest
    from harness.profile import Profile

    return Profile


def _yaml_model(raw: dict[str, Any]) -> Any:
    """A problem file (by its `kind`), a cluster or a trace (by their one list), else a job spec."""
    from solver.kinds import get_kind
    from solver.problem import KIND_NAMES

    if raw.get("kind") in KIND_NAMES:
        return get_kind(str(raw["kind"])).problem
    if "kind" not in raw and "model" not in raw:
        if "servers" in raw:
            from solver.packing.simulate import Cluster

            return Cluster
        if "jobs" in raw:
            from solver.packing.simulate import Trace

            return Trace
    from harness.spec import JobSpec

    return JobSpec


# ---------------------------------------------------------------- pydantic's report, in words


def _model_problems(path: Path, model: Any, raw: dict[Any, Any]) -> list[str]:
    from pydantic import ValidationError

    try:
        model.model_validate(raw)
    except RecursionError:
        return [f"{path}: nested too deeply to validate"]
    except ValidationError as exc:
        groups: dict[tuple[Any, ...], list[tuple[tuple[Any, ...], dict[str, Any]]]] = {}
        for detail in exc.errors():
            err = dict(detail)
            field, union = _field_path(raw, err)
            groups.setdefault(union or field, []).append((field, err))
        return [_describe(path, model, key, errs) for key, errs in groups.items()]
    return []


def _field_path(raw: Any, err: dict[str, Any]) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    """The error's location as keys of the input, without pydantic's union-member tags, and
    (when it went through a union) the path up to the union, so its members' errors merge."""
    loc = tuple(err["loc"])
    here: Any = raw
    kept: list[Any] = []
    union: tuple[Any, ...] = ()
    for n, seg in enumerate(loc):
        last = n == len(loc) - 1
        in_list = isinstance(here, list) and isinstance(seg, int) and 0 <= seg < len(here)
        if in_list or (isinstance(here, dict) and seg in here):
            kept.append(seg)
            here = here[seg]
        elif last and err["type"] in _KEEP_LAST:
            kept.append(seg)
        elif not union:  # a tag like 'int' or "literal['auto']": not a key of the input
            union = tuple(kept)
    return tuple(kept), union


def _describe(
    path: Path, model: Any, key: tuple[Any, ...], errs: list[tuple[tuple[Any, ...], dict[str, Any]]]
) -> str:
    field, err = errs[0]
    where = f"field '{_dotted(key)}'" if key else "top level"
    if len(errs) > 1:  # one value, several union members refused it
        wanted = " or ".join(dict.fromkeys(_expected(e) for _, e in errs))
        return f"{path}: {where}: expected {wanted}, got {_show(err.get('input'))}"
    kind = err["type"]
    where = f"field '{_dotted(field)}'" if field else "top level"
    if kind == "missing":
        return f"{path}: {where}: missing (required)"
    if kind == "extra_forbidden":
        allowed = _allowed_fields(model, field[:-1])
        hint = f" (expected one of: {', '.join(allowed)})" if allowed else ""
        return f"{path}: {where}: unknown field{hint}"
    if kind == "invalid_key":
        return f"{path}: field name {err.get('input')!r}: expected a string"
    if kind in ("value_error", "assertion_error"):
        reason = str(err["msg"]).removeprefix("Value error, ").removeprefix("Assertion failed, ")
        got = f" (got {_show(err.get('input'))})" if field else ""  # not the whole document
        return f"{path}: {where}: {reason}{got}"
    return f"{path}: {where}: expected {_expected(err)}, got {_show(err.get('input'))}"


def _expected(err: dict[str, Any]) -> str:
    """What the field wanted, from pydantic's context where it has one."""
    ctx = err.get("ctx") or {}
    kind = err["type"]
    if "expected" in ctx:  # enum, literal
        return str(ctx["expected"])
    limits = {
        "greater_than": ("a number greater than", "gt"),
        "greater_than_equal": ("a number at least", "ge"),
        "less_than": ("a number less than", "lt"),
        "less_than_equal": ("a number at most", "le"),
        "string_too_short": ("a string of at least {} character(s)", "min_length"),
        "string_too_long": ("a string of at most {} character(s)", "max_length"),
        "too_short": ("at least {} item(s)", "min_length"),
        "too_long": ("at most {} item(s)", "max_length"),
        "string_pattern_mismatch": ("a string matching {!r}", "pattern"),
    }
    if kind in limits and limits[kind][1] in ctx:
        text, name = limits[kind]
        value = ctx[name]
        return text.format(value) if "{" in text else f"{text} {value}"
    msg = str(err["msg"])
    for prefix in ("Input should be ", "Input should "):
        if msg.startswith(prefix):
            return msg[len(prefix) :].split(", ")[0]
    return msg[:1].lower() + msg[1:]


def _allowed_fields(model: Any, path: tuple[Any, ...]) -> list[str]:
    """The field names of the model that sits at `path` (through optionals, lists, dicts)."""
    models = [model]
    for seg in path:
        if not isinstance(seg, str):
            continue  # a list index or a dict key: same item model
        nxt = [m for m in models if seg in m.model_fields]
        if not nxt:
            continue
        models = [s for m in nxt for s in _models_in(m.model_fields[seg].annotation)]
        if not models:
            return []
    names = [n for m in models for n in m.model_fields]
    return list(dict.fromkeys(names))


def _models_in(tp: Any) -> list[Any]:
    from pydantic import BaseModel

    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return [tp]
    if isinstance(tp, types.UnionType) or typing.get_origin(tp) is not None:
        return [m for arg in typing.get_args(tp) for m in _models_in(arg)]
    return []


def _dotted(path: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in path)


def _kind(value: Any) -> str:
    names = {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean"}
    names.update({int: "an integer", float: "a number", type(None): "nothing (empty document)"})
    return names.get(type(value), f"a {type(value).__name__}")


def _show(value: Any) -> str:
    if isinstance(value, dict | list):
        return f"{_kind(value)} of {len(value)} item(s)"
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
