"""A container's mounts through its life: resolved at create, mounted at start, let go at exit and rm.

create (moby's registerMountPoints + createContainerVolumesOS): `--volumes-from` first, then
`-v` binds, then `--mount`s (a later one at the same path replaces an earlier one; a bind
and a mount, or a bind and a tmpfs, at one path is "Duplicate mount point"), then each
image/`-v /path` VOLUME with no mount yet becomes an anonymous volume. Volumes named but
missing are created; an empty one gets the image's files at its path (copy-up). Any
failure undoes the volumes this create made.

start: volumes are mounted through their driver (a "mount" event each), missing `-v` bind
sources are created, and the whole list becomes config.json mounts. exit: "unmount" events.
rm -v / --rm: the container's anonymous volumes go, unless another container uses them.
"""

from __future__ import annotations

import contextlib
import logging
import os
import posixpath
import shutil
import tempfile
from collections.abc import Callable, Iterator
from typing import Any

from dockyard import errors, mountinfo
from dockyard.engine.container_store import Container, ContainerStore
from dockyard.engine.volumes import VolumeService
from dockyard.securejoin import resolve_in_root
from dockyard.store import snapshots
from dockyard.store.paths import Paths
from dockyard.volume import mounts as mnt
from dockyard.volume.copyup import copy_up, is_empty

__all__ = ["MountManager"]

log = logging.getLogger("dockyard.mounts")


@contextlib.contextmanager
def _image_view(lowerdirs: list[str], scratch: Any) -> Iterator[str | None]:
    """The image's filesystem, read-only: its only layer as it is, or the layers overlaid."""
    if not lowerdirs:
        yield None
        return
    if len(lowerdirs) == 1:
        yield lowerdirs[0]
        return
    scratch.mkdir(parents=True, exist_ok=True)
    base = tempfile.mkdtemp(prefix="copyup-", dir=scratch)
    merged, upper, work = (os.path.join(base, d) for d in ("merged", "upper", "work"))
    for d in (merged, upper, work):
        os.mkdir(d)
    try:
        snapshots.mount_rootfs(lowerdirs, upper, work, merged, readonly=True)
        try:
            yield merged
        finally:
            snapshots.unmount(merged)
    finally:
        shutil.rmtree(base, ignore_errors=True)


class _LazyView:
    """Mount the image view only if some mount needs to look into the image."""

    def __init__(self, open_view: Callable[[], contextlib.AbstractContextManager[str | None]]) -> None:
        self._open = open_view
        self._stack = contextlib.ExitStack()
        self._root: str | None = None
        self._opened = False

    def root(self) -> str | None:
        if not self._opened:
            self._root = self._stack.enter_context(self._open())
            self._opened = True
        return self._root

    def close(self) -> None:
        self._stack.close()


def _propagation_check(source: str, propagation: str) -> str:
    """The container root's propagation a shared/slave bind needs; Docker's error if the host
    mount holding `source` cannot give it."""
    if propagation not in ("shared", "rshared", "slave", "rslave"):
        return ""
    point, fields = mountinfo_of(source)
    shared = any(f.startswith("shared:") for f in fields)
    slave = any(f.startswith("master:") for f in fields)
    if propagation in ("shared", "rshared"):
        if not shared:
            raise errors.InvalidArgument(f"path {source} is mounted on {point} but it is not a shared mount")
        return "shared"
    if not (shared or slave):
        raise errors.InvalidArgument(f"path {source} is mounted on {point} but it is not a shared or slave mount")
    return "rslave"


def mountinfo_of(path: str) -> tuple[str, list[str]]:
    """(mount point, optional fields) of the mount that holds `path`."""
    real = os.path.realpath(path)
    best, fields = "/", []
    with open("/proc/self/mountinfo", encoding="utf-8", errors="surrogateescape") as f:
        for line in f:
            parts = line.split()
            point = mountinfo.unescape(parts[4])
            if (real == point or real.startswith(point.rstrip("/") + "/")) and len(point) >= len(best):
                best, fields = point, parts[6:parts.index("-")]
    return best, fields


class MountManager:
    def __init__(self, volumes: VolumeService, paths: Paths, containers: ContainerStore,
                 lowerdirs: Callable[[str], list[str]], emit: Callable[..., Any] | None = None) -> None:
        self.volumes = volumes
        self.paths = paths
        self.containers = containers
        self.lowerdirs = lowerdirs            # image id → its overlay lowerdirs, top first
        self._emit = emit or (lambda *a, **k: None)
        self._mounted: dict[str, list[str]] = {}   # container id → volumes mounted for its run
        self._rro = mnt.rro_supported()

    # ------------------------------------------------------------------ create
    def _plan(self, c: Container, legacy_readonly: bool) -> list[mnt.MountPoint]:
        hc = c.host_config
        tmpfs = hc.get("Tmpfs") or {}
        if not isinstance(tmpfs, dict):
            raise errors.InvalidArgument("invalid HostConfig.Tmpfs: must be an object")
        for dest, data in tmpfs.items():
            mnt.check_tmpfs_destination(dest)
            mnt.oci_tmpfs(dest, str(data or ""))   # refuses unknown options now, not at start
        points: dict[str, mnt.MountPoint] = {}
        for spec in hc.get("VolumesFrom") or []:
            ident, mode = mnt.parse_volumes_from(str(spec))
            try:
                source = self.containers.get(ident)
            except errors.NotFound as e:
                raise errors.InvalidArgument(e.message) from None
            for rec in source.mount_points:
                mp = mnt.MountPoint.from_record(rec)
                mp.rw = mp.rw and mnt.read_write(mode)
                mp.mode, mp.copy_data, mp.make_source = "", False, False
                points[mp.destination] = mp
        taken: set[str] = set()
        for raw in hc.get("Binds") or []:
            mp = mnt.parse_bind(str(raw), str(hc.get("VolumeDriver") or ""))
            if mp.destination in taken or mp.destination in tmpfs:
                raise errors.InvalidArgument(f"Duplicate mount point: {mp.destination}")
            if mp.type == "volume" and not mp.mode:
                mp.mode = "z"
            if mp.type == "bind" and not mp.rw and legacy_readonly:
                # API < 1.44 clients knew only non-recursive read-only binds
                mp.spec.setdefault("BindOptions", {})["ReadOnlyNonRecursive"] = True
            taken.add(mp.destination)
            points[mp.destination] = mp
        for spec in hc.get("Mounts") or []:
            mp = mnt.parse_mount(spec)
            if mp.destination in taken:
                raise errors.InvalidArgument(f"Duplicate mount point: {spec.get('Target')}")
            if mp.type == "volume":
                mp.mode = "z"
            taken.add(mp.destination)
            points[mp.destination] = mp
        for dest in c.config.get("Volumes") or {}:
            clean = posixpath.normpath(dest)
            problem = mnt.check_destination(clean)
            if problem:
                raise errors.InvalidArgument(problem)
            if clean not in points and clean not in tmpfs:
                points[clean] = mnt.MountPoint(type="volume", destination=clean, copy_data=True,
                                               spec={"_image": True})
        return list(points.values())

    def register(self, c: Container, legacy_readonly: bool = False) -> tuple[list[str], Callable[[], None]]:
        """Resolve the container's mounts (c.mount_points) and create the volumes they name;
        → (volumes it created, `fill`). `fill()` (slow: run it off the event loop) looks into the
        image: it refuses a VOLUME over a file and copies the image's files into empty volumes.
        `undo(created)` takes the volumes back if anything after fails.
        `legacy_readonly`: the client speaks API < 1.44."""
        plan = self._plan(c, legacy_readonly)
        created: list[str] = []
        copies: list[tuple[str, str]] = []   # (destination, volume dir) to fill from the image if empty
        try:
            for mp in plan:
                if mp.type != "volume":
                    continue
                if not mp.name or self.volumes.store.find(mp.name) is None:
                    vopts = mp.spec.get("VolumeOptions") or {}
                    v = self.volumes.create(mp.name, mp.driver, (vopts.get("DriverConfig") or {}).get("Options"),
                                            vopts.get("Labels") or None)
                    created.append(v.name)
                v = self.volumes.get(mp.name or created[-1])
                mp.name, mp.driver, mp.source = v.name, v.driver, self.volumes.mountpoint(v)
                if mp.copy_data and not v.options:
                    copies.append((mp.destination, mp.source))
        except BaseException:
            self.undo(created)
            raise
        image_volumes = [mp.destination for mp in plan if mp.spec.pop("_image", False)]
        c.mount_points = [mp.record() for mp in plan]
        image_id = c.image_id

        def fill() -> None:
            view = _LazyView(lambda: _image_view(self.lowerdirs(image_id), self.paths.tmp_dir))
            try:
                for dest in image_volumes:
                    self._refuse_file(view, dest)
                for dest, source in copies:
                    if is_empty(source):
                        self._copy_up(view, dest, source)
            finally:
                view.close()

        return created, fill

    @staticmethod
    def _refuse_file(view: _LazyView, dest: str) -> None:
        root = view.root()
        if root is None:
            return
        path = resolve_in_root(root, dest)
        if os.path.lexists(path) and not os.path.isdir(path):
            raise errors.InvalidArgument(f"cannot mount volume over existing file, file exists {path}")

    @staticmethod
    def _copy_up(view: _LazyView, dest: str, volume_dir: str) -> None:
        root = view.root()
        if root is None:
            return
        try:
            copy_up(resolve_in_root(root, dest), volume_dir)
        except OSError as e:
            raise errors.SystemError_(f"failed to populate volume: {e}") from None

    def undo(self, created: list[str]) -> None:
        """Remove the volumes a failed create made."""
        for name in created:
            with contextlib.suppress(errors.DockyardError, OSError):
                self.volumes.remove(name, force=True)

    # ------------------------------------------------------------------ start / exit
    def setup(self, c: Container, *, view: bool = False) -> tuple[list[dict[str, Any]], str]:
        """(config.json mounts, the root propagation they need); volumes mounted, events sent.
        `view`: for a look into a stopped container (cp): its volumes and binds only, with no
        propagation, as moby's openContainerFS binds them; its tmpfs mounts hold nothing then."""
        tmpfs = c.host_config.get("Tmpfs") or {}
        out = [] if view else [mnt.oci_tmpfs(dest, str(data or "")) for dest, data in tmpfs.items()]
        root_propagation = ""
        try:
            for rec in c.mount_points:
                mp = mnt.MountPoint.from_record(rec)
                if mp.destination in tmpfs:
                    continue
                if mp.type == "tmpfs":
                    if not view:
                        out.append(mnt.oci_tmpfs(mp.destination, mnt.tmpfs_data(mp.spec.get("TmpfsOptions"),
                                                                                 not mp.rw)))
                    continue
                source = self._volume_source(c, mp) if mp.type == "volume" else self._bind_source(mp)
                if view:
                    mp.propagation = ""
                else:
                    wanted = _propagation_check(source, mp.propagation)
                    if wanted and root_propagation != "shared":
                        root_propagation = wanted
                out.append(mnt.oci_mount(source, mp, self._rro))
        except BaseException:
            self.release(c, quiet=True)
            raise
        return out, root_propagation

    def _volume_source(self, c: Container, mp: mnt.MountPoint) -> str:
        path = self.volumes.mount(mp.name, c.id)
        self._mounted.setdefault(c.id, []).append(mp.name)
        sub = str((mp.spec.get("VolumeOptions") or {}).get("Subpath") or "")
        if sub:
            path = resolve_in_root(path, sub)
            if not os.path.exists(path):
                raise errors.InvalidArgument(f"cannot access path {path}: no such file or directory")
        self._emit("volume", "mount", mp.name, driver=mp.driver, container=c.id, destination=mp.destination,
                   **{"read/write": "true" if mp.rw else "false", "propagation": mp.propagation})
        return path

    @staticmethod
    def _bind_source(mp: mnt.MountPoint) -> str:
        if mp.make_source and not os.path.lexists(mp.source):
            try:
                os.makedirs(mp.source, 0o755, exist_ok=True)
            except OSError as e:
                raise errors.SystemError_(
                    f"error while creating mount source path '{mp.source}': {e.strerror or e}") from None
        return mp.source

    def release(self, c: Container, quiet: bool = False) -> None:
        """The run is over: unmount what setup mounted (idempotent)."""
        for name in self._mounted.pop(c.id, []):
            try:
                self.volumes.unmount(name, c.id)
            except (OSError, errors.DockyardError) as e:
                log.warning("unmounting volume %s of %s: %s", name, c.id[:12], e)
                continue
            if not quiet:
                v = self.volumes.store.find(name)
                self._emit("volume", "unmount", name, driver=v.driver if v else "local", container=c.id)

    def adopt(self, c: Container) -> None:
        """At daemon start, for a container recorded as running: its volumes count as mounted until
        its exit is settled (now, if it died meanwhile; later, if its shim kept it alive)."""
        names = [rec["name"] for rec in c.mount_points if rec.get("type") == "volume" and rec.get("name")]
        self._mounted[c.id] = names
        for name in names:
            self.volumes.adopt(name, c.id)

    # ------------------------------------------------------------------ rm
    def removed(self, c: Container, remove_volumes: bool) -> None:
        """After the container's record is gone: with `rm -v`/`--rm` its anonymous volumes go too."""
        self.release(c, quiet=True)
        if not remove_volumes:
            return
        for rec in c.mount_points:
            mp = mnt.MountPoint.from_record(rec)
            if not mp.anonymous or not mp.name or self.volumes.users(mp.name):
                continue
            try:
                self.volumes.remove(mp.name)
            except errors.NotFound:
                continue
            except errors.DockyardError as e:
                log.warning("removing volume %s of %s: %s", mp.name, c.id[:12], e)
