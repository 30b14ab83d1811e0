"""The JSON of `GET /containers/{id}/stats` (moby's container.StatsResponse) and of `top`.

Go's encoding rules matter to clients here: struct fields are always present
(an empty struct is `{}`), `omitempty` numbers vanish when zero, nil slices are
`null`, and the zero time is "0001-01-01T00:00:00Z".
"""

from __future__ import annotations

from typing import Any

from dockyard.engine.container_store import Container
from dockyard.engine.state import ZERO_TIME
from dockyard.engine.stats import BLKIO_KEYS as _BLKIO_KEYS
from dockyard.engine.stats import Sample

__all__ = ["stats_response", "top_response"]

_NET_KEYS = ("rx_bytes", "rx_packets", "rx_errors", "rx_dropped", "tx_bytes", "tx_packets", "tx_errors",
             "tx_dropped")


def _cpu(stats: dict[str, Any] | None) -> dict[str, Any]:
    stats = stats or {}
    usage = stats.get("cpu_usage") or {}
    cpu_usage: dict[str, Any] = {"total_usage": int(usage.get("total_usage") or 0)}
    if usage.get("percpu_usage"):
        cpu_usage["percpu_usage"] = [int(v) for v in usage["percpu_usage"]]
    cpu_usage["usage_in_kernelmode"] = int(usage.get("usage_in_kernelmode") or 0)
    cpu_usage["usage_in_usermode"] = int(usage.get("usage_in_usermode") or 0)
    out: dict[str, Any] = {"cpu_usage": cpu_usage}
    if stats.get("system_cpu_usage"):
        out["system_cpu_usage"] = int(stats["system_cpu_usage"])
    if stats.get("online_cpus"):
        out["online_cpus"] = int(stats["online_cpus"])
    throttling = stats.get("throttling_data") or {}
    out["throttling_data"] = {k: int(throttling.get(k) or 0) for k in ("periods", "throttled_periods",
                                                                       "throttled_time")}
    return out


def _memory(stats: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in ("usage", "max_usage", "stats", "failcnt", "limit"):
        if stats.get(key):
            out[key] = stats[key]
    return out


def _blkio(stats: dict[str, Any]) -> dict[str, Any]:
    # a list (even empty) where the engine has one, else null
    return {k: list(stats[k]) if stats.get(k) is not None else None for k in _BLKIO_KEYS}


def _pids(stats: dict[str, Any]) -> dict[str, Any]:
    return {k: int(stats[k]) for k in ("current", "limit") if stats.get(k)}


def stats_response(c: Container, sample: Sample | None, previous: Sample | None) -> dict[str, Any]:
    """One frame. `sample` None (not running) gives Docker's empty frame: zeros, name and id."""
    s = sample or Sample(read=ZERO_TIME)
    out: dict[str, Any] = {
        "name": "/" + c.name, "id": c.id,
        "read": s.read, "preread": previous.read if previous else ZERO_TIME,
        "pids_stats": _pids(s.pids_stats), "blkio_stats": _blkio(s.blkio_stats),
        "num_procs": 0, "storage_stats": {},
        "cpu_stats": _cpu(s.cpu_stats), "precpu_stats": _cpu(previous.cpu_stats if previous else None),
        "memory_stats": _memory(s.memory_stats),
    }
    if s.networks:
        out["networks"] = {name: {k: int(v.get(k) or 0) for k in _NET_KEYS} for name, v in s.networks.items()}
    return out


def top_response(titles: list[str], processes: list[list[str]]) -> dict[str, Any]:
    return {"Titles": titles, "Processes": processes}
