"""Container lifecycle on disk: the Status machine, saved state, start/kill/delete.

State lives in ``<root>/<id>/state.json``; status is never stored, it is
observed: the init's pid plus its start time (field 22 of /proc/PID/stat)
guard against pid reuse, and exec.fifo still existing means "created" (the
init is blocked on it).  A zombie init counts as stopped.
"""

from __future__ import annotations

import contextlib
import enum
import json
import os
import re
import select
import shutil
import signal
import time
from dataclasses import asdict, dataclass, field

from dockyard.errors import Conflict, InvalidArgument, InvalidState, NotFound
from dockyard.oci.runtime_spec import State

__all__ = [
    "Status", "ContainerState", "FIFO_NAME", "STATE_NAME", "validate_id", "state_dir", "proc_start_time",
    "load", "observe", "oci_state", "start", "kill", "delete", "parse_signal", "remove_cgroup", "set_paused", "open_gate",
    "release_gate", "status_of",
]

FIFO_NAME = "exec.fifo"
STATE_NAME = "state.json"
_ID_RE = re.compile(r"^[\w+\-.]+$")


class Status(enum.Enum):
    CREATING = "creating"
    CREATED = "created"
    RUNNING = "running"
    PAUSED = "paused"
    STOPPED = "stopped"

    @property
    def can_start(self) -> bool:
        return self is Status.CREATED

    @property
    def can_kill(self) -> bool:
        return self in (Status.CREATED, Status.RUNNING, Status.PAUSED)

    def can_delete(self, force: bool = False) -> bool:
        # runc deletes a created container without --force (its init never ran user code).
        return force or self in (Status.STOPPED, Status.CREATED, Status.CREATING)


@dataclass(frozen=True)
class ContainerState:
    id: str
    pid: int
    start_time: int
    bundle: str
    rootfs: str
    created: str
    cgroups_path: str = ""
    annotations: dict[str, str] = field(default_factory=dict)

    def save(self, root: str) -> None:
        path = os.path.join(state_dir(root, self.id), STATE_NAME)
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(asdict(self), f)
        os.replace(tmp, path)


def validate_id(cid: str) -> None:
    if not cid or not _ID_RE.match(cid) or cid in (".", ".."):
        raise InvalidArgument(f"invalid container id format: {cid!r}")


def state_dir(root: str, cid: str) -> str:
    validate_id(cid)
    return os.path.join(root, cid)


def proc_start_time(pid: int) -> tuple[int, str] | None:
    """(start time in clock ticks, state letter) of a live or zombie pid, None if gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return None
    rest = data[data.rindex(b")") + 2:].split()
    return int(rest[19]), rest[0].decode()


def load(root: str, cid: str) -> ContainerState:
    try:
        with open(os.path.join(state_dir(root, cid), STATE_NAME)) as f:
            return ContainerState(**json.load(f))
    except FileNotFoundError:
        raise NotFound(f"container does not exist: {cid}") from None


def status_of(root: str, st: ContainerState) -> Status:
    """The status of the container `st` describes, observed now."""
    seen = proc_start_time(st.pid)
    if seen is None or seen[0] != st.start_time or seen[1] in ("Z", "X"):
        return Status.STOPPED
    if os.path.exists(os.path.join(state_dir(root, st.id), FIFO_NAME)):
        return Status.CREATED
    if st.cgroups_path and _cgroup(st.cgroups_path).is_frozen():
        return Status.PAUSED
    return Status.RUNNING


def observe(root: str, cid: str) -> tuple[ContainerState, Status]:
    st = load(root, cid)
    return st, status_of(root, st)


def oci_state(root: str, cid: str) -> State:
    st, status = observe(root, cid)
    pid = st.pid if status is not Status.STOPPED else 0
    return State(id=cid, status=status.value, pid=pid, bundle=st.bundle, annotations=st.annotations)


def open_gate(root: str, cid: str) -> int:
    """Release the init blocked on exec.fifo: open the FIFO's read end (its open() returns) and
    unlink it (status now reads "running"; the init holds the FIFO by an fd).

    Returns the read end: the init writes "0" into it just before execve.  Keep it
    open until then (readable), or the init's write fails.
    """
    st, status = observe(root, cid)
    if not status.can_start:
        raise InvalidState("cannot start a container that has stopped" if status is Status.STOPPED
                           else f"cannot start an already {status.value} container")
    return release_gate(root, cid)


def release_gate(root: str, cid: str) -> int:
    """``open_gate`` without reading the state first: for a caller that knows the init is created
    and waiting (the shim, which reaps it).  FileNotFoundError once it was released."""
    fifo = os.path.join(state_dir(root, cid), FIFO_NAME)
    fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        os.unlink(fifo)
    except FileNotFoundError:
        pass
    return fd


def start(root: str, cid: str, timeout: float = 30.0) -> None:
    """runc's `start`: release the init and wait until it confirms (its "0" on exec.fifo)."""
    st = load(root, cid)
    fd = open_gate(root, cid)
    try:
        deadline = time.monotonic() + timeout
        while True:
            ready, _, _ = select.select([fd], [], [], 0.05)
            if ready:
                if os.read(fd, 1):
                    return
                raise InvalidState("container init exited before it could be started")
            if status_of(root, st) is Status.STOPPED:
                raise InvalidState("cannot start a container that has stopped")
            if time.monotonic() > deadline:
                raise InvalidState("timed out starting the container")
    finally:
        os.close(fd)


def parse_signal(value: str | int) -> int:
    if isinstance(value, int) or value.isdigit():
        return int(value)
    name = value.upper()
    if not name.startswith("SIG"):
        name = "SIG" + name
    try:
        return int(signal.Signals[name])
    except KeyError:
        raise InvalidArgument(f"invalid signal: {value}") from None


def _cgroup(path: str):  # noqa: ANN202 - the cgroups package owns the type
    from dockyard.runtime.cgroups import open_cgroup
    return open_cgroup(path)


def kill(root: str, cid: str, sig: int = signal.SIGTERM, all_: bool = False) -> None:
    st, status = observe(root, cid)
    if not status.can_kill:
        raise InvalidState("container not running")
    if all_ and st.cgroups_path:
        _cgroup(st.cgroups_path).kill_all(sig)
        return
    os.kill(st.pid, sig)


def set_paused(root: str, cid: str, paused: bool) -> None:
    """Freeze (pause) or thaw (resume) every process of the container via its cgroup."""
    st, status = observe(root, cid)
    if not st.cgroups_path:
        raise InvalidState(f"container {cid} has no cgroup to freeze")
    if paused and status is not Status.RUNNING:
        raise InvalidState(f"container {cid} is not running")
    if not paused and status is not Status.PAUSED:
        raise InvalidState(f"container {cid} is not paused")
    cg = _cgroup(st.cgroups_path)
    if paused:
        cg.freeze()
    else:
        cg.thaw()


def _wait_gone(root: str, st: ContainerState, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while status_of(root, st) is not Status.STOPPED and time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(st.pid, os.WNOHANG)
        time.sleep(0.005)


def delete(root: str, cid: str, force: bool = False) -> None:
    """Remove a stopped (or created, or with force any) container's state and cgroup."""
    try:
        st, status = observe(root, cid)
    except NotFound:
        if force:
            return
        raise
    if not status.can_delete(force):
        raise Conflict(f"cannot delete container {cid} that is not stopped: {status.value}")
    if status is not Status.STOPPED:
        with contextlib.suppress(ProcessLookupError):
            os.kill(st.pid, signal.SIGKILL)
        _wait_gone(root, st, 10.0)
    if st.cgroups_path:
        remove_cgroup(_cgroup(st.cgroups_path))  # kills what is left, retries while tasks die
    shutil.rmtree(state_dir(root, cid), ignore_errors=True)


def remove_cgroup(cg: object, timeout: float = 5.0) -> None:
    """rmdir fails with EBUSY while dying tasks linger for a moment: retry briefly."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            cg.delete()  # type: ignore[attr-defined]
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.01)
