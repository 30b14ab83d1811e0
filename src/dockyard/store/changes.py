"""`docker diff`: a container's changes, from its overlay upper dir against the image's layers.

Docker (the overlay2 driver's naive diff, go-archive ChangesDirs) compares the
container's filesystem with its image's and reports each path as one of

    0 = C (changed), 1 = A (added), 2 = D (deleted)

with these rules, followed here:

* a path is changed when its mode (type and permission bits), owner, rdev or
  `security.capability` differ, or, for a non-directory, its size or mtime (equal, or the
  same second with one side at 0 ns, counts as the same time);
* everything below an added directory is added; a deleted directory is one entry;
* a directory holding changes is reported as changed itself (before its contents),
  except "/";
* within a directory, the changes of its entries come first (by name), its deletions last.

Only the upper dir is walked (what the container wrote): a whiteout is a deletion of what
the lowers show there, an opaque directory deletes the lower entries it hides, and an
entry over a lower one is compared with it. The runtime's mountpoints (/etc/hosts, /proc,
...) are left out, as Docker's init layer keeps them out. The upper dir is read through
fds with O_NOFOLLOW: nothing in it is followed on the host.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from dockyard.store.diff import excluded_mountpoints, lower_lookup, raw_xattr

__all__ = ["CHANGE_MODIFY", "CHANGE_ADD", "CHANGE_DELETE", "container_changes", "stat_different"]

CHANGE_MODIFY, CHANGE_ADD, CHANGE_DELETE = 0, 1, 2

_OPAQUE = "trusted.overlay.opaque"
_XWHITEOUT = "trusted.overlay.whiteout"
_XWHITEOUTS = "trusted.overlay.whiteouts"
_CAPABILITY = "security.capability"
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def stat_different(old: os.stat_result, new: os.stat_result) -> bool:
    """go-archive's statDifferent."""
    if (old.st_mode != new.st_mode or old.st_uid != new.st_uid or old.st_gid != new.st_gid
            or old.st_rdev != new.st_rdev):
        return True
    if stat.S_ISDIR(old.st_mode):
        return False
    if old.st_size != new.st_size:
        return True
    a, b = old.st_mtime_ns, new.st_mtime_ns
    same_time = a == b or (a // 1_000_000_000 == b // 1_000_000_000
                           and (a % 1_000_000_000 == 0 or b % 1_000_000_000 == 0))
    return not same_time


def container_changes(upper: str | os.PathLike[str], lowerdirs: list[str]) -> list[tuple[str, int]]:
    """[(path, kind)] of the container whose writable layer is `upper`, lowers top first."""
    upper_p = Path(upper)
    if not upper_p.is_dir():
        return []
    walker = _Changes([Path(p) for p in lowerdirs], excluded_mountpoints(upper_p, lowerdirs))
    fd = os.open(upper_p, _DIR_FLAGS)
    try:
        walker.directory(fd, "", lower_is_dir=True, added=False)
    finally:
        os.close(fd)
    return walker.out


class _Changes:
    def __init__(self, lowers: list[Path], excluded: set[str]) -> None:
        self.lowers = lowers
        self.excluded = excluded
        self.out: list[tuple[str, int]] = []

    def directory(self, fd: int, rel: str, *, lower_is_dir: bool, added: bool) -> None:
        """The changes inside the upper directory `fd` ("" for the root, else "a/b")."""
        xwhiteouts = raw_xattr(fd, _OPAQUE) == b"x" or raw_xattr(fd, _XWHITEOUTS) is not None
        deleted: list[str] = []
        present: set[str] = set()
        for name in sorted(os.listdir(fd), key=os.fsencode):
            path = f"{rel}/{name}" if rel else name
            if path in self.excluded:
                present.add(name)
                continue
            try:
                st = os.lstat(name, dir_fd=fd)
            except FileNotFoundError:
                continue   # removed while we looked (a running container)
            if _is_whiteout(fd, name, st, xwhiteouts):
                if not added and lower_is_dir and lower_lookup(self.lowers, path) is not None:
                    deleted.append(path)
                continue
            present.add(name)
            self.entry(fd, name, path, st, parent_added=added or not lower_is_dir)
        if not added and lower_is_dir and rel and raw_xattr(fd, _OPAQUE) == b"y":
            deleted += [f"{rel}/{n}" for n in self._lower_children(rel) if n not in present]
        self.out.extend(("/" + p, CHANGE_DELETE) for p in sorted(set(deleted), key=os.fsencode))

    def entry(self, parent_fd: int, name: str, path: str, st: os.stat_result, *, parent_added: bool) -> None:
        at = len(self.out)
        old = None if parent_added else lower_lookup(self.lowers, path)
        own: int | None = None
        if old is None:
            own = CHANGE_ADD
        elif stat_different(old[1], st) or _capability(str(old[0])) != self._upper_capability(parent_fd, name, st):
            own = CHANGE_MODIFY
        if own is not None:
            self.out.append(("/" + path, own))
        if not stat.S_ISDIR(st.st_mode):
            return
        try:
            fd = os.open(name, _DIR_FLAGS, dir_fd=parent_fd)
        except OSError:
            return
        try:
            old_is_dir = old is not None and stat.S_ISDIR(old[1].st_mode)
            self.directory(fd, path, lower_is_dir=old_is_dir, added=old is None or not old_is_dir)
        finally:
            os.close(fd)
        if own is None and len(self.out) > at:
            self.out.insert(at, ("/" + path, CHANGE_MODIFY))   # a directory holding changes

    def _lower_children(self, rel: str) -> set[str]:
        """Names the lowers show in directory `rel` (its merged listing, whiteouts applied)."""
        names: set[str] = set()
        gone: set[str] = set()
        for lower in self.lowers:
            d = lower / rel
            try:
                st = os.lstat(d)
            except (FileNotFoundError, NotADirectoryError):
                continue
            if not stat.S_ISDIR(st.st_mode):
                break   # a file here hides the directories below
            for n in os.listdir(d):
                cst = os.lstat(d / n)
                if stat.S_ISCHR(cst.st_mode) and cst.st_rdev == 0:
                    gone.add(n)
                elif n not in gone:
                    names.add(n)
            if raw_xattr(str(d), _OPAQUE) == b"y":
                break
        return names

    @staticmethod
    def _upper_capability(parent_fd: int, name: str, st: os.stat_result) -> bytes | None:
        if stat.S_ISLNK(st.st_mode) or not (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode)):
            return None
        return _capability(f"/proc/self/fd/{parent_fd}/{name}")


def _is_whiteout(fd: int, name: str, st: os.stat_result, xwhiteouts: bool) -> bool:
    if stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
        return True
    if xwhiteouts and stat.S_ISREG(st.st_mode) and st.st_size == 0:
        return raw_xattr(f"/proc/self/fd/{fd}/{name}", _XWHITEOUT) is not None
    return False


def _capability(path: str) -> bytes | None:
    try:
        return os.getxattr(path, _CAPABILITY, follow_symlinks=False)
    except OSError as e:
        if e.errno in (errno.ENODATA, errno.ENOTSUP, errno.EPERM, errno.ENOENT):
            return None
        raise
