"""Directory walks in Go's filepath.WalkDir order, never following symlinks.

Docker's build walks the context (to tar it, to hash COPY sources, to expand wildcards)
with WalkDir: names sorted bytewise, each directory before its entries. The order
matters: it decides which of two hardlinked names becomes the link, and the order of
wildcard matches.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterator

__all__ = ["sorted_entries", "walk"]


def sorted_entries(path: str) -> list[tuple[str, os.stat_result]]:
    """The entries of directory `path` with their lstat, sorted as Go sorts names (by bytes)."""
    with os.scandir(path) as it:
        entries = [(e.name, e.stat(follow_symlinks=False)) for e in it]
    entries.sort(key=lambda e: os.fsencode(e[0]))
    return entries


def walk(
    root: str,
    *,
    prefix: str = "",
    enter: Callable[[str, os.stat_result], bool] | None = None,
) -> Iterator[tuple[str, str, os.stat_result]]:
    """(relative path, host path, lstat) of everything below `root`, `root` itself excluded.

    `prefix` is prepended to relative paths. A directory is entered (right after it is
    yielded, so the consumer may decide) unless `enter(rel, st)` says no. Symlinks are
    reported, never followed. Iterative: any depth.
    """
    stack = [(root, prefix, iter(sorted_entries(root)))]
    while stack:
        path, pre, entries = stack[-1]
        for name, st in entries:
            rel = pre + name
            child = os.path.join(path, name)
            yield rel, child, st
            if stat.S_ISDIR(st.st_mode) and (enter is None or enter(rel, st)):
                stack.append((child, rel + "/", iter(sorted_entries(child))))
                break  # its entries come before the rest of this directory's
        else:
            stack.pop()
