"""`PUT /containers/{id}/archive`: unpack a tar into a directory of a container, as moby does.

moby (daemon/archive_unix.go containerExtractToDir, go-archive Unpack) in the
container's own view of its filesystem:

* the destination is resolved with every symlink followed, the last one too, inside the
  container; a missing one is "Could not find the file", a non-directory is "extraction
  point is not a directory" (400); a read-only rootfs or volume refuses (400);
* entries are cleaned; one that would land outside the destination is refused, as are
  symlinks whose target climbs out of it and hardlinks to something outside it;
* with `noOverwriteDirNonDir` a directory is never replaced by a non-directory or the
  reverse ("cannot overwrite directory ... with non-directory ...");
* owners come from the archive, or with `copyUIDGID` from the container's user (its
  `Config.User`, looked up in the container's own /etc/passwd and /etc/group).

Here every write goes through `build.treewriter.TreeWriter` rooted at the container's
root fd: parents are opened with O_NOFOLLOW and symlinks on the way are resolved as a
process chrooted in the container would resolve them, so a symlink to `/` or `../..`
in the container keeps the write inside the container.
"""

from __future__ import annotations

import os
import stat
import tarfile
from typing import Any

from dockyard import errors
from dockyard.build.treewriter import PathEscape, TreeWriter, TypeConflict
from dockyard.engine.containerfs import check_visible, mount_id
from dockyard.securejoin import open_in_root
from dockyard.store.entryops import Prepend
from dockyard.store.layers import DecompressingReader

__all__ = ["resolve_destination", "extract_into", "container_owner"]


def resolve_destination(root_fd: int, path: str, *, readonly_rootfs: bool) -> list[str]:
    """The canonical components of the extraction point, checked as moby checks it."""
    fd, parts = open_in_root(root_fd, path, follow_last=True)   # FileNotFoundError → 404 by the caller
    try:
        check_visible(root_fd, parts, fd)
        if not stat.S_ISDIR(os.fstat(fd).st_mode):
            raise errors.InvalidArgument("extraction point is not a directory")
        if mount_id(fd) == mount_id(root_fd):
            if readonly_rootfs:
                raise errors.InvalidArgument("container rootfs is marked read-only")
        elif os.fstatvfs(fd).f_flag & os.ST_RDONLY:
            raise errors.InvalidArgument("mounted volume is marked read-only")
    finally:
        os.close(fd)
    return parts


# ---------------------------------------------------------------- the container's user

def _db(root_fd: int, path: str) -> list[list[str]]:
    try:
        fd, _ = open_in_root(root_fd, path)
    except OSError:
        return []
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return []   # a fifo or device named /etc/passwd must not block or feed us
        with open(f"/proc/self/fd/{fd}", "rb") as f:  # reopens the very inode found in the container
            data = f.read(1 << 22)
    except OSError:
        return []
    finally:
        os.close(fd)
    rows = []
    for line in data.decode("utf-8", "surrogateescape").splitlines():
        if line.strip() and not line.startswith("#"):
            rows.append(line.split(":"))
    return rows


def _id_or_name(text: str) -> tuple[int | None, str]:
    if text.isdigit() and int(text) <= 0x7FFFFFFF:
        return int(text), ""
    return None, text


def container_owner(root_fd: int, user: str) -> tuple[int, int] | None:
    """uid/gid for `copyUIDGID`: the container's `Config.User` (None: keep the archive's owners)."""
    if not user:
        return None
    name_or_id, _, group = user.partition(":")
    uid = gid = 0
    if name_or_id:
        num, name = _id_or_name(name_or_id)
        rows = [r for r in _db(root_fd, "/etc/passwd") if len(r) >= 4 and r[2].isdigit()]
        if name:
            match = [r for r in rows if r[0] == name]
            if not match:
                raise errors.InvalidArgument(
                    f'failed to look up user "{name}" in container: no matching entries in passwd file')
            uid, gid = int(match[0][2]), int(match[0][3]) if match[0][3].isdigit() else 0
        else:
            match = [r for r in rows if int(r[2]) == num]
            uid = num if num is not None else 0
            gid = int(match[0][3]) if match and match[0][3].isdigit() else 0
    if group:
        num, name = _id_or_name(group)
        if name:
            match = [r for r in _db(root_fd, "/etc/group") if len(r) >= 3 and r[0] == name and r[2].isdigit()]
            if not match:
                raise errors.InvalidArgument(
                    f'failed to look up group "{group}" in container: no matching entries in group file')
            gid = int(match[0][2])
        else:
            gid = num if num is not None else 0
    return uid, gid


# ---------------------------------------------------------------- unpacking

def _lexical(base: list[str], name: str) -> list[str]:
    """filepath.Join(base, name) as components (".." applied lexically, never above "/")."""
    out = list(base)
    for part in name.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if out:
                out.pop()
        else:
            out.append(part)
    return out


def _inside(parts: list[str], dest: list[str]) -> bool:
    return parts[:len(dest)] == dest


def _show(parts: list[str]) -> str:
    return '"/' + "/".join(parts) + '"'


def extract_into(root_fd: int, dest: list[str], stream: Any, *, no_overwrite_dir_nondir: bool,
                 owner: tuple[int, int] | None) -> None:
    """Unpack the tar (plain or compressed) read from `stream` into `dest` (components below the
    container root `root_fd`). Raises the errors moby raises, in its words."""
    reader = DecompressingReader(stream, what="archives")
    writer = TreeWriter(root_fd, links="chroot", absolute_names="strip", owner=owner,
                        no_overwrite_dir_nondir=no_overwrite_dir_nondir)
    try:
        first = reader.read(tarfile.BLOCKSIZE)
        if first:
            _unpack(tarfile.open(fileobj=Prepend(first, reader), mode="r|",  # type: ignore[call-overload]
                                 encoding="utf-8", errors="surrogateescape"), writer, dest)
        writer.finish()
        reader.drain()
    except tarfile.TarError as e:
        raise errors.InvalidArgument(f"archive/tar: {e}") from None
    finally:
        writer.close()


def _unpack(tf: tarfile.TarFile, writer: TreeWriter, dest: list[str]) -> None:
    with tf:
        while (m := tf.next()) is not None:
            tf.members.clear()   # stream mode: keep no headers
            if m.type in (tarfile.XGLTYPE, tarfile.XHDTYPE):
                continue
            parts = _lexical(dest, m.name)
            if not _inside(parts, dest):
                raise errors.SystemError_(f'"{os.path.normpath(m.name)}" is outside of {_show(dest)}')
            if parts == dest:
                if m.isdir():
                    continue   # the destination itself: left as it is
                if writer.no_overwrite_dir_nondir:
                    raise errors.SystemError_(
                        f"cannot overwrite directory {_show(dest)} with non-directory {_show(dest)}")
                raise errors.SystemError_(f"cannot replace the extraction point {_show(dest)}")
            if m.issym() and not m.linkname.startswith("/"):   # an absolute target is the container's own
                if not _inside(_lexical(parts[:-1], m.linkname), dest):
                    raise errors.SystemError_(f'invalid symlink {_show(parts)} -> "{m.linkname}"')
            if m.islnk():
                target = _lexical(dest, m.linkname)
                if not _inside(target, dest):
                    raise errors.SystemError_(f'invalid hardlink {_show(target)} -> "{m.linkname}"')
                m.linkname = "/".join(target)
            m.name = "/".join(parts)
            try:
                writer.add(m, tf.extractfile(m) if m.isreg() else None)
            except TypeConflict as e:
                if e.existing_is_dir:
                    raise errors.SystemError_(
                        f"cannot overwrite directory {_show(e.parts)} with non-directory {_show(dest)}") from None
                raise errors.SystemError_(
                    f"cannot overwrite non-directory {_show(e.parts)} with directory {_show(dest)}") from None
            except PathEscape as e:
                raise errors.SystemError_(f"{_show(parts)[1:-1]}: {e}") from None
            except OSError as e:
                raise errors.SystemError_(f"{_show(parts)[1:-1]}: {e.strerror or e}") from None
