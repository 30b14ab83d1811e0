"""Resolve a path inside a root directory as if that root were "/": the one place this is done.

Used where the host touches a container's or a layer's files (the runtime's mount
targets, the spec builder reading /etc/passwd, layer unpacking, `docker cp`):
symlinks and ".." are followed within the root and can never lead outside it.

Two forms:

* `resolve_in_root(root, path)`: a host path string, for trees nobody else changes
  meanwhile (an image being built, a rootfs not yet running).
* `open_in_root(root_fd, path)` / `scoped_path(root_fd, path)`: for trees a running
  container may change while we look (docker cp). Every component is opened with
  O_NOFOLLOW relative to the fd of its parent, symlinks are read and resolved by this
  code (absolute targets from the root), and ".." pops our own stack of fds, never the
  kernel's: a symlink swapped in at any moment cannot lead outside the root.
"""

from __future__ import annotations

import errno
import os
import stat

__all__ = ["resolve_in_root", "open_in_root", "scoped_path", "MAX_LINKS"]

MAX_LINKS = 255


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


_PATH_FLAGS = os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC


def _parts(path: str) -> list[str]:
    return [p for p in path.split("/") if p not in ("", ".")]


def _walk(root_fd: int, path: str, follow_last: bool, missing_ok: bool) -> tuple[int, list[str]]:
    """(O_PATH fd of `path` or -1 if missing_ok and it is missing, canonical components)."""
    stack: list[int] = []          # fds of the directories below the root we are in
    names: list[str] = []          # their names: the canonical path so far
    pending = _parts(path)
    pending.reverse()
    links = 0
    try:
        while pending:
            part = pending.pop()
            if part == "..":
                if stack:
                    os.close(stack.pop())
                    names.pop()
                continue
            parent = stack[-1] if stack else root_fd
            last = not pending
            try:
                fd = os.open(part, _PATH_FLAGS, dir_fd=parent)
            except FileNotFoundError:
                if not missing_ok:
                    raise
                rest = [part, *reversed(pending)]
                for p in rest:  # what does not exist is kept as written, ".." applied lexically
                    if p == "..":
                        if names:
                            names.pop()
                    else:
                        names.append(p)
                return -1, names
            st = os.fstat(fd)
            if stat.S_ISLNK(st.st_mode) and (follow_last or not last):
                os.close(fd)
                links += 1
                if links > MAX_LINKS:
                    raise OSError(errno.ELOOP, "too many levels of symbolic links", path)
                try:
                    target = os.readlink(part, dir_fd=parent)
                except OSError as e:
                    if e.errno != errno.EINVAL:
                        raise
                    pending.append(part)  # it stopped being a symlink meanwhile: look again
                    continue
                if target.startswith("/"):
                    while stack:
                        os.close(stack.pop())
                    names.clear()
                pending.extend(reversed(_parts(target)))
                continue
            if last:
                return fd, [*names, part]
            if not stat.S_ISDIR(st.st_mode):
                os.close(fd)
                raise NotADirectoryError(errno.ENOTDIR, "not a directory", path)
            stack.append(fd)
            names.append(part)
        return os.dup(stack[-1]) if stack else os.open(".", os.O_PATH | os.O_CLOEXEC, dir_fd=root_fd), names
    finally:
        for fd in stack:
            os.close(fd)


def open_in_root(root_fd: int, path: str, *, follow_last: bool = True) -> tuple[int, list[str]]:
    """An O_PATH fd for `path` inside the directory `root_fd`, and its canonical components.

    Symlinks are followed as a process chrooted at the root would follow them (the last
    one only if `follow_last`). Raises FileNotFoundError, NotADirectoryError or
    OSError(ELOOP) as the kernel would. The caller closes the fd.
    """
    fd, names = _walk(root_fd, path, follow_last, missing_ok=False)
    return fd, names


def scoped_path(root_fd: int, path: str) -> str:
    """`path` with every symlink followed inside the root, as an absolute path in that root.

    Components that do not exist are kept as written (moby's FollowSymlinkInScope).
    """
    fd, names = _walk(root_fd, path, True, missing_ok=True)
    if fd >= 0:
        os.close(fd)
    return "/" + "/".join(names)
