"""Host side of a split run: a Docker network, the server and the edge container with their
caps, the link shaped for each phase, and everything removed at the end.

The two containers are ordinary probes of the Docker backend (its caps, labels, source mount,
dataset mount, crash reports and cleanup), with the split worker as their entry point. The
edge announces each phase (`phase_ready`); the host shapes the link for it (tc tbf on both
host-side veths, or the token bucket when tc cannot be used) and answers with a go file in
the edge's probe folder, which the edge waits for. Containers and the network carry the
session label and are removed in `finally`: on success, on error and on Ctrl-C.
"""

from __future__ import annotations

import contextlib
import math
import os
import shutil
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from harness.backends.base import BackendError, ProbeRequest, ProbeRun, Record
from harness.cores import CoresRefused, Want
from harness.interrupt import sigterm_as_interrupt
from harness.profile import Caps, Outcome, write_atomic
from harness.runsplit.plan import GoSignal, ModelRef, Phase, Shaping, WorkerConfig
from harness.runsplit.shaping import TcShaper, host_veth

if TYPE_CHECKING:  # the docker SDK loads when a session runs
    from harness.backends.docker import DockerBackend

WORKER_ENTRY = ("python", "-m", "harness.runsplit.worker", "/probe/request.json")
PORT = 5599
ShapingChoice = Literal["auto", "tc", "token-bucket"]


class RunSplitError(RuntimeError):
    """The split run could not be carried out; one line saying why."""


# ---------------------------------------------------------------- placement (pure)


@dataclass(frozen=True)
class Side:
    role: Literal["edge", "server"]
    asked_cpus: float
    cpus: float
    cores: int
    offset: int  # pick_cpuset offset: the server takes the top cores, the edge those below
    memory_gb: float | None = None

    def caps(self) -> Caps:
        return Caps(cpus=self.cpus, memory_gb=self.memory_gb)


def place_sides(
    edge_cpus: float,
    server_cpus: float,
    host_cpus: int,
    edge_memory_gb: float | None = None,
    server_memory_gb: float | None = None,
) -> tuple[Side, Side, list[str]]:
    """Disjoint cores for the two sides while they fit; clipped (and said) when they do not.

    The edge keeps what it asked for (it is the small device the decision is about); the server
    gets the cores left. On a one-core host both share it.
    """
    notes: list[str] = []
    e_cores = max(1, math.ceil(edge_cpus - 1e-9))
    e_cpus = edge_cpus
    if e_cores > host_cpus:
        notes.append(f"edge: asked {edge_cpus:g} CPUs, the host has {host_cpus}: clipped")
        e_cores, e_cpus = host_cpus, float(host_cpus)
    left = host_cpus - e_cores
    s_cores = max(1, math.ceil(server_cpus - 1e-9))
    s_cpus = server_cpus
    if left <= 0:
        notes.append(
            f"server: the host has {host_cpus} core(s) and the edge holds {e_cores}: "
            "the server shares the edge's core"
        )
        s_cores, s_cpus = 1, min(server_cpus, 1.0)
    elif s_cores > left:
        notes.append(
            f"server: asked {server_cpus:g} CPUs; the host has {host_cpus} cores and the edge "
            f"holds {e_cores}: clipped to {left}"
        )
        s_cores, s_cpus = left, float(left)
    server = Side("server", server_cpus, s_cpus, s_cores, 0, server_memory_gb)
    edge = Side("edge", edge_cpus, e_cpus, e_cores, s_cores if left > 0 else 0, edge_memory_gb)
    return edge, server, notes


def placement_warnings(session: Session, host_cpus: int, repriced: Sequence[str] = ()) -> list[str]:
    """What the run cannot give the decision, said before it runs: a side clipped to fewer
    cores than its profile was measured with, or two sides on one core. Their measured times
    then test this host, not the prediction; a side in `repriced` was priced at the cores it
    gets (reprice.py), so it is not warned about."""
    _, _, notes = place_sides(
        session.edge_cpus,
        session.server_cpus,
        host_cpus,
        session.edge_memory_gb,
        session.server_memory_gb,
    )
    notes = [n for n in notes if n.split(":", 1)[0] not in repriced]
    return [
        f"{n}; the profiles were measured with {session.edge_cpus:g} (edge) and "
        f"{session.server_cpus:g} (server) CPUs, so this run's times will not match the "
        "prediction (a host with more cores, or profiles at the CPUs this host can give)"
        for n in notes
    ]


# ---------------------------------------------------------------- the session


@dataclass
class Session:
    """What to run: the models, the phases, and each side's caps as the decision assumed."""

    models: list[ModelRef]
    phases: list[Phase]
    edge_cpus: float = 1.0
    server_cpus: float = 1.0
    edge_memory_gb: float | None = None
    server_memory_gb: float | None = None
    samples: int = 4
    # staged file name -> host path, copied into both sides' probe folders (a variant's
    # weights, a domain's labelled samples): the job image needs neither the manifest nor
    # scikit-learn
    files: dict[str, str] = field(default_factory=dict)
    # staged file name -> its contents, written into both probe folders (a domain's labelled
    # samples, made on the host for this run)
    blobs: dict[str, bytes] = field(default_factory=dict)


@dataclass
class PhaseLink:
    shaping: Shaping
    detail: str


@dataclass
class SessionRun:
    edge: ProbeRun | None
    server: ProbeRun | None
    sides: tuple[Side, Side]
    cpusets: dict[str, list[int]]
    links: dict[int, PhaseLink] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    image: str | None = None
    network: str | None = None
    error: str | None = None
    hellos: dict[str, Record] = field(default_factory=dict)
    load: tuple[float, float] | None = None  # the host's 1-minute load average, before/after


class _Host:
    """State shared by the two probe threads' record callbacks."""

    def __init__(self, choice: ShapingChoice, edge_dir: Path) -> None:
        self.choice = choice
        self.edge_dir = edge_dir
        self.hellos: dict[str, Record] = {}
        self.links: dict[int, PhaseLink] = {}
        self.lock = threading.Lock()
        self.shaper = TcShaper()
        self.tc_broken: str | None = None
        self.error: str | None = None
        self.stop = threading.Event()
        self.phases: list[Phase] = []
        self.server_gone = threading.Event()

    def veths(self) -> tuple[str | None, str | None]:
        e = self.hellos.get("edge", {}).get("iflink")
        s = self.hellos.get("server", {}).get("iflink")
        return host_veth(e), host_veth(s)

    def setup_phase(self, i: int) -> None:
        ph = self.phases[i]
        deadline = time.monotonic() + 120
        while "server" not in self.hellos and time.monotonic() < deadline:
            if self.server_gone.is_set() or self.stop.is_set():
                break
            time.sleep(0.05)
        sig = self._shape(ph)
        with self.lock:
            self.links[i] = PhaseLink(sig.shaping, sig.detail)
        if self.error is None:
            write_atomic(self.edge_dir / f"go-{i}.json", sig.model_dump_json())

    def _shape(self, ph: Phase) -> GoSignal:
        if self.choice == "token-bucket":
            return GoSignal(shaping="token-bucket", detail="asked for (--shaping token-bucket)")
        why = self.tc_broken
        if why is None:
            ok, why = TcShaper.available()
            if ok:
                edge_dev, server_dev = self.veths()
                if edge_dev is None or server_dev is None:
                    why = "the containers' veths are not visible on this host"
                else:
                    ok_up, up = self.shaper.apply(server_dev, ph.link.up_mbps)
                    ok_down, down = (
                        self.shaper.apply(edge_dev, ph.link.down_mbps) if ok_up else (False, "")
                    )
                    if ok_up and ok_down:
                        return GoSignal(shaping="tc", detail=f"up: {up}; down: {down}")
                    why = up if not ok_up else down
            self.tc_broken = why
        if self.choice == "tc":
            self.error = f"--shaping tc: cannot shape the link with tc: {why}"
            self.stop.set()
        return GoSignal(shaping="token-bucket", detail=f"tc not usable: {why}")


def run_session(
    session: Session,
    workdir: Path,
    *,
    image: str | None = None,
    shaping: ShapingChoice = "auto",
    timeout_s: float = 1800.0,
    on_record: Callable[[str, Record], None] | None = None,
    base_url: str | None = None,
) -> SessionRun:
    """Run every phase of `session` on a fresh network and container pair; never leaves one
    behind. Raises RunSplitError when nothing could be started; a container that crashed is
    returned as its ProbeRun (outcome, exit code, log tail)."""
    if not session.phases:
        raise RunSplitError("nothing to run: no phases")
    be = _local_engine(image, base_url)
    host_cpus = be.host_cpus()
    edge_side, server_side, notes = place_sides(
        session.edge_cpus,
        session.server_cpus,
        host_cpus,
        session.edge_memory_gb,
        session.server_memory_gb,
    )
    try:
        img = be.image_for(edge_side.caps())
    except BackendError as exc:
        raise RunSplitError(str(exc)) from None
    net_name = f"harness-split-{be.session}"
    names = {"edge": f"harness-{be.session}-edge", "server": f"harness-{be.session}-server"}
    dirs = _fresh_dirs(workdir)
    for d in dirs.values():
        for name, src in session.files.items():
            shutil.copyfile(src, d / name)
        for name, data in session.blobs.items():
            (d / name).write_bytes(data)
    host = _Host(shaping, dirs["edge"])
    host.phases = list(session.phases)
    sides = {"edge": edge_side, "server": server_side}
    requests = _requests(session, sides, names, dirs, timeout_s)
    # the two sides' cores, held against other harness probes on this host; they share one
    # only where place_sides said so (a one-core host)
    wants = [Want("run-split server", server_side.cores), Want("run-split edge", edge_side.cores)]
    shares = host_cpus < edge_side.cores + server_side.cores
    try:
        with be.lease(wants, what="run-split", allow_oversubscribe=shares) as grant:
            cpusets = {"edge": grant.cpusets[wants[1].name], "server": grant.cpusets[wants[0].name]}
            load_before = os.getloadavg()[0]
            runs = _run_pair(be, host, requests, cpusets, names, net_name, on_record)
            load = (load_before, os.getloadavg()[0])
    except CoresRefused as exc:
        raise RunSplitError(str(exc)) from None
    return SessionRun(
        edge=runs["edge"],
        server=runs["server"],
        sides=(edge_side, server_side),
        cpusets=cpusets,
        links=dict(host.links),
        notes=notes,
        image=img,
        network=net_name,
        error=host.error,
        hellos=dict(host.hellos),
        load=load,
    )


def _local_engine(image: str | None, base_url: str | None) -> DockerBackend:
    """The Docker backend that runs both sides, refused unless its engine is on this host:
    the go signal is a file in the edge's mounted folder and tc shapes this host's veths."""
    from harness.backends.docker import DockerBackend

    try:
        be = DockerBackend(image, base_url=base_url, entry=WORKER_ENTRY, poll_s=0.05)
    except BackendError as exc:
        raise RunSplitError(str(exc)) from None
    if be.remote:
        raise RunSplitError(
            f"{base_url}: a split run needs the engine on this host (the go signal goes into "
            "the edge's mounted folder, tc into the host's veths); two hosts are not supported"
        )
    return be


def _fresh_dirs(workdir: Path) -> dict[str, Path]:
    """Each side's probe folder, without the go files of an earlier run (the edge would take
    one for this run's answer)."""
    dirs = {"edge": workdir / "edge", "server": workdir / "server"}
    for d in dirs.values():
        d.mkdir(parents=True, exist_ok=True)
        for stale in d.glob("go-*.json"):
            stale.unlink()
    return dirs


def _requests(
    session: Session,
    sides: dict[str, Side],
    names: dict[str, str],
    dirs: dict[str, Path],
    timeout_s: float,
) -> dict[str, ProbeRequest]:
    """Each side's probe request, its worker config inside: the edge reads the job's data and
    runs the phases, the server only answers (synthetic data, no phases)."""
    data_spec = session.models[0].spec if session.models else {}
    requests = {}
    for role in ("edge", "server"):
        cfg = WorkerConfig(
            role=role,
            server=names["server"],
            port=PORT,
            models=session.models,
            phases=session.phases if role == "edge" else [],
            samples=session.samples,
            connect_timeout_s=min(600.0, timeout_s),
        )
        requests[role] = ProbeRequest(
            spec=data_spec if role == "edge" else {"data": {"source": "synthetic"}},
            caps=sides[role].caps(),
            workdir=dirs[role],
            timeout_s=timeout_s,
            overrides={"runsplit": cfg.model_dump(mode="json")},
        )
    return requests


def _deliver(
    be: DockerBackend,
    host: _Host,
    role: str,
    edge_name: str,
    on_record: Callable[[str, Record], None] | None,
) -> Callable[[Record], None]:
    """One side's record callback: keep its hello (the veth to shape), shape the link when the
    edge announces a phase (the edge is stopped when that fails under --shaping tc), pass on."""

    def cb(rec: Record) -> None:
        if rec.get("type") == "hello":
            with host.lock:
                host.hellos[role] = rec
        if role == "edge" and rec.get("type") == "phase_ready":
            host.setup_phase(int(rec["phase"]))
            if host.stop.is_set():
                _kill(be, edge_name)
        if on_record is not None:
            on_record(role, rec)

    return cb


def _run_pair(
    be: DockerBackend,
    host: _Host,
    requests: dict[str, ProbeRequest],
    cpusets: dict[str, list[int]],
    names: dict[str, str],
    net_name: str,
    on_record: Callable[[str, Record], None] | None,
) -> dict[str, ProbeRun | None]:
    """Both containers on a fresh network, each in its own thread, the server first; the
    network, containers and tc rules are removed in `finally` (success, error, Ctrl-C or
    SIGTERM). An error in a side's thread is raised once both are stopped."""
    from harness.backends.docker import LABEL_SESSION, Placement

    runs: dict[str, ProbeRun | None] = {"edge": None, "server": None}
    errors: list[BaseException] = []

    def probe(role: str) -> None:
        place = Placement(
            name=names[role],
            network=net_name,
            cpuset=cpusets[role],
            hostname=names[role],
            role=f"split-{role}",
        )
        try:
            cb = _deliver(be, host, role, names["edge"], on_record)
            runs[role] = be.run_placed(requests[role], cb, place)
        except BaseException as exc:  # reported after both sides are stopped
            errors.append(exc)
        finally:
            if role == "server":
                host.server_gone.set()

    network: Any = None
    with sigterm_as_interrupt():
        try:
            try:
                network = be.client.networks.create(
                    net_name, driver="bridge", labels={LABEL_SESSION: be.session}
                )
            except Exception as exc:
                raise RunSplitError(f"cannot create Docker network {net_name}: {exc}") from None
            threads = {
                role: threading.Thread(target=probe, args=(role,), daemon=True)
                for role in ("server", "edge")
            }
            threads["server"].start()
            threads["edge"].start()
            _join(threads["edge"])
            # the server ends when the edge hangs up; one that does not is stopped (at once when
            # the edge failed: no edge will ever connect)
            threads["server"].join(20 if ok_run(runs["edge"]) else 2)
            if threads["server"].is_alive():
                _kill(be, names["server"])
                _join(threads["server"])
        finally:
            host.stop.set()
            be.cleanup()
            if network is not None:
                with contextlib.suppress(Exception):
                    network.remove()
            host.shaper.clear()
    if errors:
        err = errors[0]
        if isinstance(err, BackendError):
            raise RunSplitError(str(err)) from None
        raise err
    return runs


def _join(t: threading.Thread) -> None:
    while t.is_alive():  # short joins, so Ctrl-C reaches the main thread
        t.join(0.2)


def _kill(be: Any, name: str) -> None:
    with contextlib.suppress(Exception):
        be.client.containers.get(name).kill()


def ok_run(run: ProbeRun | None) -> bool:
    return run is not None and run.outcome == Outcome.ok
