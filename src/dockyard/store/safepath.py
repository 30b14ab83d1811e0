"""Paths inside a root that must never lead outside it.

Two tools:

* `resolve_in_root(root, path)`: a host path for `path` as a process chrooted at
  `root` would see it (symlinks followed, absolute targets taken relative to
  `root`, `..` stopping at `root`), like moby's `FollowSymlinkInScope`. For
  `docker cp` and friends.
* `DirWalker`: walks directories by file descriptor with O_NOFOLLOW, so the kernel
  never follows a symlink on our behalf. Relative symlinks that stay inside the
  root are followed by hand; absolute ones, or ones climbing above the root, are
  refused. The layer unpacker builds on it.
"""

from __future__ import annotations

import errno
import os
import stat

from dockyard.securejoin import resolve_in_root

__all__ = [
    "PathEscape",
    "clean_components",
    "resolve_in_root",
    "DirWalker",
    "MAX_SYMLINKS",
]

MAX_SYMLINKS = 40
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


class PathEscape(Exception):
    """A path (or a symlink on it) would lead outside the root."""


def clean_components(name: str) -> list[str]:
    """Split a tar-style name into components, resolving `.` and `..` lexically.

    A leading `/` means the root; a `..` that would climb above the root raises PathEscape.
    """
    out: list[str] = []
    for part in name.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if not out:
                raise PathEscape("path escapes the layer root")
            out.pop()
        else:
            out.append(part)
    return out


class DirWalker:
    """Opens directories under a root fd without ever letting the kernel follow a symlink.

    `open_dir(components, create=...)` returns a new fd (the caller closes it) for
    the directory named by `components`, creating missing ones with mode 0755 if
    asked. A non-directory on the way raises NotADirectoryError. Symlinks met on the
    way are resolved by hand according to `links`:

    * "relative" (default): relative symlinks that stay inside the root are followed;
      absolute ones, and `..` above the root, raise PathEscape;
    * "chroot": followed as a process chrooted at the root would (absolute targets from
      the root, `..` stopping at the root);
    * "refuse": any symlink raises PathEscape.
    """

    def __init__(self, root_fd: int, *, links: str = "relative") -> None:
        if links not in ("relative", "chroot", "refuse"):
            raise ValueError(f"unknown symlink policy {links!r}")
        self.root_fd = root_fd
        self.links = links

    def open_dir(self, components: list[str], *, create: bool = False) -> int:
        stack: list[int] = []   # fds of the directories below the root we are in
        pending = list(reversed(components))
        links = 0
        try:
            while pending:
                part = pending.pop()
                if part in ("", "."):
                    continue
                cur = stack[-1] if stack else self.root_fd
                if part == "..":
                    if stack:
                        os.close(stack.pop())
                    elif self.links != "chroot":
                        raise PathEscape("path escapes the layer root")
                    continue
                try:
                    fd = os.open(part, _DIR_FLAGS, dir_fd=cur)
                except FileNotFoundError:
                    if not create:
                        raise
                    try:
                        os.mkdir(part, 0o755, dir_fd=cur)
                    except FileExistsError:
                        pass  # raced with ourselves? fall through to the open below
                    fd = os.open(part, _DIR_FLAGS, dir_fd=cur)
                except OSError as e:
                    # ELOOP (O_NOFOLLOW on a symlink) or ENOTDIR: see what it is.
                    if e.errno not in (errno.ELOOP, errno.ENOTDIR):
                        raise
                    st = os.lstat(part, dir_fd=cur)
                    if not stat.S_ISLNK(st.st_mode):
                        raise NotADirectoryError(errno.ENOTDIR, "not a directory", part) from None
                    if self.links == "refuse":
                        raise PathEscape(f"{part} is a symbolic link") from None
                    links += 1
                    if links > MAX_SYMLINKS:
                        raise OSError(errno.ELOOP, "too many levels of symbolic links", part) from None
                    target = os.readlink(part, dir_fd=cur)
                    if target.startswith("/"):
                        if self.links != "chroot":
                            raise PathEscape(f"symlink {part} -> {target} leads outside the layer root") from None
                        while stack:  # an absolute target starts again from the root
                            os.close(stack.pop())
                    pending.extend(reversed(target.split("/")))
                    continue
                stack.append(fd)
            if stack:
                top = stack.pop()
            else:
                top = os.dup(self.root_fd)
            return top
        finally:
            for fd in stack:
                os.close(fd)
