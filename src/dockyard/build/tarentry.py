"""Tar headers for files on disk, as Docker's archive code writes them, and their tarsum.

`header_for` is go-archive's FileInfoHeader: permission and set-id/sticky bits only,
directories named with a trailing `/`, mtime cut to whole seconds, no user/group names,
and the file's `security.capability` (v3 turned into v2) as a PAX xattr record.
`tarsum_v1` is the per-file checksum of Docker's classic builder cache keys (tarsum v1:
the selected header fields, then the content; mtime left out).
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
import tarfile
from collections.abc import Iterable

__all__ = [
    "CAPABILITY_XATTR",
    "XATTR_PREFIX",
    "header_for",
    "read_capability",
    "tarsum_v1",
    "go_mode",
]

CAPABILITY_XATTR = "security.capability"
XATTR_PREFIX = "SCHILY.xattr."
_VFS_CAP_REVISION_2 = 2
_VFS_CAP_REVISION_3 = 3
_XATTR_CAPS_SZ_2 = 20


def go_mode(st_mode: int) -> int:
    """The Mode Go's tar.FileInfoHeader records: permissions plus set-id and sticky bits."""
    return st_mode & 0o7777


def read_capability(path: str) -> bytes | None:
    """The file capability of `path` (not following symlinks), in the v2 form Docker archives."""
    try:
        cap = os.getxattr(path, CAPABILITY_XATTR, follow_symlinks=False)
    except OSError as e:
        if e.errno in (errno.ENODATA, errno.ENOTSUP, errno.EPERM, errno.ENOENT):
            return None
        raise
    if len(cap) > 3 and cap[3] == _VFS_CAP_REVISION_3:
        # A v3 capability names a root uid that means nothing outside its user namespace.
        cap = cap[:3] + bytes([_VFS_CAP_REVISION_2]) + cap[4:_XATTR_CAPS_SZ_2]
    return cap


def header_for(name: str, st: os.stat_result, *, linkname: str = "", path: str | None = None) -> tarfile.TarInfo:
    """A TarInfo for a file with lstat `st`, named `name` (a `/` is added for directories).

    `linkname` is the symlink target. With `path`, the file's capability is recorded.
    Raises ValueError for sockets, which tar cannot hold.
    """
    mode = st.st_mode
    info = tarfile.TarInfo(name)
    if stat.S_ISREG(mode):
        info.type = tarfile.REGTYPE
        info.size = st.st_size
    elif stat.S_ISDIR(mode):
        info.type = tarfile.DIRTYPE
        if not name.endswith("/"):
            info.name = name + "/"
    elif stat.S_ISLNK(mode):
        info.type = tarfile.SYMTYPE
        info.linkname = linkname
    elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        info.type = tarfile.CHRTYPE if stat.S_ISCHR(mode) else tarfile.BLKTYPE
        info.devmajor = os.major(st.st_rdev)
        info.devminor = os.minor(st.st_rdev)
    elif stat.S_ISFIFO(mode):
        info.type = tarfile.FIFOTYPE
    else:
        raise ValueError("archive/tar: sockets not supported")
    info.mode = go_mode(mode)
    info.uid, info.gid = st.st_uid, st.st_gid
    info.uname = info.gname = ""
    info.mtime = int(st.st_mtime_ns // 1_000_000_000)
    if path is not None and not stat.S_ISLNK(mode):
        cap = read_capability(path)
        if cap is not None:
            info.pax_headers[XATTR_PREFIX + CAPABILITY_XATTR] = cap.decode("utf-8", "surrogateescape")
    return info


def _xattrs(info: tarfile.TarInfo) -> list[tuple[str, str]]:
    return sorted(
        (k[len(XATTR_PREFIX):], v) for k, v in info.pax_headers.items() if k.startswith(XATTR_PREFIX)
    )


def tarsum_v1(info: tarfile.TarInfo, content: Iterable[bytes] = ()) -> str:
    """The tarsum v1 of one entry: hex sha256 of its selected header fields, then its content."""
    h = hashlib.sha256()
    fields = (
        ("name", info.name),
        ("mode", str(info.mode)),
        ("uid", str(info.uid)),
        ("gid", str(info.gid)),
        ("size", str(info.size if info.type in (tarfile.REGTYPE, tarfile.AREGTYPE) else 0)),
        ("typeflag", info.type.decode("latin-1")),
        ("linkname", info.linkname),
        ("uname", ""),
        ("gname", ""),
        ("devmajor", str(info.devmajor)),
        ("devminor", str(info.devminor)),
    )
    for key, value in fields:
        h.update((key + value).encode("utf-8", "surrogateescape"))
    for key, value in _xattrs(info):
        h.update((key + value).encode("utf-8", "surrogateescape"))
    for chunk in content:
        h.update(chunk)
    return h.hexdigest()
