"""Frames on the split link: a 12-byte prefix (header length, payload length), a JSON header,
then the raw bytes of one tensor. No pickle: either side can be rebuilt in any language, and
the bytes that cross are exactly the tensor's bytes plus a small header.

The receiver stamps when a frame's prefix arrived and when its last byte did, so transfer time
is measured where the data lands, not where `sendall` returned (which is only the kernel
taking the bytes into its buffer).
"""

from __future__ import annotations

import json
import socket
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

PREFIX = struct.Struct("!IQ")
CHUNK = 16 * 1024  # a pacer sees the payload in pieces of this size
MAX_HEADER = 1 << 20


class WireError(ConnectionError):
    """The peer closed the connection or sent something that is not a frame."""


@dataclass
class Frame:
    header: dict[str, Any]
    payload: bytearray
    first_s: float  # time.time() when the prefix arrived
    end_s: float  # time.time() when the last payload byte arrived


def pack_prefix(header: dict[str, Any], payload_len: int) -> bytes:
    head = json.dumps(header, separators=(",", ":")).encode()
    return PREFIX.pack(len(head), payload_len) + head


def send_frame(
    sock: socket.socket,
    header: dict[str, Any],
    payload: bytes | bytearray | memoryview = b"",
    pace: Callable[[int], None] | None = None,
) -> int:
    """Send one frame; `pace(n)` is called before every piece of n bytes (token bucket).
    Returns the bytes written (prefix and header included)."""
    view = memoryview(payload)
    if view.format != "B" or view.ndim != 1:
        view = view.cast("B")
    first = pack_prefix(header, view.nbytes)
    if pace is None:
        sock.sendall(first)
        if view.nbytes:
            sock.sendall(view)
        return len(first) + view.nbytes
    pace(len(first))
    sock.sendall(first)
    for off in range(0, view.nbytes, CHUNK):
        piece = view[off : off + CHUNK]
        pace(piece.nbytes)
        sock.sendall(piece)
    return len(first) + view.nbytes


def recv_exact(sock: socket.socket, n: int) -> bytearray:
    buf = bytearray(n)
    view = memoryview(buf)
    got = 0
    while got < n:
        k = sock.recv_into(view[got:], n - got)
        if k == 0:
            raise WireError(f"connection closed after {got} of {n} bytes")
        got += k
    return buf


def recv_frame(sock: socket.socket) -> Frame:
    """Read one frame; WireError when the peer has closed (cleanly between frames, too)."""
    prefix = recv_exact(sock, PREFIX.size)
    first = time.time()
    hlen, plen = PREFIX.unpack(bytes(prefix))
    if hlen > MAX_HEADER:
        raise WireError(f"header of {hlen} bytes: not a frame of this protocol")
    try:
        header = json.loads(bytes(recv_exact(sock, hlen)))
    except json.JSONDecodeError as exc:
        raise WireError(f"header is not JSON: {exc.msg}") from None
    if not isinstance(header, dict):
        raise WireError("header is not a JSON object")
    payload = recv_exact(sock, plen) if plen else bytearray()
    return Frame(header, payload, first, time.time())


# ---------------------------------------------------------------- tensors (torch, lazily)


def encode_tensor(t: Any, precision: str = "fp32") -> tuple[dict[str, Any], memoryview]:
    """(shape/dtype header fields, a zero-copy view of the tensor's bytes)."""
    import torch

    t = t.detach()
    t = t.to(torch.float16) if precision == "fp16" else t.to(torch.float32)
    arr = t.contiguous().numpy()
    return {"shape": list(arr.shape), "dtype": str(arr.dtype)}, memoryview(arr).cast("B")


def decode_tensor(header: dict[str, Any], payload: bytearray) -> Any:
    """The float32 tensor a frame carries (fp16 on the wire is widened again)."""
    import torch

    dtypes = {"float32": torch.float32, "float16": torch.float16}
    dt = dtypes.get(str(header.get("dtype")))
    if dt is None:
        raise WireError(f"dtype {header.get('dtype')!r} not one of {sorted(dtypes)}")
    shape = [int(d) for d in header.get("shape", [])]
    if not payload:
        return torch.zeros(shape, dtype=torch.float32)
    t = torch.frombuffer(payload, dtype=dt).reshape(shape)
    return t.float()
