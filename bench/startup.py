"""`harness --help` start-up time (target: under 0.5 s; the CLI imports no torch).

Median of 10 fresh interpreters running `python -m harness.cli --help`, and the modules a heavy
start-up would drag in (checked in the same kind of process). Where the time goes:
`python3 -X importtime -m harness.cli --help`.
"""

import statistics
import subprocess
import sys
import time

RUNS = 10
TARGET_S = 0.5
HEAVY = (
    "torch",
    "docker",
    "pandas",
    "numpy",
    "numba",
    "matplotlib",
    "pyscipopt",
    "typer.rich_utils",
)
CHECK = (
    "import runpy, sys\n"
    "sys.argv = ['harness', '--help']\n"
    "try:\n    runpy.run_module('harness.cli', run_name='__main__')\n"
    "except SystemExit:\n    pass\n"
    f"print(','.join(m for m in {HEAVY!r} if m in sys.modules), file=sys.stderr)\n"
)


def main() -> None:
    times = []
    for _ in range(RUNS):
        t0 = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "harness.cli", "--help"], capture_output=True, check=True
        )
        times.append(time.perf_counter() - t0)
    base = []
    for _ in range(RUNS):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], capture_output=True, check=True)
        base.append(time.perf_counter() - t0)
    heavy = subprocess.run(
        [sys.executable, "-c", CHECK], capture_output=True, text=True, check=True
    ).stderr.strip()
    med = statistics.median(times)
    print(
        f"harness --help: median {med:.3f} s over {RUNS} runs "
        f"(min {min(times):.3f}, max {max(times):.3f}); bare python3: median "
        f"{statistics.median(base):.3f} s"
    )
    print(f"heavy modules imported by --help: {heavy or 'none'}")
    print(f"target < {TARGET_S} s: {'MET' if med < TARGET_S else 'MISSED'}")


if __name__ == "__main__":
    main()
