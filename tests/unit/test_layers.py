"""store/layers.py and store/safepath.py on real directories (needs root: mknod, chown, trusted.* xattrs)."""

from __future__ import annotations

import bz2
import gzip
import hashlib
import io
import lzma
import os
import stat
import tarfile
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dockyard.errors import InvalidArgument
from dockyard.store.layers import apply_layer
from dockyard.store.safepath import resolve_in_root

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")

MTIME = 1_600_000_000


def entry(name: str, kind: bytes = tarfile.REGTYPE, data: bytes = b"", *, mode: int | None = None,
          linkname: str = "", uid: int = 0, gid: int = 0, xattrs: dict[str, str] | None = None,
          dev: tuple[int, int] = (0, 0), mtime: int = MTIME) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = mode if mode is not None else (0o755 if kind == tarfile.DIRTYPE else 0o644)
    info.uid, info.gid = uid, gid
    info.linkname = linkname
    info.mtime = mtime
    info.devmajor, info.devminor = dev
    info.size = len(data) if kind in (tarfile.REGTYPE, tarfile.AREGTYPE) else 0
    if xattrs:
        info.pax_headers = {f"SCHILY.xattr.{k}": v for k, v in xattrs.items()}
    return info, data


def tar_bytes(*entries: tuple[tarfile.TarInfo, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for info, data in entries:
            tf.addfile(info, io.BytesIO(data) if info.isreg() else None)
    return buf.getvalue()


def apply(data: bytes, target: Path, **kw):  # type: ignore[no-untyped-def]
    target.mkdir(exist_ok=True)
    return apply_layer(io.BytesIO(data), target, **kw)


def snapshot_tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def test_files_dirs_links_and_metadata(tmp_path: Path) -> None:
    data = tar_bytes(
        entry("./", tarfile.DIRTYPE),
        entry("etc/", tarfile.DIRTYPE, mode=0o750, uid=1, gid=2),
        entry("etc/passwd", data=b"root:x:0:0\n", mode=0o600, uid=5, gid=6),
        entry("bin/su", data=b"#!", mode=0o4755),
        entry("abs", tarfile.SYMTYPE, linkname="/etc/shadow-that-does-not-exist"),
        entry("rel", tarfile.SYMTYPE, linkname="etc/passwd"),
        entry("hard", tarfile.LNKTYPE, linkname="etc/passwd"),
        entry("dev/null", tarfile.CHRTYPE, mode=0o666, dev=(1, 3)),
        entry("pipe", tarfile.FIFOTYPE, mode=0o600),
        entry("x", data=b"x", xattrs={"user.k": "v", "trusted.overlay.redirect": "/etc"}),
        entry("/top/path", data=b"a"),
    )
    out = tmp_path / "out"
    stats = apply(data, out)
    assert stats.diff_id == "sha256:" + hashlib.sha256(data).hexdigest()
    assert stats.size == len(b"root:x:0:0\n") + 2 + 1 + 1 + len("/etc/shadow-that-does-not-exist") + len("etc/passwd")
    assert stats.compression == "none"
    st = os.lstat(out / "etc")
    assert stat.S_IMODE(st.st_mode) == 0o750 and (st.st_uid, st.st_gid) == (1, 2)
    assert st.st_mtime == MTIME  # restored after its children were written
    st = os.lstat(out / "etc/passwd")
    assert stat.S_IMODE(st.st_mode) == 0o600 and (st.st_uid, st.st_gid) == (5, 6) and st.st_mtime == MTIME
    assert stat.S_IMODE(os.lstat(out / "bin/su").st_mode) == 0o4755
    assert os.readlink(out / "abs") == "/etc/shadow-that-does-not-exist"
    assert os.lstat(out / "abs").st_mtime == MTIME
    assert os.readlink(out / "rel") == "etc/passwd"
    assert os.lstat(out / "hard").st_ino == st.st_ino
    dev = os.lstat(out / "dev/null")
    assert stat.S_ISCHR(dev.st_mode) and os.major(dev.st_rdev) == 1 and os.minor(dev.st_rdev) == 3
    assert stat.S_ISFIFO(os.lstat(out / "pipe").st_mode)
    assert os.getxattr(out / "x", "user.k") == b"v"
    assert "trusted.overlay.redirect" not in os.listxattr(out / "x")
    assert (out / "top/path").read_bytes() == b"a"


def test_whiteouts_become_overlay_form(tmp_path: Path) -> None:
    data = tar_bytes(
        entry("etc/", tarfile.DIRTYPE),
        entry("etc/.wh.gone", uid=3, gid=4),
        entry("opaque/", tarfile.DIRTYPE),
        entry("opaque/.wh..wh..opq"),
        entry("opaque/kept", data=b"k"),
        entry(".wh..wh.plnk/", tarfile.DIRTYPE),
        entry(".wh..wh.plnk/123", data=b"aufs"),
    )
    out = tmp_path / "out"
    apply(data, out)
    wh = os.lstat(out / "etc/gone")
    assert stat.S_ISCHR(wh.st_mode) and wh.st_rdev == 0 and (wh.st_uid, wh.st_gid) == (3, 4)
    assert not (out / "etc/.wh.gone").exists()
    assert os.getxattr(out / "opaque", "trusted.overlay.opaque") == b"y"
    assert not os.path.lexists(out / "opaque/.wh..wh..opq")
    assert not os.path.lexists(out / ".wh..wh.plnk")


@pytest.mark.parametrize("compress, name", [
    (gzip.compress, "gzip"), (bz2.compress, "bzip2"), (lzma.compress, "xz"),
    (lambda b: gzip.compress(b[:1000]) + gzip.compress(b[1000:]), "gzip"),  # multi-member
    (lambda b: __import__("zstandard").ZstdCompressor().compress(b), "zstd"),
    (lambda b: b"".join(__import__("zstandard").ZstdCompressor().compress(p) for p in (b[:700], b[700:])), "zstd"),
])
def test_compressed_layers_have_the_uncompressed_diff_id(tmp_path: Path, compress, name) -> None:  # type: ignore[no-untyped-def]
    data = tar_bytes(entry("a", data=b"A" * 5000), entry("b/", tarfile.DIRTYPE))
    sink = io.BytesIO()
    stats = apply(compress(data), tmp_path / "out", sink=sink)
    assert stats.compression == name
    assert stats.diff_id == "sha256:" + hashlib.sha256(data).hexdigest()
    assert sink.getvalue() == data
    assert (tmp_path / "out/a").read_bytes() == b"A" * 5000


def test_trailing_bytes_count_in_the_diff_id(tmp_path: Path) -> None:
    data = tar_bytes(entry("a", data=b"1")) + b"\0" * 4096
    assert apply(data, tmp_path / "o").diff_id == "sha256:" + hashlib.sha256(data).hexdigest()


def test_empty_stream_is_an_empty_layer(tmp_path: Path) -> None:
    stats = apply(b"", tmp_path / "o")
    assert stats.diff_id == "sha256:" + hashlib.sha256(b"").hexdigest() and stats.size == 0
    assert list((tmp_path / "o").iterdir()) == []


def test_later_entries_replace_earlier_ones(tmp_path: Path) -> None:
    data = tar_bytes(
        entry("p", data=b"file"), entry("p/", tarfile.DIRTYPE), entry("p/in", data=b"1"),
        entry("d/", tarfile.DIRTYPE, mode=0o700), entry("d/f", data=b"f"), entry("d/", tarfile.DIRTYPE, mode=0o755),
        entry("q/", tarfile.DIRTYPE), entry("q/x", data=b"x"), entry("q", data=b"now a file"),
    )
    out = tmp_path / "o"
    apply(data, out)
    assert (out / "p/in").read_bytes() == b"1"
    assert (out / "d/f").exists() and stat.S_IMODE(os.lstat(out / "d").st_mode) == 0o755
    assert (out / "q").read_bytes() == b"now a file"


def test_relative_symlink_parent_inside_root_is_followed(tmp_path: Path) -> None:
    data = tar_bytes(entry("usr/lib/", tarfile.DIRTYPE), entry("lib", tarfile.SYMTYPE, linkname="usr/lib"),
                     entry("lib/libc.so", data=b"elf"))
    out = tmp_path / "o"
    apply(data, out)
    assert (out / "usr/lib/libc.so").read_bytes() == b"elf"
    assert os.path.islink(out / "lib")


@pytest.mark.parametrize("entries, message", [
    ([entry("../evil", data=b"x")], 'invalid tar entry "../evil": path escapes the layer root'),
    ([entry("a/../../evil", data=b"x")], "path escapes the layer root"),
    ([entry("/../evil", data=b"x")], "path escapes the layer root"),
    ([entry("link", tarfile.SYMTYPE, linkname="/"), entry("link/evil", data=b"x")],
     'invalid tar entry "link/evil": symlink link -> / leads outside the layer root'),
    ([entry("link", tarfile.SYMTYPE, linkname="../.."), entry("link/evil", data=b"x")],
     "path escapes the layer root"),
    ([entry("a/", tarfile.DIRTYPE), entry("a/up", tarfile.SYMTYPE, linkname="../.."), entry("a/up/evil", data=b"x")],
     "path escapes the layer root"),
    ([entry("pw", tarfile.LNKTYPE, linkname="/etc/passwd")],
     "hardlink target '/etc/passwd' is not in the layer"),
    ([entry("pw", tarfile.LNKTYPE, linkname="../../../../etc/passwd")], "path escapes the layer root"),
    ([entry("l", tarfile.SYMTYPE, linkname="/etc"), entry("pw", tarfile.LNKTYPE, linkname="l/passwd")],
     "leads outside the layer root"),
    ([entry("f", data=b"1"), entry("f/x", data=b"2")], "not a directory"),
    ([entry("/", data=b"x")], "cannot replace the layer root"),
])
def test_unsafe_entries_are_refused_and_nothing_is_left(tmp_path: Path, entries, message) -> None:  # type: ignore[no-untyped-def]
    sandbox = tmp_path / "sandbox"
    out = sandbox / "layer"
    out.mkdir(parents=True)
    data = tar_bytes(entry("ok/", tarfile.DIRTYPE), entry("ok/file", data=b"fine"), *entries)
    with pytest.raises(InvalidArgument) as exc:
        apply(data, out)
    assert message in str(exc.value)
    assert snapshot_tree(sandbox) == {"layer"}
    assert not os.path.exists("/evil")


@pytest.mark.parametrize("payload, message", [
    (gzip.compress(tar_bytes(entry("f", data=os.urandom(100000))))[:5000], "unexpected EOF in gzip data"),
    (b"\x1f\x8b" + b"garbage" * 10, "invalid gzip data"),
    (b"this is not a tar archive at all" * 20, "invalid tar archive"),
])
def test_corrupt_streams(tmp_path: Path, payload: bytes, message: str) -> None:
    out = tmp_path / "o"
    with pytest.raises(InvalidArgument, match=message):
        apply(payload, out)
    assert list(out.iterdir()) == []


def test_truncated_member_data(tmp_path: Path) -> None:
    data = tar_bytes(entry("a/", tarfile.DIRTYPE), entry("a/big", data=b"B" * 100_000))
    out = tmp_path / "o"
    with pytest.raises(InvalidArgument):
        apply(data[:2048 + 50_000], out)
    assert list(out.iterdir()) == []


def test_resolve_in_root(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "usr/lib").mkdir(parents=True)
    os.symlink("/usr/lib", root / "abs")
    os.symlink("../../../../..", root / "usr/up")
    os.symlink("loop", root / "loop")
    r = str(root)
    assert resolve_in_root(root, "/abs/x") == f"{r}/usr/lib/x"
    assert resolve_in_root(root, "../../etc/passwd") == f"{r}/etc/passwd"
    assert resolve_in_root(root, "usr/up/etc") == f"{r}/etc"
    assert resolve_in_root(root, "/") == r
    assert resolve_in_root(root, "missing/../usr") == f"{r}/usr"
    with pytest.raises(OSError):
        resolve_in_root(root, "loop/x")


_parts = st.sampled_from(["a", "b", "..", ".", "", "c"])
_names = st.lists(_parts, min_size=1, max_size=4).map("/".join)
_targets = st.sampled_from(["/", "..", "../..", "a", "/etc", "b/..", ".", "a/../..", "/proc/self/root"])
_entries = st.lists(st.tuples(st.sampled_from("fdsl"), _names, _targets), min_size=1, max_size=8)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_entries)
def test_never_writes_outside_the_root(spec: list[tuple[str, str, str]]) -> None:
    kinds = {"f": tarfile.REGTYPE, "d": tarfile.DIRTYPE, "s": tarfile.SYMTYPE, "l": tarfile.LNKTYPE}
    entries = [entry(name, kinds[k], b"data" if k == "f" else b"", linkname=target if k in "sl" else "")
               for k, name, target in spec]
    with tempfile.TemporaryDirectory() as tmp:
        sandbox = Path(tmp)
        out = sandbox / "layer"
        out.mkdir()
        try:
            apply(tar_bytes(*entries), out)
        except InvalidArgument:
            assert list(out.iterdir()) == []
        for path in sandbox.rglob("*"):
            assert path == out or out in path.parents


def test_staging_parent_spreads_new_layers_over_the_filesystem(tmp_path):
    """chattr +T on the staging parent where the filesystem knows the flag (ext4 does)."""
    import fcntl
    import struct

    from dockyard.store.snapshots import spread_subdirs

    target = tmp_path / "staging"
    target.mkdir()
    if not spread_subdirs(target):
        pytest.skip("this filesystem has no top-directory flag")
    fd = os.open(target, os.O_RDONLY)
    try:
        flags = struct.unpack("=q", fcntl.ioctl(fd, 0x80086601, b"\0" * 8))[0]
    finally:
        os.close(fd)
    assert flags & 0x00020000
    assert spread_subdirs(target)   # again: a no-op
