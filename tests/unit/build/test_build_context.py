"""The daemon side of the build context: safe extraction, .dockerignore, finding the Dockerfile."""

from __future__ import annotations

import bz2
import gzip
import io
import json
import lzma
import os
import stat
import tarfile
from pathlib import Path

import pytest
from context_tree import VARIANTS, make_context, make_tree

from dockyard.build.context import (
    apply_dockerignore,
    extract_context,
    make_context_tar,
    prepare_context,
    read_dockerfile,
    remove_build_files,
)
from dockyard.build.dockerignore import PatternMatcher, read_patterns
from dockyard.errors import InvalidArgument

GOLDEN = json.loads((Path(__file__).parent / "golden_context.json").read_text())


def _tar(entries: list[tuple[tarfile.TarInfo, bytes | None]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for info, data in entries:
            if data is not None:
                info.size = len(data)
            tf.addfile(info, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def _file(name: str, data: bytes = b"x", **kw) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    for k, v in kw.items():
        setattr(info, k, v)
    return info, data


def _entry(name: str, type_: bytes, **kw) -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.type = type_
    for k, v in kw.items():
        setattr(info, k, v)
    return info, None


def _tree(root: Path) -> set[str]:
    out = set()
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            out.add(os.path.relpath(os.path.join(dirpath, name), root))
    return out


# -- extraction ------------------------------------------------------------------------


def test_extract_keeps_modes_owners_times_links(tmp_path):
    cap = b"\x01\x00\x00\x02\x00\x20\x00\x00" + bytes(12)
    body = _tar([
        _entry("d", tarfile.DIRTYPE, mode=0o750, uid=12, gid=34, mtime=1_500_000_000),
        _file("d/f", b"hello", mode=0o4755, uid=5, gid=6, mtime=1_400_000_000,
              pax_headers={"SCHILY.xattr.security.capability": cap.decode("latin-1"),
                           "mtime": "1400000000.123456789"}),
        # a hardlink's header applies to the shared inode, as in Docker: same metadata here
        _entry("d/hl", tarfile.LNKTYPE, linkname="d/f", mode=0o4755, uid=5, gid=6, mtime=1_400_000_000,
               pax_headers={"SCHILY.xattr.security.capability": cap.decode("latin-1"),
                            "mtime": "1400000000.123456789"}),
        _entry("ln", tarfile.SYMTYPE, linkname="/etc/passwd", uid=7, gid=8, mtime=1_300_000_000),
        _entry("fifo", tarfile.FIFOTYPE, mode=0o640),
        _entry("null", tarfile.CHRTYPE, devmajor=1, devminor=3, mode=0o666),
    ])
    dest = tmp_path / "ctx"
    extract_context(io.BytesIO(body), dest)
    f = os.lstat(dest / "d" / "f")
    assert (stat.S_IMODE(f.st_mode), f.st_uid, f.st_gid) == (0o4755, 5, 6)
    assert f.st_mtime_ns == 1_400_000_000_123_456_789
    assert (dest / "d" / "f").read_bytes() == b"hello"
    assert os.lstat(dest / "d" / "hl").st_ino == f.st_ino
    assert os.getxattr(dest / "d" / "f", "security.capability").startswith(b"\x01\x00\x00\x02")
    d = os.lstat(dest / "d")
    assert (stat.S_IMODE(d.st_mode), d.st_uid, d.st_gid, d.st_mtime) == (0o750, 12, 34, 1_500_000_000)
    ln = os.lstat(dest / "ln")
    assert os.readlink(dest / "ln") == "/etc/passwd"
    assert (ln.st_uid, ln.st_gid, ln.st_mtime) == (7, 8, 1_300_000_000)
    assert stat.S_ISFIFO(os.lstat(dest / "fifo").st_mode)
    assert os.lstat(dest / "null").st_rdev == os.makedev(1, 3)


@pytest.mark.parametrize("compress", [gzip.compress, bz2.compress, lzma.compress, lambda b: b])
def test_extract_compressed_contexts(tmp_path, compress):
    body = compress(_tar([_file("Dockerfile", b"FROM scratch\n"), _file("./sub/x", b"1")]))
    dest = tmp_path / "ctx"
    extract_context(io.BytesIO(body), dest)
    assert (dest / "Dockerfile").read_bytes() == b"FROM scratch\n"
    assert (dest / "sub" / "x").read_bytes() == b"1"
    assert oct(stat.S_IMODE(os.stat(dest / "sub").st_mode)) == "0o755"  # implied directory


def test_empty_body_is_an_empty_context(tmp_path):
    extract_context(io.BytesIO(b""), tmp_path / "ctx")
    assert os.listdir(tmp_path / "ctx") == []


MALICIOUS = {
    "dotdot": [_file("../evil")],
    "dotdot_deep": [_file("a/../../evil")],
    "absolute": [_file("/evil")],
    "symlink_parent": [_entry("link", tarfile.SYMTYPE, linkname=".."), _file("link/evil")],
    "symlink_parent_abs": [_entry("link", tarfile.SYMTYPE, linkname="/tmp"), _file("link/evil")],
    "symlink_parent_inside": [_entry("d", tarfile.DIRTYPE), _entry("link", tarfile.SYMTYPE, linkname="d"),
                              _file("link/evil")],
    "hardlink_outside": [_entry("evil", tarfile.LNKTYPE, linkname="../secret")],
    "hardlink_absolute": [_entry("evil", tarfile.LNKTYPE, linkname="/etc/passwd")],
    "hardlink_through_symlink": [_entry("link", tarfile.SYMTYPE, linkname="/etc"),
                                 _entry("evil", tarfile.LNKTYPE, linkname="link/passwd")],
}


@pytest.mark.parametrize("case", sorted(MALICIOUS))
def test_malicious_context_refused_nothing_written_outside(tmp_path, case):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_text("s")
    dest = outside / "ctx"
    before = _tree(tmp_path)
    body = _tar([_file("ok", b"fine"), *MALICIOUS[case]])
    with pytest.raises(InvalidArgument) as e:
        extract_context(io.BytesIO(body), dest)
    bad = MALICIOUS[case][-1][0].name
    assert f'"{bad}"' in str(e.value)  # the message names the entry
    assert not dest.exists()  # removed again, as this call created it
    assert _tree(tmp_path) == before
    assert not os.path.lexists("/evil") and not os.path.lexists("/tmp/evil")


def test_existing_dest_is_emptied_on_error(tmp_path):
    dest = tmp_path / "ctx"
    dest.mkdir()
    with pytest.raises(InvalidArgument):
        extract_context(io.BytesIO(_tar([_file("a"), _file("../b")])), dest)
    assert os.listdir(dest) == []


def test_garbage_body_is_invalid(tmp_path):
    with pytest.raises(InvalidArgument):
        extract_context(io.BytesIO(b"this is not a tar archive at all" * 40), tmp_path / "ctx")
    with pytest.raises(InvalidArgument):
        extract_context(io.BytesIO(gzip.compress(b"x" * 1000)[:30]), tmp_path / "ctx")
    assert not (tmp_path / "ctx").exists()


def test_duplicate_entries_replace_as_docker_does(tmp_path):
    body = _tar([
        _entry("x", tarfile.DIRTYPE), _file("x/in", b"1"),
        _file("x", b"now a file"),            # a file replaces the directory
        _file("y", b"1"), _entry("y", tarfile.DIRTYPE),   # a directory replaces a file
        _entry("z", tarfile.DIRTYPE), _file("z/a", b"a"), _entry("z", tarfile.DIRTYPE, mode=0o700),  # dirs merge
    ])
    dest = tmp_path / "ctx"
    extract_context(io.BytesIO(body), dest)
    assert (dest / "x").read_bytes() == b"now a file"
    assert (dest / "y").is_dir()
    assert (dest / "z" / "a").read_bytes() == b"a"
    assert stat.S_IMODE(os.stat(dest / "z").st_mode) == 0o700


# -- .dockerignore and the Dockerfile ----------------------------------------------


def _raw_context(tmp_path: Path, key: str) -> bytes:
    """The tree as a client that does not apply .dockerignore would send it."""
    ctx = tmp_path / "src"
    make_context(str(ctx), key)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        tf.add(ctx, arcname=".")
    return buf.getvalue()


@pytest.mark.parametrize("key", sorted(k for k in VARIANTS if "error" not in GOLDEN[k]))
def test_daemon_side_dockerignore_leaves_what_the_cli_sends(tmp_path, key):
    want = GOLDEN[key]
    dest = tmp_path / "ctx"
    body = io.BytesIO(_raw_context(tmp_path, key))
    if want["dockerfile"] not in want["names"]:
        # the CLI's force-include test missed it (deprecated single-parent match): Docker fails too
        with pytest.raises(InvalidArgument, match=f"^Cannot locate specified Dockerfile: {want['dockerfile']}$"):
            prepare_context(body, dest, want["dockerfile"])
        return
    data = prepare_context(body, dest, want["dockerfile"])
    assert data.startswith(b"FROM scratch")
    expected = {n.rstrip("/") for n in want["names"]}
    for name in list(expected):  # parents the daemon creates for entries sent without theirs
        while "/" in name:
            name = os.path.dirname(name)
            expected.add(name)
    # then the daemon drops the build files the patterns exclude
    patterns = read_patterns(VARIANTS[key][0] or "")
    for name in (".dockerignore", want["dockerfile"]):
        if patterns and PatternMatcher(patterns).matches(name):
            expected.discard(name)
    assert _tree(dest) == expected


def test_cli_tar_then_daemon(tmp_path):
    """The two halves together: what dockyard build sends is what the builder gets."""
    ctx = tmp_path / "src"
    make_tree(str(ctx))
    (ctx / ".dockerignore").write_text("Dockerfile\n.dockerignore\nnode_modules\n")
    buf = io.BytesIO()
    name = make_context_tar(ctx, None, buf)
    buf.seek(0)
    dest = tmp_path / "ctx"
    assert prepare_context(gzip.GzipFile(fileobj=io.BytesIO(gzip.compress(buf.getvalue()))), dest, name) \
        == b"FROM scratch\n# Dockerfile\n"
    left = _tree(dest)
    assert "Dockerfile" not in left and ".dockerignore" not in left and "node_modules" not in left
    assert "src/util/helper.go" in left


def test_read_dockerfile_errors(tmp_path):
    root = tmp_path / "ctx"
    root.mkdir()
    with pytest.raises(InvalidArgument, match=r"^Cannot locate specified Dockerfile: Dockerfile$"):
        read_dockerfile(root, "Dockerfile")
    with pytest.raises(InvalidArgument, match=r"^Cannot locate specified Dockerfile: sub/Dockerfile$"):
        read_dockerfile(root, "sub/Dockerfile")
    with pytest.raises(InvalidArgument, match=r"^forbidden path outside the build context: \.\./Dockerfile \(\)$"):
        read_dockerfile(root, "../Dockerfile")
    (root / "dockerfile").write_text("FROM lower\n")
    assert read_dockerfile(root, "Dockerfile") == b"FROM lower\n"  # only the default name falls back
    with pytest.raises(InvalidArgument, match="Cannot locate specified Dockerfile: Other"):
        read_dockerfile(root, "Other")
    (root / "Empty").write_text("")
    with pytest.raises(InvalidArgument, match=r"^the Dockerfile \(Empty\) cannot be empty$"):
        read_dockerfile(root, "Empty")
    os.symlink("/etc/hostname", root / "Escape")  # followed inside the context only
    with pytest.raises(InvalidArgument, match="Cannot locate specified Dockerfile: Escape"):
        read_dockerfile(root, "Escape")
    (root / "real").write_text("FROM real\n")
    os.symlink("/real", root / "Abs")
    assert read_dockerfile(root, "Abs") == b"FROM real\n"
    assert read_dockerfile(root, "/real") == b"FROM real\n"


def test_remove_build_files_only_when_excluded(tmp_path):
    root = tmp_path / "ctx"
    root.mkdir()
    (root / "Dockerfile").write_text("FROM x\n")
    (root / ".dockerignore").write_text("*.tmp\n")
    remove_build_files(root, "Dockerfile")
    assert (root / "Dockerfile").exists() and (root / ".dockerignore").exists()
    (root / ".dockerignore").write_text("Docker*\n.docker*\n")
    remove_build_files(root, "Dockerfile")
    assert not (root / "Dockerfile").exists() and not (root / ".dockerignore").exists()


def test_apply_dockerignore_keeps_build_files_and_bad_patterns_fail(tmp_path):
    root = tmp_path / "ctx"
    root.mkdir()
    (root / "Dockerfile").write_text("FROM x\n")
    (root / "keep").write_text("")
    (root / "drop.log").write_text("")
    (root / ".dockerignore").write_text("*\n!keep\n")
    apply_dockerignore(root, "Dockerfile")
    assert sorted(os.listdir(root)) == [".dockerignore", "Dockerfile", "keep"]
    (root / ".dockerignore").write_text("a[\n")
    with pytest.raises(InvalidArgument, match="syntax error in pattern"):
        apply_dockerignore(root, "Dockerfile")
