"""Run one more process inside a running container (`runc exec`, `docker exec`).

The new process is forked straight into the container's pid namespace,
placed in its cgroup, then ``setns`` into each namespace the container's init
has of its own (opened by /proc/<pid>/ns/* before the fork, after checking the
init's start time against pid reuse).  It then runs the exec steps of
``init.py`` (session, console, rlimits, user, capabilities, cwd, look up
args[0]) and execs at once: there is no start gate.  Same sync protocol as
create (``sync.py``), minus the gate.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dockyard.errors import InvalidState
from dockyard.oci.runtime_spec import Process
from dockyard.runtime import lifecycle
from dockyard.runtime import syscalls as sc
from dockyard.runtime.namespaces import NsPlan
from dockyard.runtime.spawn import Created, _launch

__all__ = ["exec_process", "exec_target", "ExecTarget", "JOIN_ORDER"]

# setns order (nsenter's): the mount namespace late, since it changes what /proc means.
JOIN_ORDER: tuple[tuple[str, int], ...] = (
    ("cgroup", sc.CLONE_NEWCGROUP), ("ipc", sc.CLONE_NEWIPC), ("uts", sc.CLONE_NEWUTS),
    ("net", sc.CLONE_NEWNET), ("mnt", sc.CLONE_NEWNS),
)


def _open_namespaces(pid: int) -> tuple[list[tuple[int, int]], str]:
    """fds of the init's namespaces that differ from ours, and its pid namespace path (or "")."""
    fds: list[tuple[int, int]] = []
    try:
        for name, flag in JOIN_ORDER:
            theirs = f"/proc/{pid}/ns/{name}"
            if os.stat(theirs).st_ino == os.stat(f"/proc/self/ns/{name}").st_ino:
                continue
            fds.append((os.open(theirs, os.O_RDONLY | os.O_CLOEXEC), flag))
        pid_ns = f"/proc/{pid}/ns/pid"
        same = os.stat(pid_ns).st_ino == os.stat("/proc/self/ns/pid").st_ino
    except OSError:
        for fd, _ in fds:
            os.close(fd)
        raise InvalidState("container is not running") from None
    return fds, "" if same else pid_ns


@dataclass
class ExecTarget:
    """What every exec into one running container needs, looked up once: its state, fds of the
    namespaces its init has of its own, its pid namespace, its cgroup.  A caller that supervises
    the init (the shim) keeps one for the container's life; each exec still checks the status."""
    root: str
    state: lifecycle.ContainerState
    ns_fds: list[tuple[int, int]]
    pid_ns: str
    cgroup: Any = None

    def close(self) -> None:
        for fd, _ in self.ns_fds:
            with contextlib.suppress(OSError):
                os.close(fd)
        self.ns_fds = []


def exec_target(root: str, container_id: str) -> ExecTarget:
    st, status = lifecycle.observe(root, container_id)
    if status is not lifecycle.Status.RUNNING:
        raise InvalidState(f"cannot exec in a {status.value} container")
    fds, pid_ns = _open_namespaces(st.pid)
    target = ExecTarget(root, st, fds, pid_ns)
    try:
        seen = lifecycle.proc_start_time(st.pid)
        if seen is None or seen[0] != st.start_time:  # the init died and its pid was reused
            raise InvalidState("container is not running")
        if st.cgroups_path:
            from dockyard.runtime.cgroups import open_cgroup
            target.cgroup = open_cgroup(st.cgroups_path)
    except BaseException:
        target.close()
        raise
    return target


def exec_process(root: str, container_id: str, process: Process | dict[str, Any], *,
                 stdio: tuple[int, int, int] | None = None, timeout: float = 60.0,
                 on_forked: Callable[[int], None] | None = None, target: ExecTarget | None = None) -> Created:
    """Start `process` in the running container; returns once it has exec'd (or raises CreateError).

    The caller is the new process's parent and must reap it.  With
    process.terminal the pty (from the container's devpts) master is returned.
    target: from ``exec_target`` for this container, kept by the caller (else looked up now).
    """
    if isinstance(process, Process):
        process = process.to_dict()
    if target is None:
        target = exec_target(root, container_id)
        try:
            return _exec(target, process, stdio, timeout, on_forked)
        finally:
            target.close()
    status = lifecycle.status_of(root, target.state)
    if status is not lifecycle.Status.RUNNING:
        raise InvalidState(f"cannot exec in a {status.value} container")
    return _exec(target, process, stdio, timeout, on_forked)


def _exec(target: ExecTarget, process: dict[str, Any], stdio: tuple[int, int, int] | None, timeout: float,
          on_forked: Callable[[int], None] | None) -> Created:
    # The process goes to the child as it came: the child parses (and checks) it, and its
    # errors come back as CreateError like any other; parsing it here too would only cost time
    # and, in a shim, pages.
    ns = NsPlan(joins=(), unshare_flags=0, kinds=frozenset(), pid=target.pid_ns)
    setup = {"mode": "exec", "bundle": target.state.bundle, "process": process,
             "stdio": stdio is not None, "ns_flags": [flag for _, flag in target.ns_fds]}
    return _launch(setup, [*(stdio or ()), *(fd for fd, _ in target.ns_fds)], ns,
                   target.cgroup.add_process if target.cgroup is not None else None, timeout, on_forked)
