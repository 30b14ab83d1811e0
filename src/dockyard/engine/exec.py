"""Exec sessions: more processes in a running container (`docker exec`).

An exec is created (a record, nothing runs), then started once: its OCI process
(the container's, with the exec's cmd, env, user, cwd, tty, privileges) goes to
the container's shim, which joins every namespace and the cgroup of the
container's init. Started attached, the caller's hijacked connection is relayed
to the process until its output ends (or the client detaches with the detach
keys, leaving it running); started detached, it just runs. The exit code is
collected from the shim in the background either way.

Records live in memory, like dockerd's: unfinished ones are listed in the
container's ExecIDs; finished ones stay inspectable for a while; all of a
container's go when it stops or is removed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import time
from dataclasses import dataclass, field

from dockyard import errors
from dockyard.detachkeys import parse_detach_keys
from dockyard.engine.containers import ContainerService
from dockyard.engine.relay import ByteStream, RelayEnd, relay
from dockyard.engine.spec import exec_process_spec
from dockyard.engine.state import Status
from dockyard.shim import client as shim

__all__ = ["ExecConfig", "ExecSession", "ExecService", "start_failure"]

log = logging.getLogger("dockyard.exec")

FINISHED_TTL = 300.0      # seconds a finished exec stays inspectable (dockerd's exec GC period)
READY_TIMEOUT = 10.0      # resize waits this long for the exec to start, as dockerd does
_UNKNOWN_EXIT = 255       # the shim vanished before it told us


@dataclass(frozen=True)
class ExecConfig:
    cmd: tuple[str, ...]
    env: tuple[str, ...] = ()
    user: str = ""
    workdir: str = ""
    tty: bool = False
    privileged: bool = False
    attach_stdin: bool = False
    attach_stdout: bool = False
    attach_stderr: bool = False
    detach_keys: str = ""
    console_size: tuple[int, int] | None = None   # (height, width)


@dataclass
class ExecSession:
    id: str
    container_id: str
    config: ExecConfig
    running: bool = False
    exit_code: int | None = None
    pid: int = 0
    finished_at: float = 0.0
    started: asyncio.Event = field(default_factory=asyncio.Event)   # set once start succeeded or failed
    ended: asyncio.Event = field(default_factory=asyncio.Event)     # set once the exit code is known

    @property
    def was_started(self) -> bool:
        return self.running or self.exit_code is not None


def start_failure(runtime_message: str) -> tuple[int, errors.DockyardError]:
    """The runtime's refusal → (exit code, error) worded and coded as dockerd does:
    127 when the command is missing, 126 when it cannot be run."""
    msg = runtime_message
    if not msg.startswith("exec failed:"):
        msg = f"exec failed: unable to start container process: {msg}"
    text = f"OCI runtime exec failed: {msg}: unknown"
    lower = msg.lower()
    if "executable file not found" in lower or "no such file or directory" in lower:
        return 127, errors.InvalidArgument(text)
    if "permission denied" in lower:
        return 126, errors.InvalidArgument(text)
    return 126, errors.SystemError_(text)


def _event_action(kind: str, cfg: ExecConfig) -> str:
    # moby: "exec_create: " + entrypoint + " " + strings.Join(args, " ")
    return f"{kind}: {cfg.cmd[0]} {' '.join(cfg.cmd[1:])}"


class ExecService:
    def __init__(self, containers: ContainerService) -> None:
        self.containers = containers
        self._sessions: dict[str, ExecSession] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        containers.track_execs(self)

    # ------------------------------------------------------------------ records
    def get(self, exec_id: str) -> ExecSession:
        s = self._sessions.get(exec_id)
        if s is None:
            raise errors.NotFound(f"No such exec instance: {exec_id}")
        return s

    def ids_for(self, cid: str) -> list[str]:
        """Execs of the container not finished yet (its ExecIDs)."""
        return [s.id for s in self._sessions.values() if s.container_id == cid and s.exit_code is None]

    def container_stopped(self, cid: str) -> None:
        for exec_id in [s.id for s in self._sessions.values() if s.container_id == cid]:
            del self._sessions[exec_id]

    def _gc(self) -> None:
        horizon = time.monotonic() - FINISHED_TTL
        for s in [s for s in self._sessions.values() if s.exit_code is not None and s.finished_at < horizon]:
            del self._sessions[s.id]

    # ------------------------------------------------------------------ create
    def create(self, ref: str, config: ExecConfig) -> ExecSession:
        c = self.containers.get(ref)
        if c.state.status is Status.PAUSED:
            raise errors.InvalidState(f"Container {c.id} is paused, unpause the container before exec")
        if c.state.status is Status.RESTARTING:
            raise errors.InvalidState(f"Container {c.id} is restarting, wait until the container is running")
        if not c.state.status.is_running:
            raise errors.InvalidState(f"Container {c.id} is not running")
        if not config.cmd:
            raise errors.InvalidArgument("No exec command specified")
        if config.detach_keys:
            try:
                parse_detach_keys(config.detach_keys)
            except ValueError:
                raise errors.InvalidArgument(f"Invalid escape keys ({config.detach_keys}) provided") from None
        self._gc()
        s = ExecSession(id=secrets.token_hex(32), container_id=c.id, config=config)
        self._sessions[s.id] = s
        self.containers._emit("container", _event_action("exec_create", config), c, execID=s.id)
        return s

    # ------------------------------------------------------------------ start
    def check_startable(self, exec_id: str) -> ExecSession:
        """Raise what dockerd answers before it hijacks: unknown id, started twice."""
        s = self.get(exec_id)
        if s.exit_code is not None:
            raise errors.Conflict(f"Error: Exec command {s.id} has already run")
        if s.running:
            raise errors.Conflict(f"Error: Exec command {s.id} is already running")
        return s

    async def start(self, exec_id: str, client: ByteStream | None = None, *,
                    console_size: tuple[int, int] | None = None) -> None:
        """Start the exec; with `client`, relay its stream until the output ends or it detaches.

        Errors (raised) mean the process did not start; its ExitCode is then set (126/127)."""
        s = self.check_startable(exec_id)
        c = self.containers.get(s.container_id)
        if not c.state.status.is_running:
            raise errors.InvalidState(f"Container {c.id} is not running")
        s.running = True
        cfg = s.config
        attached = client is not None
        size = console_size or cfg.console_size
        shim_dir = str(self.containers.paths.shim_dir(c.id))
        try:
            process = self._process(c.id, cfg)
            self.containers._emit("container", _event_action("exec_start", cfg), c, execID=s.id)
            pid, reader, writer = await shim.exec_start(
                shim_dir, s.id, process, stdin=attached and cfg.attach_stdin,
                stdout=attached and cfg.attach_stdout, stderr=attached and cfg.attach_stderr,
                console_width=size[1] if cfg.tty and size else 0,
                console_height=size[0] if cfg.tty and size else 0)
        except shim.RuntimeCreateError as e:
            code, err = start_failure(e.message)
            self._finish(s, code)
            raise err from None
        except errors.DockyardError:
            self._finish(s, 126)
            raise
        except shim.ShimError as e:
            self._finish(s, 126)
            raise errors.SystemError_(f"OCI runtime exec failed: {e}: unknown") from None
        s.pid = pid
        s.started.set()
        self._spawn(self._collect_exit(s, shim_dir))
        if client is None:
            writer.close()
            return
        keys = parse_detach_keys(cfg.detach_keys) if cfg.tty and cfg.attach_stdin else None
        # stdin EOF closes a pipe; a TTY's input stays open and the session ends (as in moby)
        end = await relay(client, reader, writer, stdin=cfg.attach_stdin, detach_keys=keys, end_on_eof=cfg.tty)
        if end is RelayEnd.ENDED:
            # the client reads ExitCode right after the stream ends: have it by then
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(s.ended.wait()), READY_TIMEOUT)
        elif end is RelayEnd.DETACHED:
            self.containers._emit("container", "exec_detach", c, execID=s.id)
        client.close_write()

    def _process(self, cid: str, cfg: ExecConfig) -> dict:
        try:
            with open(self.containers.paths.bundle(cid) / "config.json") as f:
                container_spec = json.load(f)
        except (OSError, ValueError):
            raise errors.InvalidState(f"Container {cid} is not running") from None
        return exec_process_spec(container_spec, args=cfg.cmd, env=cfg.env, user=cfg.user, cwd=cfg.workdir,
                                 tty=cfg.tty, privileged=cfg.privileged)

    def _finish(self, s: ExecSession, code: int) -> None:
        s.running = False
        s.exit_code = code
        s.finished_at = time.monotonic()
        s.started.set()
        s.ended.set()

    async def _collect_exit(self, s: ExecSession, shim_dir: str) -> None:
        try:
            code = await shim.exec_wait(shim_dir, s.id, forget=True)  # we are its only waiter
        except (shim.ShimError, OSError) as e:
            log.debug("exec %s: no exit status from the shim: %s", s.id[:12], e)
            code = _UNKNOWN_EXIT
        self._finish(s, code)
        with contextlib.suppress(errors.NotFound):
            c = self.containers.get(s.container_id)
            self.containers._emit("container", "exec_die", c, execID=s.id, exitCode=str(code))

    def _spawn(self, coro) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ------------------------------------------------------------------ resize
    async def resize(self, exec_id: str, width: int, height: int) -> None:
        s = self.get(exec_id)
        if width <= 0 or height <= 0:
            raise errors.InvalidArgument(
                f"invalid size: {height}x{width}: height and width must be positive")
        try:
            await asyncio.wait_for(s.started.wait(), READY_TIMEOUT)
        except TimeoutError:
            raise errors.SystemError_("timeout waiting for exec session ready") from None
        if not s.config.tty:
            return
        if s.exit_code is not None:
            raise errors.SystemError_("cannot resize a stopped container: unknown")
        try:
            await shim.exec_resize(str(self.containers.paths.shim_dir(s.container_id)), s.id, width, height)
        except shim.ShimError:
            raise errors.SystemError_("cannot resize a stopped container: unknown") from None

    async def shutdown(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
