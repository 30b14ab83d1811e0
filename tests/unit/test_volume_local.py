"""The local volume driver and copy-up, on the real filesystem (tmpfs mounts included: we are root)."""

from __future__ import annotations

import os
import stat

import pytest

from dockyard import errors, mountinfo
from dockyard.volume.copyup import copy_up, is_empty
from dockyard.volume.local import LocalDriver, validate_name, validate_options


@pytest.mark.parametrize("name, message", [
    ("a", "volume name is too short, names should be at least two alphanumeric characters"),
    ("../x", '"../x" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are '
             "allowed. If you intended to pass a host directory, use absolute path"),
    (".hidden", None), ("a/b", None), ("x y", None), ("_x", None),
])
def test_names(name, message):
    with pytest.raises(errors.InvalidArgument) as e:
        validate_name(name)
    if message:
        assert e.value.message == message
    for good in ("ab", "my-vol_1.2", "0a"):
        validate_name(good)


@pytest.mark.parametrize("opts, message", [
    ({"foo": "bar"}, 'invalid option: "foo"'),
    ({"type": "tmpfs"}, 'missing required option: "device"'),
    ({"device": "tmpfs"}, 'missing required option: "type"'),
    ({"o": "size=1m"}, 'missing required option: "device"'),
    ({"size": "10m"}, "quota size requested but no quota support"),
])
def test_options(opts, message):
    with pytest.raises(errors.InvalidArgument) as e:
        validate_options(opts)
    assert e.value.message == message
    validate_options({"type": "tmpfs", "device": "tmpfs", "o": "size=1m"})


def test_create_remove_and_layout(tmp_path):
    d = LocalDriver(tmp_path / "volumes")
    data = d.create("v1", None)
    assert data == tmp_path / "volumes" / "v1" / "_data" and data.is_dir()
    assert stat.S_IMODE(os.stat(data.parent).st_mode) == 0o701 and stat.S_IMODE(os.stat(data).st_mode) == 0o755
    (data / "f").write_text("x")
    assert d.names() == ["v1"] and d.size("v1") == 1
    d.remove("v1", None)
    assert not (tmp_path / "volumes" / "v1").exists() and d.names() == []


def test_remove_never_leaves_the_root(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep").write_text("keep")
    root = tmp_path / "volumes"
    d = LocalDriver(root)
    os.symlink(outside, root / "evil")   # planted by someone else: must not be followed
    d.remove("evil", None)
    assert (outside / "keep").read_text() == "keep" and os.listdir(root) == []


def test_interrupted_removal_is_finished_by_sweep(tmp_path):
    d = LocalDriver(tmp_path / "volumes")
    d.create("v1", None)
    os.rename(tmp_path / "volumes" / "v1", tmp_path / "volumes" / ".removing-v1")   # a crash mid-remove
    d.sweep()
    assert os.listdir(tmp_path / "volumes") == []


def test_tmpfs_volume_is_mounted_while_used(tmp_path):
    d = LocalDriver(tmp_path / "volumes")
    opts = {"type": "tmpfs", "device": "tmpfs", "o": "size=1m,mode=0750"}
    data = d.create("t1", opts)
    try:
        assert d.mount("t1", opts, "c1") == data
        d.mount("t1", opts, "c2")
        assert mountinfo.is_mountpoint(str(data))
        assert stat.S_IMODE(os.stat(data).st_mode) == 0o750
        d.unmount("t1", opts, "c1")
        assert mountinfo.is_mountpoint(str(data))        # c2 still uses it
        with pytest.raises(errors.SystemError_, match="active mounts"):
            d.remove("t1", opts)
        d.unmount("t1", opts, "c2")
        assert not mountinfo.is_mountpoint(str(data))
    finally:
        for point in mountinfo.mounts_under(str(tmp_path)):
            os.system(f"umount -l {point}")
    d.remove("t1", opts)


def test_bind_volume_and_a_failed_mount(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "hello").write_text("hi")
    d = LocalDriver(tmp_path / "volumes")
    opts = {"type": "none", "o": "bind", "device": str(src)}
    data = d.create("b1", opts)
    try:
        d.mount("b1", opts, "c1")
        assert (data / "hello").read_text() == "hi"
    finally:
        d.unmount("b1", opts, "c1")
    assert not (data / "hello").exists()
    bad = {"type": "none", "o": "bind", "device": str(tmp_path / "missing")}
    d.create("b2", bad)
    with pytest.raises(errors.SystemError_, match="failed to mount local volume: mount .*: no such file"):
        d.mount("b2", bad, "c1")


def _tree(root):
    src = root / "src"
    (src / "sub").mkdir(parents=True)
    (src / "sub" / "file").write_text("content")
    os.chmod(src / "sub" / "file", 0o640)
    os.chown(src / "sub" / "file", 1234, 5678)
    os.link(src / "sub" / "file", src / "hard")
    os.symlink("/etc/passwd", src / "abs-link")   # must stay a link, never be followed
    os.mkfifo(src / "fifo")
    os.mknod(src / "null", stat.S_IFCHR | 0o666, os.makedev(1, 3))
    os.mknod(src / "whiteout", stat.S_IFCHR, 0)    # an overlay whiteout read straight from a layer
    os.chmod(src, 0o750)
    os.chown(src, 999, 999)
    os.setxattr(src / "sub" / "file", "user.note", b"kept")
    return src


def test_copy_up_keeps_what_the_image_has(tmp_path):
    src = _tree(tmp_path)
    vol = tmp_path / "vol"
    vol.mkdir()
    assert copy_up(str(src), str(vol))
    assert (vol / "sub" / "file").read_text() == "content"
    st = os.stat(vol / "sub" / "file")
    assert (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid) == (0o640, 1234, 5678)
    assert os.stat(vol / "hard").st_ino == st.st_ino
    assert os.readlink(vol / "abs-link") == "/etc/passwd"
    assert stat.S_ISFIFO(os.lstat(vol / "fifo").st_mode)
    assert os.lstat(vol / "null").st_rdev == os.makedev(1, 3)
    assert not os.path.lexists(vol / "whiteout")
    top = os.stat(vol)
    assert (stat.S_IMODE(top.st_mode), top.st_uid) == (0o750, 999)
    assert os.getxattr(vol / "sub" / "file", "user.note") == b"kept"


def test_copy_up_only_into_an_empty_volume(tmp_path):
    src = _tree(tmp_path)
    vol = tmp_path / "vol"
    vol.mkdir()
    (vol / "mine").write_text("x")
    assert not copy_up(str(src), str(vol))
    assert sorted(os.listdir(vol)) == ["mine"]
    assert not copy_up(str(tmp_path / "no-such-dir"), str(tmp_path / "other"))
    assert is_empty(str(tmp_path / "other"))
