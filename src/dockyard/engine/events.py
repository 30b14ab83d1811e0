"""The daemon's event bus: what happened to containers (and images, networks, ...), as Docker logs it.

Every service reports through one callable, ``bus(type, action, actor, **attrs)``;
the bus stamps the time, keeps the last ``HISTORY`` events (for ``since``) and
hands each event to every subscriber whose filter takes it. ``GET /events``
is one subscriber; ``docker stats`` (no arguments) and compose rely on it.

Filters follow moby's daemon/events/filter.go: within a key the values are
alternatives; keys combine with AND; ``container``/``network``/... match the
actor's id or ``name`` attribute by prefix; ``label`` needs every given
``k`` / ``k=v`` among the attributes; ``image`` matches the id, the image name,
or either without its tag.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import threading
import time
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from dockyard import errors
from dockyard.engine.timeutil import rfc3339_to_epoch

__all__ = ["Event", "EventBus", "EventFilter", "Subscription", "HISTORY", "parse_event_time"]

HISTORY = 256          # Docker's eventsLimit: how far back `since` can reach
_QUEUE_LIMIT = 4096    # a subscriber that stops reading loses the oldest events, never blocks the daemon
_FUZZY_ACTIONS = {"health_status", "exec_create", "exec_start", "exec_die"}
_NAME_TYPES = ("container", "daemon", "plugin", "volume", "network", "service", "node", "secret", "config")


@dataclass(frozen=True)
class Event:
    type: str
    action: str
    actor_id: str
    attributes: dict[str, str] = field(default_factory=dict)
    time_nano: int = 0
    scope: str = "local"

    @property
    def time(self) -> float:
        return self.time_nano / 1e9


def _strip_tag(image: str) -> str:
    """busybox:latest / docker.io/library/busybox → busybox (reference.FamiliarName)."""
    from dockyard.store import references

    try:
        ref = references.parse_normalized(image)
    except errors.DockyardError:
        return image
    familiar = ref.familiar
    # familiar carries the tag/digest: keep only the name
    name = familiar.split("@", 1)[0]
    slash = name.rfind("/")
    colon = name.rfind(":")
    return name[:colon] if colon > slash else name


class EventFilter:
    """moby's events.Filter over the parsed `filters` query parameter."""

    def __init__(self, filters: dict[str, list[str]] | None = None) -> None:
        self.f = {k: list(v) for k, v in (filters or {}).items() if v}

    def _exact(self, key: str, value: str) -> bool:
        wanted = self.f.get(key)
        return not wanted or value in wanted

    def _fuzzy(self, key: str, value: str) -> bool:
        wanted = self.f.get(key)
        return not wanted or any(value == w or value.startswith(w) for w in wanted)

    def _name(self, ev: Event, key: str) -> bool:
        if key not in self.f:
            return True
        return self._fuzzy(key, ev.actor_id) or self._fuzzy(key, ev.attributes.get("name", ""))

    def _image(self, ev: Event) -> bool:
        if "image" not in self.f:
            return True
        name = ev.attributes.get("name" if ev.type == "image" else "image", "")
        return any(self._exact("image", v) for v in (ev.actor_id, name, _strip_tag(ev.actor_id),
                                                      _strip_tag(name)))

    def _labels(self, attrs: dict[str, str]) -> bool:
        wanted = self.f.get("label")
        if not wanted:
            return True
        for item in wanted:
            key, eq, value = item.partition("=")
            if key not in attrs or (eq and attrs[key] != value):
                return False
        return True

    def _event(self, ev: Event) -> bool:
        wanted = self.f.get("event")
        if wanted and any(w in _FUZZY_ACTIONS for w in wanted):
            return self._fuzzy("event", ev.action)
        return self._exact("event", ev.action)

    def include(self, ev: Event) -> bool:
        return (self._event(ev) and self._exact("type", ev.type) and self._exact("scope", ev.scope)
                and all(self._name(ev, key) for key in _NAME_TYPES)
                and self._image(ev) and self._labels(ev.attributes))


class Subscription:
    """One listener: buffered past events first, then live ones until `until` or close()."""

    def __init__(self, bus: EventBus, flt: EventFilter, until_ns: int) -> None:
        self._bus = bus
        self.filter = flt
        self.until_ns = until_ns
        self._queue: asyncio.Queue[Event | None] = asyncio.Queue()
        self._loop = asyncio.get_running_loop()
        self.closed = False

    def _offer(self, ev: Event) -> None:
        if self.closed or not self.filter.include(ev):
            return
        if self._queue.qsize() >= _QUEUE_LIMIT:
            with contextlib.suppress(asyncio.QueueEmpty):
                self._queue.get_nowait()
        self._queue.put_nowait(ev)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._bus._unsubscribe(self)
            self._queue.put_nowait(None)

    async def live(self) -> AsyncIterator[Event]:
        """Live events; ends at `until` (if one was given) or when closed."""
        try:
            while True:
                timeout = None
                if self.until_ns:
                    timeout = (self.until_ns - time.time_ns()) / 1e9
                    if timeout <= 0:
                        return
                try:
                    ev = await asyncio.wait_for(self._queue.get(), timeout)
                except TimeoutError:
                    return
                if ev is None:
                    return
                if self.until_ns and ev.time_nano > self.until_ns:
                    return
                yield ev
        finally:
            self.close()


class EventBus:
    """Publish from anywhere (any thread); subscribe from the event loop."""

    def __init__(self, history: int = HISTORY) -> None:
        self._history: deque[Event] = deque(maxlen=history)
        self._subs: list[Subscription] = []
        self._lock = threading.Lock()
        self._last_ns = 0

    # -- publishing -----------------------------------------------------------------
    def __call__(self, type_: str, action: str, actor: Any, **attrs: Any) -> Event:
        """ContainerService's `on_event`: actor is a Container (attributes from its config) or an id."""
        if hasattr(actor, "config") and hasattr(actor, "id"):
            return self.publish(type_, action, actor.id, container_attributes(actor, attrs, action))
        return self.publish(type_, action, str(actor), {k: str(v) for k, v in attrs.items()})

    def publish(self, type_: str, action: str, actor_id: str, attributes: dict[str, str]) -> Event:
        with self._lock:
            # strictly increasing stamps keep `since`/`until` cuts and ordering exact
            now = max(time.time_ns(), self._last_ns + 1)
            self._last_ns = now
            ev = Event(type_, action, actor_id, dict(sorted(attributes.items())), now)
            self._history.append(ev)
            subs = list(self._subs)
        for sub in subs:
            if _in_loop(sub._loop):
                sub._offer(ev)
            else:  # published from a worker thread: hand over to the subscriber's loop
                with contextlib.suppress(RuntimeError):  # that loop is closed: nobody listens
                    sub._loop.call_soon_threadsafe(sub._offer, ev)
        return ev

    # -- subscribing ----------------------------------------------------------------
    def subscribe(self, since_ns: int, until_ns: int,
                  flt: EventFilter) -> tuple[list[Event], Subscription | None]:
        """(past events in [since, until] that pass `flt`, a live subscription or None
        when `until` is already past — then only the past is wanted, as Docker does).
        Times are nanoseconds since the epoch, 0 for "not given"."""
        with self._lock:
            past: list[Event] = []
            if since_ns or until_ns:
                past = [ev for ev in self._history if ev.time_nano >= since_ns
                        and (not until_ns or ev.time_nano <= until_ns) and flt.include(ev)]
            if until_ns and until_ns < time.time_ns():
                return past, None
            sub = Subscription(self, flt, until_ns)
            self._subs.append(sub)
        return past, sub

    def query(self, since: str, until: str,
              filters: dict[str, list[str]] | None) -> tuple[list[Event], Subscription | None]:
        """GET /events' parameters as given → subscribe(), with Docker's checks."""
        since_ns = parse_event_time(since, "since")
        until_ns = parse_event_time(until, "until")
        if until_ns and until_ns < since_ns:
            raise errors.InvalidArgument(f"`since` time ({since}) cannot be after `until` time ({until})")
        return self.subscribe(since_ns, until_ns, EventFilter(filters))

    def _unsubscribe(self, sub: Subscription) -> None:
        with self._lock, contextlib.suppress(ValueError):
            self._subs.remove(sub)

    @property
    def listeners(self) -> int:
        return len(self._subs)


def _in_loop(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False


def container_attributes(c: Any, extra: dict[str, Any], action: str) -> dict[str, str]:
    """moby's LogContainerEventWithAttributes: the labels, then image and name, then the extras."""
    attrs: dict[str, str] = {k: str(v) for k, v in (c.config.get("Labels") or {}).items()}
    if c.config.get("Image"):
        attrs["image"] = c.config["Image"]
    attrs["name"] = c.name.lstrip("/")
    attrs.update({k: str(v) for k, v in extra.items()})
    if action == "die" and "execDuration" not in attrs:
        started = rfc3339_to_epoch(c.state.started_at)
        finished = rfc3339_to_epoch(c.state.finished_at) or time.time()
        attrs["execDuration"] = str(max(0, int(finished - started))) if started else "0"
    return attrs


def parse_event_time(value: str, what: str, now: float | None = None) -> int:
    """`since`/`until` of GET /events → nanoseconds since the epoch (0: not given).

    The docker CLI and docker-py send unix seconds[.nanoseconds]; RFC 3339 and Go
    durations ("10m") are taken too, for clients that pass the user's text through."""
    if not value:
        return 0
    sec, dot, frac = value.partition(".")
    if sec.lstrip("-").isdigit() and (not dot or frac.isdigit() or frac == ""):
        return max(0, int(sec) * 1_000_000_000 + (int(frac[:9].ljust(9, "0")) if frac else 0))
    from dockyard.engine.timeutil import parse_since

    with contextlib.suppress(errors.InvalidArgument):
        when = parse_since(value, now)
        if math.isfinite(when):
            return max(0, int(when * 1e9))
    raise errors.InvalidArgument(
        f"invalid value for '{what}': invalid timestamp \"{value}\": invalid seconds \"{sec}\": invalid syntax")
