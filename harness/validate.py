"""`harness validate`: one clear line per bad file, never a traceback."""

from __future__ import annotations

from pathlib import Path


def validate_file(path: Path) -> str | None:
    """None when the file is a valid job spec, problem file or profile; else the error line."""
    from harness.spec import one_line

    try:
        err = _validate(path)
    except Exception as exc:  # last line of defence: a clean message, not a traceback
        err = f"{path}: cannot be read as a job spec or profile ({type(exc).__name__}: {exc})"
    return None if err is None else one_line(err)


def _validate(path: Path) -> str | None:
    from harness.profile import ProfileError, load_profile
    from harness.spec import SpecError, load_spec

    if not path.exists():
        return f"{path}: no such file"
    if path.is_dir():
        return f"{path}: is a folder (expected a .yaml job spec or a .json profile)"
    if path.suffix.lower() == ".json":
        try:
            load_profile(path)
        except ProfileError as exc:
            return str(exc)
        return None
    if path.suffix.lower() in (".yaml", ".yml"):
        kind = _problem_kind(path)
        if kind is not None:
            from solver.problem import ProblemError, read_problem

            try:
                read_problem(path)
            except ProblemError as exc:
                return str(exc)
            return None
        try:
            load_spec(path)
        except SpecError as exc:
            return str(exc)
        return None
    return f"{path}: unknown file type {path.suffix!r} (expected .yaml/.yml or .json)"


def _problem_kind(path: Path) -> str | None:
    import yaml

    try:
        raw = yaml.safe_load(path.read_text())
    except Exception:
        return None
    if isinstance(raw, dict) and raw.get("kind") in ("split", "pipeline", "packing", "hybrid"):
        return str(raw["kind"])
    return None
