"""Gantt chart of the three resources (local, link, remote), one panel per schedule."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from solver.pipeline import Job
from solver.pipeline_sim import STAGES, Scheduled


def gantt_png(
    jobs: Sequence[Job],
    panels: Sequence[tuple[str, Sequence[Scheduled]]],
    path: str | Path,
) -> Path:
    """Write a PNG with one panel per (title, schedule); one colour per job across stages."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    cmap = plt.get_cmap("tab20")
    fig, axes = plt.subplots(
        len(panels), 1, figsize=(11, 1.6 + 1.5 * len(panels)), squeeze=False, sharex=True
    )
    for ax, (title, schedule) in zip(axes[:, 0], panels, strict=True):
        for s in schedule:
            colour = cmap(s.job % 20)
            for m, (start, end) in enumerate(s.spans):
                if end <= start:
                    continue
                ax.barh(2 - m, end - start, left=start, height=0.7, color=colour, edgecolor="k")
                if len(schedule) <= 30:
                    ax.text(
                        (start + end) / 2, 2 - m, str(s.job), ha="center", va="center", fontsize=7
                    )
        ms = max((s.spans[2][1] for s in schedule), default=0.0)
        ax.axvline(ms, color="red", linestyle="--", linewidth=1)
        ax.set_yticks([2, 1, 0], labels=list(STAGES))
        ax.set_title(f"{title}: makespan {ms:.4g} s", fontsize=10)
    axes[-1, 0].set_xlabel("time (s)")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out
