"""One side of a split run, inside its capped container: `python -m harness.runsplit.worker
REQUEST.json` (the request's overrides.runsplit is a WorkerConfig).

Both sides build the same model from the job spec with the same torch seed (random weights:
nothing can be downloaded), cut it into the same chain of stages (harness.workloads.cuts), and
check at connection time that their weights agree. The server listens; the edge connects,
feeds real inputs (decoded JPEGs, as the profiles do), computes its layers, sends the
activation, and the server computes the rest and sends the result back. Each side has a reader
and a writer thread, so compute, the link and the other side overlap when more than one request
is in flight; the writer applies the link's delay (and the token bucket, when tc is not
shaping the interface).

Clocks: every cross-side interval is computed from time.time() stamps corrected by the offset
measured with pings at connection time (NTP's formula, best of 8 round trips), so the stage
shares hold on two hosts too; on one host the offset is ~0.

Records (JSON lines): hello (role, interface index for the host's tc, threads), loaded,
connected (clock offset), phase_ready (then the edge waits for /probe/go-<i>.json), request
(one per measured request), phase_done (output check), pipeline (makespan per repeat), served,
done, error.
"""

from __future__ import annotations

import collections
import json
import os
import socket
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from harness.runsplit.bucket import Pacer
from harness.runsplit.link import Link, tune
from harness.runsplit.net import Net, outputs_agree, score
from harness.runsplit.plan import GoSignal, Phase, PlanSpec, WorkerConfig
from harness.runsplit.wire import Frame, WireError, decode_tensor, encode_tensor
from harness.workloads.run import Emitter, granted_cpus

Emit = Any  # Callable[[dict[str, Any]], None]
PING_ROUNDS = 8


# ---------------------------------------------------------------- server


def serve(cfg: WorkerConfig, models: dict[str, Net], srv: socket.socket, emit: Emit) -> None:
    srv.settimeout(cfg.connect_timeout_s)
    try:
        conn, peer = srv.accept()
    except TimeoutError:
        raise RuntimeError(f"no edge connected within {cfg.connect_timeout_s:g} s") from None
    srv.close()
    conn.settimeout(None)
    tune(conn)
    link = Link(conn)
    emit({"type": "accepted", "peer": f"{peer[0]}:{peer[1]}"})
    link.send(
        {
            "kind": "hello",
            "checksums": {k: n.checksum for k, n in models.items()},
            "threads": torch.get_num_threads(),
        },
        control=True,
    )
    served = 0
    busy = 0.0
    while True:
        try:
            fr = link.recv()
        except WireError:
            break  # the edge has gone: the run is over
        h = fr.header
        kind = h.get("kind")
        if kind == "ping":
            link.send(
                {"kind": "pong", "k": h.get("k"), "ping_wire": h.get("t_wire"), "t_recv": fr.end_s},
                control=True,
            )
        elif kind == "phase":
            bucket = bool(h.get("bucket"))
            link.set_pacer(
                Pacer(float(h["down_mbps"]) if bucket else None, float(h.get("latency_ms", 0.0)))
            )
        elif kind == "work":
            net = models[str(h["model"])]
            x = decode_tensor(h, fr.payload)
            c0, cpu0 = time.time(), time.thread_time()
            y = net.run(int(h["start"]), int(h["end"]), x)
            c1, cpu = time.time(), time.thread_time() - cpu0
            busy += c1 - c0
            meta, view = encode_tensor(y, str(h.get("precision", "fp32")))
            link.send(
                {
                    "kind": "result",
                    "id": h["id"],
                    "req_t_out": h.get("t_out"),
                    "req_first": fr.first_s,
                    "req_end": fr.end_s,
                    "c0": c0,
                    "c1": c1,
                    "cpu": cpu,
                    **meta,
                },
                view,
            )
            served += 1
        elif kind == "bye":
            break
    link.close()
    emit({"type": "served", "requests": served, "compute_s": busy})


# ---------------------------------------------------------------- edge


@dataclass
class Req:
    """One request (or pipeline job) in flight on the edge."""

    key: int
    index: int  # which input batch
    plan: PlanSpec
    net: Net
    act: torch.Tensor
    seg: int = 0
    t_start: float = 0.0
    t_done: float = 0.0
    edge_s: float = 0.0
    edge_cpu_s: float = 0.0  # thread CPU time within edge_s: below it, the core was shared
    up_s: float = 0.0
    server_s: float = 0.0
    server_cpu_s: float = 0.0
    down_s: float = 0.0
    spans: dict[str, list[float]] = field(default_factory=dict)


class Edge:
    def __init__(self, cfg: WorkerConfig, models: dict[str, Net], link: Link, emit: Emit):
        self.cfg, self.models, self.link, self.emit = cfg, models, link, emit
        self.offset = 0.0  # server clock - edge clock
        self.rtt = 0.0
        self.keys = 0

    # -- connection

    def handshake(self) -> None:
        hello = self.link.recv(timeout=self.cfg.connect_timeout_s)
        if hello.header.get("kind") != "hello":
            raise RuntimeError(f"expected the server's hello, got {hello.header.get('kind')!r}")
        theirs = hello.header.get("checksums") or {}
        for k, net in self.models.items():
            other = theirs.get(k)
            if other is None or abs(float(other) - net.checksum) > 1e-6 * max(1.0, abs(other)):
                raise RuntimeError(
                    f"model {k}: the server's weights differ from the edge's "
                    f"(checksum {other} vs {net.checksum}): outputs could not match"
                )
        best: tuple[float, float] | None = None
        for rnd in range(PING_ROUNDS):
            self.link.send({"kind": "ping", "k": rnd}, control=True)
            fr = self.link.recv(timeout=30)
            t0, t1 = float(fr.header["ping_wire"]), float(fr.header["t_recv"])
            t2, t3 = float(fr.header["t_wire"]), fr.end_s
            rtt = (t3 - t0) - (t2 - t1)
            off = ((t1 - t0) + (t2 - t3)) / 2
            if best is None or rtt < best[0]:
                best = (rtt, off)
        assert best is not None
        self.rtt, self.offset = best
        self.emit(
            {
                "type": "connected",
                "offset_s": self.offset,
                "rtt_s": self.rtt,
                "server_threads": hello.header.get("threads"),
            }
        )

    def wait_go(self, workdir: Path, i: int) -> GoSignal:
        if not self.cfg.handshake:
            return GoSignal(shaping=self.cfg.shaping, detail="no host handshake")
        path = workdir / f"go-{i}.json"
        deadline = time.monotonic() + self.cfg.go_timeout_s
        while time.monotonic() < deadline:
            if path.exists():
                try:
                    return GoSignal.model_validate(json.loads(path.read_text()))
                except (OSError, ValueError):
                    pass  # half written: look again
            time.sleep(0.01)
        raise RuntimeError(
            f"no go signal from the host for phase {i} in {self.cfg.go_timeout_s:g} s"
        )

    # -- requests

    def _new(self, plan: PlanSpec, index: int) -> Req:
        net = self.models[plan.model]
        self.keys += 1
        return Req(self.keys, index, plan, net, net.batch(index, plan.batch_size))

    def _advance(self, req: Req, pending: dict[int, Req]) -> bool:
        """Run the request's edge segments; send it on, or finish it. True when finished."""
        segs = req.plan.segments
        while req.seg < len(segs) and segs[req.seg].role == "edge":
            s = segs[req.seg]
            c0, cpu0 = time.time(), time.thread_time()
            req.act = req.net.run(s.start, s.end, req.act)
            c1 = time.time()
            req.edge_s += c1 - c0
            req.edge_cpu_s += time.thread_time() - cpu0
            req.spans.setdefault("local", [c0, c1])[1] = c1
            req.seg += 1
        if req.seg == len(segs):
            req.t_done = time.time()
            return True
        s = segs[req.seg]
        meta, view = encode_tensor(req.act, req.plan.precision)
        self.link.send(
            {
                "kind": "work",
                "id": req.key,
                "model": req.plan.model,
                "start": s.start,
                "end": s.end,
                "precision": req.plan.precision,
                **meta,
            },
            view,
        )
        pending[req.key] = req
        return False

    def _result(self, fr: Frame, pending: dict[int, Req]) -> Req:
        h = fr.header
        req = pending.pop(int(h["id"]))
        off = self.offset
        t_out = float(h["req_t_out"])
        req_end = float(h["req_end"]) - off
        c0, c1 = float(h["c0"]) - off, float(h["c1"]) - off
        back_out = float(h["t_out"]) - off
        req.up_s += req_end - t_out
        req.server_s += c1 - c0
        req.server_cpu_s += float(h.get("cpu", 0.0))
        req.spans.setdefault("comm", [t_out, req_end])[1] = req_end
        req.spans.setdefault("remote", [c0, c1])[1] = c1
        req.act = decode_tensor(h, fr.payload)
        req.seg += 1
        if req.seg == len(req.plan.segments) and req.plan.output_role == "server":
            req.t_done = c1  # the result is needed on the server: its return is not counted
        else:
            req.down_s += fr.end_s - back_out
            req.t_done = fr.end_s
        return req

    def run_batch(self, reqs: list[Req], window: int, timeout: float) -> None:
        """Push `reqs` through in order with at most `window` in flight; replies first."""
        ready: collections.deque[Req] = collections.deque()
        pending: dict[int, Req] = {}
        admitted = done = inflight = 0
        n = len(reqs)
        while done < n:
            can_admit = admitted < n and inflight < window
            fr = self.link.poll() if (ready or can_admit) else self.link.recv(timeout=timeout)
            if fr is not None:
                req = self._result(fr, pending)
                if req.seg == len(req.plan.segments):
                    done += 1
                    inflight -= 1
                else:
                    ready.append(req)
                continue
            if ready:
                req = ready.popleft()
            else:
                req = reqs[admitted]
                admitted += 1
                inflight += 1
                req.t_start = time.time()
            if self._advance(req, pending):
                done += 1
                inflight -= 1

    def check(self, reqs: list[Req]) -> tuple[bool, float]:
        ok, worst = True, 0.0
        for r in reqs:
            good, diff = outputs_agree(
                r.act, r.net.reference(r.index, r.plan.batch_size), r.plan.precision
            )
            ok = ok and good
            worst = max(worst, diff)
        return ok, worst

    def phase(self, i: int, ph: Phase) -> None:
        if ph.mode == "pipeline":
            self._pipeline(i, ph)
            return
        assert ph.plan is not None
        plan = ph.plan
        net = self.models[plan.model]
        if plan.n_layers != net.n_layers:
            raise RuntimeError(
                f"phase {ph.name!r}: the plan covers {plan.n_layers} layers, "
                f"model {plan.model} has {net.n_layers}"
            )
        total = ph.warmup + ph.requests
        for idx in range(min(total, net.images.shape[0] if net.images is not None else 1)):
            net.reference(idx, plan.batch_size)  # outside every timed window
        window = 1 if ph.mode == "latency" else ph.window
        reqs = [self._new(plan, r) for r in range(total)]
        cpu0 = time.process_time()
        self.run_batch(reqs, window, timeout=self.cfg.go_timeout_s + 60 * total)
        process_cpu = time.process_time() - cpu0
        measured = reqs[ph.warmup :]
        for r in measured:
            self.emit(
                {
                    "type": "request",
                    "phase": i,
                    "index": r.index,
                    "t_start": r.t_start,
                    "t_done": r.t_done,
                    "latency_s": r.t_done - r.t_start,
                    "edge_s": r.edge_s,
                    "up_s": r.up_s,
                    "server_s": r.server_s,
                    "edge_cpu_s": r.edge_cpu_s,
                    "server_cpu_s": r.server_cpu_s,
                    "down_s": r.down_s,
                }
            )
        ok, diff = self.check(reqs)
        scored = self.accuracy(net, reqs)
        span = max(r.t_done for r in measured) - min(r.t_start for r in measured)
        steady_wall, steady_n = steady_span(reqs, ph.warmup)
        self.emit(
            {
                "type": "phase_done",
                "phase": i,
                "requests": len(measured),
                "samples": len(measured) * plan.batch_size,
                "wall_s": span,
                "steady_wall_s": steady_wall,
                "steady_samples": steady_n * plan.batch_size,
                "process_cpu_s": process_cpu,  # the edge process's CPU over all requests
                "compute_cpu_s": sum(r.edge_cpu_s for r in reqs),
                "outputs_match": ok,
                "max_abs_diff": diff,
                "inputs": net.source,
                **scored,
            }
        )

    @staticmethod
    def accuracy(net: Net, reqs: list[Req]) -> dict[str, Any]:
        """Correct predictions of the split's own outputs over the distinct labelled samples
        streamed (warm-up requests included: a prediction does not depend on timing)."""
        if net.labels is None:
            return {}
        outs = [(net.sample_ids(r.index, r.plan.batch_size), r.act) for r in reqs]
        correct, n = score(outs, net.labels)
        return {"correct": correct, "scored": n, "labelled": int(net.labels.shape[0])}

    def _pipeline(self, i: int, ph: Phase) -> None:
        plans = [job.plan() for job in ph.jobs]
        for p in plans:
            if p.n_layers != self.models[p.model].n_layers:
                raise RuntimeError(
                    f"phase {ph.name!r}: job {p.name!r} covers {p.n_layers} layers, model "
                    f"{p.model} has {self.models[p.model].n_layers}"
                )
        seen: set[tuple[str, int, int]] = set()
        warm: list[Req] = []
        for n, p in enumerate(plans):  # one warm-up request per distinct (model, cut, batch)
            self.models[p.model].reference(n, p.batch_size)
            k = (p.model, p.segments[0].end if p.segments else 0, p.batch_size)
            if k not in seen:
                seen.add(k)
                warm.append(self._new(p, n))
        self.run_batch(warm, 1, timeout=self.cfg.go_timeout_s + 60 * len(warm))
        all_reqs: list[Req] = []
        for rep in range(ph.repeats):
            reqs = [self._new(p, n) for n, p in enumerate(plans)]
            t0 = time.time()
            for r in reqs:
                r.t_start = t0
            self.run_batch(reqs, len(reqs), timeout=self.cfg.go_timeout_s + 60 * len(reqs))
            all_reqs += reqs
            self.emit(
                {
                    "type": "pipeline",
                    "phase": i,
                    "repeat": rep,
                    "makespan_s": max(r.t_done for r in reqs) - t0,
                    "jobs": [
                        {
                            "name": p.name,
                            "cut": ph.jobs[n].cut,
                            **{k: [a - t0, b - t0] for k, (a, b) in r.spans.items()},
                        }
                        for n, (p, r) in enumerate(zip(plans, reqs, strict=True))
                    ],
                }
            )
        ok, diff = self.check(all_reqs)
        self.emit(
            {
                "type": "phase_done",
                "phase": i,
                "requests": len(all_reqs),
                "samples": sum(r.plan.batch_size for r in all_reqs),
                "wall_s": None,
                "outputs_match": ok,
                "max_abs_diff": diff,
                "inputs": next(iter(self.models.values())).source,
            }
        )


def steady_span(reqs: list[Req], warmup: int) -> tuple[float, int]:
    """(seconds, requests) of the steady state: from the warm-up's last completion (the first
    completion when there is no warm-up) to the last one, and the completions in between.

    A run of n requests also pays the pipeline's fill and drain, which the streamed rate (the
    slowest stage) does not: with a window of requests in flight, completions are spaced by the
    bottleneck once the pipeline is full, and this counts only that spacing."""
    done = sorted(r.t_done for r in reqs)
    k = max(1, min(warmup, len(done) - 1))
    if len(done) < 2:
        return 0.0, 0
    return done[-1] - done[k - 1], len(done) - k


def connect(host: str, port: int, timeout: float) -> socket.socket:
    """Retry until the server listens (it may still be importing torch)."""
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            sock = socket.create_connection((host, port), timeout=10)
            sock.settimeout(None)
            return sock
        except OSError as exc:  # refused, or the name is not registered yet
            last = exc
            time.sleep(0.2)
    raise RuntimeError(f"cannot reach the server at {host}:{port} within {timeout:g} s: {last}")


def drive(cfg: WorkerConfig, models: dict[str, Net], workdir: Path, emit: Emit) -> None:
    sock = connect(cfg.server, cfg.port, cfg.connect_timeout_s)
    tune(sock)
    link = Link(sock)
    edge = Edge(cfg, models, link, emit)
    edge.handshake()
    for i, ph in enumerate(cfg.phases):
        emit({"type": "phase_ready", "phase": i, "name": ph.name})
        go = edge.wait_go(workdir, i)
        bucket = go.shaping == "token-bucket"
        link.send(
            {
                "kind": "phase",
                "down_mbps": ph.link.down_mbps,
                "latency_ms": ph.link.latency_ms,
                "bucket": bucket,
            },
            control=True,
        )
        link.set_pacer(Pacer(ph.link.up_mbps if bucket else None, ph.link.latency_ms))
        emit({"type": "phase_start", "phase": i, "shaping": go.shaping, "detail": go.detail})
        edge.phase(i, ph)
    link.send({"kind": "bye"}, control=True)
    link.close()


# ---------------------------------------------------------------- entry point


def interface_facts() -> dict[str, Any]:
    """What the host needs to find this container's veth: eth0's peer interface index."""
    out: dict[str, Any] = {"hostname": socket.gethostname()}
    try:
        out["iflink"] = int(Path("/sys/class/net/eth0/iflink").read_text())
    except (OSError, ValueError):
        out["iflink"] = None
    try:
        out["ip"] = socket.gethostbyname(socket.gethostname())
    except OSError:
        out["ip"] = None
    return out


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    request = json.loads(Path(argv[0]).read_text())
    cfg = WorkerConfig.model_validate((request.get("overrides") or {}).get("runsplit") or {})
    records = Path(request["records"])
    with open(records, "a") as fh:
        emit = Emitter(fh)
        try:
            from harness.workloads.models import set_threads

            threads = set_threads(int(request.get("threads") or granted_cpus()))
            os.environ.setdefault("OMP_NUM_THREADS", str(threads))
            emit({"type": "hello", "role": cfg.role, "threads": threads, **interface_facts()})
            srv = None
            if cfg.role == "server":  # listen before the slow part, so the edge can connect
                srv = socket.create_server(("", cfg.port))
            t0 = time.perf_counter()
            models = {
                m.key: Net(
                    m, request.get("data_dir"), cfg.role == "edge", cfg.samples, records.parent
                )
                for m in cfg.models
            }
            emit(
                {
                    "type": "loaded",
                    "models": {
                        k: {"layers": n.n_layers, "inputs": n.source} for k, n in models.items()
                    },
                    "setup_s": time.perf_counter() - t0,
                }
            )
            if srv is not None:
                serve(cfg, models, srv, emit)
            else:
                drive(cfg, models, records.parent, emit)
            emit({"type": "done"})
            return 0
        except MemoryError:
            emit({"type": "error", "message": "MemoryError"})
            return 137
        except Exception as exc:
            emit({"type": "error", "message": f"{type(exc).__name__}: {exc}"})
            traceback.print_exc()
            return 1


if __name__ == "__main__":
    sys.exit(main())
