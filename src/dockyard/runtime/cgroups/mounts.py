"""Where the cgroup hierarchies are mounted, and which mode the host runs in.

Read once from ``/proc/self/mountinfo`` and cached: the layout does not change
under a running daemon, and re-parsing on every container start is waste.

* ``v1``     — only v1 hierarchies (``cgroup`` mounts), no cgroup2.
* ``hybrid`` — v1 controllers plus a cgroup2 mount (``/sys/fs/cgroup/unified``
  on systemd hosts). The v1 controllers do the work; the cgroup2 tree is joined
  too (as runc does) so the container also has a v2 cgroup for ``cgroup.kill``.
* ``v2``     — a single unified cgroup2 hierarchy, no v1 controllers.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Literal

from dockyard.errors import SystemError_
from dockyard.mountinfo import unescape

__all__ = ["Mode", "Hierarchies", "parse_mountinfo", "hierarchies", "detect_mode", "V1_CONTROLLERS"]

Mode = Literal["v1", "v2", "hybrid"]

# v1 controllers we place containers into (runc's list), plus the named systemd
# hierarchy which tools read to find a process's "unit".
V1_CONTROLLERS = frozenset(
    {
        "cpuset", "cpu", "cpuacct", "memory", "devices", "freezer", "blkio", "pids",
        "hugetlb", "net_cls", "net_prio", "perf_event", "rdma", "misc", "name=systemd",
    }
)  # fmt: skip


@dataclass(frozen=True)
class Hierarchies:
    """The mounted hierarchies: v1 mountpoints keyed by every controller they carry."""

    v1: dict[str, str] = field(
        default_factory=dict
    )  # controller → mountpoint ("cpu" and "cpuacct" may share)
    unified: str | None = None  # the cgroup2 mountpoint, if any

    @property
    def mode(self) -> Mode:
        # A lone v1 "name=systemd" next to cgroup2 (kept for old systemd
        # containers) holds no controllers: that host is v2.
        has_v1 = any(not c.startswith("name=") for c in self.v1)
        if self.unified is None:
            if not self.v1:
                raise SystemError_("cgroups: no cgroup filesystem is mounted (see /proc/self/mountinfo)")
            return "v1"
        return "hybrid" if has_v1 else "v2"

    def v1_mountpoints(self) -> list[str]:
        """Each v1 hierarchy once, in a stable order (co-mounted controllers share a dir)."""
        return list(dict.fromkeys(self.v1[c] for c in sorted(self.v1)))


def parse_mountinfo(text: str) -> Hierarchies:
    """Pick the cgroup mounts out of a mountinfo text (pure; unit-tested on strings)."""
    v1: dict[str, str] = {}
    seen_sb: dict[str, str] = {}  # v1 superblock (major:minor) → first mountpoint
    unified_candidates: list[str] = []
    for line in text.splitlines():
        fields = line.split()
        try:
            sep = fields.index("-")
        except ValueError:
            continue
        if sep + 3 > len(fields) or len(fields) < 5:
            continue
        fstype, options = fields[sep + 1], fields[sep + 3]
        mountpoint, devno = unescape(fields[4]), fields[2]
        if fstype == "cgroup2":
            unified_candidates.append(mountpoint)
        elif fstype == "cgroup":
            # The same hierarchy can be mounted twice (bind mounts): keep the first.
            mountpoint = seen_sb.setdefault(devno, mountpoint)
            for opt in options.split(","):
                if opt in V1_CONTROLLERS and opt not in v1:
                    v1[opt] = mountpoint
    unified = None
    if unified_candidates:
        # Prefer the canonical places over private mounts made elsewhere.
        for preferred in ("/sys/fs/cgroup", "/sys/fs/cgroup/unified"):
            if preferred in unified_candidates:
                unified = preferred
                break
        else:
            unified = unified_candidates[0]
    return Hierarchies(v1=v1, unified=unified)


@functools.cache
def hierarchies() -> Hierarchies:
    """The host's hierarchies, parsed once per process."""
    try:
        with open("/proc/self/mountinfo", encoding="utf-8", errors="surrogateescape") as f:
            text = f.read()
    except OSError as exc:
        raise SystemError_(f"cgroups: failed to read /proc/self/mountinfo: {exc.strerror}") from None
    return parse_mountinfo(text)


def detect_mode() -> Mode:
    """``"v1"``, ``"v2"`` or ``"hybrid"`` for this host (cached)."""
    return hierarchies().mode
