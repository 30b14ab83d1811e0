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
from dataclasses import dataclass
from typing import Any

from dockyard.errors import Conflict
from dockyard.oci.runtime_spec import Spec
from dockyard.runtime import lifecycle, sync
from dockyard.runtime.init import INIT_STEPS, ChildContext, Step, child_main
from dockyard.runtime.namespaces import pid_for_children, plan_namespaces

__all__ = ["Created", "CreateError", "load_spec", "create"]


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
    try:
        with open(os.path.join(bundle, "config.json")) as f:
            return Spec.from_dict(json.load(f))
    except FileNotFoundError:
        raise CreateError(f"JSON specification file {os.path.join(bundle, 'config.json')} not found") from None
    except (ValueError, KeyError, TypeError) as e:
        raise CreateError(f"invalid config.json: {e}") from None


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat().replace("+00:00", "Z")


def _reap_or_kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)  # only succeeds when we are its (sub)reaper


def _launch(ctx: ChildContext, cg: Any, timeout: float, on_forked: Callable[[int], None] | None,
            steps: tuple[Step, ...] = INIT_STEPS, enter: Callable[[], None] | None = None) -> Created:
    """Fork the child into its pid namespace and walk the sync protocol up to READY."""
    parent_sock, child_sock = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    ctx.sock = child_sock
    pid = 0
    console_fd: int | None = None
    try:
        with pid_for_children(ctx.ns):
            pid = os.fork()
            if pid == 0:
                parent_sock.close()
                child_main(ctx, steps, enter)
        child_sock.close()
        if cg is not None:
            cg.add_process(pid)
        sync.send(parent_sock, sync.GO)
        if on_forked is not None:
            on_forked(pid)
        while True:
            msg = sync.recv(parent_sock, timeout)
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
        if pid:
            _reap_or_kill(pid)
        if console_fd is not None:
            os.close(console_fd)
        if isinstance(e, sync.SyncError):
            raise CreateError(str(e)) from None
        raise
    finally:
        parent_sock.close()
        with contextlib.suppress(OSError):
            child_sock.close()


def create(container_id: str, bundle: str, root: str, *, stdio: tuple[int, int, int] | None = None,
           pid_file: str | None = None, timeout: float = 60.0,
           on_forked: Callable[[int], None] | None = None) -> Created:
    """Create the container: after return its init is blocked until `lifecycle.start`.

    stdio: fds to become the container's 0, 1, 2 (None: inherit ours).  With
    process.terminal they are replaced by the pty slave and the master is returned.
    on_forked(pid) runs while the init sets itself up (a caller's chance to work
    in parallel); if it raises, the container is torn down and the error re-raised.
    """
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
            cg.create(spec.linux.resources or None)
        ctx = ChildContext(spec=spec, bundle=bundle, rootfs=rootfs, sock=None,  # type: ignore[arg-type]
                           fifo_fd=fifo_fd, ns=ns, stdio=stdio)
        created = _launch(ctx, cg, timeout, on_forked)
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
