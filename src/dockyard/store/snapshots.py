"""Unpacked layers ("snapshots") keyed by chain ID, stacked with overlayfs.

A snapshot is `Paths.snapshot(chain_id)/fs`: one layer applied to an empty
directory, whiteouts in overlay form, usable as an overlay lowerdir. It is shared
by every image whose layer stack starts with the same chain. Snapshots are
unpacked into a staging directory under `tmp/`, then renamed into place, then
recorded in the `snapshots` table, so a half-unpacked layer is never used; a
directory without its row (a crash in between) is treated as garbage.

`mount_rootfs` mounts an overlay for a container rootfs. The mount(2) option
string is one page (4 KiB): when the lowerdir list would not fit, the lowerdirs
are passed as `/proc/self/fd/N` of O_PATH descriptors held during the call.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import shutil
import sqlite3
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dockyard import mountinfo
from dockyard.errors import InvalidArgument, SystemError_
from dockyard.store.content import ContentStore
from dockyard.store.db import Database
from dockyard.store.layers import LayerStats, apply_layer
from dockyard.store.paths import Paths

__all__ = [
    "SnapshotInfo",
    "SnapshotStore",
    "StagedLayer",
    "mount_rootfs",
    "unmount",
    "is_mountpoint",
    "spread_subdirs",
]

_PAGE_LIMIT = 4095  # mount(2) copies at most one page of options, NUL included


@dataclass(frozen=True)
class SnapshotInfo:
    chain_id: str
    parent: str
    diff_id: str
    blob_digest: str
    size: int
    path: str           # the lowerdir (".../fs")


@dataclass(frozen=True)
class StagedLayer:
    """A layer unpacked into a staging dir, waiting to become a snapshot (or to be discarded)."""
    dir: Path           # staging dir; the layer is in dir/fs
    stats: LayerStats


class SnapshotStore:
    def __init__(self, paths: Paths, db: Database, content: ContentStore) -> None:
        self.paths = paths
        self.db = db
        self.content = content
        # Layer blobs ingested but not yet recorded: never deleted meanwhile (see ImageService).
        self.pinned: Counter[str] = Counter()
        self.paths.tmp_dir.mkdir(parents=True, exist_ok=True)
        spread_subdirs(self.paths.tmp_dir)

    # ------------------------------------------------------------ staging
    def stage(self, source: Any, *, sink: Any = None) -> StagedLayer:
        """Unpack a layer stream into a fresh staging dir; nothing is left behind on error."""
        self.paths.tmp_dir.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix="snap-", dir=self.paths.tmp_dir))
        try:
            fs = staging / "fs"
            fs.mkdir(mode=0o755)
            stats = apply_layer(source, fs, sink=sink)
        except BaseException:
            _rmtree(staging)
            raise
        return StagedLayer(staging, stats)

    def discard(self, staged: StagedLayer | None) -> None:
        if staged is not None:
            _rmtree(staged.dir)

    # ------------------------------------------------------------ snapshots
    def get(self, chain_id: str) -> SnapshotInfo | None:
        row = self.db.query_one("SELECT * FROM snapshots WHERE chain_id = ?", (chain_id,))
        if row is None:
            return None
        return SnapshotInfo(row["chain_id"], row["parent"] or "", row["diff_id"], row["blob_digest"],
                            row["size"], str(self.paths.snapshot(chain_id) / "fs"))

    def exists(self, chain_id: str) -> bool:
        return self.get(chain_id) is not None and (self.paths.snapshot(chain_id) / "fs").is_dir()

    def ensure_snapshot(self, chain_id: str, parent: str | None, diff_id: str, blob: str, *,
                        staged: StagedLayer | None = None,
                        conn: sqlite3.Connection | None = None) -> tuple[SnapshotInfo, bool]:
        """Make sure the snapshot for `chain_id` exists, unpacking `blob` (or using `staged`) once.

        Returns (info, created). With `conn` the row is written in the caller's
        transaction (then the caller must `unplace()` it if that transaction fails).
        """
        info, created = self.place(chain_id, parent, diff_id, blob, staged=staged)
        if created:
            try:
                self._record(info, conn)
            except BaseException:
                self.unplace(chain_id)
                raise
        return info, created

    def place(self, chain_id: str, parent: str | None, diff_id: str, blob: str, *,
              staged: StagedLayer | None = None) -> tuple[SnapshotInfo, bool]:
        """Put the snapshot dir in place without recording it: (info, created).

        If the snapshot is already recorded, `staged` is discarded. Callers record
        the row (in their own transaction) or call `unplace()`; hold a lock that
        keeps removals out in between.
        """
        existing = self.get(chain_id)
        final = self.paths.snapshot(chain_id)
        if existing is not None and (final / "fs").is_dir():
            self.discard(staged)
            return existing, False
        if staged is None:
            with self.content.open(blob) as f:
                staged = self.stage(f)
        try:
            if staged.stats.diff_id != diff_id:
                raise InvalidArgument(
                    f"layer {blob} has diff_id {staged.stats.diff_id}, expected {diff_id}")
            if final.exists():
                _rmtree(final)  # a leftover without a row: never trusted
            final.parent.mkdir(parents=True, exist_ok=True)
            os.rename(staged.dir, final)
        except BaseException:
            self.discard(staged)
            raise
        return SnapshotInfo(chain_id, parent or "", diff_id, blob, staged.stats.size, str(final / "fs")), True

    def unplace(self, chain_id: str) -> None:
        """Undo `place()` for a snapshot whose row was never written."""
        if self.get(chain_id) is None:
            _rmtree(self.paths.snapshot(chain_id))

    def _record(self, info: SnapshotInfo, conn: sqlite3.Connection | None) -> None:
        sql = ("INSERT OR REPLACE INTO snapshots (chain_id, parent, diff_id, blob_digest, size) "
               "VALUES (?, ?, ?, ?, ?)")
        args = (info.chain_id, info.parent or None, info.diff_id, info.blob_digest, info.size)
        if conn is not None:
            conn.execute(sql, args)
        else:
            with self.db.tx() as c:
                c.execute(sql, args)

    def chain(self, top_chain_id: str) -> list[SnapshotInfo]:
        """The snapshots of a stack, top first."""
        out: list[SnapshotInfo] = []
        current: str | None = top_chain_id
        while current:
            info = self.get(current)
            if info is None:
                raise SystemError_(f"layer {current} does not exist")
            out.append(info)
            current = info.parent or None
            if len(out) > 1000:
                raise SystemError_("layer chain too deep or cyclic")
        return out

    def lowerdirs(self, top_chain_id: str | None) -> list[str]:
        """Overlay lowerdirs for a stack, top first; [] for no layers."""
        if not top_chain_id:
            return []
        return [s.path for s in self.chain(top_chain_id)]

    def live_chain_ids(self, conn: sqlite3.Connection) -> set[str]:
        """Every chain id reachable from an image or a hold (containers of force-removed images)."""
        rows = conn.execute(
            """WITH RECURSIVE live(id) AS (
                   SELECT top_chain_id FROM images WHERE top_chain_id IS NOT NULL
                   UNION SELECT top_chain_id FROM snapshot_holds WHERE top_chain_id IS NOT NULL
                   UNION SELECT s.parent FROM snapshots s JOIN live ON s.chain_id = live.id
                         WHERE s.parent IS NOT NULL)
               SELECT id FROM live""").fetchall()
        return {r[0] for r in rows}

    def remove_unreferenced(self, conn: sqlite3.Connection, candidates: list[str]) -> list[SnapshotInfo]:
        """Within the caller's transaction: drop the rows of the `candidates` no image or
        hold still uses, in the given order. Call `delete_files` after the commit."""
        live = self.live_chain_ids(conn)
        removed: list[SnapshotInfo] = []
        for chain_id in candidates:
            if chain_id in live:
                continue
            info = self.get(chain_id)
            if info is None:
                continue
            conn.execute("DELETE FROM snapshots WHERE chain_id = ?", (chain_id,))
            removed.append(info)
        return removed

    def remove_snapshot(self, chain_id: str) -> bool:
        """Remove one snapshot if nothing references it. True if removed."""
        with self.db.tx() as conn:
            removed = self.remove_unreferenced(conn, [chain_id])
        self.delete_files(removed)
        return bool(removed)

    def delete_files(self, removed: list[SnapshotInfo]) -> None:
        """Delete the dirs (and now unused layer blobs) of snapshots whose rows are gone."""
        for info in removed:
            final = self.paths.snapshot(info.chain_id)
            if final.exists():
                self.paths.tmp_dir.mkdir(parents=True, exist_ok=True)
                doomed = Path(tempfile.mkdtemp(prefix="rm-", dir=self.paths.tmp_dir))
                os.rename(final, doomed / "s")  # vanish atomically, then delete at leisure
                _rmtree(doomed)
            still_used = self.db.query_one("SELECT 1 FROM snapshots WHERE blob_digest = ?", (info.blob_digest,))
            if still_used is None and not self.pinned[info.blob_digest]:
                self.content.delete(info.blob_digest)

    def sweep(self) -> None:
        """At startup: remove staging leftovers and snapshot dirs that have no row."""
        if self.paths.tmp_dir.is_dir():
            for p in self.paths.tmp_dir.iterdir():
                if p.name.startswith(("snap-", "rm-")):
                    _rmtree(p)
        if self.paths.snapshots_dir.is_dir():
            known = {r[0].partition(":")[2] for r in self.db.query("SELECT chain_id FROM snapshots")}
            for p in self.paths.snapshots_dir.iterdir():
                if len(p.name) == 64 and p.name not in known:
                    _rmtree(p)


_FS_IOC_GETFLAGS, _FS_IOC_SETFLAGS, _FS_TOPDIR_FL = 0x80086601, 0x40086602, 0x00020000


def spread_subdirs(path: Path) -> bool:
    """Mark `path` a "top directory" (chattr +T) for ext4's Orlov allocator: each staging dir
    made in it then goes to a lightly used block group instead of its parent's. Measured here:
    a layer's files created in a group where many inodes were deleted seconds before (an rmi,
    or another daemon's) cost up to ~0.6 ms each on ext4 without a journal, ~25 us elsewhere.
    A hint only: False where the filesystem has no such flag."""
    import fcntl
    import struct

    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        flags = struct.unpack("=q", fcntl.ioctl(fd, _FS_IOC_GETFLAGS, b"\0" * 8))[0] & 0xFFFFFFFF
        if not flags & _FS_TOPDIR_FL:
            fcntl.ioctl(fd, _FS_IOC_SETFLAGS, struct.pack("=q", flags | _FS_TOPDIR_FL))
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


def _rmtree(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        shutil.rmtree(path)


# ---------------------------------------------------------------- mounting

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
MS_RDONLY = 1
MNT_DETACH = 2


def _escape(path: str) -> str:
    return path.replace("\\", "\\\\").replace(":", "\\:").replace(",", "\\,")


def _overlay_options(lowers: list[str], upper: str, work: str) -> str:
    opts = [f"lowerdir={':'.join(_escape(p) for p in lowers)}",
            f"upperdir={_escape(upper)}", f"workdir={_escape(work)}"]
    if os.path.exists("/sys/module/overlay/parameters/index"):
        opts.append("index=off")  # as Docker: an upper must not be tied to one set of lowers
    # The upper dir must be the whole diff (store/diff.py commits it): no renamed lower dirs
    # recorded as redirects, no copied-up files whose data stays below (metacopy), whatever
    # the host's defaults.
    for feature in ("redirect_dir", "metacopy"):
        if os.path.exists(f"/sys/module/overlay/parameters/{feature}"):
            opts.append(f"{feature}=off")
    return ",".join(opts)


def mount_rootfs(lowerdirs: list[str], upper: str, work: str, target: str, readonly: bool = False) -> None:
    """Mount an overlay at `target`: `lowerdirs` top first, `upper`/`work` on one filesystem.

    An image without layers gets an empty lowerdir, created next to `work` (`lower-empty`).
    """
    lowers = [os.path.abspath(p) for p in lowerdirs]
    upper, work = os.path.abspath(upper), os.path.abspath(work)
    if not lowers:
        empty = os.path.join(os.path.dirname(work), "lower-empty")
        os.makedirs(empty, mode=0o755, exist_ok=True)
        lowers = [empty]
    flags = MS_RDONLY if readonly else 0
    data = _overlay_options(lowers, upper, work)
    if len(data.encode()) <= _PAGE_LIMIT:
        _mount("overlay", target, "overlay", flags, data)
        return
    fds: list[int] = []
    try:
        for p in lowers:
            fds.append(os.open(p, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC))
        data = _overlay_options([f"/proc/self/fd/{fd}" for fd in fds], upper, work)
        if len(data.encode()) > _PAGE_LIMIT:
            raise SystemError_(f"too many layers to mount ({len(lowers)})")
        _mount("overlay", target, "overlay", flags, data)
    finally:
        for fd in fds:
            os.close(fd)


def _mount(source: str, target: str, fstype: str, flags: int, data: str) -> None:
    if _libc.mount(source.encode(), os.fsencode(target), fstype.encode(), flags, data.encode()) != 0:
        err = ctypes.get_errno()
        raise SystemError_(f"error mounting {fstype} on {target}: {os.strerror(err)}")


def is_mountpoint(target: str) -> bool:
    return mountinfo.is_mountpoint(os.path.realpath(target))


def unmount(target: str) -> bool:
    """Unmount `target`; lazily (MNT_DETACH) if it is busy. False if nothing was mounted there."""
    path = os.fsencode(target)
    if _libc.umount2(path, 0) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOENT):
        return False
    if err == errno.EBUSY and _libc.umount2(path, MNT_DETACH) == 0:
        return True
    err = ctypes.get_errno()
    raise SystemError_(f"error unmounting {target}: {os.strerror(err)}")
