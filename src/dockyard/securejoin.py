"""Resolve a path inside a root directory as if that root were "/": the one place this is done.

Used where the host touches a container's or a layer's files (the runtime's mount
targets, the spec builder reading /etc/passwd, layer unpacking, later `docker cp`):
symlinks and ".." are followed within the root and can never lead outside it.
"""

from __future__ import annotations

import errno
import os
import stat

__all__ = ["resolve_in_root"]


def resolve_in_root(root: str | os.PathLike[str], path: str) -> str:
    """The host path of `path` inside `root`, following symlinks as if `root` were `/`.

    Never returns a path outside `root`. Components that do not exist are kept as
    written. Raises OSError(ELOOP) after too many symlinks.
    """
    root_s = os.path.abspath(os.fspath(root))
    pending = [p for p in path.split("/") if p not in ("", ".")]
    pending.reverse()  # a stack: next component at the end
    resolved: list[str] = []
    links = 0
    while pending:
        part = pending.pop()
        if part == "..":
            if resolved:
                resolved.pop()
            continue
        candidate = os.path.join(root_s, *resolved, part)
        try:
            st = os.lstat(candidate)
        except (FileNotFoundError, NotADirectoryError):
            resolved.append(part)
            continue
        if not stat.S_ISLNK(st.st_mode):
            resolved.append(part)
            continue
        links += 1
        if links > 255:
            raise OSError(errno.ELOOP, "too many levels of symbolic links", path)
        target = os.readlink(candidate)
        if target.startswith("/"):
            resolved = []
        pending.extend(reversed([p for p in target.split("/") if p not in ("", ".")]))
    return os.path.join(root_s, *resolved)
