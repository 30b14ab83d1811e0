"""store/changes.py: `docker diff` from a real overlay upper dir, against what the lowers show."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from dockyard.store.changes import CHANGE_ADD, CHANGE_DELETE, CHANGE_MODIFY, container_changes, stat_different

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root: overlayfs")

C, A, D = CHANGE_MODIFY, CHANGE_ADD, CHANGE_DELETE


def _lower(base: Path) -> Path:
    low = base / "lower"
    for d in ("etc", "usr/lib/pkg", "var/cache", "data", "tree/x"):
        (low / d).mkdir(parents=True)
    (low / "etc" / "passwd").write_text("root\n")
    (low / "etc" / "group").write_text("root\n")
    (low / "etc" / "motd").write_text("hi\n")
    (low / "usr" / "lib" / "pkg" / "a.so").write_text("a")
    (low / "var" / "cache" / "old1").write_text("1")
    (low / "var" / "cache" / "old2").write_text("2")
    (low / "data" / "keep").write_text("k")
    (low / "tree" / "x" / "y").write_text("y")
    return low


def _run_in_overlay(base: Path, low: Path, script: str) -> Path:
    upper, work, merged = base / "upper", base / "work", base / "merged"
    for d in (upper, work, merged):
        d.mkdir()
    subprocess.run(["mount", "-t", "overlay", "overlay", "-o",
                    f"lowerdir={low},upperdir={upper},workdir={work},index=off,redirect_dir=off,metacopy=off",
                    str(merged)], check=True)
    try:
        subprocess.run(["sh", "-ec", script], cwd=merged, check=True)
    finally:
        subprocess.run(["umount", str(merged)], check=True)
    return upper


def test_adds_changes_deletes_and_parents(tmp_path: Path):
    low = _lower(tmp_path)
    upper = _run_in_overlay(tmp_path, low, """
        rm etc/group
        echo more >> etc/passwd
        mkdir -p new/deep && echo n > new/deep/f
        chmod 600 etc/motd
        touch usr/lib/pkg/b.so
        rm -r tree
        rm -r var/cache && mkdir var/cache && echo fresh > var/cache/new
        cat data/keep > /dev/null
    """)
    got = container_changes(upper, [str(low)])
    assert got == [
        ("/etc", C), ("/etc/motd", C), ("/etc/passwd", C), ("/etc/group", D),
        ("/new", A), ("/new/deep", A), ("/new/deep/f", A),
        ("/usr", C), ("/usr/lib", C), ("/usr/lib/pkg", C), ("/usr/lib/pkg/b.so", A),
        ("/var", C), ("/var/cache", C), ("/var/cache/new", A), ("/var/cache/old1", D), ("/var/cache/old2", D),
        ("/tree", D),
    ]


def test_no_changes_and_no_upper(tmp_path: Path):
    low = _lower(tmp_path)
    upper = _run_in_overlay(tmp_path, low, "cat etc/passwd >/dev/null")
    assert container_changes(upper, [str(low)]) == []
    assert container_changes(tmp_path / "missing", [str(low)]) == []


def test_runtime_mountpoints_are_not_changes(tmp_path: Path):
    low = _lower(tmp_path)
    upper = _run_in_overlay(tmp_path, low, "touch etc/hosts etc/hostname etc/resolv.conf .dockerenv; "
                                           "mkdir -p proc sys dev/pts dev/shm")
    assert container_changes(upper, [str(low)]) == []


def test_file_replaced_by_directory_and_back(tmp_path: Path):
    low = _lower(tmp_path)
    upper = _run_in_overlay(tmp_path, low, "rm etc/motd && mkdir etc/motd && echo x > etc/motd/in; "
                                           "rm -r data && echo f > data")
    assert container_changes(upper, [str(low)]) == [
        ("/data", C), ("/etc", C), ("/etc/motd", C), ("/etc/motd/in", A)]


def test_two_lowers_whiteouts_and_opaque(tmp_path: Path):
    low = _lower(tmp_path)
    top = tmp_path / "top"
    (top / "etc").mkdir(parents=True)
    (top / "etc" / "added-by-image").write_text("i")
    os.mknod(top / "etc" / "motd", 0o20000, 0)   # the image deleted /etc/motd (a whiteout)
    upper = _run_in_overlay(tmp_path, Path(f"{top}:{low}"), "rm etc/added-by-image")   # lowerdir=top:low
    got = container_changes(upper, [str(top), str(low)])
    assert got == [("/etc", C), ("/etc/added-by-image", D)]


def test_stat_different_rules():
    a = os.stat_result((0o100644, 1, 1, 1, 0, 0, 10, 0, 5, 0))
    same_second = os.stat_result((0o100644, 2, 2, 1, 0, 0, 10, 0, 5, 0, 0, 5_000_000_000, 0))
    bigger = os.stat_result((0o100644, 1, 1, 1, 0, 0, 11, 0, 5, 0))
    d1 = os.stat_result((0o40755, 1, 1, 1, 0, 0, 10, 0, 5, 0))
    d2 = os.stat_result((0o40755, 1, 1, 1, 0, 0, 99, 0, 9, 0))
    assert not stat_different(a, same_second)
    assert stat_different(a, bigger)
    assert not stat_different(d1, d2)   # a directory's size and mtime are not a change
