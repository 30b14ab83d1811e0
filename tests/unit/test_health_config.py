"""HEALTHCHECK configuration and the health state machine, without a container."""

from __future__ import annotations

import pytest

from dockyard import errors
from dockyard.engine.container_store import Container
from dockyard.engine.health import (
    HealthMonitor,
    go_duration,
    merge_healthcheck,
    probe_command,
    validate_healthcheck,
)
from dockyard.engine.state import ContainerState, Status

S = 1_000_000_000


@pytest.mark.parametrize("ns,text", [
    (0, "0s"), (S, "1s"), (3 * S // 2, "1.5s"), (500_000_000, "500ms"), (90 * S, "1m30s"),
    (3600 * S, "1h0m0s"), (1500, "1.5µs"), (7, "7ns"), (1_000_000, "1ms"),
])
def test_go_duration(ns: int, text: str) -> None:
    assert go_duration(ns) == text


def test_merge_takes_zero_fields_from_the_image() -> None:
    image = {"Test": ["CMD", "true"], "Interval": 5 * S, "Retries": 2}
    assert merge_healthcheck(None, image) == image
    assert merge_healthcheck({"Timeout": S}, image) == {
        "Test": ["CMD", "true"], "Interval": 5 * S, "Timeout": S, "StartPeriod": 0, "StartInterval": 0,
        "Retries": 2}
    assert merge_healthcheck({"Test": ["NONE"]}, image)["Test"] == ["NONE"]
    assert merge_healthcheck({"Test": ["CMD-SHELL", "x"]}, None) == {"Test": ["CMD-SHELL", "x"]}
    assert merge_healthcheck(None, None) is None


@pytest.mark.parametrize("hc,message", [
    ({"Interval": 10}, "Interval in Healthcheck cannot be less than 1ms"),
    ({"Timeout": 999_999}, "Timeout in Healthcheck cannot be less than 1ms"),
    ({"Retries": -1}, "Retries in Healthcheck cannot be negative"),
    ({"StartPeriod": 5}, "StartPeriod in Healthcheck cannot be less than 1ms"),
    ({"StartInterval": 5}, "StartInterval in Healthcheck cannot be less than 1ms"),
])
def test_validate(hc: dict, message: str) -> None:
    with pytest.raises(errors.InvalidArgument, match=message):
        validate_healthcheck(hc)


def test_probe_command() -> None:
    assert probe_command({"Test": ["CMD", "curl", "-f", "x"]}) == ["curl", "-f", "x"]
    assert probe_command({"Test": ["CMD-SHELL", "exit 1"]}) == ["/bin/sh", "-c", "exit 1"]
    assert probe_command({"Test": ["CMD-SHELL", "x"]}, ["/bin/bash", "-c"]) == ["/bin/bash", "-c", "x"]
    assert probe_command({"Test": ["NONE"]}) is None
    assert probe_command({"Test": []}) is None
    assert probe_command(None) is None


def _container() -> Container:
    return Container(id="c" * 64, name="h", created="", created_ts=0, image_id="", config={},
                     host_config={}, state=ContainerState(status=Status.RUNNING))


def test_streak_and_status_transitions() -> None:
    events: list[str] = []
    saved: list[str] = []
    mon = HealthMonitor(None, lambda c: saved.append(c.health["Status"]),  # type: ignore[arg-type]
                        lambda _t, action, _c, **_k: events.append(action))
    c = _container()
    c.health = {"Status": "starting", "FailingStreak": 0, "Log": []}

    def probe(code: int, in_start: bool = False) -> None:
        mon._record(c, {"Start": "", "End": "", "ExitCode": code, "Output": ""}, 3, in_start=in_start)

    probe(1, in_start=True)                   # failures inside the start period do not count
    assert c.health["Status"] == "starting" and c.health["FailingStreak"] == 0
    probe(1)
    probe(1)
    assert c.health["Status"] == "starting" and c.health["FailingStreak"] == 2
    probe(1)
    assert c.health["Status"] == "unhealthy" and c.health["FailingStreak"] == 3
    probe(0)
    assert c.health["Status"] == "healthy" and c.health["FailingStreak"] == 0
    probe(1, in_start=True)                   # once out of `starting`, every failure counts
    assert c.health["FailingStreak"] == 1
    for _ in range(4):
        probe(0)
    assert len(c.health["Log"]) == 5
    assert events == ["health_status: unhealthy", "health_status: healthy"]
    assert saved == ["unhealthy", "healthy"]
    mon.stop(c)
    assert c.health["Status"] == "unhealthy"
