"""Tables for `harness run-split` and `harness validate-decision` (rich; numbers only)."""

from __future__ import annotations

import shutil

from rich.console import Console

from harness.runsplit.compare import Comparison, Validation, speed_note
from harness.runsplit.summary import RunSplitResult, StageShares


def _console() -> Console:
    """Wide enough for the stage columns; a pipe gets a fixed width."""
    wide = shutil.get_terminal_size((170, 40)).columns
    return Console(width=max(150, wide), highlight=False)


def _ms(v: float | None) -> str:
    return "-" if v is None else f"{v * 1e3:.1f}"


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{v * 100:+.1f}%"


def _num(v: float | None) -> str:
    return "-" if v is None else f"{v:.2f}"


def _on_cpu(s: StageShares | None) -> str:
    """How much of each side's compute wall time its thread was on a CPU (1.0: core to itself)."""
    if s is None:
        return "-"
    e = "-" if s.edge_on_cpu is None else f"{s.edge_on_cpu:.2f}"
    v = "-" if s.server_on_cpu is None else f"{s.server_on_cpu:.2f}"
    return f"{e}/{v}"


def _match(v: bool | None) -> str:
    return "-" if v is None else ("yes" if v else "NO")


def render_run(res: RunSplitResult) -> None:
    from rich.table import Table

    con = _console()
    for c in res.containers:
        mem = f", {c.memory_gb:g} GB" if c.memory_gb else ""
        line = (
            f"{c.role}: {c.cpus:g} CPU on cpuset {c.cpuset}{mem}, {c.threads or '?'} threads "
            f"-> {c.outcome}"
        )
        if c.asked_cpus != c.cpus:
            line += f" (asked {c.asked_cpus:g} CPUs)"
        if c.outcome != "ok":
            line += f": {c.reason or f'exit {c.exit_code}'}"
        con.print(line)
        for ln in c.log_tail:
            con.print(f"    {ln}")
    for n in res.notes:
        con.print(f"[yellow]note:[/yellow] {n}")
    t = Table(title=f"split run: {', '.join(res.models)}")
    cols = (
        "phase",
        "link",
        "shaping",
        "n",
        "median ms",
        "p95 ms",
        "samples/s",
        "edge ms",
        "transfer ms",
        "server ms",
        "return ms",
        "other ms",
        "on CPU e/s",
        "= whole model",
    )
    for col in cols:
        t.add_column(col, justify="left" if col in ("phase", "link", "shaping") else "right")
    for p in res.phases:
        link = f"{p.link.up_mbps:g}/{p.link.down_mbps:g} Mbps, {p.link.latency_ms:g} ms"
        s = p.stages
        if p.mode == "pipeline":
            mk = p.makespan
            t.add_row(
                p.name,
                link,
                p.shaping or "-",
                str(mk.n if mk else 0),
                f"makespan {_ms(mk.median if mk else None)}",
                _ms(mk.p95 if mk else None),
                "-",
                "",
                "",
                "",
                "",
                "",
                "",
                _match(p.outputs_match),
            )
            continue
        t.add_row(
            p.name,
            link,
            p.shaping or "-",
            str(p.requests),
            _ms(p.latency.median if p.latency else None),
            _ms(p.latency.p95 if p.latency else None),
            _num(p.throughput_per_s),
            _ms(s.edge_compute_s if s else None),
            _ms(s.transfer_s if s else None),
            _ms(s.server_compute_s if s else None),
            _ms(s.return_s if s else None),
            _ms(s.other_s if s else None),
            _on_cpu(s),
            _match(p.outputs_match),
        )
    con.print(t)
    if res.clock_offset_s is not None:
        con.print(
            f"clock offset server-edge {res.clock_offset_s * 1e3:+.3f} ms (ping rtt "
            f"{(res.rtt_s or 0) * 1e3:.3f} ms); link delay applied by the sender"
        )
    if res.error:
        con.print(f"[red]error:[/red] {res.error}")


def _ratios_line(rows: list[Comparison], attr: str) -> str:
    """'phase: side xR, ...; ...' for the rows whose `attr` ratios slowed a side."""
    parts = []
    for r in rows:
        ratios = getattr(r, attr) or {}
        if ratios:
            parts.append(f"{r.phase}: " + ", ".join(f"{k} x{x:.2f}" for k, x in ratios.items()))
    return "; ".join(parts)


def render_validation(v: Validation) -> None:
    from rich.table import Table

    con = _console()
    render_run(v.run)
    if v.rows:
        t = Table(
            title="predicted vs measured (error = (predicted - measured) / measured)",
            caption="compute x: the sides' compute per request, measured over profiled; at its "
            "compute: the throughput error with each side's compute as this run measured it "
            "(the link and pipeline model's own)",
        )
        cols = (
            "plan",
            "mode",
            "pred ms",
            "meas ms",
            "error",
            "pred samples/s",
            "meas samples/s",
            "error ",
            "compute x",
            "at its compute",
            "output ok",
        )
        for col in cols:
            t.add_column(col, justify="left" if col in ("plan", "mode") else "right")
        for r in v.rows:
            t.add_row(
                r.plan,
                r.mode,
                _ms(r.predicted_latency_s),
                _ms(r.measured_latency_s),
                _pct(r.latency_error),
                _num(r.predicted_throughput),
                _num(r.measured_throughput),
                _pct(r.throughput_error),
                "-" if r.compute_ratio is None else f"x{r.compute_ratio:.2f}",
                _pct(r.throughput_error_at_compute),
                _match(r.outputs_match),
            )
        con.print(t)
        for attr, why in (
            ("after_idle", "the gap each side idles"),
            ("beside_wakeups", "the packets each side receives while it computes"),
        ):
            line = _ratios_line(v.rows, attr)
            if line:
                con.print(f"predicted compute slowed for {why} (its profile's {attr}): {line}")
        note = speed_note([r.compute_ratio for r in v.rows])
        if note:
            con.print(f"[yellow]note:[/yellow] {note}")
    scored = [r for r in v.rows if r.measured_accuracy is not None]
    if scored:
        t = Table(title="predicted vs measured accuracy (the domain's real held-out samples)")
        for col in ("plan", "mode", "pred accuracy", "meas accuracy", "error (points)", "scored"):
            t.add_column(col, justify="left" if col in ("plan", "mode") else "right")
        for r in scored:
            err = r.accuracy_error
            t.add_row(
                r.plan,
                r.mode,
                f"{r.predicted_accuracy:.4f}" if r.predicted_accuracy is not None else "-",
                f"{r.measured_accuracy:.4f}" if r.measured_accuracy is not None else "-",
                f"{err * 100:+.2f}" if err is not None else "-",
                str(r.scored or "-"),
            )
        con.print(t)
    if v.makespans:
        t = Table(title="batch pipeline: predicted vs measured makespan")
        for col in ("method", "jobs", "pred ms", "meas ms (median)", "repeats", "error", "ok"):
            t.add_column(col, justify="left" if col == "method" else "right")
        for m in v.makespans:
            t.add_row(
                m.method,
                str(m.jobs),
                _ms(m.predicted_makespan_s),
                _ms(m.measured_makespan_s),
                str(m.repeats),
                _pct(m.makespan_error),
                _match(m.outputs_match),
            )
        con.print(t)
    parts = []
    if v.median_abs_latency_error is not None:
        parts.append(f"latency {v.median_abs_latency_error * 100:.1f}%")
    if v.median_abs_throughput_error is not None:
        known = v.median_abs_throughput_error_at_compute
        parts.append(
            f"throughput {v.median_abs_throughput_error * 100:.1f}%"
            + ("" if known is None else f" ({known * 100:.1f}% at the run's own compute)")
        )
    if v.median_abs_makespan_error is not None:
        parts.append(f"makespan {v.median_abs_makespan_error * 100:.1f}%")
    if v.max_abs_accuracy_error is not None:
        parts.append(f"accuracy (largest) {v.max_abs_accuracy_error * 100:.2f} points")
    if parts:
        con.print("median |error|: " + ", ".join(parts))
