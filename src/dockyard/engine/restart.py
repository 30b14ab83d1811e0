"""Restart policies with Docker's semantics (moby daemon/internal/restartmanager).

``RestartManager`` is the pure decision, one per container while the daemon
runs: ``no`` never restarts, ``always`` always, ``unless-stopped`` unless the
container was stopped by hand, ``on-failure[:N]`` on a non-zero exit while
fewer than N restarts happened (0: no limit).  The delay before a restart
starts at 100 ms and doubles per restart up to 1 min; it goes back to 100 ms
once a run lasted 10 s or more.  ``cancel`` (Docker's ExitOnNext: stop, kill,
rm -f, daemon shutdown) ends restarting until the next manual start, which
makes a new manager.

``RestartSupervisor`` keeps the managers and the pending delayed restarts of
the containers in ``restarting`` state, as asyncio tasks.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["RestartPolicy", "RestartManager", "RestartSupervisor", "BASE_DELAY", "MAX_DELAY",
           "RESET_AFTER", "restart_at_daemon_start"]

BASE_DELAY = 0.1      # seconds before the first restart
MAX_DELAY = 60.0      # the backoff's cap
RESET_AFTER = 10.0    # a run this long resets the backoff

log = logging.getLogger("dockyard.restart")


@dataclass(frozen=True)
class RestartPolicy:
    name: str = "no"
    maximum_retry_count: int = 0

    @classmethod
    def of(cls, host_config: dict[str, Any]) -> RestartPolicy:
        p = host_config.get("RestartPolicy") or {}
        return cls(p.get("Name") or "no", int(p.get("MaximumRetryCount") or 0))

    @property
    def is_none(self) -> bool:
        return self.name in ("", "no")


class RestartManager:
    """The decision for one container (moby's RestartManager, without its goroutine)."""

    def __init__(self, policy: RestartPolicy, restart_count: int) -> None:
        self.policy = policy
        self.restart_count = restart_count
        self.delay = 0.0
        self.canceled = False

    def should_restart(self, exit_code: int, manually_stopped: bool, ran_for: float) -> float | None:
        """The delay before restarting, or None to leave the container exited."""
        if self.policy.is_none or self.canceled:
            return None
        if ran_for >= RESET_AFTER:
            self.delay = 0.0
        self.delay = BASE_DELAY if self.delay == 0 else min(self.delay * 2, MAX_DELAY)
        name, limit = self.policy.name, self.policy.maximum_retry_count
        if name == "always":
            restart = True
        elif name == "unless-stopped":
            restart = not manually_stopped
        elif name == "on-failure":
            restart = exit_code != 0 and (limit == 0 or self.restart_count < limit)
        else:
            restart = False
        if not restart:
            return None
        self.restart_count += 1
        return self.delay

    def cancel(self) -> None:
        self.canceled = True


def restart_at_daemon_start(policy: RestartPolicy, restart_count: int, exit_code: int,
                            manually_stopped: bool, started_before: bool) -> bool:
    """Whether a daemon starting up starts this stopped container again (moby's restore)."""
    if not started_before:
        return False
    return RestartManager(policy, restart_count).should_restart(exit_code, manually_stopped, 0) is not None


class RestartSupervisor:
    """Managers by container id, and the delayed restarts pending for `restarting` containers.

    ``restart(cid)`` is the service's callback once the delay is over; it must
    check ``canceled(cid)`` under the container's lock before starting it.
    """

    def __init__(self, restart: Callable[[str], Awaitable[None]]) -> None:
        self._restart = restart
        self._managers: dict[str, RestartManager] = {}
        self._sleeping: dict[str, asyncio.Task[None]] = {}
        self._running: set[asyncio.Task[None]] = set()

    def manager(self, cid: str, host_config: dict[str, Any], restart_count: int) -> RestartManager:
        m = self._managers.get(cid)
        if m is None:
            m = self._managers[cid] = RestartManager(RestartPolicy.of(host_config), restart_count)
        else:  # `docker update --restart` changes the policy of a live manager
            m.policy = RestartPolicy.of(host_config)
        return m

    def reset(self, cid: str) -> None:
        """A manual start: forget the backoff and any cancellation."""
        self.cancel(cid)
        self._managers.pop(cid, None)

    def decide(self, cid: str, host_config: dict[str, Any], restart_count: int, exit_code: int,
               manually_stopped: bool, ran_for: float) -> float | None:
        return self.manager(cid, host_config, restart_count).should_restart(exit_code, manually_stopped, ran_for)

    def schedule(self, cid: str, delay: float) -> None:
        old = self._sleeping.pop(cid, None)
        if old is not None:
            old.cancel()
        self._sleeping[cid] = asyncio.create_task(self._after(cid, delay))

    async def _after(self, cid: str, delay: float) -> None:
        await asyncio.sleep(delay)
        task = self._sleeping.pop(cid, None)
        if task is not None:  # from here on the restart runs to its end: never cancel a half-done start
            self._running.add(task)
        try:
            await self._restart(cid)
        except Exception:  # noqa: BLE001 - the callback settles the container itself
            log.exception("restarting %s", cid[:12])
        finally:
            if task is not None:
                self._running.discard(task)

    def cancel(self, cid: str) -> None:
        """Docker's ExitOnNext: no more restarts until the next manual start."""
        m = self._managers.get(cid)
        if m is None:
            m = self._managers[cid] = RestartManager(RestartPolicy(), 0)
        m.cancel()
        task = self._sleeping.pop(cid, None)
        if task is not None:
            task.cancel()

    def canceled(self, cid: str) -> bool:
        m = self._managers.get(cid)
        return m is not None and m.canceled

    def pending(self, cid: str) -> bool:
        return cid in self._sleeping

    def forget(self, cid: str) -> None:
        """The container is gone."""
        self.cancel(cid)
        self._managers.pop(cid, None)

    async def close(self) -> None:
        """Daemon shutdown: cancel every pending restart, let the ones under way finish."""
        for cid in list(self._sleeping):
            self.cancel(cid)
        for cid in list(self._managers):
            self._managers[cid].cancel()
        running = list(self._running)
        with contextlib.suppress(Exception):
            await asyncio.gather(*running, return_exceptions=True)
