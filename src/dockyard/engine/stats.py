"""Container resource usage, as `GET /containers/{id}/stats` reports it.

One sample is the cgroup's own figures (``Cgroup.stats()``: cpu, memory, pids,
blkio, already in Docker's key names) plus the host-wide numbers a client needs
to turn them into percentages (``system_cpu_usage`` from /proc/stat and
``online_cpus``) and the container's network interfaces from
/proc/<pid>/net/dev (read through the container's own pid, so it sees its
network namespace). Reading is blocking file I/O: it runs in a worker thread.

Docker's rules for the stream (daemon/stats.go): ``stream=1`` gives one sample a
second, each carrying the previous one's cpu figures as ``precpu_stats``;
``stream=0`` samples twice, a second apart, and sends the second; ``one-shot``
samples once (no precpu). A container that is not running yields the empty
sample (just its name and id).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from dockyard import errors
from dockyard.engine.container_store import Container
from dockyard.engine.timeutil import now_rfc3339

__all__ = ["BLKIO_KEYS", "INTERVAL", "Sample", "StatsService", "read_net_dev", "read_system_cpu"]

INTERVAL = 1.0  # seconds between streamed samples, as Docker's collector


@dataclass
class Sample:
    """One reading; the dicts use Docker's JSON key names. `read` is RFC 3339."""

    read: str
    cpu_stats: dict[str, Any] = field(default_factory=dict)
    memory_stats: dict[str, Any] = field(default_factory=dict)
    pids_stats: dict[str, Any] = field(default_factory=dict)
    blkio_stats: dict[str, Any] = field(default_factory=dict)
    networks: dict[str, dict[str, int]] = field(default_factory=dict)


def read_system_cpu(text: str | None = None, ticks: int | None = None) -> tuple[int, int]:
    """(host cpu time in ns over all CPUs — user..steal of the `cpu` line —, number of `cpuN` lines)."""
    if text is None:
        with open("/proc/stat") as f:
            text = f.read()
    ticks = ticks or os.sysconf("SC_CLK_TCK") or 100
    total, cpus = 0, 0
    for line in text.splitlines():
        if not line.startswith("cpu"):
            break
        if line.startswith("cpu "):
            total = sum(int(v) for v in line.split()[1:8]) * 1_000_000_000 // ticks
        elif line[3:4].isdigit():
            cpus += 1
    return total, cpus


_NET_FIELDS = ("rx_bytes", "rx_packets", "rx_errors", "rx_dropped")
_TX_FIELDS = ("tx_bytes", "tx_packets", "tx_errors", "tx_dropped")


def read_net_dev(text: str, *, skip_loopback: bool = True) -> dict[str, dict[str, int]]:
    """/proc/net/dev → {ifname: {rx_bytes, rx_packets, rx_errors, rx_dropped, tx_...}}.

    Docker reports the container's endpoints only, so `lo` is left out by default."""
    out: dict[str, dict[str, int]] = {}
    for line in text.splitlines()[2:]:
        name, sep, rest = line.partition(":")
        if not sep:
            continue
        name = name.strip()
        if skip_loopback and name == "lo":
            continue
        values = [int(v) for v in rest.split()]
        if len(values) < 12:
            continue
        entry = dict(zip(_NET_FIELDS, values[0:4], strict=True))
        entry.update(zip(_TX_FIELDS, values[8:12], strict=True))
        out[name] = entry
    return out


BLKIO_KEYS = ("io_service_bytes_recursive", "io_serviced_recursive", "io_queue_recursive",
              "io_service_time_recursive", "io_wait_time_recursive", "io_merged_recursive",
              "io_time_recursive", "sectors_recursive")


def _blkio_as_docker(raw: dict[str, Any], v1: bool) -> dict[str, Any]:
    """moby fills every v1 list (empty, not null, when the controller is there) and only
    io_service_bytes_recursive on v2 (null when no device did I/O); None stands for null."""
    if not raw:
        return {}
    if v1:
        return {k: list(raw.get(k) or []) for k in BLKIO_KEYS}
    return {"io_service_bytes_recursive": list(raw.get("io_service_bytes_recursive") or []) or None}


class StatsService:
    def __init__(self, containers: Any) -> None:
        self.containers = containers  # ContainerService: lookup, cgroup parent

    def _cgroup(self, c: Container) -> Any:
        from dockyard.runtime.cgroups import open_cgroup

        return open_cgroup(f"/{self.containers.cgroup_parent}/{c.id}")

    def _sample_now(self, c: Container) -> Sample | None:
        """Blocking: one reading of a running container, None if it is gone meanwhile."""
        from dockyard.runtime.cgroups import CgroupV1

        cg = self._cgroup(c)
        if not cg.exists():
            return None
        raw = cg.stats()
        sample = Sample(read=now_rfc3339(), cpu_stats=dict(raw.get("cpu_stats") or {}),
                        memory_stats=dict(raw.get("memory_stats") or {}),
                        pids_stats=dict(raw.get("pids_stats") or {}),
                        blkio_stats=_blkio_as_docker(raw.get("blkio_stats") or {}, isinstance(cg, CgroupV1)))
        try:
            system, cpus = read_system_cpu()
        except (OSError, ValueError):
            system, cpus = 0, 0
        sample.cpu_stats["system_cpu_usage"] = system
        sample.cpu_stats["online_cpus"] = cpus
        mode = c.host_config.get("NetworkMode") or "default"
        if c.state.pid and mode != "host" and not mode.startswith("container:"):
            try:
                with open(f"/proc/{c.state.pid}/net/dev") as f:
                    sample.networks = read_net_dev(f.read())
            except (OSError, ValueError):
                pass
        return sample

    async def sample(self, c: Container) -> Sample | None:
        if not self._live(c):
            return None
        loop = asyncio.get_running_loop()
        sample = await loop.run_in_executor(None, self._sample_now, c)
        return sample if self._live(c) else None

    def _live(self, c: Container) -> bool:
        return c.state.status.is_running and c.state.status.value != "restarting"

    def _exists(self, c: Container) -> bool:
        try:
            return self.containers.get(c.id) is c
        except errors.NotFound:
            return False

    def frames(self, ref: str, *, stream: bool = True, one_shot: bool = False,
                     interval: float = INTERVAL) -> AsyncIterator[tuple[Container, Sample | None, Sample | None]]:
        """(container, sample, previous sample) per frame to send; samples are None when not running."""
        c = self.containers.get(ref)
        if stream and one_shot:
            raise errors.InvalidArgument("cannot have stream=true and one-shot=true")
        return self._frames(c, stream, one_shot, interval)

    async def _frames(self, c: Container, stream: bool, one_shot: bool,
                      interval: float) -> AsyncIterator[tuple[Container, Sample | None, Sample | None]]:
        if not stream and (one_shot or not self._live(c)):
            yield c, await self.sample(c), None
            return
        previous: Sample | None = None
        first = True
        while self._exists(c):
            current = await self.sample(c)
            if not stream and first and current is not None:
                # stream=0: the first reading only serves as precpu for the second
                first, previous = False, current
                await asyncio.sleep(interval)
                continue
            yield c, current, previous
            if not stream:
                return
            previous = current
            await asyncio.sleep(interval)
