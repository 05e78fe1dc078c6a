"""Predicted against measured (pure: numbers in, numbers out).

The prediction of a plan is the solver's own cost model: compute steps at their profiled
latencies, transfers at latency + bytes * 8 / bandwidth, summed along the plan (recomputed from
the bytes when the link differs from the problem's). Throughput with one request in flight is
batch / latency; with a window of requests in flight the stages overlap and the busiest
resource (edge compute, uplink, server compute, downlink) sets it, each link direction busy
for bytes / bandwidth only (propagation overlaps, as in the emulated link's delay line), each
side's compute for its streamed occupancy (a step's busy_s: CPU time over a fractional CPU
quota), and no faster than `window` requests per cycle (Little's law). A request's cycle is its
latency, plus, when its result is needed on the server, the completion notice: the client
learns that a request is done only when the server's reply crosses the link back (latency +
the reply's bytes / bandwidth), and only then does a window slot free up. For the batch
pipeline the prediction is the schedule's makespan as the solver computed it.

Relative error = (predicted - measured) / measured: negative when the model is optimistic.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from pydantic import Field

from harness.runsplit.plan import LinkSetting, Mode, PlanStep, output_role
from harness.runsplit.summary import PhaseResult, RunSplitResult
from harness.spec import Strict


@dataclass(frozen=True)
class Prediction:
    latency_s: float
    edge_s: float
    up_s: float
    server_s: float
    down_s: float
    batch_size: int
    up_busy_s: float | None = None  # the uplink's occupancy: bytes / bandwidth (None: up_s)
    down_busy_s: float | None = None
    edge_busy_s: float | None = None  # compute occupancy when streamed (None: edge_s)
    server_busy_s: float | None = None
    notice_s: float = 0.0  # result needed on the server: its reply's trip back to the client
    notice_busy_s: float = 0.0  # ... and the downlink's occupancy by it

    @property
    def cycle_s(self) -> float:
        """From a request's start until the client may start another in its place."""
        return self.latency_s + self.notice_s

    def throughput(self, mode: Mode, window: int | None = None) -> float:
        """Samples per second: sequential in latency mode (one request per cycle); pipelined,
        the busiest resource, and at most `window` requests per cycle."""
        cycle = self.cycle_s
        if mode == "latency" or window == 1:
            return self.batch_size / cycle if cycle > 0 else float("inf")
        up = self.up_s if self.up_busy_s is None else self.up_busy_s
        down = (self.down_s if self.down_busy_s is None else self.down_busy_s) + self.notice_busy_s
        edge = self.edge_s if self.edge_busy_s is None else self.edge_busy_s
        server = self.server_s if self.server_busy_s is None else self.server_busy_s
        slowest = max(edge, up, server, down)
        if window is not None and cycle > 0:
            slowest = max(slowest, cycle / window)
        return self.batch_size / slowest if slowest > 0 else float("inf")


def transfer_s(nbytes: float, mbps: float, latency_ms: float) -> float:
    return latency_ms / 1e3 + nbytes * 8.0 / (mbps * 1e6)


def predict(
    steps: Sequence[PlanStep],
    batch_size: int,
    link: LinkSetting | None,
    reply_bytes: float = 0.0,
) -> Prediction:
    """The plan's predicted latency and per-resource times; `link` re-prices the transfers.
    `reply_bytes`: the result's size, which the server sends back as the completion notice when
    the result is needed on the server (priced on `link`; no link, no notice)."""
    edge = server = up = down = up_busy = down_busy = edge_busy = server_busy = 0.0
    for st in steps:
        if st.kind == "compute":
            busy = st.latency_s if st.busy_s is None else max(st.latency_s, st.busy_s)
            if st.role == "edge":
                edge, edge_busy = edge + st.latency_s, edge_busy + busy
            else:
                server, server_busy = server + st.latency_s, server_busy + busy
            continue
        t = busy = st.latency_s
        if link is not None:
            mbps = link.up_mbps if st.up else link.down_mbps
            t = transfer_s(st.nbytes, mbps, link.latency_ms)
            busy = transfer_s(st.nbytes, mbps, 0.0)
        if st.up:
            up, up_busy = up + t, up_busy + busy
        else:
            down, down_busy = down + t, down_busy + busy
    notice = notice_busy = 0.0
    if link is not None and output_role(steps) == "server":
        notice = transfer_s(reply_bytes, link.down_mbps, link.latency_ms)
        notice_busy = transfer_s(reply_bytes, link.down_mbps, 0.0)
    return Prediction(
        edge + up + server + down,
        edge,
        up,
        server,
        down,
        batch_size,
        up_busy,
        down_busy,
        edge_busy,
        server_busy,
        notice,
        notice_busy,
    )


def compute_ratio(
    predicted: Mapping[str, float | None] | None, measured: Mapping[str, float | None] | None
) -> float | None:
    """Measured over predicted compute, edge and server together: above 1 the sides computed
    slower than their profiles said (the machine's speed since profiling, or load), which no
    link or pipeline model can account for."""
    if not predicted or not measured:
        return None
    p = sum(float(predicted.get(k) or 0.0) for k in ("edge", "server"))
    m = sum(float(measured.get(k) or 0.0) for k in ("edge", "server"))
    return m / p if p > 0 and m > 0 else None


def at_compute(pred: Prediction, measured: Mapping[str, float | None] | None) -> Prediction | None:
    """`pred` with each side's compute as the run measured it per request (its streamed
    occupancy scaled alike): what the link and pipeline model say once the compute is known.
    Its error is that model's own; the rest of the plain error is the sides computing off their
    profiles. None where a side that computes has no measured compute."""
    if not measured:
        return None
    scale = {}
    for side, p in (("edge", pred.edge_s), ("server", pred.server_s)):
        m = float(measured.get(side) or 0.0)
        if p > 0 and m <= 0:
            return None
        scale[side] = m / p if p > 0 else 1.0
    return scaled(pred, scale["edge"], scale["server"])


def scaled(pred: Prediction, edge: float, server: float) -> Prediction:
    """`pred` with the edge's compute times `edge` and the server's times `server` (their
    streamed occupancy alike), the latency following."""
    e, s = pred.edge_s * edge, pred.server_s * server
    return replace(
        pred,
        latency_s=pred.latency_s + (e - pred.edge_s) + (s - pred.server_s),
        edge_s=e,
        server_s=s,
        edge_busy_s=None if pred.edge_busy_s is None else pred.edge_busy_s * edge,
        server_busy_s=None if pred.server_busy_s is None else pred.server_busy_s * server,
    )


SPEED_TOLERANCE = 0.2  # compute off its profile by more than this in every phase: say so


def speed_note(ratios: Sequence[float | None]) -> str | None:
    """A line when every phase computed off its profiled time by more than SPEED_TOLERANCE the
    same way: the errors above then say how the sides computed (another window of a shared VM,
    other load, another clock, or a side that computes after idling for the link), not what
    the link and pipeline model got wrong."""
    xs = sorted(r for r in ratios if r is not None)
    if not xs:
        return None
    slow, fast = xs[0] > 1 + SPEED_TOLERANCE, xs[-1] < 1 / (1 + SPEED_TOLERANCE)
    if not (slow or fast):
        return None
    med = xs[len(xs) // 2]
    return (
        f"every phase computed {'slower' if slow else 'faster'} than its profiles (compute "
        f"x{xs[0]:.2f}-x{xs[-1]:.2f}, median x{med:.2f}): the errors follow the sides' compute, "
        "not the link or the pipeline model (their own error is the 'at its compute' column); "
        "the machine's speed moved since profiling, or the run computes otherwise than a "
        "profile does (after waiting for the link, beside the other side)"
    )


def relative_error(predicted: float | None, measured: float | None) -> float | None:
    if predicted is None or measured is None or measured <= 0:
        return None
    return (predicted - measured) / measured


class Comparison(Strict):
    plan: str
    phase: str
    mode: Mode
    predicted_latency_s: float
    measured_latency_s: float | None
    latency_error: float | None
    measured_p95_s: float | None = None
    predicted_throughput: float | None = Field(
        description="samples/s; None where the plan is predicted to take no time"
    )
    measured_throughput: float | None
    throughput_error: float | None
    predicted_stages: dict[str, float]
    measured_stages: dict[str, float] | None = None
    compute_ratio: float | None = Field(
        default=None,
        description="measured over predicted compute (edge + server) per request: how fast the "
        "sides computed against their profiles, whatever the link did",
    )
    throughput_error_at_compute: float | None = Field(
        default=None,
        description="the throughput error of the prediction remade with each side's compute as "
        "this run measured it: the link and pipeline model's own error, the machine's speed "
        "taken out",
    )
    after_idle: dict[str, float] | None = Field(
        default=None,
        description="per side, the ratio its predicted compute was slowed by for the gap it "
        "idles in this phase, from its profile's after_idle; None: no side slowed",
    )
    beside_wakeups: dict[str, float] | None = Field(
        default=None,
        description="streamed, per side, the ratio its predicted compute was slowed by for the "
        "packets it receives while it computes, from its profile's beside_wakeups",
    )
    shaping: str | None = None
    outputs_match: bool | None = None
    predicted_accuracy: float | None = Field(
        default=None, description="accsplit: the chosen variant's accuracy on the domain"
    )
    measured_accuracy: float | None = Field(
        default=None, description="correct / scored over the domain's samples streamed"
    )
    accuracy_error: float | None = Field(
        default=None, description="predicted - measured accuracy (a share; x100 for points)"
    )
    scored: int | None = None


class MakespanComparison(Strict):
    method: str
    phase: str
    jobs: int
    predicted_makespan_s: float
    measured_makespan_s: float | None
    makespan_error: float | None
    repeats: int = 0
    shaping: str | None = None
    outputs_match: bool | None = None


class Validation(Strict):
    kind: str = "validate-decision"
    solution: str
    decision: str = Field(description="split or pipeline")
    rows: list[Comparison] = Field(default_factory=list)
    makespans: list[MakespanComparison] = Field(default_factory=list)
    median_abs_latency_error: float | None = None
    median_abs_throughput_error: float | None = None
    median_abs_throughput_error_at_compute: float | None = None
    median_abs_makespan_error: float | None = None
    max_abs_accuracy_error: float | None = Field(
        default=None, description="accsplit: the largest |predicted - measured| accuracy"
    )
    run: RunSplitResult


def compare_phase(
    name: str,
    pred: Prediction,
    ph: PhaseResult,
    predicted_accuracy: float | None = None,
    after_idle: Mapping[str, float] | None = None,
    beside_wakeups: Mapping[str, float] | None = None,
) -> Comparison:
    """One phase's row. `after_idle`, `beside_wakeups`: the ratios `pred` has already been
    slowed by for the gaps each side idles and the packets it receives while it computes in
    this phase (runsplit/idle.py, wakeups.py), recorded with the row."""
    window = ph.window if ph.mode == "throughput" else 1
    lat = ph.latency.median if ph.latency is not None else None
    meas_stages = None
    if ph.stages is not None:
        s = ph.stages
        meas_stages = {
            "edge": s.edge_compute_s,
            "up": s.transfer_s,
            "server": s.server_compute_s,
            "down": s.return_s,
            "other": s.other_s,
        }
    pred_stages = {
        "edge": pred.edge_s,
        "up": pred.up_s,
        "server": pred.server_s,
        "down": pred.down_s,
    }
    pt = _finite(pred.throughput(ph.mode, window))  # None: predicted to take no time at all
    known = at_compute(pred, meas_stages)
    pt_known = None if known is None else _finite(known.throughput(ph.mode, window))
    return Comparison(
        plan=name,
        phase=ph.name,
        mode=ph.mode,
        predicted_latency_s=pred.latency_s,
        measured_latency_s=lat,
        latency_error=relative_error(pred.latency_s, lat) if ph.mode == "latency" else None,
        measured_p95_s=ph.latency.p95 if ph.latency is not None else None,
        predicted_throughput=pt,
        measured_throughput=ph.throughput_per_s,
        throughput_error=relative_error(pt, ph.throughput_per_s),
        predicted_stages=pred_stages,
        measured_stages=meas_stages,
        compute_ratio=compute_ratio(pred_stages, meas_stages),
        throughput_error_at_compute=relative_error(pt_known, ph.throughput_per_s),
        after_idle={r: x for r, x in (after_idle or {}).items() if x != 1.0} or None,
        beside_wakeups={r: x for r, x in (beside_wakeups or {}).items() if x != 1.0} or None,
        shaping=ph.shaping,
        outputs_match=ph.outputs_match,
        predicted_accuracy=predicted_accuracy,
        measured_accuracy=ph.accuracy,
        accuracy_error=(
            predicted_accuracy - ph.accuracy
            if predicted_accuracy is not None and ph.accuracy is not None
            else None
        ),
        scored=ph.scored,
    )


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None


def compare_makespan(method: str, predicted: float, ph: PhaseResult) -> MakespanComparison:
    meas = ph.makespan.median if ph.makespan is not None else None
    return MakespanComparison(
        method=method,
        phase=ph.name,
        jobs=ph.jobs,
        predicted_makespan_s=predicted,
        measured_makespan_s=meas,
        makespan_error=relative_error(predicted, meas),
        repeats=ph.makespan.n if ph.makespan is not None else 0,
        shaping=ph.shaping,
        outputs_match=ph.outputs_match,
    )


def median_abs(errors: Sequence[float | None]) -> float | None:
    xs = sorted(abs(e) for e in errors if e is not None)
    if not xs:
        return None
    mid = len(xs) // 2
    return xs[mid] if len(xs) % 2 else (xs[mid - 1] + xs[mid]) / 2
