"""The cgroup v2 (unified hierarchy) manager.

One directory per container. A controller's files appear in a cgroup only if
its parent lists it in ``cgroup.subtree_control``, so creating
``/dockyard/<id>`` first enables the available controllers in the root and in
``/dockyard`` (never in the leaf: a cgroup with enabled subtree controllers
cannot hold processes). Freezing, killing and membership are core v2 files;
device rules are an eBPF program (devices_bpf).
"""

from __future__ import annotations

import os
import signal

from dockyard.errors import InvalidArgument, SystemError_

from . import cpu, cpuset, devices_bpf, freezer, fs, hugetlb, io, memory, pids
from .base import Cgroup, signal_pids
from .mounts import hierarchies
from .resources import Resources, device_list, section

__all__ = ["CgroupV2", "CONTROLLERS"]

# Controllers a container gets, in the order the kernel lists them.
CONTROLLERS = ("cpuset", "cpu", "io", "memory", "hugetlb", "pids", "rdma", "misc")

# Core files that must never be written through linux.resources.unified.
_UNIFIED_FORBIDDEN = (
    "cgroup.procs",
    "cgroup.threads",
    "cgroup.subtree_control",
    "cgroup.kill",
    "cgroup.freeze",
)


def enable_controllers(path: str, wanted: list[str]) -> None:
    """Make sure ``wanted`` are on in ``path``'s cgroup.subtree_control.

    Reads first so the common case (already on) writes nothing. If the batch
    write is refused, each controller is tried alone and failures are left for
    the limit writes to report (they name the missing file).
    """
    current = fs.read(path, "cgroup.subtree_control").split()
    missing = [c for c in wanted if c not in current]
    if not missing:
        return
    try:
        fs.write(path, "cgroup.subtree_control", " ".join("+" + c for c in missing))
    except SystemError_:
        for c in missing:
            try:
                fs.write(path, "cgroup.subtree_control", "+" + c)
            except SystemError_:
                pass


class CgroupV2(Cgroup):
    """A container cgroup in the unified hierarchy mounted at ``mountpoint``."""

    def __init__(self, cgroups_path: str, mountpoint: str | None = None) -> None:
        super().__init__(cgroups_path)
        if mountpoint is None:
            mountpoint = hierarchies().unified
            if mountpoint is None:
                raise SystemError_("cgroups: no cgroup2 filesystem is mounted")
        self.mountpoint = mountpoint
        self.dir = mountpoint + self.path

    def directories(self) -> list[str]:
        return [self.dir]

    # -- lifecycle ---------------------------------------------------------

    def create(self, resources: Resources | None = None) -> None:
        available = fs.read(self.mountpoint, "cgroup.controllers").split()
        wanted = [c for c in CONTROLLERS if c in available]
        created: list[str] = []
        try:
            parent = self.mountpoint
            for part in self._parts:
                if wanted:
                    enable_controllers(parent, wanted)
                parent = f"{parent}/{part}"
                if fs.mkdir(parent):
                    created.append(parent)
            self._apply(resources)
        except BaseException:
            if created and created[-1] == self.dir:
                fs.rmdir_tree(self.dir)  # parents may be shared with concurrent creates
            raise

    def update(self, resources: Resources) -> None:
        self._apply(resources)

    def _apply(self, res: Resources | None) -> None:
        if not res:
            return
        d = self.dir
        if rules := device_list(res, "devices"):
            devices_bpf.apply(d, rules)  # v2 has no devices files: an eBPF program
        memory.set_v2(d, res)
        cpu.set_v2(d, res)
        cpuset.set_v2(d, res)
        if section(res, "pids"):
            pids.set_limit(d, res)
        io.set_v2(d, res)
        hugetlb.set_v2(d, res)
        unified = section(res, "unified")
        for key, value in unified.items():
            if "/" in key or key in _UNIFIED_FORBIDDEN or not isinstance(value, str):
                raise InvalidArgument(f"invalid linux.resources.unified entry {key!r}")
            fs.write(d, key, value)

    def add_process(self, pid: int) -> None:
        fs.write(self.dir, "cgroup.procs", str(pid))

    # -- processes ---------------------------------------------------------

    def pids(self) -> list[int]:
        return sorted(set(fs.read_procs(self.dir)))

    def kill_all(self, sig: int) -> None:
        if not os.path.isdir(self.dir):
            return  # nothing left to signal
        if sig == signal.SIGKILL and fs.exists(self.dir, "cgroup.kill"):
            fs.write(self.dir, "cgroup.kill", "1")  # atomic, forks included (5.14+)
            return
        was_frozen = freezer.is_frozen_v2(self.dir)
        if not was_frozen:
            try:
                freezer.freeze_v2(self.dir)
            except SystemError_:
                pass  # signal anyway
        signal_pids(self.pids(), sig)
        if sig == signal.SIGKILL or not was_frozen:
            freezer.thaw_v2(self.dir)

    def freeze(self) -> None:
        freezer.freeze_v2(self.dir)

    def thaw(self) -> None:
        freezer.thaw_v2(self.dir)

    def is_frozen(self) -> bool:
        return freezer.is_frozen_v2(self.dir)

    # -- observation -------------------------------------------------------

    def oom_kill_count(self) -> int:
        return memory.oom_kill_count_v2(self.dir)

    def stats(self) -> dict[str, dict[str, object]]:
        d = self.dir
        return {
            "cpu_stats": cpu.stats_v2(d),
            "memory_stats": memory.stats_v2(d),
            "pids_stats": dict(pids.stats(d)),
            "blkio_stats": io.stats_v2(d),
        }
