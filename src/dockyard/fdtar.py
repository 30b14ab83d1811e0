"""Tar streams of a directory tree read through fds: `docker cp` (both sides) and `export`.

The archive is what moby's archive.TarWithOptions writes for these calls: entries in
lexical order, a directory before its contents (with a trailing "/"), numeric owners and no
user names, mtimes in whole seconds, `security.capability` as the only xattr, a file
whose inode was already written as a hardlink to its first name, sockets left out.

Every directory and file is opened relative to its parent's fd with O_NOFOLLOW and
checked against what lstat saw: a running container that swaps a file for a symlink
while it is read cannot get a host file into the archive. A file that shrinks while it
is read is padded with zeros (the archive stays well-formed); one that grows is cut at
the size its header announced, and one that cannot be read is filled with zeros.

Kernel filesystems (proc, sysfs, cgroup, devpts, mqueue, ...) are not descended into: a
container's /proc is archived as the empty directory it is mounted on, as Docker's view
of a container (its rootfs and volumes) shows it.
"""

from __future__ import annotations

import ctypes
import errno
import os
import stat
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass

from dockyard.store.diff import Hardlinks

__all__ = ["TarStream", "tar_dir", "tar_entry", "is_pseudo_fs"]

_BLOCK = 512
_CHUNK = 1 << 20
_FLUSH = 256 << 10
_CAPABILITY = "security.capability"


# statfs f_type of the kernel's own filesystems: proc, sysfs, cgroup, cgroup2, devpts, mqueue,
# debugfs, securityfs, tracefs, bpf, pstore, fusectl, configfs, selinuxfs, binfmt_misc
_PSEUDO_FS = {0x9FA0, 0x62656572, 0x27E0EB, 0x63677270, 0x1CD1, 0x19800202, 0x64626720, 0x73636673,
              0x74726163, 0xCAFE4A11, 0x6165676C, 0x65735543, 0x62656570, 0xF97CFF8C, 0x42494E4D}
_libc = ctypes.CDLL(None, use_errno=True)
_libc.fstatfs.argtypes = [ctypes.c_int, ctypes.c_void_p]


def is_pseudo_fs(fd: int) -> bool:
    """Whether `fd` lives on one of the kernel's own filesystems (proc, sysfs, cgroup, ...)."""
    buf = ctypes.create_string_buffer(256)   # struct statfs; f_type (a long) comes first
    if _libc.fstatfs(fd, buf) != 0:
        return False
    return ctypes.c_long.from_buffer(buf).value & 0xFFFFFFFF in _PSEUDO_FS


@dataclass
class _Dir:
    fd: int
    prefix: str          # archive name of the directory's children start with this
    names: list[str]     # sorted, reversed: popped from the end


class TarStream:
    """Writes entries as chunks of bytes; one instance per archive (it remembers hardlinks)."""

    def __init__(self) -> None:
        self._hardlink = Hardlinks().link
        self._buf = bytearray()

    def _flush(self, force: bool = False) -> Iterator[bytes]:
        if self._buf and (force or len(self._buf) >= _FLUSH):
            out = bytes(self._buf)
            self._buf.clear()
            yield out

    # -- headers ---------------------------------------------------------------

    def _header(self, name: str, st: os.stat_result, kind: bytes, xattr_target: int | str | None) -> tarfile.TarInfo:
        info = tarfile.TarInfo(name)
        info.type = kind
        info.mode = stat.S_IMODE(st.st_mode)
        info.uid, info.gid = st.st_uid, st.st_gid
        info.uname = info.gname = ""
        info.mtime = st.st_mtime_ns // 1_000_000_000
        if xattr_target is not None:
            cap = _capability(xattr_target)
            if cap is not None:
                info.pax_headers = {f"SCHILY.xattr.{_CAPABILITY}": cap.decode("utf-8", "surrogateescape")}
        return info

    def _emit(self, info: tarfile.TarInfo) -> None:
        self._buf += info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")

    # -- entries ---------------------------------------------------------------

    def entry(self, parent_fd: int, base: str, name: str) -> Iterator[bytes]:
        """One entry `base` of directory `parent_fd`, named `name`; a directory's contents are not
        walked (see `tree`). Nothing is written for a socket or an entry that vanished."""
        try:
            st = os.lstat(base, dir_fd=parent_fd)
        except (FileNotFoundError, NotADirectoryError):
            return
        mode = st.st_mode
        if stat.S_ISSOCK(mode):
            return
        if stat.S_ISREG(mode):
            yield from self._file(parent_fd, base, name, st)
            return
        if stat.S_ISDIR(mode):
            fd = _open_checked(parent_fd, base, st, os.O_DIRECTORY)
            if fd < 0:
                return
            try:
                info = self._header(name.rstrip("/") + "/", st, tarfile.DIRTYPE, fd)
            finally:
                os.close(fd)
        elif stat.S_ISLNK(mode):
            info = self._header(name, st, tarfile.SYMTYPE, None)
            try:
                info.linkname = os.readlink(base, dir_fd=parent_fd)
            except OSError:
                return
        else:
            kind = (tarfile.CHRTYPE if stat.S_ISCHR(mode) else tarfile.BLKTYPE if stat.S_ISBLK(mode)
                    else tarfile.FIFOTYPE)
            info = self._header(name, st, kind, f"/proc/self/fd/{parent_fd}/{base}")
            if kind != tarfile.FIFOTYPE:
                info.devmajor, info.devminor = os.major(st.st_rdev), os.minor(st.st_rdev)
        self._hardlink(info, st)
        self._emit(info)
        yield from self._flush()

    def _file(self, parent_fd: int, base: str, name: str, st: os.stat_result) -> Iterator[bytes]:
        fd = _open_checked(parent_fd, base, st, os.O_NONBLOCK)
        if fd < 0:
            return
        try:
            info = self._header(name, st, tarfile.REGTYPE, fd)
            if self._hardlink(info, st):
                self._emit(info)
                yield from self._flush()
                return
            info.size = st.st_size
            self._emit(info)
            remaining = st.st_size
            while remaining > 0:
                want = min(_CHUNK, remaining)
                if len(self._buf) < _FLUSH and want <= _FLUSH:
                    data = _read(fd, want)
                    if not data:
                        break
                    self._buf += data
                    remaining -= len(data)
                    yield from self._flush()
                    continue
                yield from self._flush(force=True)
                data = _read(fd, want)
                if not data:
                    break
                remaining -= len(data)
                yield data
            if remaining:
                self._buf += b"\0" * remaining       # it shrank meanwhile
            pad = -st.st_size % _BLOCK
            if pad:
                self._buf += b"\0" * pad
            yield from self._flush()
        finally:
            os.close(fd)

    def tree(self, dir_fd: int, child_prefix: str) -> Iterator[bytes]:
        """Everything below the directory `dir_fd` (not the directory itself), each named
        `child_prefix` + its path relative to the directory."""
        if is_pseudo_fs(dir_fd):
            return
        stack = [_Dir(os.dup(dir_fd), child_prefix, _sorted_names(dir_fd))]
        try:
            while stack:
                top = stack[-1]
                if not top.names:
                    os.close(stack.pop().fd)
                    continue
                base = top.names.pop()
                name = top.prefix + base
                yield from self.entry(top.fd, base, name)
                try:
                    st = os.lstat(base, dir_fd=top.fd)
                except OSError:
                    continue
                if stat.S_ISDIR(st.st_mode):
                    fd = _open_checked(top.fd, base, st, os.O_DIRECTORY)
                    if fd >= 0 and is_pseudo_fs(fd):
                        os.close(fd)
                    elif fd >= 0:
                        try:
                            names = _sorted_names(fd)
                        except OSError:
                            os.close(fd)
                            continue
                        stack.append(_Dir(fd, name + "/", names))
        finally:
            for d in stack:
                os.close(d.fd)

    def finish(self) -> Iterator[bytes]:
        """The end-of-archive marker (two zero blocks), and anything still buffered."""
        self._buf += b"\0" * (2 * _BLOCK)
        yield from self._flush(force=True)


def tar_dir(dir_fd: int, *, root_name: str | None, child_prefix: str) -> Iterator[bytes]:
    """A whole archive of the directory `dir_fd`: itself as `root_name` (left out if None),
    then its contents named `child_prefix` + relative path."""
    t = TarStream()
    if root_name is not None:
        yield from _self_entry(t, dir_fd, root_name)
    yield from t.tree(dir_fd, child_prefix)
    yield from t.finish()


def tar_entry(parent_fd: int, base: str, name: str) -> Iterator[bytes]:
    """A whole archive of one non-directory entry."""
    t = TarStream()
    yield from t.entry(parent_fd, base, name)
    yield from t.finish()


def _self_entry(t: TarStream, dir_fd: int, name: str) -> Iterator[bytes]:
    st = os.fstat(dir_fd)
    info = t._header(name.rstrip("/") + "/" if name else "/", st, tarfile.DIRTYPE, dir_fd)
    t._emit(info)
    yield from t._flush()


def _read(fd: int, n: int) -> bytes:
    """Up to `n` bytes; a read error gives zeros (the header already promised the size)."""
    try:
        return os.read(fd, n)
    except OSError:
        return b"\0" * n


def _sorted_names(fd: int) -> list[str]:
    return sorted(os.listdir(fd), key=os.fsencode, reverse=True)


def _open_checked(dir_fd: int, name: str, st: os.stat_result, flags: int) -> int:
    """Open `name` without following a symlink; -1 if it is gone or no longer what lstat saw."""
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | flags, dir_fd=dir_fd)
    except OSError:
        return -1
    now = os.fstat(fd)
    if (now.st_dev, now.st_ino) != (st.st_dev, st.st_ino):
        os.close(fd)
        return -1
    return fd


def _capability(target: int | str) -> bytes | None:
    try:
        if isinstance(target, int):
            return os.getxattr(target, _CAPABILITY)
        return os.getxattr(target, _CAPABILITY, follow_symlinks=False)
    except OSError as e:
        if e.errno in (errno.ENODATA, errno.ENOTSUP, errno.EPERM, errno.ENOENT, errno.EBADF):
            return None
        raise
