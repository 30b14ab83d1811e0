"""cli/cparchive.py (go-archive's copy rules on the client) and engine/archive_extract.py (the daemon's
unpacking inside a container root), on real directories and tar bytes."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import pytest

from dockyard import errors
from dockyard.cli import cparchive as ca
from dockyard.engine.archive_extract import container_owner, extract_into, resolve_destination

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (owners)")


def tar_bytes(*entries: tuple) -> bytes:
    """(name, kind, extra) entries: kind "f" (extra = data), "d", "l" (symlink to extra), "h" (hardlink)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for name, kind, *extra in entries:
            info = tarfile.TarInfo(name)
            info.uid = info.gid = 4321
            if kind == "f":
                data = extra[0] if extra else b"x"
                info.size = len(data)
                tf.addfile(info, io.BytesIO(data))
                continue
            info.type = {"d": tarfile.DIRTYPE, "l": tarfile.SYMTYPE, "h": tarfile.LNKTYPE}[kind]
            info.mode = 0o755
            if kind in "lh":
                info.linkname = extra[0]
            tf.addfile(info)
    return buf.getvalue()


# ---------------------------------------------------------------- client rules

@pytest.mark.parametrize("arg,want", [
    ("c1:/etc", ("c1", "/etc")), ("/abs:x", ("", "/abs:x")), ("./f:x", ("", "./f:x")),
    ("file", ("", "file")), ("c:", ("c", "")), ("c:rel/p", ("c", "rel/p")),
])
def test_split_cp_arg(arg, want):
    assert ca.split_cp_arg(arg) == want


def test_path_helpers():
    assert ca.split_path_dir_entry("/a/b/.") == ("/a/b", ".")
    assert ca.split_path_dir_entry("/a/b/") == ("/a", "b")
    assert ca.split_path_dir_entry("/") == ("/", "/")
    assert ca.get_rebase_name("/x/link/", "/y/real") == ("/y/real/", "link")
    assert ca.get_rebase_name("/x/link/.", "/y/real") == ("/y/real/.", "")


@pytest.mark.parametrize("src_dir,dst_exists,dst_dir,dst,want", [
    (False, True, True, "/d", ("/d", None)),
    (True, True, False, "/f", "cannot copy directory"),
    (False, True, False, "/f", ("/", ("src", "f"))),
    (True, False, False, "/new", ("/", ("src", "new"))),
    (False, False, False, "/new/", "no such directory"),
    (False, False, False, "/new", ("/", ("src", "new"))),
])
def test_prepare_archive_copy(src_dir, dst_exists, dst_dir, dst, want):
    src = ca.CopyInfo("/somewhere/src", True, src_dir)
    target = ca.CopyInfo(dst, dst_exists, dst_dir)
    if isinstance(want, str):
        with pytest.raises(ca.CopyError, match=want):
            ca.prepare_archive_copy(src, target)
    else:
        assert ca.prepare_archive_copy(src, target) == want


def test_rebase_entries():
    data = tar_bytes(("d", "d"), ("d/f", "f", b"abc"), ("d/h", "h", "d/f"))
    out = b"".join(ca.rebase_entries(io.BytesIO(data), "d", "new"))
    with tarfile.open(fileobj=io.BytesIO(out)) as tf:
        got = [(m.name, m.linkname) for m in tf.getmembers()]
        assert tf.extractfile("new/f").read() == b"abc"
    assert got == [("new", ""), ("new/f", ""), ("new/h", "new/f")]


def test_local_tar_and_copy_to(tmp_path: Path):
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "sub" / "f").write_text("f")
    os.chown(src / "sub" / "f", 1234, 1234)
    names = [m.name for m in tarfile.open(fileobj=io.BytesIO(b"".join(ca.tar_resource(str(src))))).getmembers()]
    assert names == ["src", "src/sub", "src/sub/f"]
    names = [m.name for m in tarfile.open(fileobj=io.BytesIO(b"".join(ca.tar_resource(str(src) + "/.")))).getmembers()]
    assert names == [".", "./sub", "./sub/f"]
    # out of a "container": into a new name, owners not kept (NoLchown)
    archive = ca.ChunkReader(ca.tar_resource(str(src)))
    ca.copy_to(archive, ca.CopyInfo("/c/src", True, True), str(tmp_path / "out"))
    assert (tmp_path / "out" / "sub" / "f").read_text() == "f"
    assert os.stat(tmp_path / "out" / "sub" / "f").st_uid == os.getuid()


def test_client_untar_refuses_breakouts(tmp_path: Path):
    dest = tmp_path / "dest"
    dest.mkdir()
    for entries, msg in [
        ([("../evil", "f")], "is outside of"),
        ([("l", "l", "../../../etc")], "invalid symlink"),
        ([("h", "h", "../outside")], "invalid hardlink"),
    ]:
        with pytest.raises(ca.CopyError, match=msg):
            ca.untar(io.BytesIO(tar_bytes(*entries)), str(dest))
    assert not (tmp_path / "evil").exists()
    (dest / "dir").mkdir()
    with pytest.raises(ca.CopyError, match='cannot overwrite directory ".*/dest/dir" with non-directory'):
        ca.untar(io.BytesIO(tar_bytes(("dir", "f"))), str(dest))


# ---------------------------------------------------------------- daemon side

@pytest.fixture
def croot(tmp_path: Path):
    """A container root with links that would lead out of it if the host followed them."""
    root = tmp_path / "croot"
    for d in ("etc", "tmp/sub", "ro"):
        (root / d).mkdir(parents=True)
    (root / "etc" / "passwd").write_text("root:x:0:0::/:/bin/sh\napp:x:1000:1001::/:/bin/sh\n")
    (root / "etc" / "group").write_text("root:x:0:\nstaff:x:50:\n")
    os.symlink("/", root / "escape")
    os.symlink("../../../../../..", root / "tmp" / "up")
    os.symlink(str(tmp_path / "host"), root / "tmp" / "hostlink")
    (tmp_path / "host").mkdir()
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    yield root, fd, tmp_path / "host"
    os.close(fd)


@pytest.mark.parametrize("dest", ["/escape/tmp", "/tmp/up/tmp", "/tmp/up/../../tmp"])
def test_extract_through_symlinks_stays_inside(croot, dest):
    root, fd, _ = croot
    parts = resolve_destination(fd, dest, readonly_rootfs=False)
    assert parts == ["tmp"]
    extract_into(fd, parts, io.BytesIO(tar_bytes(("x", "f", b"inside"), ("up/etc/y", "f", b"via link"))),
                 no_overwrite_dir_nondir=True, owner=None)
    assert (root / "tmp" / "x").read_bytes() == b"inside"
    assert (root / "etc" / "y").read_bytes() == b"via link"   # the container's own /etc, never the host's
    assert os.stat(root / "tmp" / "x").st_uid == 4321


def test_extract_to_a_host_path_symlink_is_a_container_path(croot):
    root, fd, host = croot
    with pytest.raises(FileNotFoundError):
        resolve_destination(fd, "/tmp/hostlink", readonly_rootfs=False)
    extract_into(fd, ["tmp"], io.BytesIO(tar_bytes(("hostlink/z", "f"))), no_overwrite_dir_nondir=True, owner=None)
    assert os.listdir(host) == []
    assert (root / str(host).lstrip("/") / "z").exists()


@pytest.mark.parametrize("entries,msg", [
    ([("../../etc/shadow", "f")], 'is outside of "/tmp"'),
    ([("a", "l", "../../x")], 'invalid symlink "/tmp/a" -> "../../x"'),
    ([("a", "h", "../etc/passwd")], 'invalid hardlink "/etc/passwd"'),
    ([("sub", "f")], 'cannot overwrite directory "/tmp/sub" with non-directory "/tmp"'),
])
def test_extract_refusals(croot, entries, msg):
    _, fd, _ = croot
    with pytest.raises(errors.DockyardError) as e:
        extract_into(fd, ["tmp"], io.BytesIO(tar_bytes(*entries)), no_overwrite_dir_nondir=True, owner=None)
    assert msg in e.value.message


def test_destination_checks(croot):
    _, fd, _ = croot
    with pytest.raises(errors.InvalidArgument, match="extraction point is not a directory"):
        resolve_destination(fd, "/etc/passwd", readonly_rootfs=False)
    with pytest.raises(errors.InvalidArgument, match="container rootfs is marked read-only"):
        resolve_destination(fd, "/tmp", readonly_rootfs=True)


def test_container_owner(croot):
    _, fd, _ = croot
    assert container_owner(fd, "") is None
    assert container_owner(fd, "app") == (1000, 1001)
    assert container_owner(fd, "app:staff") == (1000, 50)
    assert container_owner(fd, "4242") == (4242, 0)
    assert container_owner(fd, "1000") == (1000, 1001)
    with pytest.raises(errors.InvalidArgument, match='failed to look up user "nobody" in container'):
        container_owner(fd, "nobody")
