"""Sizes of directory trees, the two ways Docker counts them.

`disk_usage`: allocated bytes, as `du -s -B1` counts them (st_blocks × 512, as BuildKit's
snapshotter usage does): what removing the tree gives back; the build cache reports it.
`apparent_size`: the sum of file lengths, as moby's directory.Size counts a container's
writable layer (SizeRw) and a volume's UsageData.Size.

Both count every inode once (hardlinks inside the tree are not counted twice), never follow
a symlink and never leave the tree; a tree that changes while it is walked counts what was there.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path

__all__ = ["disk_usage", "apparent_size"]


def disk_usage(path: Path | str) -> int:
    """Allocated bytes of `path` and everything below it, directories included; 0 if it does not exist."""
    return _walk(path, lambda st: st.st_blocks * 512)


def apparent_size(path: Path | str) -> int:
    """The lengths of the files (and symlinks) below `path`; directories count 0, as in moby."""
    return _walk(path, lambda st: 0 if stat.S_ISDIR(st.st_mode) else st.st_size)


def _walk(path: Path | str, size_of: Callable[[os.stat_result], int]) -> int:
    try:
        top = os.lstat(path)
    except FileNotFoundError:
        return 0
    seen: set[tuple[int, int]] = {(top.st_dev, top.st_ino)}
    total = size_of(top)
    if not stat.S_ISDIR(top.st_mode):
        return total
    stack = [os.fspath(path)]
    while stack:
        current = stack.pop()
        try:
            entries = list(os.scandir(current))
        except (FileNotFoundError, NotADirectoryError, PermissionError):
            continue
        for entry in entries:
            try:
                st = entry.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue
            key = (st.st_dev, st.st_ino)
            if key in seen:
                continue
            seen.add(key)
            total += size_of(st)
            if entry.is_dir(follow_symlinks=False):
                stack.append(entry.path)
    return total
