"""What every command shares: the one-line error, for bad input and for the unexpected."""

from __future__ import annotations

import typer


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
