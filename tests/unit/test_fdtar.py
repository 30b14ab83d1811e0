"""fdtar and engine/archive's path rules: the tars `docker cp` and `export` send, read back with tarfile."""

from __future__ import annotations

import io
import os
import socket
import stat
import tarfile
from pathlib import Path

import pytest

from dockyard import fdtar
from dockyard.engine.archive import go_base, go_file_mode, preserve_trailing, stat_in_root, tar_in_root

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (owners, device nodes)")


DATA: dict[str, bytes] = {}


def _members(chunks) -> list[tarfile.TarInfo]:
    """The archive's entries (regular files' contents in DATA by name)."""
    data = b"".join(chunks)
    assert len(data) % 512 == 0 and data.endswith(b"\0" * 1024)
    with tarfile.open(fileobj=io.BytesIO(data)) as tf:
        out = tf.getmembers()
        for m in out:
            if m.isreg():
                DATA[m.name] = tf.extractfile(m).read()
        return out


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    (root / "etc" / "sub").mkdir(parents=True)
    (root / "etc" / "passwd").write_text("root:x:0:0\n")
    (root / "etc" / "sub" / "b").write_bytes(b"b" * 70000)
    os.link(root / "etc" / "passwd", root / "etc" / "hard")
    os.symlink("/", root / "escape")
    os.symlink("passwd", root / "etc" / "lnk")
    os.mknod(root / "etc" / "null", stat.S_IFCHR | 0o666, os.makedev(1, 3))
    os.chown(root / "etc" / "sub" / "b", 1234, 2345)
    os.chmod(root / "etc" / "sub" / "b", 0o4750)
    s = socket.socket(socket.AF_UNIX)
    s.bind(str(root / "etc" / "sock"))
    s.close()
    for p in (root / "etc" / "sub" / "b", root / "etc" / "passwd"):
        os.utime(p, ns=(1_600_000_000_500_000_000, 1_600_000_000_500_000_000))
    return root


@pytest.fixture
def root_fd(tree: Path):
    fd = os.open(tree, os.O_RDONLY | os.O_DIRECTORY)
    yield fd
    os.close(fd)


def test_directory_named_after_its_base(root_fd):
    st, chunks = tar_in_root(root_fd, "/etc")
    assert st.name == "etc" and st.mode & (1 << 31)
    members = _members(chunks)
    names = [m.name for m in members]
    # lexical order, the directory first; the socket left out
    assert names == ["etc", "etc/hard", "etc/lnk", "etc/null", "etc/passwd", "etc/sub", "etc/sub/b"]
    by = {m.name: m for m in members}
    assert by["etc/hard"].isreg() and by["etc/passwd"].islnk() and by["etc/passwd"].linkname == "etc/hard"
    assert by["etc/lnk"].issym() and by["etc/lnk"].linkname == "passwd"
    assert by["etc/null"].ischr() and (by["etc/null"].devmajor, by["etc/null"].devminor) == (1, 3)
    b = by["etc/sub/b"]
    assert (b.uid, b.gid, b.mode, b.mtime, b.uname) == (1234, 2345, 0o4750, 1_600_000_000, "")
    assert DATA["etc/sub/b"] == b"b" * 70000


@pytest.mark.parametrize("path,first", [("/etc/.", "."), ("/etc/", "etc"), ("/escape/etc", "etc")])
def test_trailing_dot_and_slash(root_fd, path, first):
    _, chunks = tar_in_root(root_fd, path)
    names = [m.name for m in _members(chunks)]
    assert names[0] == first and names[1] == f"{first}/hard"


def test_file_and_symlink_alone(root_fd):
    st, chunks = tar_in_root(root_fd, "/escape/etc/sub/b")
    assert [m.name for m in _members(chunks)] == ["b"] and st.size == 70000
    st, chunks = tar_in_root(root_fd, "/escape")
    members = _members(chunks)
    assert [(m.name, m.issym(), m.linkname) for m in members] == [("escape", True, "/")]
    assert st.mode & (1 << 27) and st.link_target == "/"


def test_root_entries_are_absolute_like_docker(root_fd):
    _, chunks = tar_in_root(root_fd, "/")
    names = [m.name for m in _members(chunks)]
    assert names[:3] == ["", "/escape", "/etc"]   # "/" read back by tarfile as ""


def test_stat_follows_links_inside_the_root(root_fd):
    st = stat_in_root(root_fd, "/etc/lnk")
    assert st.link_target == "/etc/passwd" and st.name == "lnk"
    with pytest.raises(FileNotFoundError):
        stat_in_root(root_fd, "/nope")
    with pytest.raises(NotADirectoryError):
        stat_in_root(root_fd, "/etc/passwd/")


def test_pseudo_filesystems_are_not_walked():
    fd = os.open("/proc", os.O_RDONLY | os.O_DIRECTORY)
    try:
        assert fdtar.is_pseudo_fs(fd)
        assert [m.name for m in _members(fdtar.tar_dir(fd, root_name="proc", child_prefix="proc/"))] == ["proc"]
    finally:
        os.close(fd)


def test_export_names_are_relative(root_fd):
    names = [m.name for m in _members(fdtar.tar_dir(root_fd, root_name=None, child_prefix=""))]
    assert names[:3] == ["escape", "etc", "etc/hard"]


def test_go_helpers():
    assert go_file_mode(stat.S_IFDIR | 0o755) == (1 << 31) | 0o755
    assert go_file_mode(stat.S_IFLNK | 0o777) == (1 << 27) | 0o777
    assert go_file_mode(stat.S_IFCHR | 0o666) == (1 << 26) | (1 << 21) | 0o666
    assert go_file_mode(stat.S_IFREG | 0o4755) == (1 << 23) | 0o755
    assert [go_base(p) for p in ("", "/", "/a/b/", "a")] == [".", "/", "b", "a"]
    assert preserve_trailing("/a", "a/.") == "/a/." and preserve_trailing("/a", "a/") == "/a/"
    assert preserve_trailing("/", "/") == "/"
