"""Frames and tensors on the split link, over a real socket pair."""

from __future__ import annotations

import socket
import threading

import pytest
import torch

from harness.runsplit.wire import (
    CHUNK,
    PREFIX,
    WireError,
    decode_tensor,
    encode_tensor,
    recv_frame,
    send_frame,
)


def test_frame_round_trip_with_pacing_per_chunk() -> None:
    a, b = socket.socketpair()
    paced: list[int] = []
    payload = bytes(range(256)) * 300  # 76800 bytes: several chunks
    with a, b:
        t = threading.Thread(
            target=send_frame,
            args=(a, {"kind": "work", "id": 7}, payload),
            kwargs={"pace": paced.append},
        )
        t.start()
        fr = recv_frame(b)
        t.join()
    assert fr.header == {"kind": "work", "id": 7}
    assert bytes(fr.payload) == payload
    assert fr.end_s >= fr.first_s
    assert sum(paced) == len(payload) + paced[0]  # the prefix + header, then the payload
    assert max(paced[1:]) <= CHUNK


def test_empty_payload_and_closed_peer() -> None:
    a, b = socket.socketpair()
    with b:
        with a:
            send_frame(a, {"kind": "bye"})
        fr = recv_frame(b)
        assert fr.header == {"kind": "bye"} and fr.payload == bytearray()
        with pytest.raises(WireError, match="closed"):
            recv_frame(b)


def test_garbage_is_not_a_frame() -> None:
    a, b = socket.socketpair()
    with a, b:
        a.sendall(PREFIX.pack(1 << 30, 0))
        with pytest.raises(WireError, match="not a frame"):
            recv_frame(b)
    a, b = socket.socketpair()
    with a, b:
        a.sendall(PREFIX.pack(3, 0) + b"{x}")
        with pytest.raises(WireError, match="not JSON"):
            recv_frame(b)


@pytest.mark.parametrize("precision", ["fp32", "fp16"])
def test_tensor_round_trip(precision: str) -> None:
    x = torch.randn(2, 3, 5, 7)
    meta, view = encode_tensor(x, precision)
    assert view.nbytes == x.numel() * (4 if precision == "fp32" else 2)
    y = decode_tensor(meta, bytearray(view))
    assert y.dtype == torch.float32 and y.shape == x.shape
    tol = 0 if precision == "fp32" else 1e-2
    assert torch.allclose(x, y, atol=tol, rtol=tol)


def test_unknown_dtype_is_refused() -> None:
    with pytest.raises(WireError, match="dtype"):
        decode_tensor({"shape": [1], "dtype": "int64"}, bytearray(8))
