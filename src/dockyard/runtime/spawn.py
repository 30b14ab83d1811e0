"""Parent side of `create`: fork the init into its pid namespace, place it in the cgroup, await READY.

Returns once the init is READY (blocked on exec.fifo) — or raises CreateError
carrying the init's own error text, having killed the init and removed the
cgroup and state.  No new interpreter is started: the children are forks of
the calling process.  Protocol drawn in ``sync.py``.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import shutil
import signal
import socket
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from dockyard.errors import Conflict
from dockyard.oci.runtime_spec import Spec
from dockyard.runtime import lifecycle, sync
from dockyard.runtime import syscalls as sc
from dockyard.runtime.init import child_main, template_spec
from dockyard.runtime.init import warm_up as init_warm_up
from dockyard.runtime.namespaces import NsPlan, pid_for_children, plan_namespaces

__all__ = ["Created", "CreateError", "Prefork", "load_spec", "create", "prefork", "warm_up", "use_bare_fork"]


class CreateError(Exception):
    """The container could not be created; .message is the runtime's text."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Created:
    pid: int                      # host pid of the container's init
    console_fd: int | None        # pty master when process.terminal, owned by the caller


def load_spec(bundle: str) -> Spec:
    return _read_spec(os.path.join(bundle, "config.json"))


def _read_spec(path: str) -> Spec:
    try:
        with open(path) as f:
            return Spec.from_dict(json.load(f))
    except FileNotFoundError:
        raise CreateError(f"JSON specification file {path} not found") from None
    except (ValueError, KeyError, TypeError) as e:
        raise CreateError(f"invalid config.json: {e}") from None


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat().replace("+00:00", "Z")


def _reap_or_kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)  # only succeeds when we are its (sub)reaper


@dataclass
class Prefork:
    """A child already forked into a fresh pid namespace, waiting for SETUP: a create that uses
    it pays no fork (nor the child's start-up) on its critical path."""
    pid: int
    sock: socket.socket

    def discard(self) -> None:
        self.sock.close()   # it reads EOF and exits; SIGKILL in case it is stuck elsewhere
        _reap_or_kill(self.pid)


_bare_fork = False


def use_bare_fork(on: bool = True) -> None:
    """Fork children without CPython's after-fork work (``syscalls.bare_fork``): for a process that
    is and stays single-threaded (the zygote and what it forks).  The child runs the init's steps
    and execs; the hooks it skips (threading's, random's) only copied pages it was about to drop,
    ~0.3 ms of page faults on every create and exec."""
    global _bare_fork
    _bare_fork = on


def _fork_child(ns: NsPlan, warm: bool = False) -> tuple[int, socket.socket]:
    parent_sock, child_sock = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    try:
        with pid_for_children(ns):
            pid = sc.bare_fork() if _bare_fork else os.fork()
            if pid == 0:
                parent_sock.close()
                child_main(child_sock, warm)
    except BaseException:
        parent_sock.close()
        raise
    finally:
        child_sock.close()
    return pid, parent_sock


def prefork() -> Prefork:
    """Fork a child for a future `create` (one whose spec asks for a new pid namespace).

    It warms itself up (see ``init.warm_up``) at the caller's priority; SETUP
    gives it the creating process's priority back."""
    pid, sock = _fork_child(NsPlan(joins=(), unshare_flags=0, kinds=frozenset(), pid="new"), warm=True)
    return Prefork(pid, sock)


def warm_up() -> None:
    """The parent's half of ``init.warm_up``: read, parse and format what every create does."""
    init_warm_up()
    fd = os.memfd_create("dockyard-warm-up")
    try:
        os.write(fd, json.dumps(template_spec().to_dict()).encode())
        spec = _read_spec(f"/proc/self/fd/{fd}")
    finally:
        os.close(fd)
    plan_namespaces(spec.linux.namespaces)
    from dockyard.runtime.cgroups import open_cgroup
    open_cgroup(spec.linux.cgroups_path)
    st = lifecycle.ContainerState(id="x", pid=1, start_time=1, bundle="/b", rootfs="/r", created=_now())
    json.dumps(asdict(st))
    lifecycle.proc_start_time(os.getpid())


def _launch(setup: dict[str, Any], fds: list[int], ns: NsPlan, place: Callable[[int], None] | None,
            timeout: float, on_forked: Callable[[int], None] | None,
            pre: Prefork | None = None) -> Created:
    """Fork (or take the prefork), send SETUP, place the child in its cgroup, walk the protocol to READY."""
    if pre is not None and ns.pid == "new":
        pid, sock = pre.pid, pre.sock
        with contextlib.suppress(OSError):  # it may still be warming up at low priority
            os.setpriority(os.PRIO_PROCESS, pid, os.getpriority(os.PRIO_PROCESS, 0))
    else:
        if pre is not None:
            pre.discard()
        pid, sock = _fork_child(ns)
    console_fd: int | None = None
    try:
        sync.send(sock, sync.SETUP, fds=fds, nice=os.getpriority(os.PRIO_PROCESS, 0), **setup)
        if place is not None:
            place(pid)        # slow cgroup.procs writes, while the child sets itself up
        sync.send(sock, sync.GO)
        if on_forked is not None:
            on_forked(pid)
        while True:
            msg = sync.recv(sock, timeout)
            if msg.type == sync.CONSOLE and msg.fds:
                console_fd = msg.fds[0]
                for extra in msg.fds[1:]:
                    os.close(extra)
            elif msg.type == sync.READY:
                return Created(pid=pid, console_fd=console_fd)
            elif msg.type == sync.ERROR:
                raise CreateError(msg.fields.get("message", "unknown error"))
            else:
                raise CreateError(f"unexpected message {msg.type} from the container's init")
    except BaseException as e:
        # The child's own account (e.g. an ERROR sent before we failed to reach it) beats ours.
        reported = "" if isinstance(e, CreateError) else _child_error(sock)
        _reap_or_kill(pid)
        if console_fd is not None:
            os.close(console_fd)
        if reported:
            raise CreateError(reported) from None
        if isinstance(e, (sync.SyncError, BrokenPipeError, ConnectionResetError)):
            raise CreateError(str(e)) from None
        raise
    finally:
        sock.close()


def _child_error(sock: socket.socket) -> str:
    """An ERROR the child managed to send before we noticed it was gone."""
    with contextlib.suppress(Exception):
        while True:
            msg = sync.recv(sock, 0)
            if msg.type == sync.ERROR:
                return str(msg.fields.get("message", ""))
    return ""


def create(container_id: str, bundle: str, root: str, *, stdio: tuple[int, int, int] | None = None,
           pid_file: str | None = None, timeout: float = 60.0,
           on_forked: Callable[[int], None] | None = None, prefork: Prefork | None = None) -> Created:
    """Create the container: after return its init is blocked until `lifecycle.start`.

    stdio: fds to become the container's 0, 1, 2 (None: inherit ours).  With
    process.terminal they are replaced by the pty slave and the master is returned.
    on_forked(pid) runs while the init sets itself up (a caller's chance to work
    in parallel); if it raises, the container is torn down and the error re-raised.
    prefork: a child from `prefork()` to use (it is consumed either way).
    """
    try:
        bundle = os.path.abspath(bundle)
        spec = load_spec(bundle)
        try:
            ns = plan_namespaces(spec.linux.namespaces)
        except ValueError as e:
            raise CreateError(str(e)) from None
        rootfs = spec.root.path if os.path.isabs(spec.root.path) else os.path.join(bundle, spec.root.path)
        rootfs = os.path.realpath(rootfs)
        if not os.path.isdir(rootfs):
            raise CreateError(f"rootfs ({rootfs}) does not exist")
        sdir = lifecycle.state_dir(root, container_id)
        os.makedirs(root, 0o711, exist_ok=True)
        try:
            os.mkdir(sdir, 0o711)
        except FileExistsError:
            raise Conflict(f"container with id exists: {container_id}") from None
    except BaseException:
        if prefork is not None:
            prefork.discard()
        raise

    cg = None
    created: Created | None = None
    fifo_fd = -1
    try:
        fifo = os.path.join(sdir, lifecycle.FIFO_NAME)
        os.mkfifo(fifo, 0o622)
        fifo_fd = os.open(fifo, os.O_PATH | os.O_CLOEXEC)
        if spec.linux.cgroups_path:
            from dockyard.runtime.cgroups import open_cgroup
            cg = open_cgroup(spec.linux.cgroups_path)

        def place(pid: int) -> None:
            assert cg is not None
            cg.create(spec.linux.resources or None)
            cg.add_process(pid)

        setup = {"mode": "create", "bundle": bundle, "rootfs": rootfs, "stdio": stdio is not None}
        fds = [*(stdio or ()), fifo_fd]
        created = _launch(setup, fds, ns, place if cg is not None else None, timeout, on_forked, prefork)
        started = lifecycle.proc_start_time(created.pid)
        if started is None:
            raise CreateError("container init exited before it was ready")
        lifecycle.ContainerState(
            id=container_id, pid=created.pid, start_time=started[0], bundle=bundle, rootfs=rootfs,
            created=_now(), cgroups_path=spec.linux.cgroups_path, annotations=spec.annotations,
        ).save(root)
        if pid_file:
            _write_pid_file(pid_file, created.pid)
        return created
    except BaseException:
        if created is not None:
            _reap_or_kill(created.pid)
            if created.console_fd is not None:
                os.close(created.console_fd)
        if cg is not None:
            with contextlib.suppress(OSError):
                lifecycle.remove_cgroup(cg)
        shutil.rmtree(sdir, ignore_errors=True)
        raise
    finally:
        if fifo_fd >= 0:
            os.close(fifo_fd)


def _write_pid_file(path: str, pid: int) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(pid))
    os.replace(tmp, path)
