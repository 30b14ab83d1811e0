"""Namespace kinds, and how a spec's ``linux.namespaces`` turns into setns/unshare calls.

A namespace entry with a ``path`` is joined (setns) and one without is created
(unshare).  Joins come first, so that e.g. a new mount namespace is created
from inside a joined network namespace, as runc orders them.  The cgroup
namespace is unshared after the process was placed in its cgroup, so that the
container sees its own cgroup as "/".

The pid namespace is special: unshare/setns of CLONE_NEWPID only decides where
the caller's *next child* goes.  ``pid_for_children`` sets that up in the
parent just around its fork and restores the parent's own afterwards, which
saves the intermediate process (and a fork of a Python process) per container.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from dockyard.oci.runtime_spec import Namespace
from dockyard.runtime import syscalls as sc

__all__ = ["NS_FLAGS", "NsPlan", "plan_namespaces", "join_namespaces", "pid_for_children"]

NS_FLAGS: dict[str, int] = {
    "pid": sc.CLONE_NEWPID, "network": sc.CLONE_NEWNET, "mount": sc.CLONE_NEWNS,
    "ipc": sc.CLONE_NEWIPC, "uts": sc.CLONE_NEWUTS, "cgroup": sc.CLONE_NEWCGROUP,
    "user": sc.CLONE_NEWUSER, "time": sc.CLONE_NEWTIME,
}


@dataclass(frozen=True)
class NsPlan:
    joins: tuple[tuple[str, int], ...]   # (path, CLONE_* flag), pid excluded
    unshare_flags: int                    # everything to create fresh, CLONE_NEWPID excluded
    kinds: frozenset[str]                 # every kind the container has its own of
    pid: str = ""                         # "" host's, "new", or a path to join


def plan_namespaces(namespaces: Iterable[Namespace]) -> NsPlan:
    joins: list[tuple[str, int]] = []
    flags = 0
    pid = ""
    kinds: set[str] = set()
    for ns in namespaces:
        if ns.type not in NS_FLAGS:
            raise ValueError(f"namespace type {ns.type!r} is not supported")
        if ns.type == "user":
            raise ValueError("user namespaces are not supported by the dockyard runtime")
        if ns.type in kinds:
            raise ValueError(f"duplicate namespace type {ns.type!r}")
        kinds.add(ns.type)
        if ns.type == "pid":
            pid = ns.path or "new"
        elif ns.path:
            joins.append((ns.path, NS_FLAGS[ns.type]))
        else:
            flags |= NS_FLAGS[ns.type]
    return NsPlan(tuple(joins), flags, frozenset(kinds), pid)


def join_namespaces(joins: Iterable[tuple[str, int]]) -> None:
    """setns into each path; the fds are closed straight away (setns keeps the reference)."""
    for path, flag in joins:
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError as e:
            raise OSError(e.errno, f"open namespace {path}: {e.strerror}") from None
        try:
            sc.setns(fd, flag)
        except OSError as e:
            raise OSError(e.errno, f"setns {path}: {e.strerror}") from None
        finally:
            os.close(fd)


@contextlib.contextmanager
def pid_for_children(plan: NsPlan) -> Iterator[None]:
    """Within the block, the caller's children are born in the container's pid namespace."""
    if not plan.pid:
        yield
        return
    own = os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)
    try:
        if plan.pid == "new":
            sc.unshare(sc.CLONE_NEWPID)
        else:
            join_namespaces([(plan.pid, sc.CLONE_NEWPID)])
        try:
            yield
        finally:
            sc.setns(own, sc.CLONE_NEWPID)
    finally:
        os.close(own)
