"""The cgroup v1 manager (also used on hybrid hosts).

A v1 container cgroup is one directory per mounted hierarchy (cpu, memory,
pids, …, and the named ``name=systemd`` one), all with the same relative path.
On hybrid hosts the container is also placed in the cgroup2 tree (as runc
does): no controllers there, but it gives an atomic ``cgroup.kill``.
"""

from __future__ import annotations

import errno
import functools
import os
import signal
from collections.abc import Callable

from dockyard.errors import InvalidArgument, SystemError_

from . import cpu, cpuset, devices, freezer, fs, hugetlb, io, memory, pids
from .base import Cgroup, signal_pids
from .mounts import Hierarchies, hierarchies
from .resources import Resources, device_list, section

__all__ = ["CgroupV1"]


@functools.cache
def _needs_use_hierarchy(memory_mount: str) -> bool:
    # Kernels before 5.x default memory.use_hierarchy to 0 at the root; then each
    # new memory cgroup must opt in, or limits would not cover sub-cgroups.
    return (fs.read_optional(memory_mount, "memory.use_hierarchy") or "1").strip() == "0"


def _mkdirs(
    mount: str, parts: list[str], created: list[str], on_create: Callable[[str], None] | None = None
) -> None:
    """Create ``mount/parts…``, appending each directory made to ``created``."""
    if on_create is None:
        leaf = mount + "/" + "/".join(parts)
        try:
            if fs.mkdir(leaf):
                created.append(leaf)
            return
        except fs.CgroupFileError as exc:
            if exc.errno != errno.ENOENT:  # a parent is missing: walk down
                raise
    path = mount
    for part in parts:
        path = f"{path}/{part}"
        if fs.mkdir(path):
            created.append(path)
            if on_create is not None:
                on_create(path)


class CgroupV1(Cgroup):
    """A container cgroup across the v1 hierarchies (+ the cgroup2 tree on hybrid hosts)."""

    def __init__(self, cgroups_path: str, hier: Hierarchies | None = None) -> None:
        super().__init__(cgroups_path)
        hier = hier or hierarchies()
        self._mounts = hier.v1_mountpoints()
        # controller → this cgroup's directory in that controller's hierarchy
        self._ctl = {name: mount + self.path for name, mount in hier.v1.items()}
        self._cpuset_mount = hier.v1.get("cpuset")
        self._memory_mount = hier.v1.get("memory")
        self._unified = hier.unified + self.path if hier.unified else None

    def directories(self) -> list[str]:
        dirs = [m + self.path for m in self._mounts]
        return dirs + [self._unified] if self._unified else dirs

    def controller_path(self, controller: str) -> str | None:
        """This cgroup's directory for ``controller`` (None if not mounted)."""
        return self._ctl.get(controller)

    # -- lifecycle ---------------------------------------------------------

    def create(self, resources: Resources | None = None) -> None:
        created: list[str] = []
        try:
            for mount in self._mounts:
                if mount == self._cpuset_mount:
                    cpuset.create_v1(mount, self._parts, resources, created)
                elif mount == self._memory_mount and _needs_use_hierarchy(mount):
                    _mkdirs(mount, self._parts, created, lambda p: fs.write(p, "memory.use_hierarchy", "1"))
                else:
                    _mkdirs(mount, self._parts, created)
            # Every leaf new means every limit is still the default: skips reads.
            fresh = {m + self.path for m in self._mounts} <= set(created)
            if self._unified:
                try:
                    _mkdirs(self._unified[: -len(self.path)], self._parts, created)
                except SystemError_:
                    self._unified = None  # e.g. read-only cgroup2 mount: v1 alone does the job
            self._apply(resources, fresh=fresh)
        except BaseException:
            # Remove only our leaves: a parent like /dockyard is shared with
            # containers being created concurrently.
            leaves = set(self.directories())
            for path in reversed(created):
                if path in leaves:
                    fs.rmdir_tree(path)
            raise

    def update(self, resources: Resources) -> None:
        self._apply(resources, fresh=False)

    def _need(self, controller: str) -> str:
        # Asking for a limit whose controller is not mounted is an error, not a no-op.
        path = self._ctl.get(controller)
        if path is None:
            raise SystemError_(
                f"cgroups: the {controller} controller is not mounted; cannot apply its limits"
            )
        return path

    def _apply(self, res: Resources | None, *, fresh: bool) -> None:
        if not res:
            return
        if res.get("unified"):
            raise InvalidArgument("linux.resources.unified needs a cgroup v2 host")
        if device_list(res, "devices"):
            devices.set_v1(self._need("devices"), res)
        if section(res, "memory"):
            memory.set_v1(self._need("memory"), res, fresh=fresh)
        c = section(res, "cpu")
        if any(c.get(k) is not None for k in cpu.KEYS):
            cpu.set_v1(self._need("cpu"), res)
        if not fresh and (c.get("cpus") or c.get("mems")):
            cpuset.set_v1(self._need("cpuset"), res)  # on create, cpuset.create_v1 wrote them
        if section(res, "pids"):
            pids.set_limit(self._need("pids"), res)
        if section(res, "blockIO"):
            io.set_v1(self._need("blkio"), res)
        if device_list(res, "hugepageLimits"):
            hugetlb.set_v1(self._need("hugetlb"), res)

    def add_process(self, pid: int) -> None:
        procs = str(pid)
        for mount in self._mounts:
            fs.write(mount + self.path, "cgroup.procs", procs)
        if self._unified:
            try:
                fs.write(self._unified, "cgroup.procs", procs)
            except SystemError_:
                pass  # best effort: v1 is authoritative on hybrid hosts

    # -- processes ---------------------------------------------------------

    def _primary(self) -> str:
        for name in ("freezer", "pids", "memory", "devices"):
            if name in self._ctl:
                return self._ctl[name]
        return self.directories()[0]

    def pids(self) -> list[int]:
        return sorted(set(fs.read_procs(self._primary())))

    def _all_pids(self) -> list[int]:
        found: set[int] = set()
        for d in self.directories():
            found.update(fs.read_procs(d))
        return sorted(found)

    def kill_all(self, sig: int) -> None:
        if not self.exists():
            return  # nothing left to signal
        frz = self._ctl.get("freezer")
        if frz is not None and not os.path.isdir(frz):
            frz = None  # half-deleted: signal what is left without freezing
        was_frozen = frz is not None and freezer.is_frozen_v1(frz)
        if sig == signal.SIGKILL and self._unified and fs.exists(self._unified, "cgroup.kill"):
            # Hybrid host: the v2 tree kills every task atomically, forks included.
            fs.write(self._unified, "cgroup.kill", "1")
        else:
            # Freeze first so a fork cannot slip a new task past the pid list.
            if frz is not None and not was_frozen:
                try:
                    freezer.freeze_v1(frz)
                except SystemError_:
                    pass  # signal anyway; better than not at all
            signal_pids(self._all_pids(), sig)
        if frz is not None and (sig == signal.SIGKILL or not was_frozen):
            freezer.thaw_v1(frz)  # v1 frozen tasks cannot even die until thawed

    def freeze(self) -> None:
        freezer.freeze_v1(self._need("freezer"))

    def thaw(self) -> None:
        freezer.thaw_v1(self._need("freezer"))

    def is_frozen(self) -> bool:
        frz = self._ctl.get("freezer")
        return frz is not None and freezer.is_frozen_v1(frz)

    # -- observation -------------------------------------------------------

    def oom_kill_count(self) -> int:
        mem = self._ctl.get("memory")
        return 0 if mem is None else memory.oom_kill_count_v1(mem)

    def stats(self) -> dict[str, dict[str, object]]:
        get = self._ctl.get
        return {
            "cpu_stats": cpu.stats_v1(get("cpu"), get("cpuacct")),
            "memory_stats": memory.stats_v1(m) if (m := get("memory")) else {},
            "pids_stats": dict(pids.stats(p)) if (p := get("pids")) else {},
            "blkio_stats": io.stats_v1(b) if (b := get("blkio")) else {},
        }
