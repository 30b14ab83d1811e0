"""Copy-up: a new, empty volume gets a copy of what the image holds at its mount path.

Docker does this when a container is created (moby's copyExistingContents: only into an
empty volume, the directory's own mode, owner and times included, so a volume at
/var/lib/mysql is owned by mysql). The source is an image's filesystem, untrusted:
symlinks are copied as links and never followed, special files are made again with
mknod, hard links stay hard links, and everything is created fresh under the
destination, so nothing is written outside it.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat

__all__ = ["copy_up", "is_empty"]


def is_empty(path: str) -> bool:
    try:
        with os.scandir(path) as it:
            return next(it, None) is None
    except FileNotFoundError:
        return True


def _copy_meta(src_st: os.stat_result, dst: str, src: str) -> None:
    os.chown(dst, src_st.st_uid, src_st.st_gid, follow_symlinks=False)
    if not stat.S_ISLNK(src_st.st_mode):
        os.chmod(dst, stat.S_IMODE(src_st.st_mode))
    _copy_xattrs(src, dst)
    os.utime(dst, ns=(src_st.st_atime_ns, src_st.st_mtime_ns), follow_symlinks=False)


def _copy_xattrs(src: str, dst: str) -> None:
    try:
        names = os.listxattr(src, follow_symlinks=False)
    except OSError:
        return
    for name in names:
        if name.startswith("trusted.overlay."):   # the overlay's own bookkeeping, not the file's
            continue
        with contextlib.suppress(OSError):  # as Docker: a filesystem without that xattr kind is no error
            os.setxattr(dst, name, os.getxattr(src, name, follow_symlinks=False), follow_symlinks=False)


def _copy_file(src: str, dst: str) -> None:
    fin = os.open(src, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        fout = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        try:
            while True:
                try:
                    n = os.copy_file_range(fin, fout, 1 << 30)
                except OSError as e:
                    if e.errno not in (errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
                        raise
                    while chunk := os.read(fin, 1 << 20):
                        os.write(fout, chunk)
                    break
                if n == 0:
                    break
        finally:
            os.close(fout)
    finally:
        os.close(fin)


def _copy_entry(src: str, dst: str, st: os.stat_result, links: dict[tuple[int, int], str]) -> None:
    mode = st.st_mode
    if not stat.S_ISDIR(mode) and st.st_nlink > 1:
        first = links.get((st.st_dev, st.st_ino))
        if first is not None:
            os.link(first, dst, follow_symlinks=False)
            return
        links[(st.st_dev, st.st_ino)] = dst
    if stat.S_ISREG(mode):
        _copy_file(src, dst)
    elif stat.S_ISLNK(mode):
        os.symlink(os.readlink(src), dst)
    elif stat.S_ISFIFO(mode):
        os.mkfifo(dst, 0o600)
    elif stat.S_ISCHR(mode) and st.st_rdev == 0:
        return   # an overlay whiteout (read straight from a layer): absence, not a file
    elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        os.mknod(dst, stat.S_IFMT(mode) | 0o600, st.st_rdev)
    elif stat.S_ISSOCK(mode):
        return   # a socket is a live endpoint, not content
    _copy_meta(st, dst, src)


def _copy_dir(src: str, dst: str, links: dict[tuple[int, int], str]) -> None:
    with os.scandir(src) as it:
        entries = sorted(it, key=lambda e: e.name)
    for entry in entries:
        s, d = os.path.join(src, entry.name), os.path.join(dst, entry.name)
        st = entry.stat(follow_symlinks=False)
        if stat.S_ISDIR(st.st_mode):
            os.mkdir(d, 0o700)
            _copy_dir(s, d, links)
            _copy_meta(st, d, s)
        else:
            _copy_entry(s, d, st, links)


def copy_up(src_dir: str, volume_dir: str) -> bool:
    """Copy the directory `src_dir` (already resolved inside its root) into the empty `volume_dir`.
    False (nothing copied) when the volume is not empty or `src_dir` is no directory."""
    try:
        st = os.lstat(src_dir)
    except FileNotFoundError:
        return False
    if not stat.S_ISDIR(st.st_mode) or not is_empty(volume_dir):
        return False
    _copy_dir(src_dir, volume_dir, {})
    _copy_meta(st, volume_dir, src_dir)
    return True
