"""File operations relative to a directory fd, shared by the layer unpacker (layers.py) and
the build's tree writer (build/treewriter.py): both write archive entries under a root
they must not leave, and replace what is in the way the same way.
"""

from __future__ import annotations

import os
import shutil
import stat
import tarfile
from collections.abc import Iterable, Iterator
from typing import Any

from dockyard.store.safepath import DirWalker, PathEscape, clean_components

__all__ = ["remove_existing", "empty_dir", "write_exact", "hardlink", "set_dir_times", "Prepend", "ChunkReader",
           "CHUNK"]

CHUNK = 1 << 20


def remove_existing(pfd: int, name: str, *, keep_dir: bool) -> bool:
    """Remove `name` unless both it and the new entry are directories (`keep_dir`). True if removed."""
    try:
        st = os.lstat(name, dir_fd=pfd)
    except FileNotFoundError:
        return False
    if stat.S_ISDIR(st.st_mode):
        if keep_dir:
            return False
        shutil.rmtree(name, dir_fd=pfd)
    else:
        os.unlink(name, dir_fd=pfd)
    return True


def empty_dir(root_fd: int) -> None:
    """Remove everything in the directory `root_fd`."""
    for name in os.listdir(root_fd):
        try:
            if stat.S_ISDIR(os.lstat(name, dir_fd=root_fd).st_mode):
                shutil.rmtree(name, dir_fd=root_fd)
            else:
                os.unlink(name, dir_fd=root_fd)
        except FileNotFoundError:
            pass


def write_exact(src: Any, fd: int, size: int) -> None:
    """Copy exactly `size` bytes from `src.read(n)` to `fd`; a short source is a truncated archive."""
    remaining = size
    while remaining > 0:
        chunk = src.read(min(CHUNK, remaining))
        if not chunk:
            raise tarfile.ReadError("unexpected end of data")
        remaining -= len(chunk)
        view = memoryview(chunk)
        while view:
            view = view[os.write(fd, view):]


def hardlink(walker: DirWalker, linkname: str, pfd: int, base: str, *, where: str) -> os.stat_result:
    """Link `base` in `pfd` to the entry `linkname` already written under the walker's root.

    The target is found with the walker's symlink rules and never followed itself (a link
    to a symlink links the symlink). Returns the target's lstat. PathEscape when the target
    is not there ("not in the `where`") or is a directory.
    """
    target = clean_components(linkname)
    if not target:
        raise PathEscape(f"invalid hardlink target {linkname!r}")
    missing = f"hardlink target {linkname!r} is not in the {where}"
    try:
        tfd = walker.open_dir(target[:-1], create=False)
    except (FileNotFoundError, NotADirectoryError):
        raise PathEscape(missing) from None
    try:
        tst = os.lstat(target[-1], dir_fd=tfd)
        if stat.S_ISDIR(tst.st_mode):
            raise PathEscape(f"hardlink target {linkname!r} is a directory")
        os.link(target[-1], base, src_dir_fd=tfd, dst_dir_fd=pfd, follow_symlinks=False)
    except FileNotFoundError:
        raise PathEscape(missing) from None
    finally:
        os.close(tfd)
    return tst


def set_dir_times(walker: DirWalker, dirs: Iterable[tuple[list[str], int, int]]) -> None:
    """utime (atime, mtime ns) each directory, last of all: creating entries in it changed them.

    A directory that is no longer there (replaced by a later entry) is skipped.
    """
    for parts, atime, mtime in dirs:
        try:
            fd = walker.open_dir(parts, create=False)
        except (OSError, PathEscape):
            continue
        try:
            os.utime(fd, ns=(atime, mtime))
        finally:
            os.close(fd)


class Prepend:
    """`.read(n)` of `head` then of `rest`: for looking at the first bytes without losing them."""

    def __init__(self, head: bytes, rest: Any) -> None:
        self._head, self._rest = head, rest

    def read(self, n: int = -1) -> bytes:
        if not self._head:
            return self._rest.read(n)
        if n is None or n < 0:
            out, self._head = self._head + self._rest.read(), b""
            return out
        out, self._head = self._head[:n], self._head[n:]
        return out


class ChunkReader:
    """A file-like `.read(n)` over an iterator of byte chunks. Reads are short at chunk ends
    (tarfile and our readers loop); an offset into the current chunk, never re-slicing the rest."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._buf = b""
        self._pos = 0

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0:
            out = self._buf[self._pos:] + b"".join(self._chunks)
            self._buf, self._pos = b"", 0
            return out
        while self._pos >= len(self._buf):
            chunk = next(self._chunks, None)
            if chunk is None:
                return b""
            self._buf, self._pos = chunk, 0
        out = self._buf[self._pos:self._pos + n]
        self._pos += len(out)
        return out
