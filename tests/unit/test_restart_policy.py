"""Restart policies: moby's restartmanager decisions, backoff, cancellation, daemon-start rule."""

from __future__ import annotations

import asyncio

import pytest

from dockyard.engine.restart import (
    BASE_DELAY,
    MAX_DELAY,
    RestartManager,
    RestartPolicy,
    RestartSupervisor,
    restart_at_daemon_start,
)


def mgr(name: str, count: int = 0, max_retry: int = 0) -> RestartManager:
    return RestartManager(RestartPolicy(name, max_retry), count)


def test_policy_from_host_config() -> None:
    assert RestartPolicy.of({}) == RestartPolicy("no", 0)
    assert RestartPolicy.of({"RestartPolicy": {"Name": "", "MaximumRetryCount": 0}}).is_none
    assert RestartPolicy.of({"RestartPolicy": {"Name": "on-failure", "MaximumRetryCount": 3}}) == \
        RestartPolicy("on-failure", 3)


@pytest.mark.parametrize("name,code,manual,want", [
    ("no", 1, False, False),
    ("always", 0, False, True),
    ("always", 0, True, True),          # a manual stop cancels the manager; the flag alone does not
    ("unless-stopped", 0, False, True),
    ("unless-stopped", 1, True, False),
    ("on-failure", 0, False, False),
    ("on-failure", 1, False, True),
    ("on-failure", 137, True, True),
])
def test_decisions(name: str, code: int, manual: bool, want: bool) -> None:
    assert (mgr(name).should_restart(code, manual, 1.0) is not None) is want


def test_on_failure_counts_retries() -> None:
    m = mgr("on-failure", max_retry=2)
    assert m.should_restart(1, False, 0) is not None
    assert m.should_restart(1, False, 0) is not None
    assert m.should_restart(1, False, 0) is None
    assert m.restart_count == 2
    # a count carried over from the record (daemon restart) is honoured
    assert mgr("on-failure", count=2, max_retry=2).should_restart(1, False, 0) is None
    assert mgr("on-failure", count=5, max_retry=0).should_restart(1, False, 0) is not None


def test_backoff_doubles_caps_and_resets() -> None:
    m = mgr("always")
    delays = [m.should_restart(0, False, 0.5) for _ in range(12)]
    assert delays[:4] == [BASE_DELAY, 0.2, 0.4, 0.8]
    assert all(b == min(a * 2, MAX_DELAY) for a, b in zip(delays, delays[1:], strict=False))
    assert delays[-1] == MAX_DELAY
    assert m.should_restart(0, False, 10.0) == BASE_DELAY   # ran ≥ 10 s: back to the start
    assert m.should_restart(0, False, 9.9) == 0.2


def test_cancel_stops_restarting() -> None:
    m = mgr("always")
    m.cancel()
    assert m.should_restart(1, False, 0) is None


def test_restart_at_daemon_start() -> None:
    always, unless, onf = RestartPolicy("always"), RestartPolicy("unless-stopped"), RestartPolicy("on-failure", 2)
    assert restart_at_daemon_start(always, 0, 0, manually_stopped=True, started_before=True)
    assert not restart_at_daemon_start(always, 0, 0, manually_stopped=False, started_before=False)
    assert restart_at_daemon_start(unless, 0, 0, manually_stopped=False, started_before=True)
    assert not restart_at_daemon_start(unless, 0, 0, manually_stopped=True, started_before=True)
    assert restart_at_daemon_start(onf, 1, 3, manually_stopped=False, started_before=True)
    assert not restart_at_daemon_start(onf, 2, 3, manually_stopped=False, started_before=True)
    assert not restart_at_daemon_start(onf, 0, 0, manually_stopped=False, started_before=True)
    assert not restart_at_daemon_start(RestartPolicy("no"), 0, 1, manually_stopped=False, started_before=True)


def test_supervisor_schedules_and_cancels() -> None:
    async def main() -> list[str]:
        started: list[str] = []

        async def restart(cid: str) -> None:
            started.append(cid)

        sup = RestartSupervisor(restart)
        hc = {"RestartPolicy": {"Name": "always", "MaximumRetryCount": 0}}
        assert sup.decide("a", hc, 0, 1, False, 0) == BASE_DELAY
        assert sup.decide("b", hc, 0, 1, False, 0) == BASE_DELAY
        sup.schedule("a", 0.01)
        sup.schedule("b", 0.01)
        assert sup.pending("a")
        sup.cancel("b")
        assert sup.canceled("b") and not sup.pending("b")
        await asyncio.sleep(0.1)
        # the manager remembers its backoff until a manual start resets it
        assert sup.decide("a", hc, 1, 1, False, 0) == 0.2
        sup.reset("a")
        assert sup.decide("a", hc, 0, 1, False, 0) == BASE_DELAY
        assert sup.decide("b", hc, 0, 1, False, 0) is None   # canceled until reset
        # `docker update --restart no` reaches a live manager
        assert sup.decide("a", {"RestartPolicy": {"Name": "no"}}, 0, 1, False, 0) is None
        sup.schedule("c", 5)
        await sup.close()
        assert not sup.pending("c")
        return started

    assert asyncio.run(main()) == ["a"]
