"""ContainerService: image → bundle → runtime, and the lifecycle around it.

Every status change happens here, under the container's lock, and is saved
before anyone is told. Exits are observed from the shim (its `wait` answer, or
its exit.json after a daemon restart), never assumed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import shutil
import signal as signals
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from dockyard import errors
from dockyard.engine import bundle, lifecycle_errors, link_registry
from dockyard.engine.container_mounts import MountManager
from dockyard.engine.container_store import Container, ContainerStore
from dockyard.engine.control import unpause_after_signal
from dockyard.engine.create_config import command_of, merge_config, normalise_host_config
from dockyard.engine.endpoints import EndpointManager, NetPlan
from dockyard.engine.health import HealthMonitor
from dockyard.engine.logopts import parse_log_config
from dockyard.engine.names import generate_name, validate_name
from dockyard.engine.signames import parse_signal
from dockyard.engine.state import ContainerState, Status
from dockyard.engine.supervision import Supervision
from dockyard.engine.timeutil import now_rfc3339
from dockyard.fsusage import apparent_size
from dockyard.network.loopback import loopback_up
from dockyard.shim import client as shim
from dockyard.shim.zygote import RuntimeCreateError, ShimRequest, Zygote
from dockyard.store.paths import Paths

__all__ = ["ContainerService", "ExecTracker", "WaitResult"]

log = logging.getLogger("dockyard.containers")


@dataclass(frozen=True)
class WaitResult:
    status_code: int
    error: str = ""


class ExecTracker(Protocol):
    def ids_for(self, cid: str) -> list[str]: ...
    def container_stopped(self, cid: str) -> None: ...


class ContainerService(Supervision):
    def __init__(self, paths: Paths, store: ContainerStore, images, zygote: Zygote, *, mounts: MountManager,
                 cgroup_parent: str = "dockyard", default_runtime: str = "dockyard",
                 on_event: Callable[..., None] | None = None, networking: EndpointManager | None = None) -> None:
        self.paths = paths
        self.networking = networking   # set by the daemon once the network service exists
        self.mounts = mounts           # binds, volumes, tmpfs: resolved at create, mounted at start
        self.store = store
        self.images = images
        self.zygote = zygote
        self.cgroup_parent = cgroup_parent.strip("/") or "dockyard"
        self.default_runtime = default_runtime
        self._emit = on_event or (lambda *a, **k: None)
        self._locks: dict[str, asyncio.Lock] = {}
        self._exit_waiters: dict[str, list[asyncio.Future[WaitResult]]] = {}
        self._remove_waiters: dict[str, list[asyncio.Future[WaitResult]]] = {}
        self._exited: dict[str, asyncio.Event] = {}
        self._pending_attach: dict[str, list[tuple[Callable[[], Awaitable[None]], asyncio.Future]]] = {}
        self._monitors: dict[str, asyncio.Task[None]] = {}
        self._exec_tracker: ExecTracker | None = None
        self._init_supervision()
        self.health = HealthMonitor(paths, store.save, lambda *a, **k: self._emit(*a, **k))

    # ------------------------------------------------------------------ lookup
    def get(self, ref: str) -> Container:
        return self.store.get(ref)

    def list(self) -> list[Container]:
        return sorted(self.store.all(), key=lambda c: c.created_ts, reverse=True)

    def users_of_image(self, image_id: str) -> list[str]:
        return [c.id for c in self.store.users_of_image(image_id)]

    def running_users_of_image(self, image_id: str) -> list[str]:
        return [c.id for c in self.store.users_of_image(image_id) if c.state.status.is_running]

    def _lock(self, cid: str) -> asyncio.Lock:
        return self._locks.setdefault(cid, asyncio.Lock())

    # ------------------------------------------------------------------ create
    async def create(self, body: dict, name: str | None, *, legacy_readonly: bool = False) -> Container:
        image_ref = body.get("Image") if isinstance(body, dict) else None
        if not image_ref or not isinstance(image_ref, str):
            raise errors.InvalidArgument("Config cannot be empty in order to create a container")
        image = self.images.resolve(image_ref)
        cid = secrets.token_hex(32)
        host_config = normalise_host_config(body.get("HostConfig"))
        config = merge_config(body, image.config, cid)
        runtime = host_config.get("Runtime") or self.default_runtime
        if runtime not in ("dockyard", "runc", "crun") and not runtime.startswith("/"):
            raise errors.InvalidArgument(f"Unknown runtime specified {runtime}")
        host_config["Runtime"] = runtime
        name = validate_name(name) if name else generate_name(self.store.names())
        command = command_of(config)
        created_ts = time.time()
        container = Container(
            id=cid, name=name, created=now_rfc3339(), created_ts=created_ts, image_id=image.id,
            config=config, host_config=host_config, path=command[0], args=command[1:])
        link_registry.check_mode(host_config)
        if self.networking is not None:
            self.networking.configure(container, body.get("NetworkingConfig"))
        link_registry.register(container, self.store)
        self.store.check_name_free(name)   # before any volume is made for it
        made, fill = self.mounts.register(container, legacy_readonly)
        try:
            volumes = [mp["name"] for mp in container.mount_points if mp.get("type") == "volume"]
            with self.mounts.volumes.reserved(volumes, cid):
                # copying the image's files into new volumes can take a while: off the loop
                await asyncio.get_running_loop().run_in_executor(None, fill)
                self.images.resolve(image.id)   # not removed meanwhile
                self.paths.container(cid).mkdir(parents=True, exist_ok=True)
                self.store.insert(container)
        except BaseException:
            shutil.rmtree(self.paths.container(cid), ignore_errors=True)
            self.mounts.undo(made)
            raise
        self._emit("container", "create", container)
        return container

    # ------------------------------------------------------------------ start
    async def start(self, ref: str) -> None:
        c = self.get(ref)
        async with self._lock(c.id):
            if c.state.status.is_running:
                raise errors.NotModified("container already started")
            if not c.state.status.can_start():
                raise errors.InvalidState(f"cannot start a container in state {c.state.status.value}")
            self.restarts.reset(c.id)
            c.restart_count, c.manually_stopped = 0, False
            try:
                await self._start_locked(c)
            except BaseException:
                self._fail_pending_attach(c.id)
                if c.host_config.get("AutoRemove"):
                    await self._remove_locked(c, volumes=True)
                raise

    async def _start_locked(self, c: Container) -> None:
        lowerdirs = self.images.rootfs_lowerdirs(c.image_id)
        runtime = c.host_config.get("Runtime") or self.default_runtime
        cgroups_path = f"/{self.cgroup_parent}/{c.id}"
        try:
            mounts, propagation = self.mounts.setup(c)
            net = self.networking.allocate(c) if self.networking is not None else NetPlan("none")
            prepared = bundle.prepare(self.paths, c, lowerdirs, cgroups_path, net, mounts, propagation)
        except BaseException:
            await self._release_network(c)
            self.mounts.release(c, quiet=True)
            raise
        shim_dir = self.paths.shim_dir(c.id)
        shutil.rmtree(shim_dir, ignore_errors=True)
        shim_dir.mkdir(parents=True)
        log_driver = c.host_config["LogConfig"]["Type"]
        rotation = parse_log_config(log_driver, c.host_config["LogConfig"].get("Config"))
        request = ShimRequest(
            container_id=c.id, bundle=str(prepared), shim_dir=str(shim_dir),
            log_path=str(self.paths.container_log(c.id)) if log_driver != "none" else "",
            log_driver="none" if log_driver == "none" else "json-file",
            runtime=runtime, tty=c.config["Tty"], open_stdin=c.config["OpenStdin"],
            stdin_once=c.config["StdinOnce"],
            console_width=(c.host_config.get("ConsoleSize") or [0, 0])[1] or 0,
            console_height=(c.host_config.get("ConsoleSize") or [0, 0])[0] or 0,
            log_max_size=rotation.max_size, log_max_files=rotation.max_files)
        try:
            spawned = await self.zygote.spawn(request)
        except RuntimeCreateError as e:
            await self._cleanup_runtime(c, runtime)
            c.state.exit_code = lifecycle_errors.exit_code_for(e.message)
            c.state.error = lifecycle_errors.start_message(e.message)
            self.store.save(c)
            raise lifecycle_errors.start_error(e.message) from None
        except BaseException:
            await self._cleanup_runtime(c, runtime)
            raise
        try:
            if self.networking is not None:
                await self.networking.plug(c, spawned.container_pid, net)
            else:
                await asyncio.get_running_loop().run_in_executor(None, loopback_up, spawned.container_pid)
            await self._connect_pending_attach(c.id)
            await shim.start(str(shim_dir))
        except BaseException as e:
            with contextlib.suppress(Exception):
                await shim.kill(str(shim_dir), signals.SIGKILL, True)
            await self._cleanup_runtime(c, runtime)
            raise errors.SystemError_(f"failed to start container: {e}") from e
        c.state = ContainerState(status=Status.RUNNING, pid=spawned.container_pid,
                                 started_at=now_rfc3339(), finished_at=c.state.finished_at)
        self.store.save(c)
        self._exited[c.id] = asyncio.Event()
        self._monitors[c.id] = asyncio.create_task(self._monitor(c.id))
        self._emit("container", "start", c)
        self.health.start(c)

    async def _release_network(self, c: Container) -> None:
        if self.networking is not None:
            try:
                await self.networking.release(c)
            except Exception:  # noqa: BLE001 - a teardown step must not hide why the container stopped
                log.exception("releasing the network of %s", c.id[:12])

    async def _cleanup_runtime(self, c: Container, runtime: str) -> None:
        shim_dir = str(self.paths.shim_dir(c.id))
        with contextlib.suppress(Exception):
            await shim.delete(shim_dir, runtime)
        await self._release_network(c)
        await asyncio.get_running_loop().run_in_executor(None, bundle.release, self.paths, c.id)
        shutil.rmtree(shim_dir, ignore_errors=True)
        self.mounts.release(c)

    # ------------------------------------------------------------------ exit
    async def _monitor(self, cid: str) -> None:
        shim_dir = str(self.paths.shim_dir(cid))
        try:
            status = await shim.wait(shim_dir)
        except asyncio.CancelledError:
            raise
        except Exception as e:  # the shim died without telling us: take what it left
            log.warning("lost the shim of %s: %s", cid[:12], e)
            status = shim.read_exit(shim_dir) or shim.ExitStatus(exit_code=255, oom_killed=False,
                                                                 finished_at=now_rfc3339())
        await self._on_exit(cid, status)

    async def _on_exit(self, cid: str, status: shim.ExitStatus, may_restart: bool = True) -> None:
        c = self.store.by_id(cid)
        if c is None:
            return
        async with self._lock(cid):
            self.health.stop(c)
            runtime = c.host_config.get("Runtime") or self.default_runtime
            await self._cleanup_runtime(c, runtime)
            delay = self._restart_delay(c, status.exit_code, status.finished_at) if may_restart else None
            if delay is not None:
                c.restart_count += 1
            c.state = ContainerState(status=Status.EXITED if delay is None else Status.RESTARTING,
                                     exit_code=status.exit_code,
                                     oom_killed=status.oom_killed, started_at=c.state.started_at,
                                     finished_at=status.finished_at or now_rfc3339())
            self.store.save(c)
            self._monitors.pop(cid, None)
            self._execs_gone(cid)
            event = self._exited.pop(cid, None)
            if event:
                event.set()
            if status.oom_killed:
                self._emit("container", "oom", c)
            self._emit("container", "die", c, exitCode=str(status.exit_code))
            self._resolve(self._exit_waiters, cid, WaitResult(status.exit_code))
            if delay is not None:
                self.restarts.schedule(cid, delay)
            elif c.host_config.get("AutoRemove"):
                await self._remove_locked(c, volumes=True)

    @staticmethod
    def _resolve(table: dict[str, list[asyncio.Future[WaitResult]]], cid: str, result: WaitResult) -> None:
        for fut in table.pop(cid, []):
            if not fut.done():
                fut.set_result(result)

    # ------------------------------------------------------------------ wait
    def wait_future(self, ref: str, condition: str) -> asyncio.Future[WaitResult]:
        """Register now (before start, as `docker run` does); the future resolves later."""
        c = self.get(ref)
        if condition not in ("", "not-running", "next-exit", "removed"):
            raise errors.InvalidArgument(f"invalid condition: {condition!r}")
        fut: asyncio.Future[WaitResult] = asyncio.get_running_loop().create_future()
        if condition in ("", "not-running") and not c.state.status.is_running:
            fut.set_result(WaitResult(c.state.exit_code))
        elif condition == "removed":
            self._remove_waiters.setdefault(c.id, []).append(fut)
        else:
            self._exit_waiters.setdefault(c.id, []).append(fut)
        return fut

    def exit_event(self, cid: str) -> asyncio.Event | None:
        """Set when the running container exits; None when it is not running."""
        return self._exited.get(cid)

    async def resize(self, ref: str, width: int, height: int) -> None:
        c = self.get(ref)
        if width <= 0 or height <= 0:
            raise errors.InvalidArgument(f"invalid size: {height}x{width}: height and width must be positive")
        if not c.state.status.is_running:
            raise errors.InvalidState(f"Container {c.id} is not running")
        if c.config.get("Tty"):
            await shim.resize(str(self.paths.shim_dir(c.id)), width, height)

    # ------------------------------------------------------------------ stop / kill
    async def stop(self, ref: str, timeout: int | None = None, signal: str | None = None) -> None:
        c = self.get(ref)
        if not c.state.status.is_running:
            raise errors.NotModified("container already stopped")
        sig = parse_signal(signal or c.config.get("StopSignal"), signals.SIGTERM)
        if timeout is None:
            timeout = c.config.get("StopTimeout")
        if timeout is None:
            timeout = 10
        self._exit_on_next(c)
        if await self._settle_restarting(c):  # it was waiting to restart: nothing to signal
            self._emit("container", "stop", c)
            return
        await self._signal(c, sig)
        if timeout < 0:
            await self._wait_exit(c.id, None)
        elif not await self._wait_exit(c.id, timeout):
            await self._signal(c, signals.SIGKILL, all_=True)
            if not await self._wait_exit(c.id, 30):
                raise errors.SystemError_(f"container {c.id} did not exit after SIGKILL")
        self._emit("container", "stop", c)

    async def kill(self, ref: str, signal: str | None = None) -> None:
        c = self.get(ref)
        sig = parse_signal(signal, signals.SIGKILL)
        if not c.state.status.is_running:
            raise errors.InvalidState(f"Cannot kill container: {ref}: Container {c.id} is not running")
        self._exit_on_next(c, sig)
        if c.state.status == Status.RESTARTING:  # nothing to signal: settle it if that ended restarting
            await self._settle_restarting(c)
            return
        await self._signal(c, sig, all_=sig == signals.SIGKILL)
        if sig == signals.SIGKILL:
            await self._wait_exit(c.id, 30)

    async def _signal(self, c: Container, sig: int, all_: bool = False) -> None:
        try:
            await shim.kill(str(self.paths.shim_dir(c.id)), sig, all_)
        except shim.ShimGone:
            return  # it exited and its shim left: the monitor is recording the exit
        except Exception as e:
            if c.state.status.is_running and c.id in self._exited:
                raise errors.SystemError_(f"Cannot kill container {c.id}: {e}") from e
            return
        self._emit("container", "kill", c, signal=str(sig))
        await unpause_after_signal(self, c, sig)  # a frozen task only acts on it once thawed

    async def _wait_exit(self, cid: str, timeout: float | None) -> bool:
        event = self._exited.get(cid)
        if event is None:
            return True
        try:
            await asyncio.wait_for(event.wait(), timeout)
        except TimeoutError:
            return False
        # let _on_exit finish its bookkeeping (it holds the lock while it does)
        async with self._lock(cid):
            pass
        return True

    async def restart(self, ref: str, timeout: int | None = None, signal: str | None = None) -> None:
        with contextlib.suppress(errors.NotModified):
            await self.stop(ref, timeout, signal)
        await self.start(ref)
        self._emit("container", "restart", self.get(ref))   # only `docker restart`, not a policy's restart

    # ------------------------------------------------------------------ remove
    async def remove(self, ref: str, *, force: bool = False, volumes: bool = False) -> None:
        c = self.get(ref)
        if c.state.status.is_running:
            if not force:
                raise errors.Conflict(
                    f'cannot remove container "/{c.name}": container is {c.state.status.value}: '
                    "stop the container before removing or force remove")
            self._exit_on_next(c)
            if not await self._settle_restarting(c):
                try:
                    await self._signal(c, signals.SIGKILL, all_=True)
                except errors.SystemError_ as e:
                    if "not running" not in e.message:
                        raise
                    # it exited between our look and the kill: its exit is being recorded
                await self._wait_exit(c.id, 30)
        async with self._lock(c.id):
            if self.store.by_id(c.id) is not None:
                await self._remove_locked(c, volumes)

    async def remove_link(self, name: str) -> None:
        """`rm --link /parent/alias`; a running parent's firewall holes for it close too."""
        parent = link_registry.remove_link(self.store, name)
        if self.networking is not None and parent.state.status.is_running:
            await self.networking.networks.apply_firewall()

    async def _remove_locked(self, c: Container, volumes: bool = False) -> None:
        if self.store.by_id(c.id) is None:
            return
        await asyncio.get_running_loop().run_in_executor(None, self._remove_files, c.id)
        self.store.delete(c.id)
        link_registry.forget_child(self.store, c.id)
        self.mounts.removed(c, volumes)   # its anonymous volumes too, with rm -v / --rm
        self._locks.pop(c.id, None)
        self.restarts.forget(c.id)
        self.health.stop(c)
        self._execs_gone(c.id)
        # layers kept alive only for this container (its image was force-removed) can go now
        await asyncio.get_running_loop().run_in_executor(None, self.images.gc)
        self._emit("container", "destroy", c)
        self._resolve(self._remove_waiters, c.id, WaitResult(c.state.exit_code))
        self._resolve(self._exit_waiters, c.id, WaitResult(c.state.exit_code))

    def _remove_files(self, cid: str) -> None:
        bundle.release(self.paths, cid)
        shutil.rmtree(self.paths.shim_dir(cid), ignore_errors=True)
        shutil.rmtree(self.paths.container(cid), ignore_errors=True)

    async def prune(self) -> tuple[list[str], int]:
        deleted, reclaimed = [], 0
        for c in self.list():
            if c.state.status.is_running:
                continue
            reclaimed += apparent_size(self.paths.container(c.id) / "rw")
            async with self._lock(c.id):
                await self._remove_locked(c)
            deleted.append(c.id)
        return deleted, reclaimed

    # ------------------------------------------------------------------ exec sessions
    def track_execs(self, tracker: ExecTracker) -> None:
        """The exec service registers here: it lists a container's ExecIDs and forgets them at exit."""
        self._exec_tracker = tracker

    def exec_ids(self, cid: str) -> list[str]:
        return self._exec_tracker.ids_for(cid) if self._exec_tracker else []

    def _execs_gone(self, cid: str) -> None:
        if self._exec_tracker is not None:
            self._exec_tracker.container_stopped(cid)

    # ------------------------------------------------------------------ attach
    def queue_attach(self, cid: str, connect: Callable[[], Awaitable[None]], done: asyncio.Future) -> None:
        """`connect` runs once the shim exists and before the process starts; `done` is
        resolved (without connecting) if the start fails."""
        self._pending_attach.setdefault(cid, []).append((connect, done))

    async def _connect_pending_attach(self, cid: str) -> None:
        for connect, _done in self._pending_attach.pop(cid, []):
            await connect()

    def _fail_pending_attach(self, cid: str) -> None:
        for _connect, done in self._pending_attach.pop(cid, []):
            if not done.done():
                done.set_result(None)

    def drop_pending_attach(self, cid: str, connect: Callable[[], Awaitable[None]]) -> None:
        pending = self._pending_attach.get(cid, [])
        pending[:] = [p for p in pending if p[0] is not connect]

    # ------------------------------------------------------------------ daemon start / stop
    async def restore(self) -> None:
        """Re-adopt containers whose shims survived; settle the ones that died meanwhile."""
        for c in self.store.all():
            if c.state.status == Status.RESTARTING:
                self._settle_restarting_at_restore(c)
                continue
            if not c.state.status.is_running:
                continue
            self.mounts.adopt(c)   # its volumes stay mounted while it runs; its exit lets them go
            shim_dir = str(self.paths.shim_dir(c.id))
            if shim.shim_alive(shim_dir):
                self._exited[c.id] = asyncio.Event()
                self._monitors[c.id] = asyncio.create_task(self._monitor(c.id))
                self.health.start(c)
                continue
            status = shim.read_exit(shim_dir) or shim.ExitStatus(
                exit_code=255, oom_killed=False, finished_at=now_rfc3339())
            self._exited[c.id] = asyncio.Event()
            await self._on_exit(c.id, status, may_restart=False)
        await self._restart_policies_at_start()

    async def shutdown(self, *, live_restore: bool, timeout: float = 10) -> None:
        self._shutting_down = True
        await self.restarts.close()
        await self.health.close()
        monitors = list(self._monitors.values())
        if not live_restore:
            running = [c for c in self.store.all() if c.state.status.is_running]
            await asyncio.gather(*(self._stop_quietly(c, timeout) for c in running))
        for task in monitors:
            task.cancel()
        await asyncio.gather(*monitors, return_exceptions=True)

    async def _stop_quietly(self, c: Container, timeout: float) -> None:
        with contextlib.suppress(Exception):
            await self.stop(c.id, int(min(timeout, c.config.get("StopTimeout") or timeout)))
