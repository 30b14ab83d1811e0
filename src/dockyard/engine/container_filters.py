"""`docker ps --filter`: which containers a filter set selects."""

from __future__ import annotations

import re
from collections.abc import Callable

from dockyard import errors
from dockyard.engine.container_store import Container

__all__ = ["CONTAINER_FILTERS", "select"]

CONTAINER_FILTERS = {"id", "name", "label", "status", "ancestor", "exited", "before", "since",
                     "health", "network", "volume", "is-task", "publish", "expose"}
_STATUSES = {"created", "restarting", "running", "removing", "paused", "exited", "dead"}
_HEALTH = {"starting", "healthy", "unhealthy", "none"}


def label_match(labels: dict[str, str], wanted: str) -> bool:
    key, eq, value = wanted.partition("=")
    if key not in labels:
        return False
    return not eq or labels[key] == value


def _on_network(c: Container, wanted: list[str]) -> bool:
    nets = (c.network_settings or {}).get("Networks") or {}
    return any(w == name or (w and (ep or {}).get("NetworkID", "").startswith(w))
               for w in wanted for name, ep in nets.items())


def _has_volume(c: Container, wanted: list[str]) -> bool:
    """moby: a mount's destination, or its volume name (a bind's source when it has none)."""
    keys = set()
    for mp in c.mount_points:
        keys.add(mp.get("destination") or "")
        keys.add(mp.get("name") or mp.get("source") or "")
    return any(w in keys for w in wanted if w)


def _published(c: Container) -> set[str]:
    ports = (c.network_settings or {}).get("Ports") or {}
    return {key for key, bindings in ports.items() if bindings}


def _ports_match(have: set[str], wanted: list[str]) -> bool:
    """`8080`, `8080/udp` or a range `8000-8080[/tcp]` against "port/proto" keys."""
    for w in wanted:
        spec, _, proto = w.partition("/")
        lo, _, hi = spec.partition("-")
        if not lo.isdigit() or (hi and not hi.isdigit()):
            raise errors.InvalidArgument(f"invalid port specification: {w!r}")
        for key in have:
            port, _, kproto = key.partition("/")
            if int(lo) <= int(port) <= int(hi or lo) and (kproto or "tcp") == (proto or "tcp"):
                return True
    return False


def select(containers: list[Container], filters: dict[str, list[str]], *, all_: bool,
           ancestor_ids: Callable[[str], set[str]], resolve: Callable[[str], Container]) -> list[Container]:
    """`containers` newest first; `ancestor_ids(ref)` gives the image ids a reference matches."""
    for status in filters.get("status", []):
        if status not in _STATUSES:
            raise errors.InvalidArgument(
                f"Invalid filter 'status={status}'")
    for health in filters.get("health", []):
        if health not in _HEALTH:
            raise errors.InvalidArgument(f"Unrecognised filter value for health: {health}")
    if filters.get("status") or filters.get("exited"):
        all_ = True
    before_ts = since_ts = None
    if filters.get("before"):
        before_ts = resolve(filters["before"][0]).created_ts
        all_ = True
    if filters.get("since"):
        since_ts = resolve(filters["since"][0]).created_ts
        all_ = True
    ancestors: set[str] = set()
    for ref in filters.get("ancestor", []):
        ancestors |= ancestor_ids(ref)
    out = []
    for c in containers:
        if not all_ and not c.state.status.is_running:
            continue
        if filters.get("id") and not any(c.id.startswith(v) for v in filters["id"]):
            continue
        if filters.get("name") and not any(re.search(v, c.name) or re.search(v, "/" + c.name)
                                           for v in filters["name"]):
            continue
        labels = c.config.get("Labels") or {}
        if filters.get("label") and not all(label_match(labels, v) for v in filters["label"]):
            continue
        if filters.get("status") and c.state.status.value not in filters["status"]:
            continue
        if filters.get("exited") and not (c.state.status.value == "exited"
                                          and str(c.state.exit_code) in filters["exited"]):
            continue
        if filters.get("health") and ((c.health or {}).get("Status") or "none") not in filters["health"]:
            continue
        if filters.get("ancestor") and c.image_id not in ancestors:
            continue
        if before_ts is not None and c.created_ts >= before_ts:
            continue
        if since_ts is not None and c.created_ts <= since_ts:
            continue
        if filters.get("network") and not _on_network(c, filters["network"]):
            continue
        if filters.get("volume") and not _has_volume(c, filters["volume"]):
            continue
        if filters.get("publish") and not _ports_match(_published(c), filters["publish"]):
            continue
        if filters.get("expose") and not _ports_match(set(c.config.get("ExposedPorts") or {}), filters["expose"]):
            continue
        out.append(c)
    return out
