"""What every command shares: the one-line error and option parsing helpers."""

from __future__ import annotations

import typer


def fail(msg: str, code: int = 2) -> typer.Exit:
    """Print `error: msg` on stderr and return the Exit to raise (2: bad input)."""
    typer.echo(f"error: {msg}", err=True)
    return typer.Exit(code)


def floats(text: str | None, option: str) -> list[float]:
    """A comma-separated list of numbers, or a one-line error naming the option."""
    if not text:
        return []
    try:
        return [float(x) for x in text.replace(" ", "").split(",") if x]
    except ValueError:
        raise fail(f"{option}: expected comma-separated numbers, got {text!r}") from None
