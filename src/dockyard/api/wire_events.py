"""The JSON of one `GET /events` message, in moby's events.Message field order."""

from __future__ import annotations

from typing import Any

from dockyard.engine.events import Event

__all__ = ["event_message", "skip_for_version"]


def event_message(ev: Event) -> dict[str, Any]:
    """{"status","id","from","Type","Action","Actor","scope","time","timeNano"}.

    The first three are the deprecated JSONMessage fields that API < 1.52 still
    carries: filled for container (status, id, from) and image (status, id)
    events only, and left out when empty (Go's omitempty).
    """
    out: dict[str, Any] = {}
    if ev.type in ("container", "image"):
        out["status"] = ev.action
        out["id"] = ev.actor_id
        image = ev.attributes.get("image", "") if ev.type == "container" else ""
        if image:
            out["from"] = image
    out["Type"] = ev.type
    out["Action"] = ev.action
    out["Actor"] = {"ID": ev.actor_id, "Attributes": dict(ev.attributes)}
    out["scope"] = ev.scope
    out["time"] = ev.time_nano // 1_000_000_000
    out["timeNano"] = ev.time_nano
    return out


def skip_for_version(ev: Event, at_least: Any) -> bool:
    """Image `create` events exist from API 1.46 on; older clients never see them."""
    return ev.type == "image" and ev.action == "create" and not at_least("1.46")
