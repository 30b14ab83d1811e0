"""Bytes a directory tree takes on disk, counted as `du -s -B1` counts them.

The build cache reports what removing a record gives back, so this counts allocated
blocks (st_blocks × 512, as BuildKit's snapshotter usage does), not file lengths: every
inode once (hardlinks inside the tree are not counted twice), directories and symlinks
included, never following a symlink and never leaving the tree.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

__all__ = ["disk_usage"]


def disk_usage(path: Path | str) -> int:
    """Allocated bytes of `path` and everything below it; 0 if it does not exist.

    A tree that changes or vanishes while it is walked counts what was still there."""
    try:
        top = os.lstat(path)
    except FileNotFoundError:
        return 0
    seen: set[tuple[int, int]] = {(top.st_dev, top.st_ino)}
    total = top.st_blocks * 512
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
            total += st.st_blocks * 512
            if entry.is_dir(follow_symlinks=False):
                stack.append(entry.path)
    return total
