"""The two ways a shim drives an OCI runtime: built-in (in-process) or a runc-compatible binary.

Both keep their state under ``<shim_dir>/runtime`` (the runtime's ``--root``), so
`delete` needs nothing but the shim dir.  ``create`` runs before the shim's
event loop exists, in the shim's worker (blocking is fine there); ``start`` and
``exec`` run inside the shim's loop (``loop.py``).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dockyard.runtime import lifecycle, spawn
from dockyard.shim.loop import current

if TYPE_CHECKING:
    from dockyard.runtime.exec import ExecTarget

__all__ = ["BUILTIN", "CreateFailed", "Created", "ShimRuntime", "BuiltinRuntime", "ExternalRuntime",
           "make_runtime", "runtime_argv", "last_runtime_error", "delete_argv"]

BUILTIN = "dockyard"

# async runner the shim provides for external binaries: (argv, stdio fds or None) → exit code
Runner = Callable[..., Awaitable[int]]
OnForked = Callable[[int], None] | None


class CreateFailed(Exception):
    """The runtime refused to create the container; .message is its text."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Created:
    pid: int
    console_fd: int | None


class ShimRuntime:
    """What the shim needs from a runtime."""

    def create(self, stdio: tuple[int, int, int], tty: bool, on_forked: OnForked = None,
               prefork: spawn.Prefork | None = None) -> Created:
        """on_forked(pid) is the caller's work to overlap with the container's setup; prefork a
        child forked ahead (consumed or discarded)."""
        raise NotImplementedError

    async def start(self, run: Runner) -> None:
        raise NotImplementedError

    async def exec(self, exec_id: str, process: dict[str, Any], stdio: tuple[int, int, int], tty: bool,
                   run: Runner) -> Created:
        """Start one more process in the running container (CreateFailed if the runtime refuses)."""
        raise NotImplementedError


class BuiltinRuntime(ShimRuntime):
    def __init__(self, container_id: str, bundle: str, root: str) -> None:
        self.id, self.bundle, self.root = container_id, bundle, root
        self._exec_target: ExecTarget | None = None

    def create(self, stdio: tuple[int, int, int], tty: bool, on_forked: OnForked = None,
               prefork: spawn.Prefork | None = None) -> Created:
        if os.path.exists(os.path.join(self.root, self.id)):
            with contextlib.suppress(Exception):
                lifecycle.delete(self.root, self.id)  # a stopped leftover of the previous run
        try:
            c = spawn.create(self.id, self.bundle, self.root, stdio=stdio, on_forked=on_forked,
                             prefork=prefork)
        except spawn.CreateError as e:
            raise CreateFailed(e.message) from None
        except Exception as e:  # noqa: BLE001 - Conflict, OSError: all reach the engine as text
            raise CreateFailed(str(e)) from None
        return Created(c.pid, c.console_fd)

    async def start(self, run: Runner) -> None:
        # Reply as soon as the init is released; its "0" is collected in the background.  The shim
        # only starts a created init it has not reaped: no state file to read (pages to touch) here.
        fd = lifecycle.release_gate(self.root, self.id)
        loop = current()

        def collected() -> None:
            loop.remove_reader(fd)
            os.close(fd)
        loop.add_reader(fd, collected)

    async def exec(self, exec_id: str, process: dict[str, Any], stdio: tuple[int, int, int], tty: bool,
                   run: Runner) -> Created:
        from dockyard.runtime.exec import exec_process, exec_target
        try:
            # Looked up at the first exec and kept: the init cannot change under the shim that reaps it.
            if self._exec_target is None:
                self._exec_target = exec_target(self.root, self.id)
            c = exec_process(self.root, self.id, process, stdio=stdio, target=self._exec_target)
        except spawn.CreateError as e:
            raise CreateFailed(e.message) from None
        except Exception as e:  # noqa: BLE001
            raise CreateFailed(str(e)) from None
        return Created(c.pid, c.console_fd)


def runtime_argv(binary: str, root: str, log: str) -> list[str]:
    return [binary, "--root", root, "--log", log, "--log-format", "json"]


def delete_argv(binary: str, root: str, log: str, container_id: str) -> list[str]:
    return runtime_argv(binary, root, log) + ["delete", "--force", container_id]


def last_runtime_error(log_path: str) -> str:
    """The last error message runc wrote to its JSON log."""
    msg = ""
    try:
        with open(log_path, errors="replace") as f:
            for line in f:
                try:
                    entry = json.loads(line)
                except ValueError:
                    continue
                if isinstance(entry, dict) and entry.get("level") in ("error", "fatal"):
                    msg = str(entry.get("msg", ""))
    except OSError:
        pass
    return msg


def _console_listener(path: str) -> socket.socket:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(path)
    sock.listen(1)
    return sock


def _receive_console(listener: socket.socket) -> int:
    """The pty master the runtime sent to its --console-socket (already queued by now)."""
    listener.settimeout(10)
    try:
        conn, _ = listener.accept()
        with conn:
            _msg, fds, _flags, _addr = socket.recv_fds(conn, 4096, 1)
    except OSError as e:
        raise CreateFailed(f"receiving the console from the runtime: {e}") from None
    if not fds:
        raise CreateFailed("the runtime sent no console")
    return fds[0]


class ExternalRuntime(ShimRuntime):
    """runc, crun or anything speaking runc's command line."""

    def __init__(self, binary: str, container_id: str, bundle: str, root: str, shim_dir: str) -> None:
        self.binary, self.id, self.bundle, self.root = binary, container_id, bundle, root
        self.log = os.path.join(shim_dir, "runtime.log")
        self.pid_file = os.path.join(shim_dir, "init.pid")
        self.console_path = os.path.join(shim_dir, "console.sock")
        self.shim_dir = shim_dir

    def _argv(self, *args: str) -> list[str]:
        return runtime_argv(self.binary, self.root, self.log) + list(args)

    def create(self, stdio: tuple[int, int, int], tty: bool, on_forked: OnForked = None,
               prefork: spawn.Prefork | None = None) -> Created:
        if prefork is not None:
            prefork.discard()
        if os.path.isdir(os.path.join(self.root, self.id)):
            subprocess.run(self._argv("delete", "--force", self.id), stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        console: socket.socket | None = None
        args = ["create", "--bundle", self.bundle, "--pid-file", self.pid_file]
        if tty:
            console = _console_listener(self.console_path)
            args += ["--console-socket", self.console_path]
        try:
            try:
                proc = subprocess.run(self._argv(*args, self.id), stdin=stdio[0], stdout=stdio[1],
                                      stderr=stdio[2], check=False)
            except OSError as e:
                raise CreateFailed(f"exec {self.binary}: {e.strerror}") from None
            if proc.returncode != 0:
                raise CreateFailed(last_runtime_error(self.log) or f"{self.binary} create failed")
            with open(self.pid_file) as f:
                pid = int(f.read().strip())
            console_fd = _receive_console(console) if console is not None else None
            if on_forked is not None:
                on_forked(pid)
            return Created(pid, console_fd)
        finally:
            if console is not None:
                console.close()
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self.console_path)

    async def start(self, run: Runner) -> None:
        code = await run(self._argv("start", self.id))
        if code != 0:
            raise RuntimeError(last_runtime_error(self.log) or f"{self.binary} start failed")

    async def exec(self, exec_id: str, process: dict[str, Any], stdio: tuple[int, int, int], tty: bool,
                   run: Runner) -> Created:
        # short: the console socket's path must fit sun_path (108 bytes) and exec ids are 64 hex
        base = os.path.join(self.shim_dir, f"exec-{exec_id[:16]}")
        with open(base + ".json", "w") as f:
            json.dump(process, f)
        args = ["exec", "--detach", "--process", base + ".json", "--pid-file", base + ".pid"]
        console = None
        if tty:
            console = _console_listener(base + ".sock")
            args += ["--console-socket", base + ".sock"]
        try:
            if await run(self._argv(*args, self.id), stdio) != 0:
                raise CreateFailed(last_runtime_error(self.log) or f"{self.binary} exec failed")
            with open(base + ".pid") as f:
                pid = int(f.read().strip())
            return Created(pid, _receive_console(console) if console is not None else None)
        finally:
            if console is not None:
                console.close()
            for ext in (".json", ".pid", ".sock"):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(base + ext)


def make_runtime(runtime: str, container_id: str, bundle: str, shim_dir: str) -> ShimRuntime:
    root = os.path.join(shim_dir, "runtime")
    if runtime in ("", BUILTIN):
        return BuiltinRuntime(container_id, bundle, root)
    return ExternalRuntime(runtime, container_id, bundle, root, shim_dir)
