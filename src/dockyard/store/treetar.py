"""A layer tar of a directory tree, streamed and deterministic.

The same tree always gives the same bytes, so the same diff ID: entries are sorted
by name (a directory before its contents), owners are numeric only (no user
names looked up), mtimes are clamped to `clamp_mtime` (files made while a root
filesystem was built get that time; files from packages keep theirs, which are
older), and no atime/ctime is written. Hardlinked files become tar hardlinks to
the first name in that order. Sockets are skipped (they cannot be stored).

An overlayfs upper directory is written as an OCI layer with `upper=True`: a 0:0
character device (overlay's whiteout) becomes `.wh.NAME`, a directory marked
`trusted.overlay.opaque=y` gets `.wh..wh..opq`. An upper that holds overlay
redirects or metacopy files cannot be represented and is refused.
"""

from __future__ import annotations

import os
import stat
import tarfile
from collections.abc import Iterator

from dockyard.errors import SystemError_

__all__ = ["tree_tar"]

_CHUNK = 1 << 20
_SKIP_XATTRS = ("trusted.overlay.", "security.selinux")
_OPAQUE = "trusted.overlay.opaque"
_UNREPRESENTABLE = ("trusted.overlay.redirect", "trusted.overlay.metacopy")


def _xattrs(path: str) -> dict[str, bytes]:
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError:
        return {}
    out = {}
    for name in sorted(names):
        try:
            out[name] = os.getxattr(path, name, follow_symlinks=False)
        except OSError:
            continue
    return out


def _info(name: str, st: os.stat_result, clamp: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.mode = stat.S_IMODE(st.st_mode)
    info.uid, info.gid = st.st_uid, st.st_gid
    info.uname = info.gname = ""
    info.mtime = min(int(st.st_mtime), clamp)
    return info


def _header(info: tarfile.TarInfo, xattrs: dict[str, bytes]) -> bytes:
    for key, value in xattrs.items():
        if not key.startswith(_SKIP_XATTRS):
            info.pax_headers["SCHILY.xattr." + key] = value.decode("utf-8", "surrogateescape")
    return info.tobuf(format=tarfile.PAX_FORMAT, encoding="utf-8", errors="surrogateescape")


def _file_chunks(path: str, size: int) -> Iterator[bytes]:
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        left = size
        while left > 0:
            chunk = os.read(fd, min(_CHUNK, left))
            if not chunk:
                raise SystemError_(f"{path} shrank while it was being archived")
            left -= len(chunk)
            yield chunk
    finally:
        os.close(fd)
    if size % tarfile.BLOCKSIZE:
        yield b"\0" * (tarfile.BLOCKSIZE - size % tarfile.BLOCKSIZE)


def tree_tar(root: str, *, clamp_mtime: int, upper: bool = False) -> Iterator[bytes]:
    """The tar of everything below `root` (not `root` itself), as chunks of bytes."""
    links: dict[tuple[int, int], str] = {}

    def walk(rel: str) -> Iterator[bytes]:
        path = os.path.join(root, rel) if rel else root
        for entry in sorted(os.listdir(path), key=os.fsencode):
            name = f"{rel}/{entry}" if rel else entry
            full = os.path.join(root, name)
            st = os.lstat(full)
            info = _info(name, st, clamp_mtime)
            xattrs = _xattrs(full) if not stat.S_ISLNK(st.st_mode) else {}
            if upper and any(x in xattrs for x in _UNREPRESENTABLE):
                raise SystemError_(f"{name}: an overlay redirect or metacopy cannot be put in a layer")
            if stat.S_ISDIR(st.st_mode):
                info.type = tarfile.DIRTYPE
                opaque = upper and xattrs.get(_OPAQUE) == b"y"
                yield _header(info, xattrs)
                if opaque:
                    wh = tarfile.TarInfo(f"{name}/.wh..wh..opq")
                    wh.mtime, wh.mode = info.mtime, 0o644
                    yield wh.tobuf(format=tarfile.PAX_FORMAT)
                yield from walk(name)
            elif stat.S_ISREG(st.st_mode):
                key = (st.st_dev, st.st_ino)
                if st.st_nlink > 1 and key in links:
                    info.type, info.linkname = tarfile.LNKTYPE, links[key]
                    yield _header(info, xattrs)
                    continue
                if st.st_nlink > 1:
                    links[key] = name
                info.size = st.st_size
                yield _header(info, xattrs)
                yield from _file_chunks(full, st.st_size)
            elif stat.S_ISLNK(st.st_mode):
                info.type, info.linkname = tarfile.SYMTYPE, os.readlink(full)
                yield _header(info, {})
            elif stat.S_ISCHR(st.st_mode) and upper and st.st_rdev == 0:
                parent, _, base = name.rpartition("/")
                wh = tarfile.TarInfo(f"{parent}/.wh.{base}" if parent else f".wh.{base}")
                wh.mtime, wh.mode = info.mtime, 0o644
                yield wh.tobuf(format=tarfile.PAX_FORMAT)
            elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
                info.type = tarfile.CHRTYPE if stat.S_ISCHR(st.st_mode) else tarfile.BLKTYPE
                info.devmajor, info.devminor = os.major(st.st_rdev), os.minor(st.st_rdev)
                yield _header(info, xattrs)
            elif stat.S_ISFIFO(st.st_mode):
                info.type = tarfile.FIFOTYPE
                yield _header(info, xattrs)
            # sockets: skipped, as Docker's archiver does

    yield from walk("")
    yield b"\0" * (2 * tarfile.BLOCKSIZE)
