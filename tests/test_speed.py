"""The reference kernel: a real timing, on one thread, the caller's threads left as they were."""

from __future__ import annotations

import torch

from harness.telemetry.speed import reference_ms


def test_the_reference_kernel_times_real_work_on_one_thread_and_restores_threads() -> None:
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        ms = reference_ms(calls=5, warmup=1)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
    # 64 x 64 x 9 x 56 x 56 multiply-adds (116 MFLOP x 2): no CPU does that in under 0.01 ms
    assert 0.01 < ms < 5_000
