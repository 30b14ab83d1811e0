"""An overlayfs upper dir (a container's changes) → an OCI layer tar. Pure: a directory in, bytes out.

The upper dir is walked depth first, names sorted bytewise, parents before
children (as Docker's overlay2 driver walks it), and every entry becomes one
PAX-format tar entry without uname/gname (no lookups against the host):

- a 0:0 character device (an overlay whiteout) → an empty regular file `.wh.NAME`, mode 0600;
  so does an "xwhiteout" (an empty file with `trusted.overlay.whiteout`, in a directory marked
  `trusted.overlay.opaque=x` or carrying `trusted.overlay.whiteouts`: kernel ≥ 6.7);
- a directory with `trusted.overlay.opaque=y` → the directory, then `DIR/.wh..wh..opq`;
- a file whose inode was already written → a tar hardlink to the first name (whiteouts never:
  the kernel shares one inode among many of them);
- xattrs → `SCHILY.xattr.*` records in sorted order, `trusted.overlay.*` left out;
- sockets are skipped (tar has no type for them), as Docker does.

Mtimes are whole seconds (Docker truncates them too); the archive ends with two zero blocks
and no record padding, so an empty diff is Docker's empty layer (`EMPTY_LAYER_DIFF_ID`). The
same upper dir gives byte-identical tars.

`exclude_mountpoints` drops what exists only because a container ran: the runtime creates
empty mountpoints in the rootfs for what Docker keeps in a container's "-init" layer
(moby daemon/initlayer): the files /etc/hosts, /etc/hostname, /etc/resolv.conf, /.dockerenv,
/dev/console and the dirs /proc, /sys, /dev, /dev/pts, /dev/shm, /dev/mqueue, when they are
empty and not in the lowers; and a directory whose only upper entries are such mountpoints
(the /etc that creating /etc/hosts copied up), when it adds nothing over its lower copy.

The walk never follows a symlink on the host: directories and files are opened relative to
their parent's fd with O_NOFOLLOW and checked against what lstat saw, so a container that
swaps a file for a symlink while it is read cannot get a host file into its layer. Redirects
and metacopy (overlay features that keep part of a change in the lowers) are refused: the
upper dir alone would not be the whole diff.
"""

from __future__ import annotations

import errno
import os
import stat
import tarfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from dockyard.errors import SystemError_
from dockyard.oci.digest import DigestWriter

__all__ = ["LayerInfo", "LayerStream", "EMPTY_LAYER_DIFF_ID", "write_layer", "layer_stream", "is_empty_diff",
           "lower_lookup", "excluded_mountpoints", "raw_xattr", "Hardlinks"]

EMPTY_LAYER_DIFF_ID = "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef"

_BLOCK = 512
_CHUNK = 1 << 20
_OVERLAY_PREFIX = "trusted.overlay."
_OPAQUE = "trusted.overlay.opaque"
_XWHITEOUT = "trusted.overlay.whiteout"
_XWHITEOUTS = "trusted.overlay.whiteouts"
_REFUSED = {"trusted.overlay.redirect": "redirect_dir", "trusted.overlay.metacopy": "metacopy"}
_WHITEOUT_PREFIX = ".wh."
_OPAQUE_MARKER = ".wh..wh..opq"

# Docker's init layer, as the mountpoints our runtime may create in a rootfs.
MOUNTPOINT_FILES = ("etc/hosts", "etc/hostname", "etc/resolv.conf", ".dockerenv", "dev/console")
MOUNTPOINT_DIRS = ("dev/pts", "dev/shm", "dev/mqueue", "dev", "proc", "sys")


@dataclass(frozen=True)
class LayerInfo:
    diff_id: str        # sha256 of the uncompressed tar written
    size: int           # its length in bytes


# ---------------------------------------------------------------- public API

def write_layer(upper: str | os.PathLike[str], out: BinaryIO | Any, *, lowerdirs: Iterable[str] = (),
                exclude_mountpoints: bool = True) -> LayerInfo:
    """Write the layer tar of `upper` (lowerdirs top first, as overlay takes them) to `out`."""
    hasher = DigestWriter(out)
    for chunk in _tar_chunks(Path(upper), list(lowerdirs), exclude_mountpoints):
        hasher.write(chunk)
    return LayerInfo(hasher.digest, hasher.size)


class LayerStream:
    """A `.read(n)` view of the layer tar, made while it is read (ImageService.ingest_layer reads it).
    `info` is set once it has been read to the end; `close()` releases the walk's fds early."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._hasher = DigestWriter()
        self._buf = b""
        self._pos = 0
        self.info: LayerInfo | None = None

    def _next(self) -> bool:
        for chunk in self._chunks:
            if chunk:
                self._hasher.write(chunk)
                self._buf, self._pos = chunk, 0
                return True
        if self.info is None:
            self.info = LayerInfo(self._hasher.digest, self._hasher.size)
        return False

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0:
            parts = [self._buf[self._pos:]]
            while self._next():
                parts.append(self._buf)
            self._buf, self._pos = b"", 0
            return b"".join(parts)
        if self._pos >= len(self._buf) and not self._next():
            return b""
        out = self._buf[self._pos:self._pos + n]
        self._pos += len(out)
        return out

    def close(self) -> None:
        close = getattr(self._chunks, "close", None)
        if close is not None:
            close()

    def __enter__(self) -> LayerStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def layer_stream(upper: str | os.PathLike[str], *, lowerdirs: Iterable[str] = (),
                 exclude_mountpoints: bool = True) -> LayerStream:
    return LayerStream(_tar_chunks(Path(upper), list(lowerdirs), exclude_mountpoints))


def is_empty_diff(upper: str | os.PathLike[str], *, lowerdirs: Iterable[str] = (),
                  exclude_mountpoints: bool = True) -> bool:
    """True if the layer would hold no entry (Docker then adds no layer, only a history entry)."""
    entries = _walk(Path(upper), _Excluder(Path(upper), list(lowerdirs)) if exclude_mountpoints else None)
    try:
        return next(entries, None) is None
    finally:
        entries.close()


# ---------------------------------------------------------------- the walk

@dataclass
class _Entry:
    info: tarfile.TarInfo
    fd: int = -1            # an open regular file whose `info.size` bytes follow the header


def _tar_chunks(upper: Path, lowerdirs: list[str], exclude: bool) -> Iterator[bytes]:
    entries = _walk(upper, _Excluder(upper, lowerdirs) if exclude else None)
    try:
        for entry in entries:
            yield entry.info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")
            if entry.fd >= 0:
                yield from _file_data(entry)
        yield b"\0" * (2 * _BLOCK)
    finally:
        entries.close()


def _file_data(entry: _Entry) -> Iterator[bytes]:
    remaining = entry.info.size
    while remaining > 0:
        chunk = os.read(entry.fd, min(_CHUNK, remaining))
        if not chunk:
            raise SystemError_(f"{entry.info.name}: file shrank while its layer was written")
        remaining -= len(chunk)
        yield chunk
    pad = -entry.info.size % _BLOCK
    if pad:
        yield b"\0" * pad


@dataclass
class _Dir:
    fd: int
    prefix: str             # archive path of the dir with a trailing "/", "" for the root
    names: list[str]        # sorted, reversed: popped from the end
    xwhiteouts: bool        # may hold xwhiteouts (opaque=x or the whiteouts xattr)


def _walk(upper: Path, excluder: _Excluder | None) -> Iterator[_Entry]:
    """Every tar entry of the upper dir, in order; a regular file's fd is open while it is yielded."""
    walker = _Walker(excluder)
    root = os.open(upper, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    walker.stack.append(_Dir(root, "", _sorted_names(root), False))
    try:
        yield from walker.run()
    finally:
        for d in walker.stack:
            os.close(d.fd)


class _Walker:
    def __init__(self, excluder: _Excluder | None) -> None:
        self.excluder = excluder
        self.stack: list[_Dir] = []
        self._as_hardlink = Hardlinks().link

    def run(self) -> Iterator[_Entry]:
        stack = self.stack
        while stack:
            top = stack[-1]
            if not top.names:
                os.close(stack.pop().fd)
                continue
            name = top.names.pop()
            path = top.prefix + name
            if self.excluder is not None and path in self.excluder.excluded:
                continue
            try:
                st = os.lstat(name, dir_fd=top.fd)
            except FileNotFoundError:
                continue  # removed while we walked (commit --pause=false)
            yield from self._entries(top, name, path, st)

    def _entries(self, parent: _Dir, name: str, path: str, st: os.stat_result) -> Iterator[_Entry]:
        mode = st.st_mode
        if stat.S_ISCHR(mode) and st.st_rdev == 0:
            yield _Entry(_whiteout(parent.prefix, name, st))
        elif stat.S_ISDIR(mode):
            yield from self._dir(parent, name, path, st)
        elif stat.S_ISREG(mode):
            yield from self._file(parent, name, path, st)
        elif not stat.S_ISSOCK(mode):
            yield _Entry(self._special(parent, name, path, st))

    def _dir(self, parent: _Dir, name: str, path: str, st: os.stat_result) -> Iterator[_Entry]:
        fd = _open_checked(parent.fd, name, st, os.O_DIRECTORY)
        try:
            info = _header(path, tarfile.DIRTYPE, st, _xattrs(fd, path))
            opaque = _raw_xattr(fd, _OPAQUE)
            xwhiteouts = opaque == b"x" or _raw_xattr(fd, _XWHITEOUTS) is not None
            self.stack.append(_Dir(fd, path + "/", _sorted_names(fd), xwhiteouts))  # closed by the walk now
        except BaseException:
            os.close(fd)
            raise
        yield _Entry(info)
        if opaque == b"y":
            marker = _header(path + "/" + _OPAQUE_MARKER, tarfile.REGTYPE, st, {})
            marker.mode = stat.S_IMODE(st.st_mode) & 0o777
            yield _Entry(marker)

    def _file(self, parent: _Dir, name: str, path: str, st: os.stat_result) -> Iterator[_Entry]:
        fd = _open_checked(parent.fd, name, st, os.O_NONBLOCK)
        try:
            if st.st_size == 0 and parent.xwhiteouts and _raw_xattr(fd, _XWHITEOUT) is not None:
                yield _Entry(_whiteout(parent.prefix, name, st))
                return
            info = _header(path, tarfile.REGTYPE, st, _xattrs(fd, path))
            if self._as_hardlink(info, st):
                yield _Entry(info)
            else:
                info.size = st.st_size
                yield _Entry(info, fd)
        finally:
            os.close(fd)

    def _special(self, parent: _Dir, name: str, path: str, st: os.stat_result) -> tarfile.TarInfo:
        mode = st.st_mode
        xattrs = _xattrs(f"/proc/self/fd/{parent.fd}/{name}", path)
        if stat.S_ISLNK(mode):
            info = _header(path, tarfile.SYMTYPE, st, xattrs)
            info.linkname = os.readlink(name, dir_fd=parent.fd)
        elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
            info = _header(path, tarfile.CHRTYPE if stat.S_ISCHR(mode) else tarfile.BLKTYPE, st, xattrs)
            info.devmajor, info.devminor = os.major(st.st_rdev), os.minor(st.st_rdev)
        else:
            info = _header(path, tarfile.FIFOTYPE, st, xattrs)
        self._as_hardlink(info, st)
        return info



class Hardlinks:
    """One archive's multiply-linked inodes: the second name of an inode becomes a hardlink entry."""

    def __init__(self) -> None:
        self._first: dict[tuple[int, int], str] = {}   # (dev, ino) → its first archive name

    def link(self, info: tarfile.TarInfo, st: os.stat_result) -> bool:
        """Turn `info` into a hardlink if its inode was written before; True if it did."""
        if stat.S_ISDIR(st.st_mode) or st.st_nlink < 2:
            return False
        key = (st.st_dev, st.st_ino)
        first = self._first.get(key)
        if first is None:
            self._first[key] = info.name
            return False
        info.type, info.linkname, info.size = tarfile.LNKTYPE, first, 0
        return True

def _sorted_names(fd: int) -> list[str]:
    """Names of a directory, sorted bytewise, reversed (popped from the end)."""
    return sorted(os.listdir(fd), key=os.fsencode, reverse=True)


def _open_checked(dir_fd: int, name: str, st: os.stat_result, flags: int) -> int:
    """Open `name` without following a symlink, and make sure it is what lstat saw."""
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | flags, dir_fd=dir_fd)
    except OSError as e:
        raise SystemError_(f"{name}: {e.strerror} (changed while its layer was written)") from None
    now = os.fstat(fd)
    if (now.st_dev, now.st_ino) != (st.st_dev, st.st_ino) or stat.S_IFMT(now.st_mode) != stat.S_IFMT(st.st_mode):
        os.close(fd)
        raise SystemError_(f"{name}: changed while its layer was written")
    return fd


def _header(path: str, kind: bytes, st: os.stat_result, xattrs: dict[str, str]) -> tarfile.TarInfo:
    info = tarfile.TarInfo(path)
    info.type = kind
    info.mode = stat.S_IMODE(st.st_mode)
    info.uid, info.gid = st.st_uid, st.st_gid
    info.uname = info.gname = ""
    info.mtime = st.st_mtime_ns // 1_000_000_000
    info.size = 0
    info.pax_headers = {f"SCHILY.xattr.{k}": xattrs[k] for k in sorted(xattrs)}
    return info


def _whiteout(prefix: str, name: str, st: os.stat_result) -> tarfile.TarInfo:
    info = _header(prefix + _WHITEOUT_PREFIX + name, tarfile.REGTYPE, st, {})
    info.mode = 0o600
    return info


def _raw_xattr(target: int | str, name: str) -> bytes | None:
    try:
        return os.getxattr(target, name, follow_symlinks=False) if isinstance(target, str) \
            else os.getxattr(target, name)
    except OSError as e:
        if e.errno in (errno.ENODATA, errno.ENOTSUP, errno.EPERM):
            return None
        raise


def _xattrs(target: int | str, path: str) -> dict[str, str]:
    """The entry's xattrs as PAX values (bytes as surrogate-escaped UTF-8); overlay's own left out."""
    try:
        names = os.listxattr(target, follow_symlinks=False) if isinstance(target, str) else os.listxattr(target)
    except OSError as e:
        if e.errno in (errno.ENOTSUP, errno.EPERM):
            return {}
        raise
    out: dict[str, str] = {}
    for name in names:
        if name.startswith(_OVERLAY_PREFIX):
            if name in _REFUSED:
                raise SystemError_(f"cannot export the changes of {path!r}: overlay {_REFUSED[name]} is in use, "
                                   "so the upper directory is not the whole diff")
            continue
        value = _raw_xattr(target, name)
        if value is not None:
            out[name] = value.decode("utf-8", "surrogateescape")
    return out


# ---------------------------------------------------------------- mountpoint exclusion

class _Excluder:
    """Decides, before the walk, which of the runtime's mountpoints (and dirs holding only them) to drop."""

    def __init__(self, upper: Path, lowerdirs: list[str]) -> None:
        self.upper = upper
        self.lowers = [Path(p) for p in lowerdirs]
        self.excluded: set[str] = set()
        candidates = set(MOUNTPOINT_FILES) | set(MOUNTPOINT_DIRS)
        for p in list(candidates):
            parts = p.split("/")
            candidates.update("/".join(parts[:i]) for i in range(1, len(parts)))
        for p in sorted(candidates, key=lambda s: (-s.count("/"), s)):  # children before parents
            if self._drop(p):
                self.excluded.add(p)

    def _drop(self, path: str) -> bool:
        st = _lstat_under(self.upper, path)
        if st is None:
            return False
        lower = self._lower_stat(path)
        if path in MOUNTPOINT_FILES:
            return stat.S_ISREG(st.st_mode) and st.st_size == 0 and st.st_nlink == 1 and lower is None
        if not stat.S_ISDIR(st.st_mode):
            return False
        full = self.upper / path
        children = os.listdir(full)
        if any(f"{path}/{c}" not in self.excluded for c in children):
            return False
        if _raw_xattr(str(full), _OPAQUE) == b"y":
            return False  # an opaque dir hides the lowers' content: a real change
        if not children and path not in MOUNTPOINT_DIRS:
            return False  # an empty dir someone made, not one holding our mountpoints
        if lower is None:
            return True
        # copied up only because a mountpoint was created in it: drop it if it adds nothing
        return (stat.S_ISDIR(lower.st_mode) and lower.st_mode == st.st_mode and lower.st_uid == st.st_uid
                and lower.st_gid == st.st_gid and _plain_xattrs(str(full)) == self._lower_xattrs(path))

    def _lower_stat(self, path: str) -> os.stat_result | None:
        """What the lowers (top first) show at `path`: None if absent, whited out or hidden by an opaque dir."""
        found = self._lower_lookup(path)
        return found[1] if found else None

    def _lower_lookup(self, path: str) -> tuple[Path, os.stat_result] | None:
        return lower_lookup(self.lowers, path)

    def _lower_xattrs(self, path: str) -> dict[str, str]:
        found = self._lower_lookup(path)
        return _plain_xattrs(str(found[0])) if found else {}


def lower_lookup(lowers: list[Path], path: str) -> tuple[Path, os.stat_result] | None:
    """What overlaid `lowers` (top first) show at `path` ("a/b"): (host path, lstat), or None if
    it is absent, whited out or hidden by an opaque directory. Never follows a symlink."""
    parts = path.split("/")
    for lower in lowers:
        cur = lower
        hidden_below = False
        for i, part in enumerate(parts):
            cur = cur / part
            try:
                st = os.lstat(cur)
            except (FileNotFoundError, NotADirectoryError):
                break
            if stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
                return None
            if i == len(parts) - 1:
                return cur, st
            if not stat.S_ISDIR(st.st_mode):
                return None
            if _raw_xattr(str(cur), _OPAQUE) == b"y":
                hidden_below = True
        if hidden_below:
            return None
    return None


def excluded_mountpoints(upper: str | os.PathLike[str], lowerdirs: Iterable[str]) -> set[str]:
    """The runtime's mountpoints (and dirs holding only them) in `upper` that are not a change."""
    return set(_Excluder(Path(upper), list(lowerdirs)).excluded)


def raw_xattr(target: int | str, name: str) -> bytes | None:
    """One xattr of an fd or (not followed) path; None when it is not there."""
    return _raw_xattr(target, name)


def _plain_xattrs(path: str) -> dict[str, str]:
    try:
        return _xattrs(path, path)
    except SystemError_:
        return {"<overlay>": ""}  # a redirect or metacopy: never equal


def _lstat_under(root: Path, path: str) -> os.stat_result | None:
    """lstat of root/path, without following any symlink on the way."""
    cur = root
    parts = path.split("/")
    for i, part in enumerate(parts):
        cur = cur / part
        try:
            st = os.lstat(cur)
        except (FileNotFoundError, NotADirectoryError):
            return None
        if i < len(parts) - 1 and not stat.S_ISDIR(st.st_mode):
            return None
    return st
