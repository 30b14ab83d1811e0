"""Engine-API JSON for volumes and for a container's mounts (moby's volume.Volume, container.MountPoint)."""

from __future__ import annotations

import time
from typing import Any

from dockyard.engine.container_store import Container
from dockyard.engine.volume_store import Volume

__all__ = ["volume_json", "mounts_json", "rfc3339_seconds"]


def rfc3339_seconds(ts: float) -> str:
    """Go's time.Format(time.RFC3339) of a local time: "2026-11-22T16:00:28Z" or "...+01:00"."""
    local = time.localtime(int(ts))
    off = local.tm_gmtoff or 0
    zone = "Z" if off == 0 else f"{'+' if off > 0 else '-'}{abs(off) // 3600:02d}:{abs(off) % 3600 // 60:02d}"
    return time.strftime("%Y-%m-%dT%H:%M:%S", local) + zone


def volume_json(v: Volume, mountpoint: str) -> dict[str, Any]:
    def go_map(m: dict[str, str] | None) -> dict[str, str] | None:
        return None if m is None else dict(sorted(m.items()))   # Go writes a map's keys sorted

    return {
        "CreatedAt": rfc3339_seconds(v.created), "Driver": v.driver, "Labels": go_map(v.labels),
        "Mountpoint": mountpoint, "Name": v.name, "Options": go_map(v.options), "Scope": "local",
    }


def mounts_json(c: Container) -> list[dict[str, Any]]:
    """The container's mounts as inspect and `ps` show them (tmpfs from HostConfig.Tmpfs are not among them)."""
    out = []
    for mp in c.mount_points:
        item: dict[str, Any] = {"Type": mp["type"]}
        if mp.get("name"):
            item["Name"] = mp["name"]
        item["Source"] = mp.get("source") or ""
        item["Destination"] = mp["destination"]
        if mp.get("driver"):
            item["Driver"] = mp["driver"]
        item.update({"Mode": mp.get("mode") or "", "RW": bool(mp.get("rw")),
                     "Propagation": mp.get("propagation") or ""})
        out.append(item)
    return out
