"""The part of ContainerService that supervises: restart policies, manual stops, daemon start.

Kept apart from ``containers.py`` (which calls these at its exit, stop, kill,
rm and restore points).  The rules, from moby:

* an exit asks the container's RestartManager; if it says so the container is
  ``restarting`` (still "running" to stop/rm/kill), RestartCount + 1, and a
  delayed start is scheduled;
* stop, kill (the stop signal or SIGKILL, or any signal without a StopSignal)
  and rm -f cancel restarting until the next manual start, and mark the
  container manually stopped (``unless-stopped`` then stays down across daemon
  restarts) unless the daemon is shutting down;
* a stop or rm of a ``restarting`` container settles it as exited at once;
* when the daemon starts, stopped containers whose policy asks for it start
  again (``always``: even after a manual stop; ``unless-stopped``: unless
  stopped by hand; ``on-failure``: non-zero exit with retries left).
"""

from __future__ import annotations

import asyncio
import logging
import signal as signals
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from dockyard.engine.restart import RestartPolicy, RestartSupervisor, restart_at_daemon_start
from dockyard.engine.state import ZERO_TIME, Status
from dockyard.engine.timeutil import now_rfc3339, rfc3339_to_epoch

if TYPE_CHECKING:
    from dockyard.engine.container_store import Container, ContainerStore
    from dockyard.engine.health import HealthMonitor

__all__ = ["Supervision"]

log = logging.getLogger("dockyard.supervision")


class Supervision:
    """Mixed into ContainerService; needs its store, locks and ``_start_locked``."""

    store: ContainerStore
    restarts: RestartSupervisor
    health: HealthMonitor
    _shutting_down: bool
    _lock: Callable[[str], asyncio.Lock]
    _start_locked: Callable[[Container], Awaitable[None]]
    start: Callable[[str], Awaitable[None]]

    def _init_supervision(self) -> None:
        self._shutting_down = False
        self.restarts = RestartSupervisor(self._auto_restart)

    # -- at exit
    def _restart_delay(self, c: Container, exit_code: int, finished_at: str) -> float | None:
        """Ask the policy (called by _on_exit under the lock); None: stay exited."""
        ran_for = max(0.0, rfc3339_to_epoch(finished_at or now_rfc3339()) - rfc3339_to_epoch(c.state.started_at))
        return self.restarts.decide(c.id, c.host_config, c.restart_count, exit_code,
                                    self._shutting_down or c.manually_stopped, ran_for)

    async def _auto_restart(self, cid: str) -> None:
        """The delayed start of a `restarting` container (keeps its RestartCount)."""
        c = self.store.by_id(cid)
        if c is None:
            return
        async with self._lock(cid):
            if c.state.status != Status.RESTARTING:
                return
            if self.restarts.canceled(cid) or self._shutting_down:
                self._settle_stopped(c)
                return
            try:
                await self._start_locked(c)
            except Exception as e:  # noqa: BLE001 - Docker leaves it exited, with the error
                log.warning("restarting %s failed: %s", cid[:12], e)
                self._settle_stopped(c)

    def _settle_stopped(self, c: Container) -> None:
        c.state.status = Status.EXITED
        c.state.pid = 0
        self.store.save(c)

    # -- stop, kill, rm
    def _exit_on_next(self, c: Container, sig: int | None = None) -> None:
        """A stop/kill/rm by hand: no more restarts (for the stop signal), remember the manual stop."""
        stop_sig = c.config.get("StopSignal")
        if sig is None or sig == signals.SIGKILL or not stop_sig or _same_signal(stop_sig, sig):
            self.restarts.cancel(c.id)
        if not self._shutting_down and not c.manually_stopped:
            c.manually_stopped = True
            self.store.save(c)

    async def _settle_restarting(self, c: Container) -> bool:
        """True if `c` was waiting to restart and is now exited (nothing to signal)."""
        if c.state.status != Status.RESTARTING:
            return False
        async with self._lock(c.id):
            if c.state.status == Status.RESTARTING and self.restarts.canceled(c.id):
                self._settle_stopped(c)
            return c.state.status == Status.EXITED

    # -- daemon start
    async def _restart_policies_at_start(self) -> None:
        todo = [c for c in self.store.all() if c.state.status == Status.EXITED and restart_at_daemon_start(
            RestartPolicy.of(c.host_config), c.restart_count, c.state.exit_code, c.manually_stopped,
            started_before=c.state.started_at not in ("", ZERO_TIME))]
        results = await asyncio.gather(*(self.start(c.id) for c in todo), return_exceptions=True)
        for c, result in zip(todo, results, strict=True):
            if isinstance(result, BaseException):
                log.warning("could not restart %s at daemon start: %s", c.id[:12], result)

    def _settle_restarting_at_restore(self, c: Container) -> None:
        """The daemon died while `c` waited to restart: it is exited; the policy decides again."""
        self._settle_stopped(c)


def _same_signal(stop_signal: str, sig: int) -> bool:
    from dockyard.engine.signames import parse_signal
    try:
        return parse_signal(stop_signal) == sig
    except Exception:  # noqa: BLE001 - a bad StopSignal never matches
        return False
