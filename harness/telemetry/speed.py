"""How fast this CPU runs right now: a fixed reference kernel, timed on the spot.

A prediction is made from profiles measured at one moment and checked by a run at another; on a
shared or virtual machine the CPU's speed moves in between (neighbours, clocks, thermal limits:
the same convolution took 2.9 ms and then 5.1 ms twenty minutes apart on the VM this was built
on). Each inference profile and each side of a split run time the same small kernel under
their own caps, so that a validation can say how much the machine changed and what the
prediction would have been on the machine as it was during the run. Bounded by a count of
calls, never by seconds.
"""

from __future__ import annotations

import statistics
import time

KERNEL = "conv2d 64->64 3x3 on 1x64x56x56, fp32, one thread, median of 30 calls"
CALLS = 30
WARMUP = 5


def reference_ms(calls: int = CALLS, warmup: int = WARMUP) -> float:
    """Milliseconds per call of the reference kernel (its median), on one torch thread (the
    caller's thread count is restored)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        g = torch.Generator().manual_seed(0)
        conv = torch.nn.Conv2d(64, 64, 3, padding=1).eval()
        x = torch.rand(1, 64, 56, 56, generator=g)
        out: list[float] = []
        with torch.no_grad():
            for i in range(warmup + calls):
                t0 = time.perf_counter()
                conv(x)
                if i >= warmup:
                    out.append(time.perf_counter() - t0)
        return statistics.median(out) * 1e3
    finally:
        torch.set_num_threads(threads)
