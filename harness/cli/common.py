"""What every command shares: the one-line error, for bad input and for the unexpected, and
the checks of the options every solver command has (a time limit, a path to write)."""

from __future__ import annotations

from pathlib import Path

import typer

STARTED: float | None = None  # time.perf_counter() when `harness` started (set by main())


def fail(msg: str, code: int = 2) -> typer.Exit:
    """Print `error: msg` on stderr and return the Exit to raise (2: bad input)."""
    typer.echo(f"error: {msg}", err=True)
    return typer.Exit(code)


def crash_line(exc: BaseException) -> tuple[str, int]:
    """One line for an error no command caught, and its exit code: 2 where the input or the
    file system is at fault (a file that cannot be read or written, a value out of range),
    1 for anything else. Errors the harness itself raised need no traceback hint."""
    from harness.profile import WriteError

    if isinstance(exc, WriteError):
        return str(exc), 2
    if isinstance(exc, OSError):
        what = f" {exc.filename}" if exc.filename else ""
        return f"cannot read or write{what}: {exc.strerror or exc}", 2
    if isinstance(exc, RecursionError):
        return "input nested too deeply to read (--debug shows where)", 2
    if isinstance(exc, MemoryError):
        return "input too large to hold in memory (--debug shows where)", 2
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    code = 2 if isinstance(exc, ValueError | OverflowError) else 1
    what = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return f"{what} (--debug shows the traceback)", code


def time_limit_error(value: float | None, option: str = "--time-limit") -> str | None:
    """Why `value` is no time limit (None when it is one, or is not given), checked by the
    type the problem files use (`solver.problem.TimeLimit`: finite, > 0, at most 10^9 s)."""
    if value is None:
        return None
    from pydantic import TypeAdapter, ValidationError

    from solver.problem import MAX_SECONDS, TimeLimit

    try:
        TypeAdapter(TimeLimit).validate_python(value)
    except ValidationError:
        return (
            f"{option}: expected a positive, finite number of seconds (at most "
            f"{MAX_SECONDS:g}), got {value:g}"
        )
    return None


def check_time_limit(value: float | None, option: str = "--time-limit") -> None:
    """Raise the Exit of one line, code 2, when `value` is no time limit."""
    why = time_limit_error(value, option)
    if why is not None:
        raise fail(why)


def check_out(path: Path | None, option: str, *, folder: bool = False, probe: bool = False) -> None:
    """Raise the Exit of one line, code 2, when the output `path` clearly cannot be written
    (see `harness.profile.check_writable`; `probe`: by writing there), before any work."""
    if path is None:
        return
    from harness.profile import WriteError, check_writable

    try:
        check_writable(path, folder=folder, probe=probe)
    except WriteError as exc:
        raise fail(f"{option}: {exc}") from None


def write_result(out: Path | None, text: str) -> None:
    """A command's result JSON written atomically to --out (None: not asked), and said; a
    write that fails at the end is the one-line --out error."""
    if out is None:
        return
    from harness.profile import WriteError, write_atomic

    try:
        write_atomic(out, text + "\n")
    except WriteError as exc:
        raise fail(f"--out: {exc}") from None
    typer.echo(f"wrote {out}")
