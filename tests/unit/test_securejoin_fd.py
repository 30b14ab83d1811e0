"""securejoin.open_in_root / scoped_path: paths resolved inside a root as a chrooted process would."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from dockyard.securejoin import open_in_root, scoped_path


@pytest.fixture
def root(tmp_path: Path):
    r = tmp_path / "root"
    (r / "etc").mkdir(parents=True)
    (r / "tmp" / "deep").mkdir(parents=True)
    (r / "etc" / "passwd").write_text("inside\n")
    os.symlink("/", r / "escape")
    os.symlink("../../../../../..", r / "tmp" / "up")
    os.symlink("/etc/passwd", r / "abs")
    os.symlink("nothere/x", r / "broken")
    os.symlink("loop2", r / "loop1")
    os.symlink("loop1", r / "loop2")
    os.symlink(str(tmp_path), r / "hostpath")   # an absolute host path: means /<that> inside the root
    fd = os.open(r, os.O_RDONLY | os.O_DIRECTORY)
    yield r, fd
    os.close(fd)


def _target(fd: int) -> str:
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    finally:
        os.close(fd)


@pytest.mark.parametrize("path", ["/escape/etc/passwd", "tmp/up/etc/passwd", "/abs", "/../../etc/passwd",
                                  "/tmp/deep/../../escape/escape/etc/./passwd"])
def test_symlinks_and_dotdot_stay_inside(root, path):
    r, fd = root
    got, parts = open_in_root(fd, path)
    assert parts == ["etc", "passwd"]
    assert _target(got) == str(r / "etc" / "passwd")
    assert scoped_path(fd, path) == "/etc/passwd"


def test_last_symlink_kept_unless_followed(root):
    r, fd = root
    got, parts = open_in_root(fd, "/escape", follow_last=False)
    assert parts == ["escape"] and _target(got) == str(r / "escape")
    got, parts = open_in_root(fd, "/escape", follow_last=True)
    assert parts == [] and _target(got) == str(r)


def test_host_absolute_symlink_means_a_path_in_the_root(root, tmp_path):
    r, fd = root
    assert scoped_path(fd, "/hostpath/x") == str(tmp_path) + "/x"
    with pytest.raises(FileNotFoundError):
        open_in_root(fd, "/hostpath")   # the host dir exists, but not inside the root


def test_missing_and_broken(root):
    _, fd = root
    assert scoped_path(fd, "/broken") == "/nothere/x"
    assert scoped_path(fd, "/nope/../a/b") == "/a/b"
    with pytest.raises(FileNotFoundError):
        open_in_root(fd, "/broken")
    with pytest.raises(NotADirectoryError):
        open_in_root(fd, "/etc/passwd/x")


def test_symlink_loops(root):
    _, fd = root
    with pytest.raises(OSError) as e:
        open_in_root(fd, "/loop1")
    assert e.value.errno == errno.ELOOP
