"""A connected socket with a reader and a writer thread, so that compute, the link and the peer
overlap. The writer applies the link's delay line and token bucket (bucket.py) to data frames,
never to control frames (pings, phase settings), and stamps when it took each frame (`t_out`)
and when its first byte left (`t_wire`)."""

from __future__ import annotations

import contextlib
import queue
import socket
import threading
import time
from typing import Any

from harness.runsplit.bucket import Pacer
from harness.runsplit.wire import Frame, WireError, recv_frame, send_frame


class Link:
    """A connected socket with a reader and a writer thread. The writer stamps `t_out` when it
    takes a frame and `t_wire` just before the first byte, after the link's delay."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.inbox: queue.Queue[Frame | BaseException] = queue.Queue()
        self.outbox: queue.Queue[Any] = queue.Queue()
        self.pacer = Pacer()
        self.reader = threading.Thread(target=self._read, daemon=True, name="reader")
        self.writer = threading.Thread(target=self._write, daemon=True, name="writer")
        self.reader.start()
        self.writer.start()

    def _read(self) -> None:
        try:
            while True:
                self.inbox.put(recv_frame(self.sock))
        except BaseException as exc:  # the peer closed, or the socket broke
            self.inbox.put(exc)

    def _write(self) -> None:
        while True:
            item = self.outbox.get()
            if item is None:
                return
            if isinstance(item, Pacer):
                self.pacer = item
                continue
            header, payload, control, handed_at = item
            header["t_out"] = time.time()
            if not control:
                self.pacer.before_message(handed_at)
            header["t_wire"] = time.time()
            pace = self.pacer.consume if (self.pacer.shapes_bytes and not control) else None
            try:
                send_frame(self.sock, header, payload, pace)
            except OSError as exc:
                self.inbox.put(exc)
                return

    def send(self, header: dict[str, Any], payload: Any = b"", control: bool = False) -> None:
        self.outbox.put((header, payload, control, time.monotonic()))

    def set_pacer(self, pacer: Pacer) -> None:
        self.outbox.put(pacer)

    def recv(self, timeout: float | None = None) -> Frame:
        try:
            item = self.inbox.get(timeout=timeout)
        except queue.Empty:
            raise TimeoutError(f"no frame from the peer within {timeout:g} s") from None
        if isinstance(item, BaseException):
            self.inbox.put(item)  # stays closed for every later call
            raise WireError(f"link closed: {item}") from item
        return item

    def poll(self) -> Frame | None:
        try:
            item = self.inbox.get_nowait()
        except queue.Empty:
            return None
        if isinstance(item, BaseException):
            self.inbox.put(item)
            raise WireError(f"link closed: {item}") from item
        return item

    def close(self) -> None:
        self.outbox.put(None)
        self.writer.join(10)
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()


def tune(sock: socket.socket) -> None:
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    for opt in (socket.SO_SNDBUF, socket.SO_RCVBUF):
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, opt, 4 << 20)
