"""fsusage: allocated bytes of a tree (checked against GNU `du -s -B1`) and apparent sizes (`du -sb`,
but directories counting 0 as in moby), on real files."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from dockyard.fsusage import apparent_size, disk_usage


def gnu_du(path: Path) -> int:
    return int(subprocess.run(["du", "-s", "-B1", str(path)], capture_output=True, text=True,
                              check=True).stdout.split()[0])


def test_counts_blocks_dirs_and_symlinks_and_each_inode_once(tmp_path: Path) -> None:
    root = tmp_path / "tree"
    (root / "a" / "b").mkdir(parents=True)
    (root / "a" / "small").write_bytes(b"x")                       # one byte, one block
    (root / "a" / "b" / "big").write_bytes(os.urandom(200_000))
    os.link(root / "a" / "b" / "big", root / "a" / "hard")         # counted once
    os.symlink("/etc", root / "a" / "link")                         # not followed
    with open(root / "sparse", "wb") as f:                          # a hole takes no blocks
        f.seek(50_000_000)
        f.write(b"end")
    n = disk_usage(root)
    assert n == gnu_du(root)
    assert 200_000 < n < 1_000_000
    assert disk_usage(root / "a" / "small") == gnu_du(root / "a" / "small")


def test_a_missing_path_takes_nothing(tmp_path: Path) -> None:
    assert disk_usage(tmp_path / "gone") == apparent_size(tmp_path / "gone") == 0


def test_apparent_size_sums_lengths_once_per_inode(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "f").write_bytes(b"x" * 1000)
    os.link(tmp_path / "d" / "f", tmp_path / "hard")
    os.symlink("d/f", tmp_path / "sym")                  # its length: 3
    with open(tmp_path / "sparse", "wb") as f:
        f.seek(1_000_000)
        f.write(b"e")
    assert apparent_size(tmp_path) == 1000 + 3 + 1_000_001
    assert apparent_size(tmp_path / "d" / "f") == 1000
