"""The cpuset controller: pinning to CPUs and memory nodes.

In v1 a new cpuset cgroup starts with *empty* ``cpuset.cpus``/``cpuset.mems``
and the kernel refuses to add a task to it (ENOSPC). So every level we create
(or find empty) gets its parent's values, from the hierarchy root down. v2
cgroups inherit the effective set, so only explicit values are written.
"""

from __future__ import annotations

from . import fs
from .resources import Resources, opt_str, section

__all__ = ["create_v1", "set_v1", "set_v2"]


def _pair(path: str) -> tuple[str, str]:
    return fs.read(path, "cpuset.cpus").strip(), fs.read(path, "cpuset.mems").strip()


def create_v1(mount: str, parts: list[str], res: Resources | None, created: list[str]) -> None:
    """mkdir each level of ``parts`` under ``mount``, filling empty cpus/mems from the parent.

    The leaf gets the requested ``cpu.cpus``/``cpu.mems`` instead where given.
    Reads only what it must: the root's values once, or an existing level's own.
    Appends each directory it makes to ``created`` (for cleanup on failure).
    """
    c = section(res, "cpu")
    want_cpus, want_mems = opt_str(c, "cpus"), opt_str(c, "mems")
    parent = mount
    inherited: tuple[str, str] | None = None  # parent's (cpus, mems), once known
    for i, part in enumerate(parts):
        path = f"{parent}/{part}"
        leaf = i == len(parts) - 1
        if fs.mkdir(path):
            created.append(path)
            cpus, mems = "", ""
        else:
            cpus, mems = _pair(path)
        target_cpus = (want_cpus if leaf else None) or cpus
        target_mems = (want_mems if leaf else None) or mems
        if not target_cpus or not target_mems:
            if inherited is None:
                inherited = _pair(parent)
            target_cpus = target_cpus or inherited[0]
            target_mems = target_mems or inherited[1]
        if target_mems != mems:
            fs.write(path, "cpuset.mems", target_mems)
        if target_cpus != cpus:
            fs.write(path, "cpuset.cpus", target_cpus)
        inherited = (target_cpus, target_mems)
        parent = path


def set_v1(path: str, res: Resources | None) -> None:
    """Change cpus/mems of an existing cgroup (update)."""
    c = section(res, "cpu")
    cpus, mems = opt_str(c, "cpus"), opt_str(c, "mems")
    if mems:
        fs.write(path, "cpuset.mems", mems)
    if cpus:
        fs.write(path, "cpuset.cpus", cpus)


set_v2 = set_v1  # same file names in v2; empty means "inherit", so nothing else to do
