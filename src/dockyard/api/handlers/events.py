"""GET /events: the past events asked for, then live ones, one JSON document per line."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

from dockyard.api.filters import parse_filters
from dockyard.api.http import Request, Response, StreamResponse
from dockyard.api.wire_events import event_message, skip_for_version
from dockyard.engine.events import Event, EventBus

__all__ = ["EventHandlers"]


def _filter_keys(raw: str) -> set[str]:
    # Docker does not reject unknown event filter keys (they match nothing, so they filter nothing).
    try:
        data = json.loads(raw) if raw else {}
    except ValueError:
        return set()
    return set(data) if isinstance(data, dict) else set()


class EventHandlers:
    def __init__(self, bus: EventBus) -> None:
        self.bus = bus

    async def events(self, req: Request) -> Response:
        raw = req.arg("filters")
        filters = parse_filters(raw, _filter_keys(raw))
        past, sub = self.bus.query(req.arg("since"), req.arg("until"), filters)

        def encode(ev: Event) -> bytes:
            return json.dumps(event_message(ev), separators=(",", ":")).encode() + b"\n"

        async def chunks() -> AsyncIterator[bytes]:
            try:
                for ev in past:
                    if not skip_for_version(ev, req.api_version_at_least):
                        yield encode(ev)
                if sub is not None:
                    async for ev in sub.live():
                        if not skip_for_version(ev, req.api_version_at_least):
                            yield encode(ev)
            finally:
                if sub is not None:
                    sub.close()

        return StreamResponse(chunks(), content_type="application/json")
