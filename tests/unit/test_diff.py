"""store/diff.py on real directories and real overlay mounts (needs root: overlayfs, mknod, trusted.* xattrs)."""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import socket
import stat
import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from dockyard.errors import SystemError_
from dockyard.store.diff import EMPTY_LAYER_DIFF_ID, is_empty_diff, layer_stream, write_layer
from dockyard.store.layers import apply_layer

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")

T0 = 1_600_000_000


# ---------------------------------------------------------------- helpers

@contextlib.contextmanager
def overlay(target: Path, lowers: list[Path], upper: Path | None = None) -> Iterator[Path]:
    """A real overlay mount: read-write with `upper`, read-only (lowers only) without."""
    target.mkdir(parents=True, exist_ok=True)
    opts = "lowerdir=" + ":".join(str(p) for p in lowers)
    if upper is not None:
        work = upper.parent / (upper.name + "-work")
        work.mkdir(exist_ok=True)
        opts += f",upperdir={upper},workdir={work},index=off"
    subprocess.run(["mount", "-t", "overlay", "overlay", "-o", opts, str(target)], check=True)
    try:
        yield target
    finally:
        subprocess.run(["umount", str(target)], check=True)


def layer_bytes(upper: Path, **kw) -> bytes:  # type: ignore[no-untyped-def]
    buf = io.BytesIO()
    info = write_layer(upper, buf, **kw)
    data = buf.getvalue()
    assert info.size == len(data)
    assert info.diff_id == "sha256:" + hashlib.sha256(data).hexdigest()
    return data


def members(data: bytes) -> list[tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(data), encoding="utf-8", errors="surrogateescape") as tf:
        return tf.getmembers()


def names(data: bytes) -> list[str]:
    return [m.name for m in members(data)]


def _xattrs(path: bytes) -> dict[str, bytes]:
    out = {}
    for name in os.listxattr(path, follow_symlinks=False):
        if not name.startswith("trusted.overlay."):
            out[name] = os.getxattr(path, name, follow_symlinks=False)
    return out


def describe(root: Path) -> dict[bytes, tuple]:
    """Everything a layer carries about each path under root (root itself excluded)."""
    out: dict[bytes, tuple] = {}
    inode_names: dict[tuple[int, int], list[bytes]] = {}
    broot = os.fsencode(root)
    for dirpath, dirnames, filenames in os.walk(broot):
        for name in dirnames + filenames:
            full = os.path.join(dirpath, name)
            rel = os.path.relpath(full, broot)
            st = os.lstat(full)
            kind = stat.S_IFMT(st.st_mode)
            extra: object = None
            if stat.S_ISREG(st.st_mode):
                with open(full, "rb") as f:
                    extra = hashlib.sha256(f.read()).hexdigest()
                if st.st_nlink > 1:
                    inode_names.setdefault((st.st_dev, st.st_ino), []).append(rel)
            elif stat.S_ISLNK(st.st_mode):
                extra = os.readlink(full)
            elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
                extra = st.st_rdev
            mtime = st.st_mtime_ns // 1_000_000_000
            out[rel] = (kind, stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, st.st_size if kind != stat.S_IFDIR
                        else 0, extra, mtime, tuple(sorted(_xattrs(full).items())))
    links = sorted(sorted(v) for v in inode_names.values())
    out[b"<hardlink groups>"] = tuple(tuple(g) for g in links)
    return out


def build_lowers(base: Path) -> list[Path]:
    """Two lowers, top first, made by apply_layer from tars as the store makes them."""
    bottom, top = base / "l0", base / "l1"
    bottom.mkdir()
    top.mkdir()
    (bottom / "etc").mkdir()
    (bottom / "etc" / "passwd").write_text("root:x:0:0::/root:/bin/sh\n")
    (bottom / "d" / "sub").mkdir(parents=True)
    (bottom / "d" / "sub" / "f").write_text("lower f\n")
    (bottom / "d" / "g").write_text("lower g\n")
    (bottom / "keep").mkdir()
    (bottom / "keep" / "k").write_text("k\n")
    (bottom / "delme").write_text("delete me\n")
    (bottom / "modify").write_text("old content\n")
    (bottom / "linked").write_text("two names\n")
    os.link(bottom / "linked", bottom / "linked2")
    (top / "usr" / "bin").mkdir(parents=True)
    (top / "usr" / "bin" / "tool").write_text("#!/bin/sh\n")
    os.chmod(top / "usr" / "bin" / "tool", 0o755)
    (top / "gone-dir").mkdir()
    (top / "gone-dir" / "x").write_text("x\n")
    return [top, bottom]


def make_changes(merged: Path) -> None:
    """What a container might do, through the overlay (so the kernel writes the upper dir)."""
    (merged / "newfile").write_text("new\n")
    os.chmod(merged / "newfile", 0o640)
    os.chown(merged / "newfile", 1000, 1001)
    os.utime(merged / "newfile", (T0, T0))
    (merged / "delme").unlink()
    (merged / "modify").write_text("new content, longer than before\n")
    import shutil
    shutil.rmtree(merged / "d")                      # a lower dir replaced by a new one: opaque
    (merged / "d").mkdir()
    (merged / "d" / "only").write_text("only this\n")
    shutil.rmtree(merged / "gone-dir")               # a lower dir deleted: whiteout
    os.link(merged / "newfile", merged / "newfile-link")
    os.link(merged / "newfile", merged / "d" / "third-name")
    os.symlink("/etc/passwd", merged / "abs-link")
    os.symlink("../newfile", merged / "keep" / "rel-link")
    os.mkfifo(merged / "fifo", 0o600)
    os.mknod(merged / "null", stat.S_IFCHR | 0o666, os.makedev(1, 3))
    os.mknod(merged / "blk", stat.S_IFBLK | 0o660, os.makedev(7, 0))
    os.setxattr(merged / "newfile", "user.comment", b"hello")
    os.setxattr(merged / "newfile", "trusted.bin", b"\x00\xff\x01binary")
    os.chmod(merged / "keep", 0o700)                 # metadata-only copy-up of a lower dir
    (merged / "usr" / "bin" / "tool").write_text("#!/bin/sh\necho changed\n")
    os.rename(merged / "etc" / "passwd", merged / "etc" / "passwd.old")
    (merged / "deep" / "a" / "b" / "c").mkdir(parents=True)
    (merged / "deep" / "a" / "b" / "c" / ("n" * 150)).write_text("a long name\n")
    (merged / "big").write_bytes(os.urandom(3 * (1 << 20) + 123))
    fd = os.open(os.path.join(os.fsencode(merged), b"caf\xe9-latin1"), os.O_CREAT | os.O_WRONLY, 0o644)
    os.write(fd, b"not utf-8 in its name\n")
    os.close(fd)
    os.mkdir(merged / "sticky", 0o1777)
    os.chmod(merged / "sticky", 0o1777)
    (merged / "setuid").write_text("s\n")
    os.chmod(merged / "setuid", 0o4755)
    os.utime(merged / "deep", (T0 + 5, T0 + 5))


# ---------------------------------------------------------------- round trip

def test_round_trip_equals_the_merged_overlay_view(tmp_path: Path) -> None:
    lowers = build_lowers(tmp_path)
    upper = tmp_path / "upper"
    upper.mkdir()
    with overlay(tmp_path / "rw", lowers, upper) as merged:
        make_changes(merged)
    data = layer_bytes(upper, lowerdirs=[str(p) for p in lowers])

    applied = tmp_path / "applied"
    applied.mkdir()
    stats = apply_layer(io.BytesIO(data), applied)
    assert stats.diff_id == "sha256:" + hashlib.sha256(data).hexdigest()

    with overlay(tmp_path / "want", [upper, *lowers]) as want, overlay(tmp_path / "got", [applied, *lowers]) as got:
        expected, actual = describe(want), describe(got)
    assert actual.keys() == expected.keys()
    for key in expected:
        assert actual[key] == expected[key], key
    assert b"delme" not in actual and b"gone-dir" not in actual
    assert sorted(os.listdir(tmp_path / "l0" / "d")) == ["g", "sub"]  # lowers untouched


def test_entries_are_docker_shaped(tmp_path: Path) -> None:
    lowers = build_lowers(tmp_path)
    upper = tmp_path / "upper"
    upper.mkdir()
    with overlay(tmp_path / "rw", lowers, upper) as merged:
        make_changes(merged)
    data = layer_bytes(upper, lowerdirs=[str(p) for p in lowers])
    ms = {m.name: m for m in members(data)}
    order = [m.name for m in members(data)]

    assert ms[".wh.delme"].isreg() and ms[".wh.delme"].size == 0 and ms[".wh.delme"].mode == 0o600
    assert ms[".wh.gone-dir"].isreg()
    assert order.index("d/.wh..wh..opq") == order.index("d") + 1   # the marker right after its dir
    assert "d/sub" not in ms and "d/g" not in ms
    assert ms["etc/.wh.passwd"].isreg() and ms["etc/passwd.old"].isreg()
    # hardlinks point at the first name in walk order, which carries the data
    first = ms["d/third-name"]
    assert first.isreg() and first.size == 4
    assert ms["newfile"].islnk() and ms["newfile"].linkname == "d/third-name"
    assert ms["newfile-link"].islnk() and ms["newfile-link"].linkname == "d/third-name"
    assert ms["newfile"].uid == 1000 and ms["newfile"].gid == 1001 and ms["newfile"].mode == 0o640
    assert ms["abs-link"].issym() and ms["abs-link"].linkname == "/etc/passwd"
    assert ms["fifo"].isfifo() and ms["null"].ischr() and (ms["null"].devmajor, ms["null"].devminor) == (1, 3)
    assert ms["blk"].isblk() and (ms["blk"].devmajor, ms["blk"].devminor) == (7, 0)
    assert ms["sticky"].mode == 0o1777 and ms["setuid"].mode == 0o4755
    assert ms["deep"].mtime == T0 + 5
    assert ms["caf\udce9-latin1"].isreg()
    assert ms["deep/a/b/c/" + "n" * 150].isreg()
    # the first name carries the xattrs; overlay's own never leak out
    assert ms["d/third-name"].pax_headers["SCHILY.xattr.user.comment"] == "hello"
    assert ms["d/third-name"].pax_headers["SCHILY.xattr.trusted.bin"].encode("utf-8", "surrogateescape") \
        == b"\x00\xff\x01binary"
    for m in ms.values():
        assert not any(k.startswith("SCHILY.xattr.trusted.overlay.") for k in m.pax_headers), m.name
        assert m.uname == "" and m.gname == ""
        assert isinstance(m.mtime, int)
    assert data.endswith(b"\0" * 1024) and len(data) % 512 == 0


def test_walk_order_is_bytewise_parents_first(tmp_path: Path) -> None:
    upper = tmp_path / "upper"
    for p in ("b/z", "b/a", "a", "B", "a.b", "a-b"):
        (upper / p).parent.mkdir(parents=True, exist_ok=True)
        (upper / p).write_text(p)
    assert names(layer_bytes(upper)) == ["B", "a", "a-b", "a.b", "b", "b/a", "b/z"]


def test_same_changes_make_byte_identical_tars(tmp_path: Path) -> None:
    """Two uppers with the same content, created in opposite orders (so readdir and inode order differ)."""
    uppers = []
    for label, order in (("one", 1), ("two", -1)):
        upper = tmp_path / label
        upper.mkdir()
        items = [f"f{i:03d}" for i in range(60)][::order]
        for name in items:
            (upper / name).write_text(name * 3)
            os.setxattr(upper / name, "user.b", b"2")
            os.setxattr(upper / name, "user.a", b"1")
        (upper / "f050").unlink()
        os.link(upper / "f010", upper / "f050")
        os.mknod(upper / "gone", stat.S_IFCHR, 0)
        (upper / "sub").mkdir()
        os.setxattr(upper / "sub", "trusted.overlay.opaque", b"y")
        for name in items:
            os.utime(upper / name, ns=(T0 * 10**9 + 123, T0 * 10**9 + 456_789))
        for p in (upper / "sub", upper / "gone", upper):
            os.utime(p, (T0, T0), follow_symlinks=False)
        uppers.append(upper)
    one, two = layer_bytes(uppers[0]), layer_bytes(uppers[1])
    assert one == two
    assert one == layer_bytes(uppers[0])
    m = {x.name: x for x in members(one)}
    assert m["f050"].islnk() and m["f050"].linkname == "f010"
    assert list(m["f001"].pax_headers) == ["SCHILY.xattr.user.a", "SCHILY.xattr.user.b"]
    assert m["f001"].mtime == T0   # whole seconds, as Docker


def test_layer_stream_reads_the_same_bytes(tmp_path: Path) -> None:
    upper = tmp_path / "upper"
    upper.mkdir()
    (upper / "big").write_bytes(os.urandom(2_500_000))
    (upper / "small").write_text("s")
    want = layer_bytes(upper)
    stream = layer_stream(upper)
    parts = []
    while chunk := stream.read(7777):
        parts.append(chunk)
    assert b"".join(parts) == want
    assert stream.info is not None and stream.info.size == len(want)
    assert stream.info.diff_id == "sha256:" + hashlib.sha256(want).hexdigest()
    with layer_stream(upper) as s2:
        assert s2.read() == want


def test_kernel_whiteouts_sharing_an_inode_are_not_hardlinks(tmp_path: Path) -> None:
    upper = tmp_path / "upper"
    upper.mkdir()
    os.mknod(upper / "w1", stat.S_IFCHR, 0)
    os.link(upper / "w1", upper / "w2")
    ms = members(layer_bytes(upper))
    assert [(m.name, m.type) for m in ms] == [(".wh.w1", tarfile.REGTYPE), (".wh.w2", tarfile.REGTYPE)]


def test_xwhiteouts_and_opaque_x(tmp_path: Path) -> None:
    """Kernel ≥ 6.7's other whiteout form; a dir marked opaque=x is not opaque."""
    upper = tmp_path / "upper"
    (upper / "d").mkdir(parents=True)
    os.setxattr(upper / "d", "trusted.overlay.opaque", b"x")
    (upper / "d" / "gone").touch()
    os.setxattr(upper / "d" / "gone", "trusted.overlay.whiteout", b"y")
    (upper / "d" / "kept").touch()
    (upper / "e").mkdir()                     # no marker on the dir: an ordinary empty file
    (upper / "e" / "plain").touch()
    os.setxattr(upper / "e" / "plain", "trusted.overlay.whiteout", b"y")
    assert names(layer_bytes(upper)) == ["d", "d/.wh.gone", "d/kept", "e", "e/plain"]


def test_redirect_and_metacopy_are_refused(tmp_path: Path) -> None:
    upper = tmp_path / "upper"
    (upper / "moved").mkdir(parents=True)
    os.setxattr(upper / "moved", "trusted.overlay.redirect", b"/orig")
    with pytest.raises(SystemError_, match="redirect_dir"):
        layer_bytes(upper)
    upper2 = tmp_path / "upper2"
    upper2.mkdir()
    (upper2 / "f").touch()
    os.setxattr(upper2 / "f", "trusted.overlay.metacopy", b"")
    with pytest.raises(SystemError_, match="metacopy"):
        layer_bytes(upper2)


def test_sockets_are_skipped(tmp_path: Path) -> None:
    upper = tmp_path / "upper"
    upper.mkdir()
    s = socket.socket(socket.AF_UNIX)
    s.bind(str(upper / "sock"))
    s.close()
    (upper / "f").touch()
    assert names(layer_bytes(upper)) == ["f"]


def test_empty_upper_is_dockers_empty_layer(tmp_path: Path) -> None:
    upper = tmp_path / "upper"
    upper.mkdir()
    assert layer_bytes(upper) == b"\0" * 1024
    assert write_layer(upper, io.BytesIO()).diff_id == EMPTY_LAYER_DIFF_ID
    assert is_empty_diff(upper)
    (upper / "x").touch()
    assert not is_empty_diff(upper)


# ---------------------------------------------------------------- mountpoints

def runtime_mountpoints(merged: Path) -> None:
    """What the runtime leaves in a rootfs: empty files and dirs to bind-mount onto."""
    for d in ("proc", "sys", "dev"):
        (merged / d).mkdir(exist_ok=True)
    for f in ("etc/hosts", "etc/hostname", "etc/resolv.conf", ".dockerenv"):
        (merged / f).parent.mkdir(exist_ok=True)
        (merged / f).touch()


def test_mountpoints_only_make_an_empty_layer(tmp_path: Path) -> None:
    lowers = build_lowers(tmp_path)   # has /etc (with passwd), no /proc, /sys, /dev, no /etc/hosts
    upper = tmp_path / "upper"
    upper.mkdir()
    with overlay(tmp_path / "rw", lowers, upper) as merged:
        runtime_mountpoints(merged)
    low = [str(p) for p in lowers]
    assert sorted(os.listdir(upper)) == [".dockerenv", "dev", "etc", "proc", "sys"]
    assert layer_bytes(upper, lowerdirs=low) == b"\0" * 1024   # /etc copied up only for them: dropped too
    assert is_empty_diff(upper, lowerdirs=low)
    everything = names(layer_bytes(upper, lowerdirs=low, exclude_mountpoints=False))
    assert everything == [".dockerenv", "dev", "etc", "etc/hostname", "etc/hosts", "etc/resolv.conf", "proc", "sys"]


def test_mountpoints_with_real_changes_beside_them(tmp_path: Path) -> None:
    lowers = build_lowers(tmp_path)
    upper = tmp_path / "upper"
    upper.mkdir()
    with overlay(tmp_path / "rw", lowers, upper) as merged:
        runtime_mountpoints(merged)
        (merged / "etc" / "motd").write_text("hi\n")       # /etc now holds a real change
        (merged / "proc" / "leftover").touch()             # not an empty mountpoint dir any more
        (merged / "dev" / "console").touch()
    low = [str(p) for p in lowers]
    assert names(layer_bytes(upper, lowerdirs=low)) == ["etc", "etc/motd", "proc", "proc/leftover"]


def test_mountpoints_that_the_image_has_are_kept(tmp_path: Path) -> None:
    lowers = build_lowers(tmp_path)
    (lowers[1] / "etc" / "hosts").write_text("127.0.0.1 localhost\n")
    (lowers[1] / "proc").mkdir()
    upper = tmp_path / "upper"
    upper.mkdir()
    with overlay(tmp_path / "rw", lowers, upper) as merged:
        (merged / "etc" / "hosts").write_text("")           # truncated by the container: a real change
        (merged / "etc" / "hostname").write_text("box\n")   # non-empty: written by the container
        (merged / "proc" / "self").mkdir()                  # the image's /proc, changed
    low = [str(p) for p in lowers]
    assert names(layer_bytes(upper, lowerdirs=low)) == ["etc", "etc/hostname", "etc/hosts", "proc", "proc/self"]


def test_copied_up_dir_with_changed_metadata_is_kept(tmp_path: Path) -> None:
    lowers = build_lowers(tmp_path)
    upper = tmp_path / "upper"
    upper.mkdir()
    with overlay(tmp_path / "rw", lowers, upper) as merged:
        runtime_mountpoints(merged)
        os.chmod(merged / "etc", 0o700)
    assert names(layer_bytes(upper, lowerdirs=[str(p) for p in lowers])) == ["etc"]


def test_whited_out_lower_entry_does_not_count_as_present(tmp_path: Path) -> None:
    lowers = build_lowers(tmp_path)
    (lowers[1] / "etc" / "hosts").write_text("x\n")
    (lowers[0] / "etc").mkdir()
    os.mknod(lowers[0] / "etc" / "hosts", stat.S_IFCHR, 0)  # the top lower deletes it again
    upper = tmp_path / "upper"
    (upper / "etc").mkdir(parents=True)
    (upper / "etc" / "hosts").touch()
    st = os.stat(lowers[0] / "etc")
    os.chown(upper / "etc", st.st_uid, st.st_gid)
    os.chmod(upper / "etc", stat.S_IMODE(st.st_mode))
    assert names(layer_bytes(upper, lowerdirs=[str(p) for p in lowers])) == []


def test_container_mounts_never_record_redirects(tmp_path: Path) -> None:
    """mount_rootfs turns redirect_dir off: renaming a lower dir is EXDEV (mv then copies), so the
    upper dir stays the whole diff."""
    import errno
    import shutil

    from dockyard.store.snapshots import mount_rootfs, unmount

    lowers = build_lowers(tmp_path)
    upper, work, target = tmp_path / "upper", tmp_path / "work", tmp_path / "rootfs"
    for p in (upper, work, target):
        p.mkdir()
    mount_rootfs([str(p) for p in lowers], str(upper), str(work), str(target))
    try:
        with pytest.raises(OSError) as e:
            os.rename(target / "d", target / "moved")
        assert e.value.errno == errno.EXDEV
        shutil.copytree(target / "d", target / "moved", symlinks=True)   # what mv does next
        shutil.rmtree(target / "d")
    finally:
        unmount(str(target))
    ms = {m.name: m for m in members(layer_bytes(upper, lowerdirs=[str(p) for p in lowers]))}
    assert ".wh.d" in ms and ms["moved/sub/f"].size == len("lower f\n") and ms["moved/g"].isreg()


def test_a_file_shrinking_while_read_is_an_error(tmp_path: Path) -> None:
    upper = tmp_path / "upper"
    upper.mkdir()
    (upper / "f").write_bytes(b"x" * 5000)
    stream = layer_stream(upper)
    header = stream.read(512)
    assert header  # the header (size 5000) is out; now the container truncates the file
    os.truncate(upper / "f", 10)
    with pytest.raises(SystemError_, match="shrank"):
        while stream.read(65536):
            pass
    stream.close()
