"""Write tar-style entries under a directory without ever leaving it: the build's one file writer.

Used for extracting the build context, for ADD's tar extraction and for COPY (whose
sources become the same entries, as Docker copies through tar). The rules are those of
moby's archive.Unpack:

* names are cleaned; `..` climbing above the directory is refused; an absolute name is
  refused or taken relative to the directory (`absolute_names`);
* an existing entry is replaced (a directory and all below it included) unless both
  are directories, which merge;
* missing parent directories are created 0755;
* hardlink targets must already be inside the directory;
* owner, then mode (so set-id bits survive), then xattrs (a chown would drop file
  capabilities), then times; directory times last of all.

Every directory is reached through file descriptors with O_NOFOLLOW (safepath.DirWalker);
symlinks on the way are refused (`links="refuse"`) or resolved as if the directory were
`/` (`links="chroot"`), never by the kernel. Symlinks are created as written.
"""

from __future__ import annotations

import errno
import os
import stat
import tarfile
from decimal import Decimal, InvalidOperation
from typing import Any, BinaryIO

from dockyard.build.tarentry import XATTR_PREFIX
from dockyard.errors import DockyardError, InvalidArgument, SystemError_
from dockyard.store.entryops import Prepend, hardlink, remove_existing, set_dir_times, write_exact
from dockyard.store.safepath import DirWalker, PathEscape, clean_components

__all__ = ["TreeWriter", "EntryError", "PathEscape", "TypeConflict", "entry_components", "unpack_tar",
           "client_or_host_error"]

_SYSTEM_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EROFS, errno.ENOMEM}
_DIR_OPEN = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_DROPPED_XATTRS = ("trusted.overlay.",)  # overlay metadata is never taken from an archive


def entry_components(name: str, *, absolute_names: str = "refuse") -> list[str]:
    """The cleaned components of entry `name`; [] for the directory itself.

    Raises PathEscape for `..` above the directory, and for absolute names unless
    `absolute_names` is "strip" (then they are taken relative to the directory).
    """
    if name.startswith("/") and absolute_names != "strip":
        raise PathEscape("absolute path")
    return clean_components(name)


class TypeConflict(Exception):
    """An entry would replace a directory with a non-directory or the other way round
    (refused with `no_overwrite_dir_nondir`); `parts` names it below the writer's root."""

    def __init__(self, parts: list[str], existing_is_dir: bool) -> None:
        super().__init__("/".join(parts))
        self.parts = parts
        self.existing_is_dir = existing_is_dir


class TreeWriter:
    """Writes entries below the directory `root_fd` (which the caller keeps open and closes).

    `owner` replaces every entry's uid/gid; `chmod` replaces the permission bits of
    everything but symlinks; `no_overwrite_dir_nondir` refuses (TypeConflict) to replace a
    directory with a non-directory or the reverse (`docker cp`). Call `finish()` at the end
    to set directory times; call `close()` in any case.
    """

    def __init__(
        self,
        root_fd: int,
        *,
        links: str = "refuse",
        absolute_names: str = "refuse",
        owner: tuple[int, int] | None = None,
        chmod: int | None = None,
        no_overwrite_dir_nondir: bool = False,
    ) -> None:
        self.root_fd = root_fd
        self.no_overwrite_dir_nondir = no_overwrite_dir_nondir
        self.walker = DirWalker(root_fd, links=links)
        self.absolute_names = absolute_names
        self.owner = owner
        self.chmod = chmod
        self.dir_times: list[tuple[list[str], int, int]] = []
        self._cache_key: tuple[str, ...] | None = None
        self._cache_fd = -1

    # -- parents -------------------------------------------------------------

    def _parent(self, parts: list[str]) -> int:
        """An fd for directory `parts`, created if missing (owned by the cache: do not close)."""
        key = tuple(parts)
        if key == self._cache_key:
            return self._cache_fd
        old = self._cache_key
        if old is not None and len(key) == len(old) + 1 and key[:-1] == old:
            # one level down from the cached directory (a tree walk entering a subdirectory):
            # open just that, when it is a plain directory; anything else takes the full walk
            try:
                fd = os.open(key[-1], _DIR_OPEN, dir_fd=self._cache_fd)
            except OSError:
                fd = -1
            if fd >= 0:
                self._drop_cache()
                self._cache_fd, self._cache_key = fd, key
                return fd
        self._drop_cache()
        self._cache_fd = self.walker.open_dir(parts, create=True)
        self._cache_key = key
        return self._cache_fd

    def _drop_cache(self) -> None:
        if self._cache_fd >= 0:
            os.close(self._cache_fd)
        self._cache_fd, self._cache_key = -1, None

    def _invalidate(self, parts: list[str]) -> None:
        """`parts` was replaced: a cached parent at or below it may be stale."""
        if self._cache_key is not None and tuple(parts) == self._cache_key[: len(parts)]:
            self._drop_cache()

    # -- entries -------------------------------------------------------------

    def add(self, m: tarfile.TarInfo, data: BinaryIO | Any | None = None, *, src_fd: int | None = None) -> None:
        """Write entry `m`. A regular file's bytes come from `data.read(n)` or from `src_fd`."""
        parts = entry_components(m.name, absolute_names=self.absolute_names)
        if not parts:
            return  # the directory itself: Docker leaves its metadata alone
        if m.type in (tarfile.XGLTYPE, tarfile.XHDTYPE, tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK):
            return
        if m.islnk() and not clean_components(m.linkname):
            raise PathEscape(f"invalid hardlink target {m.linkname!r}")  # before anything is replaced
        base, dirparts = parts[-1], parts[:-1]
        pfd = self._parent(dirparts)
        if self.no_overwrite_dir_nondir:
            try:
                existing = os.lstat(base, dir_fd=pfd)
            except FileNotFoundError:
                existing = None
            if existing is not None and stat.S_ISDIR(existing.st_mode) != m.isdir():
                raise TypeConflict(parts, stat.S_ISDIR(existing.st_mode))
        if remove_existing(pfd, base, keep_dir=m.isdir()):
            self._invalidate(parts)
            pfd = self._parent(dirparts)
        if m.isdir():
            self._add_dir(pfd, base, parts, m)
        elif m.isreg():
            self._add_file(pfd, base, m, data, src_fd)
        elif m.issym():
            os.symlink(m.linkname, base, dir_fd=pfd)
            self._invalidate(parts)
            pfd = self._parent(dirparts)
            self._set_path_metadata(pfd, base, m, is_symlink=True)
        elif m.islnk():
            target = hardlink(self.walker, m.linkname, pfd, base, where="archive")
            if not stat.S_ISLNK(target.st_mode):  # the header's metadata is the shared inode's
                self._set_path_metadata(pfd, base, m, is_symlink=False)
        elif m.ischr() or m.isblk():
            kind = stat.S_IFCHR if m.ischr() else stat.S_IFBLK
            os.mknod(base, kind | 0o600, os.makedev(m.devmajor, m.devminor), dir_fd=pfd)
            self._set_path_metadata(pfd, base, m, is_symlink=False)
        elif m.isfifo():
            os.mkfifo(base, 0o600, dir_fd=pfd)
            self._set_path_metadata(pfd, base, m, is_symlink=False)
        else:
            raise PathEscape(f"unhandled tar header type {m.type!r}")

    def _add_dir(self, pfd: int, base: str, parts: list[str], m: tarfile.TarInfo) -> None:
        try:
            os.mkdir(base, 0o700, dir_fd=pfd)
        except FileExistsError:
            pass  # merging with an existing directory
        fd = os.open(base, _DIR_OPEN, dir_fd=pfd)
        try:
            self._set_fd_metadata(fd, m)
        finally:
            os.close(fd)
        atime, mtime = _times(m)
        self.dir_times.append((parts, atime, mtime))

    def _add_file(self, pfd: int, base: str, m: tarfile.TarInfo, data: Any, src_fd: int | None) -> None:
        fd = os.open(base, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600, dir_fd=pfd)
        try:
            if src_fd is not None:
                _copy_fd(src_fd, fd, m.size)
            elif data is not None:
                write_exact(data, fd, m.size)
            self._set_fd_metadata(fd, m)
            atime, mtime = _times(m)
            os.utime(fd, ns=(atime, mtime))
        finally:
            os.close(fd)

    # -- metadata ------------------------------------------------------------

    def _ids(self, m: tarfile.TarInfo) -> tuple[int, int]:
        return self.owner if self.owner is not None else (m.uid, m.gid)

    def _mode(self, m: tarfile.TarInfo) -> int:
        return (self.chmod if self.chmod is not None else m.mode) & 0o7777

    def _set_fd_metadata(self, fd: int, m: tarfile.TarInfo) -> None:
        os.fchown(fd, *self._ids(m))
        os.fchmod(fd, self._mode(m))
        for name, value in _xattrs(m):
            _best_effort(os.setxattr, fd, name, value)

    def _set_path_metadata(self, pfd: int, base: str, m: tarfile.TarInfo, *, is_symlink: bool) -> None:
        os.chown(base, *self._ids(m), dir_fd=pfd, follow_symlinks=False)
        if not is_symlink:
            # mode and xattrs through an O_PATH fd of the very entry (checked not to be a symlink):
            # chmod has no "do not follow", and a running container may swap the entry for a
            # symlink to a host path between our mknod and our chmod (docker cp)
            fd = os.open(base, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=pfd)
            try:
                if stat.S_ISLNK(os.fstat(fd).st_mode):
                    raise PathEscape(f"{base} was replaced by a symbolic link while it was written")
                os.chmod(f"/proc/self/fd/{fd}", self._mode(m))
                for name, value in _xattrs(m):
                    _best_effort(os.setxattr, f"/proc/self/fd/{fd}", name, value)
            finally:
                os.close(fd)
        os.utime(base, ns=_times(m), dir_fd=pfd, follow_symlinks=False)

    def finish(self) -> None:
        """Set directory times, now that nothing will be created in them any more."""
        self._drop_cache()
        set_dir_times(self.walker, self.dir_times)
        self.dir_times.clear()

    def close(self) -> None:
        self._drop_cache()


def _xattrs(m: tarfile.TarInfo) -> list[tuple[str, bytes]]:
    out = []
    for key, value in m.pax_headers.items():
        if not key.startswith(XATTR_PREFIX):
            continue
        name = key[len(XATTR_PREFIX):]
        if name.startswith(_DROPPED_XATTRS):
            continue
        out.append((name, value.encode("utf-8", "surrogateescape")))
    return out


def _best_effort(fn: Any, *args: Any, **kwargs: Any) -> None:
    """xattrs the filesystem cannot hold are skipped, as Docker does."""
    try:
        fn(*args, **kwargs)
    except OSError as e:
        if e.errno not in (errno.ENOTSUP, errno.EPERM):
            raise


def _ns(m: tarfile.TarInfo, key: str, fallback: float) -> int:
    """A time in ns, from the exact PAX record when there is one (tarfile keeps a float)."""
    raw = m.pax_headers.get(key)
    if raw:
        try:
            return int(Decimal(raw) * 1_000_000_000)
        except InvalidOperation:
            pass
    return int(Decimal(str(fallback)) * 1_000_000_000)


def _times(m: tarfile.TarInfo) -> tuple[int, int]:
    """(atime, mtime) in ns: the later of atime and mtime as atime, and nothing before 1970."""
    mtime = max(_ns(m, "mtime", m.mtime), 0)
    atime = _ns(m, "atime", m.mtime) if "atime" in m.pax_headers else mtime
    return max(atime, mtime), mtime


def _copy_fd(src_fd: int, fd: int, size: int) -> None:
    """Copy `size` bytes in the kernel (reflinks where the filesystem can)."""
    remaining = size
    use_cfr = hasattr(os, "copy_file_range")
    while remaining > 0:
        if use_cfr:
            try:
                n = os.copy_file_range(src_fd, fd, min(remaining, 1 << 30))
            except OSError as e:
                if e.errno not in (errno.EXDEV, errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
                    raise
                use_cfr = False
                continue
        else:
            n = os.sendfile(fd, src_fd, None, min(remaining, 1 << 30))
        if n == 0:
            break  # the file shrank since it was listed
        remaining -= n


class EntryError(Exception):
    """Entry `name` could not be written; `cause` is the PathEscape or OSError."""

    def __init__(self, name: str, cause: BaseException) -> None:
        super().__init__(f'tar entry "{name}": {_reason(cause)}')
        self.name = name
        self.cause = cause


def _reason(cause: BaseException) -> str:
    if isinstance(cause, OSError) and cause.strerror:
        return cause.strerror[:1].lower() + cause.strerror[1:]
    return str(cause)


def unpack_tar(fileobj: Any, writer: TreeWriter) -> None:
    """Write every entry of the (uncompressed) tar read from `fileobj` with `writer`, then finish.

    A tar that is not empty but malformed raises tarfile.TarError; an entry that cannot
    be written raises EntryError. An empty stream is an empty archive.
    """
    first = fileobj.read(tarfile.BLOCKSIZE)
    if not first:
        return
    stream = Prepend(first, fileobj)
    with tarfile.open(fileobj=stream, mode="r|", encoding="utf-8", errors="surrogateescape") as tf:  # type: ignore[call-overload]
        while (member := tf.next()) is not None:
            tf.members.clear()  # stream mode: keep no headers
            try:
                writer.add(member, tf.extractfile(member) if member.isreg() else None)
            except (PathEscape, OSError) as e:
                raise EntryError(member.name, e) from None
    writer.finish()


def client_or_host_error(message: str, e: BaseException) -> DockyardError:
    """SystemError_ when the host failed (disk full, I/O error), else InvalidArgument."""
    if isinstance(e, OSError) and e.errno in _SYSTEM_ERRNOS:
        return SystemError_(message)
    return InvalidArgument(message)
