"""The one resolver of profile references in problem files.

A problem names a profile by path (relative to the problem file, or to where the command runs),
by file name or stem, by profile id, or by a glob over any of these (and, where a kind asks for
it, by the name of the profiled job). The profiles given on the command line are looked at
first; a path that names none of them is loaded from disk. Every failure is one ProblemError
line that names the reference and where it was written.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from harness.profile import Profile, ProfileError, load_profile
from solver.problem import Device, FileError, ProblemError


@dataclass(frozen=True)
class Loaded:
    """A profile and the file it came from (the file is what a solution cites)."""

    path: Path
    profile: Profile

    @property
    def keys(self) -> set[str]:
        return {str(self.path), self.path.name, self.path.stem, self.profile.id}

    def matches(self, ref: str) -> bool:
        """`ref` names this profile: exactly, as a glob, or as the same file."""
        if any(fnmatch.fnmatch(k, ref) for k in self.keys):
            return True
        try:
            return Path(ref).resolve() == self.path.resolve()
        except OSError:
            return False


def profile_cpus(profile: Profile) -> float | None:
    """CPUs an inference profile was measured with: its caps, its probes' caps, or a '-<n>cpu'
    device name (what `harness profile` names a device when the user gave no name)."""
    infer = profile.infer
    if infer is None:
        return None
    if infer.caps is not None:
        return infer.caps.cpus
    if infer.probes:
        return infer.probes[0].caps.cpus
    m = re.search(r"-(\d+(?:\.\d+)?)cpus?$", infer.device_name)
    return float(m.group(1)) if m else None


def load(path: str | Path, where: str = "") -> Loaded:
    """One profile file; a bad one is a ProblemError naming `where` (the field that cited it)."""
    p = Path(path)
    try:
        return Loaded(p, load_profile(p))
    except ProfileError as exc:
        raise FileError(f"{where}: {exc}" if where else str(exc)) from None


def load_all(paths: Iterable[str | Path]) -> list[Loaded]:
    return [load(p) for p in paths]


class ProfileSet:
    """The profiles of one solve: those given, plus any a problem file names by path."""

    def __init__(self, given: Sequence[Loaded] = (), base_dir: Path | None = None) -> None:
        self.given = list(given)
        self.base_dir = base_dir
        self._from_disk: dict[Path, Loaded] = {}

    @classmethod
    def from_paths(cls, paths: Iterable[str | Path], base_dir: Path | None = None) -> ProfileSet:
        return cls(load_all(paths), base_dir)

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.given)

    def __len__(self) -> int:
        return len(self.given)

    def of_kind(self, kind: str) -> list[Loaded]:
        return [it for it in self.given if it.profile.kind == kind]

    def models(self, kind: str = "infer") -> list[str]:
        """The models of the given profiles of `kind`, in order of first appearance."""
        seen: dict[str, None] = {}
        for it in self.of_kind(kind):
            section = it.profile.infer if kind == "infer" else None
            seen[section.model if section is not None else it.profile.job.model] = None
        return list(seen)

    def find(
        self, ref: str, where: str, *, kind: str | None = None, by_job_name: bool = False
    ) -> list[Loaded]:
        """Every profile `ref` names; a reference that names nothing is an error.

        `kind`: only given profiles of that kind are candidates. `by_job_name`: where no given
        profile's file or id matches, a given profile whose job is named `ref` does (a
        packing job or a trace names its training profile so).
        """
        cands = self.given if kind is None else self.of_kind(kind)
        hits = [it for it in cands if it.matches(ref)]
        if not hits and by_job_name:
            hits = [it for it in cands if it.profile.job.name == ref]
        if hits:
            return hits
        path = self._path_of(ref)
        if path is None:
            raise ProblemError(f"{where}: no profile matches {ref!r} (not given, no such file)")
        key = path.resolve()
        if key not in self._from_disk:
            self._from_disk[key] = load(path, where)
        return [self._from_disk[key]]

    def one(
        self, ref: str, where: str, *, kind: str | None = None, by_job_name: bool = False
    ) -> Loaded:
        hits = self.find(ref, where, kind=kind, by_job_name=by_job_name)
        if len(hits) > 1:
            names = ", ".join(str(h.path) for h in hits[:4])
            raise ProblemError(f"{where}: {ref!r} names {len(hits)} profiles ({names}); name one")
        return hits[0]

    def of_device(self, device: Device, where: str) -> list[Loaded]:
        """The profiles of `device`: those its `profiles` name (each must name one or more),
        else the given inference profiles whose `infer.device_name` is its name. `where` is
        the device's field in the problem file (e.g. "devices.0")."""
        if not device.profiles:
            return [
                it
                for it in self.of_kind("infer")
                if it.profile.infer is not None and it.profile.infer.device_name == device.name
            ]
        hits: dict[int, Loaded] = {}
        for k, ref in enumerate(device.profiles):
            for it in self.find(ref, f"field '{where}.profiles.{k}'"):
                hits.setdefault(id(it), it)
        return list(hits.values())

    def _path_of(self, ref: str) -> Path | None:
        p = Path(ref)
        cands = [p] if p.is_absolute() else [*([self.base_dir / p] if self.base_dir else []), p]
        return next((c for c in cands if c.is_file()), None)
