"""Merging several compose files (`-f a.yml -f b.yml`): later files override earlier ones.

The rules of the Compose specification's merge section: mappings merge key by key;
`command`, `entrypoint` and scalars are replaced; `environment`, `labels`, `extra_hosts`,
`depends_on`, `networks` merge by key whatever syntax each file used; `volumes` merge by
mount target and `ports` are unioned; other sequences are concatenated without repeats.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["merge_files", "merge_service"]

_REPLACE = frozenset({"command", "entrypoint", "healthcheck", "image", "build"})


def _as_map(value: Any, sep: str = "=") -> dict[str, Any]:
    """List syntax (`KEY=VAL`, bare `KEY`, or plain names) → a mapping."""
    if value is None:
        return {}
    if isinstance(value, dict):
        return dict(value)
    out: dict[str, Any] = {}
    for item in value:
        key, eq, val = str(item).partition(sep)
        out[key] = val if eq else None
    return out


def _volume_target(v: Any) -> str:
    if isinstance(v, dict):
        return str(v.get("target", ""))
    parts = str(v).split(":")
    return parts[1] if len(parts) > 1 else parts[0]


def _union(a: list, b: list) -> list:
    out = list(a)
    for item in b:
        if item not in out:
            out.append(item)
    return out


def merge_service(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        old = out.get(key)
        if old is None or key in _REPLACE and key != "build":
            out[key] = value
        elif key == "build":
            a = {"context": old} if isinstance(old, str) else dict(old)
            b = {"context": value} if isinstance(value, str) else dict(value)
            out[key] = {**a, **b}
        elif key in ("environment", "labels", "annotations", "sysctls"):
            out[key] = {**_as_map(old), **_as_map(value)}
        elif key == "extra_hosts":
            out[key] = {**(_as_map(old, ":") if isinstance(old, list) else old),
                        **(_as_map(value, ":") if isinstance(value, list) else value)}
        elif key in ("depends_on", "networks"):
            a = {k: None for k in old} if isinstance(old, list) else dict(old)
            b = {k: None for k in value} if isinstance(value, list) else dict(value)
            out[key] = {**a, **b}
        elif key == "volumes":
            by_target = {_volume_target(v): v for v in old}
            by_target.update({_volume_target(v): v for v in value})
            out[key] = list(by_target.values())
        elif isinstance(old, list) and isinstance(value, list):
            out[key] = _union(old, value)
        elif isinstance(old, dict) and isinstance(value, dict):
            out[key] = {**old, **value}
        else:
            out[key] = value
    return out


def merge_files(docs: list[dict[str, Any]]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for doc in docs:
        for key, value in doc.items():
            if key == "services" and isinstance(value, dict):
                services = merged.setdefault("services", {})
                for name, svc in value.items():
                    services[name] = merge_service(services.get(name) or {}, svc or {})
            elif isinstance(value, dict) and isinstance(merged.get(key), dict):
                section = merged[key]
                for name, item in value.items():
                    old = section.get(name)
                    section[name] = {**old, **item} if isinstance(old, dict) and isinstance(item, dict) else item
            else:
                merged[key] = value
    return merged
