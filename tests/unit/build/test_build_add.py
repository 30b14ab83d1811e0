"""ADD: local archives unpacked (safely), URLs downloaded from a local http.server."""

from __future__ import annotations

import bz2
import email.utils
import gzip
import hashlib
import http.server
import io
import lzma
import os
import stat
import tarfile
import threading
from pathlib import Path

import pytest

from dockyard.build.copy import add_checksum, add_into, is_archive
from dockyard.errors import InvalidArgument


def _tar(entries: list[tuple[str, bytes, bytes | None, dict]]) -> bytes:
    """entries: (name, type, data, attributes)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for name, type_, data, attrs in entries:
            info = tarfile.TarInfo(name)
            info.type = type_
            for k, v in attrs.items():
                setattr(info, k, v)
            if data is not None:
                info.size = len(data)
            tf.addfile(info, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


SAMPLE = _tar([
    ("sub", tarfile.DIRTYPE, None, {"mode": 0o750, "uid": 3, "gid": 4, "mtime": 1_000_000}),
    ("sub/x", tarfile.REGTYPE, b"in\n", {"mode": 0o640, "uid": 5, "gid": 6, "mtime": 2_000_000}),
    ("sub/ln", tarfile.SYMTYPE, None, {"linkname": "x"}),
])


@pytest.fixture
def ctx(tmp_path: Path) -> Path:
    c = tmp_path / "ctx"
    c.mkdir()
    (c / "plain.tar").write_bytes(SAMPLE)
    (c / "x.tgz").write_bytes(gzip.compress(SAMPLE))
    (c / "x.tar.bz2").write_bytes(bz2.compress(SAMPLE))
    (c / "x.tar.xz").write_bytes(lzma.compress(SAMPLE))
    (c / "notes.txt").write_text("just text\n")
    (c / "notes.txt.gz").write_bytes(gzip.compress(b"just text\n"))
    (c / "empty").write_bytes(b"")
    return c


@pytest.fixture
def rootfs(tmp_path: Path) -> Path:
    r = tmp_path / "rootfs"
    r.mkdir()
    return r


@pytest.mark.parametrize("name", ["plain.tar", "x.tgz", "x.tar.bz2", "x.tar.xz"])
def test_local_archive_is_unpacked_keeping_its_owners(ctx, rootfs, name):
    add_into(ctx, [name], "/e", rootfs, chown=(1000, 1000))
    x = os.lstat(rootfs / "e" / "sub" / "x")
    assert (rootfs / "e" / "sub" / "x").read_text() == "in\n"
    assert (stat.S_IMODE(x.st_mode), x.st_uid, x.st_gid, x.st_mtime) == (0o640, 5, 6, 2_000_000)
    sub = os.lstat(rootfs / "e" / "sub")
    assert (stat.S_IMODE(sub.st_mode), sub.st_uid, sub.st_mtime) == (0o750, 3, 1_000_000)
    assert os.readlink(rootfs / "e" / "sub" / "ln") == "x"
    e = os.lstat(rootfs / "e")
    assert (stat.S_IMODE(e.st_mode), e.st_uid) == (0o755, 0)


def test_non_archives_are_copied(ctx, rootfs):
    add_into(ctx, ["notes.txt", "notes.txt.gz", "empty"], "/d/", rootfs)
    assert (rootfs / "d" / "notes.txt").read_text() == "just text\n"
    assert (rootfs / "d" / "notes.txt.gz").read_bytes() == gzip.compress(b"just text\n")
    assert (rootfs / "d" / "empty").read_bytes() == b""
    assert not is_archive(str(ctx / "notes.txt.gz"))
    assert is_archive(str(ctx / "x.tgz"))


def test_archive_merges_into_existing_dir(ctx, rootfs):
    (rootfs / "e" / "sub").mkdir(parents=True)
    (rootfs / "e" / "sub" / "old").write_text("o")
    add_into(ctx, ["plain.tar"], "/e/", rootfs)
    assert sorted(os.listdir(rootfs / "e" / "sub")) == ["ln", "old", "x"]


EVIL = {
    "dotdot": [("../../escaped", tarfile.REGTYPE, b"x", {})],
    "symlink_then_write": [("link", tarfile.SYMTYPE, None, {"linkname": "/"}),
                           ("link/escaped", tarfile.REGTYPE, b"x", {})],
    "relative_symlink_climb": [("up", tarfile.SYMTYPE, None, {"linkname": "../../../.."}),
                               ("up/escaped", tarfile.REGTYPE, b"x", {})],
    "hardlink_out": [("hl", tarfile.LNKTYPE, None, {"linkname": "../../etc/passwd"})],
}


@pytest.mark.parametrize("case", sorted(EVIL))
def test_archive_entries_cannot_escape(ctx, rootfs, tmp_path, case):
    (rootfs / "etc").mkdir()
    (rootfs / "etc" / "passwd").write_text("root:x:0:0::/:/bin/sh\n")
    (ctx / "evil.tar").write_bytes(_tar(EVIL[case]))
    try:
        add_into(ctx, ["evil.tar"], "/app/dest", rootfs)
    except InvalidArgument as e:
        assert "failed to copy files" in str(e)
    assert not (tmp_path / "escaped").exists() and not (rootfs / "escaped").exists()
    assert not (rootfs / "app" / "escaped").exists()
    assert not os.path.lexists("/escaped")
    if case in ("symlink_then_write", "relative_symlink_climb"):
        # confined as if the destination were "/": the entry lands inside it
        assert (rootfs / "app" / "dest" / "escaped").read_bytes() == b"x"


def test_absolute_entry_names_are_taken_relative(ctx, rootfs):
    (ctx / "abs.tar").write_bytes(_tar([("/etc/abs", tarfile.REGTYPE, b"a", {})]))
    add_into(ctx, ["abs.tar"], "/d", rootfs)
    assert (rootfs / "d" / "etc" / "abs").read_bytes() == b"a"
    assert not os.path.exists("/etc/abs")


# -- URLs -------------------------------------------------------------------------------------


class _Server:
    def __init__(self) -> None:
        self.hits: list[str] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):  # noqa: N802
                outer.hits.append(self.path)
                routes = {
                    "/hello.txt": (200, b"hello\n", {"Last-Modified": email.utils.formatdate(1_234_567_890, usegmt=True)}),
                    "/archive.tar": (200, SAMPLE, {}),
                    "/dir/": (200, b"named by header\n", {"Content-Disposition": 'attachment; filename="cd.txt"'}),
                    "/noname/": (200, b"anonymous\n", {}),
                }
                code, body, headers = routes.get(self.path, (404, b"no such thing\n", {}))
                self.send_response(code)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    s = _Server()
    yield s
    s.close()


def _docker_url_key(name: str, data: bytes) -> str:
    """moby's lazy-source tarsum of a download: 0600, root's, no mtime; no file: prefix."""
    h = hashlib.sha256()
    for k, v in [("name", name), ("mode", "384"), ("uid", "0"), ("gid", "0"), ("size", str(len(data))),
                 ("typeflag", "0"), ("linkname", ""), ("uname", ""), ("gname", ""), ("devmajor", "0"),
                 ("devminor", "0")]:
        h.update((k + v).encode())
    h.update(data)
    return h.hexdigest()


def test_url_downloaded_0600_with_last_modified(ctx, rootfs, server):
    add_into(ctx, [server.url + "/hello.txt"], "/d/", rootfs)
    st = os.lstat(rootfs / "d" / "hello.txt")
    assert (rootfs / "d" / "hello.txt").read_text() == "hello\n"
    assert (stat.S_IMODE(st.st_mode), st.st_uid, st.st_mtime) == (0o600, 0, 1_234_567_890)
    add_into(ctx, [server.url + "/hello.txt"], "/f", rootfs, chown=(7, 7))
    assert (rootfs / "f").read_text() == "hello\n" and os.lstat(rootfs / "f").st_uid == 7


def test_url_never_unpacked(ctx, rootfs, server):
    add_into(ctx, [server.url + "/archive.tar"], "/d/", rootfs)
    assert (rootfs / "d" / "archive.tar").read_bytes() == SAMPLE


def test_url_names(ctx, rootfs, server):
    add_into(ctx, [server.url + "/dir/"], "/d/", rootfs)
    assert (rootfs / "d" / "cd.txt").read_text() == "named by header\n"
    add_into(ctx, [server.url + "/noname/"], "/plain", rootfs)
    assert (rootfs / "plain").read_text() == "anonymous\n"
    with pytest.raises(InvalidArgument) as e:
        add_into(ctx, [server.url + "/noname/"], "/d/", rootfs)
    assert str(e.value) == f"ADD failed: cannot determine filename for source {server.url}/noname/"


def test_url_errors(ctx, rootfs, server):
    with pytest.raises(InvalidArgument) as e:
        add_into(ctx, [server.url + "/missing"], "/d/", rootfs)
    assert str(e.value) == f"ADD failed: failed to GET {server.url}/missing with status 404 Not Found: no such thing"
    with pytest.raises(InvalidArgument, match="ADD failed: Get"):
        add_into(ctx, ["http://127.0.0.1:1/x"], "/d/", rootfs)


def test_checksum(ctx, rootfs, server, tmp_path):
    good = "sha256:" + hashlib.sha256(b"hello\n").hexdigest()
    add_into(ctx, [server.url + "/hello.txt"], "/ok", rootfs, checksum=good)
    assert (rootfs / "ok").read_text() == "hello\n"
    bad = "sha256:" + "0" * 64
    with pytest.raises(InvalidArgument) as e:
        add_into(ctx, [server.url + "/hello.txt"], "/bad", rootfs, checksum=bad)
    assert str(e.value) == f"ADD failed: digest mismatch {good}: {bad}"
    assert not (rootfs / "bad").exists()
    for sources, checksum, message in [
        ([server.url + "/hello.txt", server.url + "/a"], good, "checksum can't be specified for multiple sources"),
        (["notes.txt"], good, "checksum can't be specified for non-HTTP(S) sources"),
        ([server.url + "/hello.txt"], "sha256:abc", "invalid checksum digest length"),
        ([server.url + "/hello.txt"], "md5:" + "0" * 32, "unsupported digest algorithm"),
        ([server.url + "/hello.txt"], "nocolon", "invalid checksum digest format"),
    ]:
        with pytest.raises(InvalidArgument) as e:
            add_into(ctx, sources, "/x/", rootfs, checksum=checksum)
        assert str(e.value) == message


def test_add_checksum_keys_and_one_download(ctx, rootfs, server, tmp_path):
    url = server.url + "/hello.txt"
    downloads = tmp_path / "downloads"
    key = add_checksum(ctx, [url], download_dir=downloads)
    assert key == _docker_url_key("hello.txt", b"hello\n")
    add_into(ctx, [url], "/d/", rootfs, download_dir=downloads)
    assert server.hits == ["/hello.txt"]  # the copy reused the download the key needed
    assert add_checksum(ctx, ["plain.tar"]).startswith("file:")
    multi = add_checksum(ctx, ["plain.tar", url])
    assert multi.startswith("multi:") and multi != add_checksum(ctx, ["x.tgz", url])
