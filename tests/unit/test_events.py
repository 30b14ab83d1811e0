"""The event bus, its filters (moby's rules), since/until, and the wire shape of a message."""

from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace

import pytest

from dockyard import errors
from dockyard.api.wire_events import event_message, skip_for_version
from dockyard.engine.events import Event, EventBus, EventFilter, parse_event_time
from dockyard.engine.state import ContainerState


def _container(name="web", labels=None, image="busybox"):
    return SimpleNamespace(id=name.encode().hex().ljust(64, "f"), name=name, config={"Image": image, "Labels": labels or {}},
                           state=ContainerState())


def _ev(type_="container", action="start", actor="abc123", **attrs):
    return Event(type_, action, actor, attrs, time.time_ns())


def test_container_event_attributes_are_labels_image_name_and_extras():
    bus = EventBus()
    ev = bus("container", "die", _container(labels={"com.docker.compose.project": "p"}), exitCode="3")
    assert ev.attributes == {"com.docker.compose.project": "p", "execDuration": "0", "exitCode": "3",
                             "image": "busybox", "name": "web"}
    assert list(ev.attributes) == sorted(ev.attributes)


def test_wire_message_has_docker_fields_in_order():
    ev = Event("container", "start", "abc", {"image": "busybox", "name": "x"}, 1_700_000_000_123_456_789)
    msg = event_message(ev)
    assert list(msg) == ["status", "id", "from", "Type", "Action", "Actor", "scope", "time", "timeNano"]
    assert msg["time"] == 1_700_000_000 and msg["timeNano"] == 1_700_000_000_123_456_789
    assert msg["from"] == "busybox" and msg["Actor"] == {"ID": "abc", "Attributes": {"image": "busybox", "name": "x"}}
    # only container and image events carry the legacy fields
    net = event_message(Event("network", "connect", "n1", {"name": "br"}, 5))
    assert "status" not in net and "id" not in net and net["Type"] == "network"
    img = event_message(Event("image", "tag", "sha256:x", {"name": "busybox:latest"}, 5))
    assert img["status"] == "tag" and img["id"] == "sha256:x" and "from" not in img


def test_image_create_events_hidden_before_1_46():
    ev = Event("image", "create", "sha256:x", {}, 5)
    assert skip_for_version(ev, lambda v: False)
    assert not skip_for_version(ev, lambda v: True)


@pytest.mark.parametrize("filters,ev,expected", [
    ({}, _ev(), True),
    ({"type": ["container"]}, _ev(), True),
    ({"type": ["image"]}, _ev(), False),
    ({"event": ["start", "die"]}, _ev(action="die"), True),
    ({"event": ["stop"]}, _ev(action="start"), False),
    ({"event": ["health_status"]}, _ev(action="health_status: healthy"), True),
    ({"event": ["exec_start"]}, _ev(action="exec_start: sh -c true"), True),
    ({"container": ["abc"]}, _ev(actor="abc123"), True),           # id prefix
    ({"container": ["web"]}, _ev(name="web-1"), True),             # name prefix
    ({"container": ["db"]}, _ev(name="web"), False),
    ({"container": ["web"]}, _ev(type_="image", actor="sha256:1", name="web"), True),
    ({"container": ["web"]}, _ev(type_="network", actor="n1", name="bridge"), False),
    ({"image": ["busybox"]}, _ev(image="busybox:latest"), True),   # tag stripped
    ({"image": ["busybox:latest"]}, _ev(image="busybox"), False),
    ({"image": ["docker.io/library/busybox"]}, _ev(image="busybox"), False),  # filter values taken as given
    ({"image": ["busybox"]}, _ev(type_="image", actor="sha256:1", name="busybox:1"), True),
    ({"label": ["com.docker.compose.project=p"]}, _ev(**{"com.docker.compose.project": "p"}), True),
    ({"label": ["com.docker.compose.project=q"]}, _ev(**{"com.docker.compose.project": "p"}), False),
    ({"label": ["a", "b=2"]}, _ev(a="1", b="2"), True),            # all labels must match
    ({"label": ["a", "b=2"]}, _ev(a="1"), False),
    ({"scope": ["local"]}, _ev(), True),
    ({"scope": ["swarm"]}, _ev(), False),
    ({"nonsense": ["x"]}, _ev(), True),                              # unknown keys filter nothing
])
def test_filter_rules(filters, ev, expected):
    assert EventFilter(filters).include(ev) is expected


def test_parse_event_time():
    assert parse_event_time("", "since") == 0
    assert parse_event_time("1700000000", "since") == 1_700_000_000 * 10**9
    assert parse_event_time("1700000000.5", "since") == 1_700_000_000_500_000_000
    assert parse_event_time("1700000000.000000001", "until") == 1_700_000_000_000_000_001
    assert parse_event_time("2023-11-14T22:13:20Z", "since") == 1_700_000_000 * 10**9
    now = 1_700_000_000.0
    assert parse_event_time("10m", "since", now) == int((now - 600) * 1e9)
    with pytest.raises(errors.InvalidArgument) as e:
        parse_event_time("yesterday", "since")
    assert str(e.value) == ("invalid value for 'since': invalid timestamp \"yesterday\": "
                            "invalid seconds \"yesterday\": invalid syntax")


def test_since_after_until_is_refused():
    bus = EventBus()
    with pytest.raises(errors.InvalidArgument, match="cannot be after `until`"):
        asyncio.run(_query(bus, "200", "100"))


async def _query(bus, since, until, filters=None):
    return bus.query(since, until, filters)


def test_history_since_until_and_live_delivery():
    async def scenario():
        bus = EventBus()
        first = bus("container", "create", _container("a"))
        second = bus("container", "start", _container("a"))
        bus("container", "start", _container("b"))
        # nothing is replayed without since/until
        past, sub = bus.query("", "", None)
        assert past == [] and sub is not None
        sub.close()
        # since replays history (filtered), until cuts it
        since = f"{first.time_nano // 10**9}.{first.time_nano % 10**9:09d}"
        past, sub = bus.query(since, "", {"container": ["a"]})
        assert [e.action for e in past] == ["create", "start"]
        until = f"{second.time_nano // 10**9}.{second.time_nano % 10**9:09d}"
        past, only_past = bus.query(since, until, None)
        assert [e.action for e in past] == ["create", "start"] and only_past is None
        # live events reach the subscriber, filtered
        got = []

        async def reader():
            async for ev in sub.live():
                got.append((ev.action, ev.attributes["name"]))
                if len(got) == 2:
                    sub.close()

        task = asyncio.create_task(reader())
        await asyncio.sleep(0)
        bus("container", "stop", _container("b"))
        bus("container", "stop", _container("a"))
        # published from another thread, as executor jobs do
        await asyncio.get_running_loop().run_in_executor(None, lambda: bus("container", "die", _container("a")))
        await asyncio.wait_for(task, 5)
        assert got == [("stop", "a"), ("die", "a")]
        assert bus.listeners == 0

    asyncio.run(scenario())


def test_live_stream_ends_at_until():
    async def scenario():
        bus = EventBus()
        until = time.time() + 0.3
        past, sub = bus.query("", f"{until:.9f}", None)
        assert sub is not None
        started = time.monotonic()
        events = [ev async for ev in sub.live()]
        assert events == [] and 0.1 < time.monotonic() - started < 3

    asyncio.run(scenario())


def test_history_is_bounded():
    async def scenario():
        bus = EventBus(history=3)
        for i in range(5):
            bus.publish("container", "start", str(i), {})
        past, sub = bus.subscribe(1, 0, EventFilter())
        assert [e.actor_id for e in past] == ["2", "3", "4"]
        sub.close()

    asyncio.run(scenario())
