"""Verbs on a container that change it in place: pause, unpause, rename, update; and top.

Each runs under the container's lock (the same one start/exit use), saves the
record before anyone is told, then emits the event. Errors are worded as
Docker 28 words them:

- pause of a container not running: 409 "container <id> is not running";
  already paused: 409 "Container <id> is already paused";
- unpause of a container not paused: "Container <id> is not paused" — a plain
  error in moby, hence 500 there and here;
- rename: 400 for empty or same names, 409 when the name is taken.
"""

from __future__ import annotations

import asyncio
import signal as signals
from typing import Any

from dockyard import errors
from dockyard.engine import update as update_mod
from dockyard.engine.container_store import Container
from dockyard.engine.names import validate_name
from dockyard.engine.state import Status
from dockyard.engine.top import TopResult, top, validate_ps_args

__all__ = ["ContainerControl", "observe_paused", "unpause_after_signal"]


def _not_running(c: Container) -> errors.InvalidState:
    return errors.InvalidState(f"container {c.id} is not running")


def _restarting(c: Container) -> errors.InvalidState:
    return errors.InvalidState(f"Container {c.id} is restarting, wait until the container is running")


def _cgroup(svc: Any, c: Container) -> Any:
    from dockyard.runtime.cgroups import open_cgroup

    return open_cgroup(f"/{svc.cgroup_parent}/{c.id}")


async def _in_thread(fn: Any, *args: Any) -> Any:
    return await asyncio.get_running_loop().run_in_executor(None, fn, *args)


async def unpause_after_signal(svc: Any, c: Container, sig: int) -> None:
    """After a signal reached a paused container: thaw it, as moby's killWithSignal does,
    when the signal is meant to stop it (SIGKILL, the StopSignal, or any when none is set)."""
    if c.state.status is not Status.PAUSED:
        return
    stop_signal = c.config.get("StopSignal")
    if stop_signal and sig != signals.SIGKILL:
        from dockyard.engine.signames import parse_signal

        try:
            if parse_signal(stop_signal) != sig:
                return
        except errors.InvalidArgument:
            return
    try:
        await _in_thread(_cgroup(svc, c).thaw)
    except errors.DockyardError:
        return  # the cgroup went away with the container: nothing to thaw
    if c.state.status is Status.PAUSED:
        c.state.status = Status.RUNNING
        svc.store.save(c)
        svc._emit("container", "unpause", c)


async def observe_paused(svc: Any) -> None:
    """At daemon start: a live container is paused exactly when its freezer says so
    (a crash between freezing and saving the record must not leave a lie behind)."""
    for c in svc.store.all():
        if c.state.status not in (Status.RUNNING, Status.PAUSED):
            continue
        try:
            frozen = await _in_thread(_cgroup(svc, c).is_frozen)
        except errors.DockyardError:
            continue
        observed = Status.PAUSED if frozen else Status.RUNNING
        if c.state.status is not observed:
            c.state.status = observed
            svc.store.save(c)


class ContainerControl:
    def __init__(self, containers: Any) -> None:
        self.svc = containers  # ContainerService: store, locks, cgroup parent, event sink

    def _emit(self, action: str, c: Container, **attrs: Any) -> None:
        self.svc._emit("container", action, c, **attrs)

    # ------------------------------------------------------------------ pause
    async def pause(self, ref: str) -> None:
        c = self.svc.get(ref)
        async with self.svc._lock(c.id):
            if not c.state.status.is_running:
                raise _not_running(c)
            if c.state.status is Status.PAUSED:
                raise errors.InvalidState(f"Container {c.id} is already paused")
            if c.state.status is Status.RESTARTING:
                raise _restarting(c)
            try:
                await _in_thread(_cgroup(self.svc, c).freeze)
            except errors.DockyardError as e:
                raise errors.SystemError_(f"cannot pause container {c.id}: {e}") from e
            c.state.status = Status.PAUSED
            self.svc.store.save(c)
            self._emit("pause", c)

    async def unpause(self, ref: str) -> None:
        c = self.svc.get(ref)
        async with self.svc._lock(c.id):
            if c.state.status is not Status.PAUSED:
                raise errors.SystemError_(f"Container {c.id} is not paused")
            try:
                await _in_thread(_cgroup(self.svc, c).thaw)
            except errors.DockyardError as e:
                raise errors.SystemError_(f"Cannot unpause container {c.id}: {e}") from e
            c.state.status = Status.RUNNING
            self.svc.store.save(c)
            self._emit("unpause", c)

    # ------------------------------------------------------------------ rename
    async def rename(self, ref: str, new_name: str) -> None:
        old, new = ref.strip(), new_name.strip()
        if not old.lstrip("/") or not new.lstrip("/"):
            raise errors.InvalidArgument("Neither old nor new names may be empty")
        c = self.svc.get(old)
        async with self.svc._lock(c.id):
            slashed = new if new.startswith("/") else "/" + new
            if slashed == "/" + c.name:
                raise errors.InvalidArgument("Renaming a container with the same name as its current name")
            try:
                name = validate_name(slashed)
            except errors.InvalidArgument as e:
                raise errors.InvalidArgument(f"Error when allocating new name: {e}") from None
            other = self.svc.store.by_name(name)
            if other is not None and other.id != c.id:
                raise errors.Conflict(
                    f'Error when allocating new name: Conflict. The container name "/{name}" is already in use '
                    f'by container "{other.id}". You have to remove (or rename) that container to be able to '
                    "reuse that name.")
            old_name = c.name
            c.name = name
            renamed = _rename_dns(c, old_name, name)
            try:
                self.svc.store.save(c)
            except Exception:
                c.name = old_name
                _rename_dns(c, name, old_name, renamed)
                raise
            self._emit("rename", c, oldName="/" + old_name)

    # ------------------------------------------------------------------ update
    async def update(self, ref: str, body: Any) -> list[str]:
        update_mod.check_update(body)
        c = self.svc.get(ref)
        async with self.svc._lock(c.id):
            if c.state.status in (Status.REMOVING, Status.DEAD):
                raise errors.Conflict(f"Cannot update container {c.id}: container is marked for removal "
                                      'and cannot be "update"')
            new = update_mod.merge_update(c.id, c.host_config, body)
            old = c.host_config
            c.host_config = new
            self.svc.store.save(c)
            try:
                if c.state.status.is_running and c.state.status is not Status.RESTARTING:
                    resources = update_mod.update_resources(new, body)
                    if resources:
                        await _in_thread(_cgroup(self.svc, c).update, resources)
            except errors.DockyardError as e:
                c.host_config = old
                self.svc.store.save(c)
                raise errors.SystemError_(f"Cannot update container {c.id}: {e}") from e
            finally:
                self._emit("update", c)
        return []

    # ------------------------------------------------------------------ top
    async def top(self, ref: str, ps_args: str = "") -> TopResult:
        validate_ps_args(ps_args or "-ef")
        c = self.svc.get(ref)
        if not c.state.status.is_running:
            raise _not_running(c)
        if c.state.status is Status.RESTARTING:
            raise _restarting(c)
        pids = await _in_thread(_cgroup(self.svc, c).pids)
        result = await top(pids, ps_args)
        self._emit("top", c)
        return result


def _rename_dns(c: Any, old: str, new: str, only: list[str] | None = None) -> list[str]:
    """A running container's DNS name on its user networks follows a rename, as moby's sandbox
    rename does (aliases stay). → the networks changed."""
    changed = []
    for net, ep in (c.network_settings.get("Networks") or {}).items():
        names = ep.get("DNSNames")
        if names and names[0] == old and (only is None or net in only):
            ep["DNSNames"] = list(dict.fromkeys([new, *names[1:]]))
            changed.append(net)
    return changed
