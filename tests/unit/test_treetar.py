"""store/treetar.py on real directories: deterministic layer tars, and overlay uppers as OCI layers
(needs root: chown, mknod, trusted.* xattrs, an overlay mount)."""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
from pathlib import Path

import pytest

from dockyard.errors import SystemError_
from dockyard.store.layers import apply_layer
from dockyard.store.snapshots import mount_rootfs, unmount
from dockyard.store.treetar import tree_tar

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")

CLAMP = 1_700_000_000


def make_tree(root: Path, mtime: int) -> None:
    (root / "usr/bin").mkdir(parents=True)
    (root / "etc").mkdir()
    (root / "usr/bin/tool").write_bytes(b"#!/bin/sh\necho tool\n" * 100)
    (root / "usr/bin/b").write_bytes(b"b")
    os.link(root / "usr/bin/tool", root / "usr/bin/tool-alias")
    os.symlink("tool", root / "usr/bin/t")
    (root / "etc/secret").write_text("s")
    os.chmod(root / "etc/secret", 0o600)
    os.chown(root / "etc/secret", 0, 42)
    os.chmod(root / "usr/bin/tool", 0o4755)
    os.setxattr(root / "usr/bin/b", "security.capability",
                bytes.fromhex("0100000200200000000000000000000000000000"))
    os.mkfifo(root / "etc/fifo")
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            os.utime(os.path.join(dirpath, name), (mtime, mtime), follow_symlinks=False)
    os.utime(root / "usr/bin/b", (1_500_000_000, 1_500_000_000))   # older than the clamp: kept


def tar_bytes(root: Path, **kw: object) -> bytes:
    return b"".join(tree_tar(str(root), clamp_mtime=CLAMP, **kw))  # type: ignore[arg-type]


def test_same_tree_same_bytes_and_sorted_clamped_entries(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    make_tree(a, 1_800_000_000)
    make_tree(b, 1_900_000_000)          # made later (other inode numbers, times): the same layer
    data = tar_bytes(a)
    assert hashlib.sha256(data).digest() == hashlib.sha256(tar_bytes(b)).digest()
    with tarfile.open(fileobj=io.BytesIO(data)) as tf:
        members = tf.getmembers()
    names = [m.name for m in members]
    assert names == ["etc", "etc/fifo", "etc/secret", "usr", "usr/bin", "usr/bin/b", "usr/bin/t",
                     "usr/bin/tool", "usr/bin/tool-alias"]
    by = {m.name: m for m in members}
    assert by["usr/bin/tool"].mode == 0o4755 and by["usr/bin/tool"].size == 2000
    assert by["usr/bin/tool-alias"].islnk() and by["usr/bin/tool-alias"].linkname == "usr/bin/tool"
    assert by["usr/bin/t"].issym() and by["usr/bin/t"].linkname == "tool"
    assert (by["etc/secret"].uid, by["etc/secret"].gid, by["etc/secret"].mode) == (0, 42, 0o600)
    assert by["etc/secret"].uname == "" and by["etc/fifo"].isfifo()
    assert by["usr/bin/b"].mtime == 1_500_000_000
    assert {m.mtime for n, m in by.items() if n != "usr/bin/b"} == {CLAMP}
    assert "SCHILY.xattr.security.capability" in by["usr/bin/b"].pax_headers
    assert not any("atime" in m.pax_headers or "ctime" in m.pax_headers for m in members)


def test_round_trip_through_the_store(tmp_path: Path) -> None:
    src, out = tmp_path / "src", tmp_path / "out"
    make_tree(src, 1_800_000_000)
    out.mkdir()
    data = tar_bytes(src)
    stats = apply_layer(io.BytesIO(data), out)
    assert stats.diff_id == "sha256:" + hashlib.sha256(data).hexdigest()
    assert (out / "usr/bin/tool").read_bytes() == (src / "usr/bin/tool").read_bytes()
    assert os.stat(out / "usr/bin/tool").st_ino == os.stat(out / "usr/bin/tool-alias").st_ino
    assert os.getxattr(out / "usr/bin/b", "security.capability") == \
        os.getxattr(src / "usr/bin/b", "security.capability")
    assert os.stat(out / "usr/bin/tool").st_mode & 0o7777 == 0o4755


def test_overlay_upper_becomes_an_oci_layer(tmp_path: Path) -> None:
    lower, upper, work, merged = (tmp_path / d for d in ("lower", "upper", "work", "merged"))
    for d in (lower / "etc/keep", lower / "var/old", upper, work, merged):
        d.mkdir(parents=True)
    (lower / "etc/gone").write_text("x")
    (lower / "etc/keep/k").write_text("k")
    (lower / "var/old/file").write_text("o")
    mount_rootfs([str(lower)], str(upper), str(work), str(merged))
    try:
        os.unlink(merged / "etc/gone")                           # → a whiteout
        (merged / "etc/new").write_text("n")
        for f in (merged / "var/old").iterdir():
            f.unlink()
        (merged / "var/old").rmdir()
        (merged / "var/old").mkdir()                             # deleted and made again → opaque
        (merged / "var/old/fresh").write_text("f")
    finally:
        unmount(str(merged))
    with tarfile.open(fileobj=io.BytesIO(tar_bytes(upper, upper=True))) as tf:
        names = {m.name: m for m in tf.getmembers()}
    assert "etc/.wh.gone" in names and names["etc/.wh.gone"].isfile() and names["etc/.wh.gone"].size == 0
    assert "etc/gone" not in names and "etc/new" in names and "etc/keep" not in names
    assert "var/old/.wh..wh..opq" in names and "var/old/fresh" in names
    assert not any("trusted.overlay" in k for m in names.values() for k in m.pax_headers)
    # applied on the lower, the layer gives what the overlay showed
    applied = tmp_path / "applied"
    applied.mkdir()
    apply_layer(io.BytesIO(tar_bytes(upper, upper=True)), applied)
    assert os.stat(applied / "etc/gone").st_rdev == 0   # overlay form again: a 0:0 char device


def test_overlay_redirects_are_refused(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    os.setxattr(tmp_path / "d", "trusted.overlay.redirect", b"/elsewhere")
    with pytest.raises(SystemError_, match="redirect or metacopy"):
        tar_bytes(tmp_path, upper=True)
    # outside an upper the xattr is just left out
    with tarfile.open(fileobj=io.BytesIO(tar_bytes(tmp_path))) as tf:
        assert [m.name for m in tf.getmembers()] == ["d"]
