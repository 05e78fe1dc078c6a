"""`harness --help` start-up time (target: under 0.5 s; the CLI imports no torch)."""

import statistics
import subprocess
import sys
import time


def main() -> None:
    times = []
    for _ in range(7):
        t0 = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "harness.cli", "--help"], capture_output=True, check=True
        )
        times.append(time.perf_counter() - t0)
    med = statistics.median(times)
    print(
        f"harness --help: median {med:.3f} s over {len(times)} runs "
        f"(min {min(times):.3f}, max {max(times):.3f}); target < 0.5 s: "
        f"{'holds' if med < 0.5 else 'MISSED'}"
    )


if __name__ == "__main__":
    main()
