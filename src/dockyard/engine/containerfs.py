"""An open view of one container's filesystem, for `docker cp`, `export` and friends.

Two kinds of view, as moby takes them:

* `own=True` (cp): what the container itself sees. Running (or paused): its root through
  `/proc/<pid>/root`, so the mounts inside it (volumes, tmpfs) are seen as it sees them.
  The pid is checked to still be the container's (its cgroup names the container).
* `own=False` (export): the container's overlay, merged: the bundle's rootfs mount while
  it runs, without what is mounted inside the container.

A stopped container's overlay is mounted for the view under `EXEC_ROOT/v/`, with its
volumes, binds and /etc files bound in (not its tmpfs mounts, which hold nothing while it is
stopped) for `own=True`, all unmounted when the view closes. Meanwhile the view holds the container's lock, so the container
cannot start on the same upper dir (or be removed) until the view is closed, as moby
holds the container's lock until an archive has been read to the end. A running
container's view holds no lock: the root fd keeps its filesystem reachable even if it exits.

Everything below the root is resolved with `securejoin.open_in_root`: never by a host path.
Docker's view of a container is its rootfs plus its volumes; what lies inside the kernel
filesystems mounted in a running container (/proc, /sys, ...) is not part of it:
`check_visible` reports such a path as missing, as Docker does.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import secrets
from collections.abc import Callable
from typing import Any

from dockyard import errors
from dockyard.engine.state import Status
from dockyard.fdtar import is_pseudo_fs
from dockyard.oci.runtime_spec import Mount
from dockyard.runtime import syscalls as sc
from dockyard.runtime.rootfs import mount_all
from dockyard.securejoin import open_in_root
from dockyard.store import snapshots

__all__ = ["ContainerFS", "open_view", "sweep_views", "check_visible", "mount_id"]

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC


class ContainerFS:
    """An open root fd of a container's filesystem; `close()` (async) releases it."""

    def __init__(self, container: Any, root_fd: int, *, mountpoint: str = "",
                 lock: asyncio.Lock | None = None, release: Callable[[], None] | None = None) -> None:
        self.container = container
        self.root_fd = root_fd
        self._mountpoint = mountpoint
        self._lock = lock
        self._release = release      # the volumes mounted for the view
        self._closed = False

    @property
    def readonly_rootfs(self) -> bool:
        return bool(self.container.host_config.get("ReadonlyRootfs"))

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        os.close(self.root_fd)
        try:
            if self._mountpoint:
                await asyncio.get_running_loop().run_in_executor(None, _unmount_view, self._mountpoint)
            if self._release is not None:
                self._release()
        finally:
            if self._lock is not None and self._lock.locked():
                self._lock.release()

    async def __aenter__(self) -> ContainerFS:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


async def open_view(containers: Any, ref: str, *, own: bool = True) -> ContainerFS:
    """Open a view of container `ref` (ContainerService); NotFound/Conflict as Docker words them."""
    c = containers.get(ref)
    lock: asyncio.Lock = containers._lock(c.id)
    await lock.acquire()
    try:
        c = containers.get(c.id)   # removed while we waited?
        if c.state.status in (Status.DEAD, Status.REMOVING):
            raise errors.Conflict(f"container {c.id} is {c.state.status.value}")
        loop = asyncio.get_running_loop()
        if c.state.status in (Status.RUNNING, Status.PAUSED):
            fd = await loop.run_in_executor(None, _running_root, containers.paths, c, own)
            if fd < 0 and own:   # it has just exited (its exit waits for our lock): its overlay is still there
                fd = await loop.run_in_executor(None, _running_root, containers.paths, c, False)
            if fd < 0:
                raise errors.SystemError_(f"cannot reach the filesystem of container {c.id}")
            lock.release()
            return ContainerFS(c, fd)
        lowerdirs = containers.images.rootfs_lowerdirs(c.image_id)
        binds: list[dict[str, Any]] = []
        release = None
        if own:
            binds = containers.mounts.setup(c, view=True)[0] + _etc_binds(containers.paths, c, binds)
            release = functools.partial(containers.mounts.release, c)
        try:
            fd, mountpoint = await loop.run_in_executor(None, _mount_view, containers.paths, c.id, lowerdirs,
                                                        binds)
        except BaseException:
            if release is not None:
                release()
            raise
        return ContainerFS(c, fd, mountpoint=mountpoint, lock=lock, release=release)
    except BaseException:
        if lock.locked():
            lock.release()
        raise


def _running_root(paths: Any, c: Any, own: bool) -> int:
    """The root fd of a running container, or -1 if it is not running after all."""
    if not own:
        rootfs = paths.bundle(c.id) / "rootfs"
        if not snapshots.is_mountpoint(str(rootfs)):
            return -1
        return os.open(rootfs, _DIR_FLAGS)
    pid = c.state.pid
    try:
        fd = os.open(f"/proc/{pid}/root", _DIR_FLAGS)
    except (FileNotFoundError, ProcessLookupError):
        return -1
    try:
        with open(f"/proc/{pid}/cgroup") as f:
            owned = c.id in f.read()
    except OSError:
        owned = False
    if not owned:  # the pid is gone, and reused by someone else
        os.close(fd)
        return -1
    return fd


def _etc_binds(paths: Any, c: Any, taken: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The /etc/hostname, hosts and resolv.conf its last run had, unless a mount covers them."""
    covered = {m["destination"] for m in taken}
    out = []
    for name in ("hostname", "hosts", "resolv.conf"):
        source, dest = paths.container(c.id) / name, f"/etc/{name}"
        if dest not in covered and source.is_file():
            out.append({"destination": dest, "type": "bind", "source": str(source), "options": ["rbind"]})
    return out


def _mount_view(paths: Any, cid: str, lowerdirs: list[str], binds: list[dict[str, Any]]) -> tuple[int, str]:
    rw = paths.container(cid) / "rw"
    (rw / "upper").mkdir(parents=True, exist_ok=True)
    (rw / "work").mkdir(parents=True, exist_ok=True)
    base = paths.exec_root / "v"
    base.mkdir(parents=True, exist_ok=True)
    target = base / f"{cid[:12]}-{secrets.token_hex(4)}"
    target.mkdir()
    try:
        snapshots.mount_rootfs(lowerdirs, str(rw / "upper"), str(rw / "work"), str(target))
    except BaseException:
        with contextlib.suppress(OSError):
            target.rmdir()
        raise
    try:
        if binds:
            # private first: what is bound below must not propagate to the host's peers, and the
            # view's lazy unmount must not take the originals along
            sc.mount(None, str(target), None, sc.MS_PRIVATE, None)
            ordered = sorted(binds, key=lambda m: len([p for p in m["destination"].split("/") if p]))
            mount_all([Mount.from_dict(m) for m in ordered], str(target), "", cgroupns=False)
        fd = os.open(target, _DIR_FLAGS)
    except BaseException:
        _unmount_view(str(target))
        raise
    return fd, str(target)


def _unmount_view(target: str) -> None:
    snapshots.unmount(target)
    with contextlib.suppress(OSError):
        os.rmdir(target)


def sweep_views(paths: Any) -> None:
    """At daemon start: views a crash left mounted."""
    base = paths.exec_root / "v"
    if not base.is_dir():
        return
    for entry in base.iterdir():
        with contextlib.suppress(errors.DockyardError, OSError):
            snapshots.unmount(str(entry))
            os.rmdir(entry)   # never rmtree: a mount that did not go would take the container's files along


def mount_id(fd: int) -> int:
    """The id of the mount `fd` lives on (its /proc/self/fdinfo `mnt_id`)."""
    with open(f"/proc/self/fdinfo/{fd}") as f:
        for line in f:
            if line.startswith("mnt_id:"):
                return int(line.split()[1])
    return -1


def check_visible(root_fd: int, parts: list[str], fd: int) -> None:
    """FileNotFoundError if the path `parts` (canonical, its O_PATH `fd`) lies inside a kernel
    filesystem (a /proc or /sys mounted in the container): the mountpoint itself is visible."""
    if not parts or not is_pseudo_fs(fd):
        parent_fd = -1
        for i in range(1, len(parts)):
            parent_fd, _ = open_in_root(root_fd, "/" + "/".join(parts[:i]), follow_last=False)
            try:
                if is_pseudo_fs(parent_fd):
                    raise FileNotFoundError(2, "no such file or directory", "/" + "/".join(parts))
            finally:
                os.close(parent_fd)
        return
    parent_fd, _ = open_in_root(root_fd, "/" + "/".join(parts[:-1]), follow_last=False)
    try:
        if is_pseudo_fs(parent_fd) or mount_id(parent_fd) == mount_id(fd):
            raise FileNotFoundError(2, "no such file or directory", "/" + "/".join(parts))
    finally:
        os.close(parent_fd)
