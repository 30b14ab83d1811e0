"""What a container's cgroup can do, whatever the cgroup version: the shared interface.

:class:`Cgroup` is the contract the runtime codes against; ``CgroupV1``
(v1 and hybrid hosts) and ``CgroupV2`` implement it and pass one conformance
suite. The version-independent parts (path checks, signalling, delete with
kill-and-retry) live here.
"""

from __future__ import annotations

import abc
import os
import signal

from dockyard.errors import InvalidArgument, SystemError_

from . import fs
from .resources import Resources

__all__ = ["Cgroup", "split_path"]

# How long delete() keeps retrying rmdir after SIGKILL: tasks need a moment to exit.
_DELETE_RETRIES = 20  # 1 ms doubling, capped at 50 ms: about 0.8 s in all


def split_path(cgroups_path: str) -> list[str]:
    """OCI ``linux.cgroupsPath`` → its components, relative to each hierarchy's root.

    Absolute and relative paths are both taken from the hierarchy root (dockyard
    never nests containers under its own cgroup). Empty, ``.`` and ``..``
    components are refused: the path must name a cgroup strictly below the root.
    """
    if not isinstance(cgroups_path, str):
        raise InvalidArgument(f"cgroupsPath must be a string, not {cgroups_path!r}")
    parts = [p for p in cgroups_path.split("/") if p]
    if not parts or any(p in (".", "..") or "\0" in p for p in parts):
        raise InvalidArgument(f"invalid cgroupsPath {cgroups_path!r}: need a path like /dockyard/<id>")
    return parts


def signal_pids(pids: list[int], sig: int) -> None:
    for pid in pids:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass  # exited meanwhile


class Cgroup(abc.ABC):
    """One container's cgroup, in every hierarchy it needs."""

    path: str  # the normalised cgroupsPath, e.g. "/dockyard/<id>"

    def __init__(self, cgroups_path: str) -> None:
        self._parts = split_path(cgroups_path)
        self.path = "/" + "/".join(self._parts)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.path!r})"

    # -- lifecycle ---------------------------------------------------------

    @abc.abstractmethod
    def create(self, resources: Resources | None = None) -> None:
        """Make the cgroup in every hierarchy (parents too) and apply ``resources``.

        Idempotent: an existing cgroup is reused and the limits re-applied. On
        failure the directories this call made are removed again.
        """

    @abc.abstractmethod
    def update(self, resources: Resources) -> None:
        """Change limits of a live cgroup (``docker update``)."""

    @abc.abstractmethod
    def add_process(self, pid: int) -> None:
        """Move ``pid`` (the whole thread group) into this cgroup everywhere."""

    @abc.abstractmethod
    def directories(self) -> list[str]:
        """Every directory this cgroup lives in (one per hierarchy)."""

    def exists(self) -> bool:
        return any(os.path.isdir(d) for d in self.directories())

    def delete(self) -> None:
        """Remove the cgroup (and any sub-cgroups) everywhere. Idempotent.

        Tasks still inside are SIGKILLed and the rmdir retried briefly.
        """
        busy = [d for d in self.directories() if fs.rmdir_tree(d) != 0]
        if not busy:
            return
        try:
            self.kill_all(signal.SIGKILL)
        except SystemError_:
            pass  # the retries below report what is really wrong
        failed = [(d, err) for d in busy if (err := fs.rmdir_tree(d, retries=_DELETE_RETRIES)) != 0]
        if failed:
            d, err = failed[0]
            raise fs.CgroupFileError(f"cgroups: failed to remove {d}: {os.strerror(err)}", err)

    # -- processes ---------------------------------------------------------

    @abc.abstractmethod
    def pids(self) -> list[int]:
        """PIDs of all processes in the cgroup and its sub-cgroups, sorted."""

    @abc.abstractmethod
    def kill_all(self, sig: int) -> None:
        """Send ``sig`` to every process in the cgroup, without racing against forks."""

    @abc.abstractmethod
    def freeze(self) -> None:
        """Stop every task (pause). Returns once the kernel reports the cgroup frozen."""

    @abc.abstractmethod
    def thaw(self) -> None:
        """Let frozen tasks run again (unpause)."""

    @abc.abstractmethod
    def is_frozen(self) -> bool:
        """True while this cgroup is frozen (observed, for the Paused status)."""

    # -- observation -------------------------------------------------------

    @abc.abstractmethod
    def oom_kill_count(self) -> int:
        """How many tasks the kernel OOM-killed in this cgroup (0 without a memory controller)."""

    @abc.abstractmethod
    def stats(self) -> dict[str, dict[str, object]]:
        """Usage figures in Docker's stats JSON shape (see the package docstring)."""
