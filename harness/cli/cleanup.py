"""`harness cleanup [--dry-run]`: remove what harness processes killed outright left behind.

A process killed with SIGKILL (or by the OOM killer, or with its terminal) runs no clean-up, so
its containers, its multi-node networks, its local probe cgroups (with any probe still running
in them) and its Slurm jobs would stay, holding cores. Every harness backend already removes
those of dead owners when it starts; this command does it on demand and says what it found.
Things a live harness process owns, or whose owner cannot be checked from here, are left alone.

Only typer at module top: the Docker SDK loads when the command runs.
"""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    app.command("cleanup")(cleanup)


def cleanup(
    dry_run: bool = typer.Option(
        False, "--dry-run", help="list what would be removed and remove nothing"
    ),
) -> None:
    """Remove the containers, networks, probe cgroups and Slurm jobs of harness processes that
    have ended without removing them."""
    verb = "would remove" if dry_run else "removed"
    found = _containers(dry_run) + _cgroups(dry_run) + _jobs(dry_run)
    for line in found:
        typer.echo(f"{verb} {line}")
    typer.echo(f"{len(found)} left behind by ended harness processes" + (" (dry run)" * dry_run))


def _containers(dry_run: bool) -> list[str]:
    from harness.backends import docker as docker_backend

    if not docker_backend.available():
        typer.echo("no Docker engine answers: containers and networks not checked")
        return []
    import docker

    client = docker.from_env(timeout=30)
    out = docker_backend.reap_orphans(client, dry_run=dry_run)
    flt = {"label": docker_backend.LABEL_SESSION}
    unowned = [
        c.name
        for c in client.containers.list(all=True, filters=flt, ignore_removed=True)
        if docker_backend.LABEL_OWNER not in c.labels
    ]
    if unowned:
        typer.echo(
            f"{len(unowned)} harness container(s) name no owner (made by an older harness), "
            f"left alone: {', '.join(unowned)}; remove them with docker rm -f NAME once no "
            "harness runs"
        )
    return out


def _jobs(dry_run: bool) -> list[str]:
    from harness.backends.slurm import reap_orphan_jobs
    from harness.slurm import commands

    ok, _ = commands.available()
    if not ok:
        typer.echo("no Slurm controller answers: cluster jobs not checked")
        return []
    return reap_orphan_jobs(dry_run=dry_run)


def _cgroups(dry_run: bool) -> list[str]:
    from harness.backends.local import sweep_stale_cgroups

    return [f"cgroup {p}" for p in sweep_stale_cgroups(dry_run=dry_run)]
