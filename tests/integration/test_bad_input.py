"""Bad input gets Docker's error shape and status, and leaves the store unchanged."""

from __future__ import annotations

import http.client
import io
import json
import socket
import tarfile


class UnixHTTP(http.client.HTTPConnection):
    def __init__(self, path: str) -> None:
        super().__init__("localhost")
        self.path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.connect(self.path)


def call(daemon, method, url, body=None, headers=None):
    conn = UnixHTTP(str(daemon.socket))
    conn.request(method, url, body=body, headers=headers or {})
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp.status, data, dict(resp.getheaders())


def test_ping_headers(daemon):
    status, body, headers = call(daemon, "GET", "/_ping")
    assert status == 200 and body == b"OK"
    assert headers["Api-Version"] == "1.50" and headers["Ostype"] == "linux"


def test_version_bounds(daemon):
    status, body, _ = call(daemon, "GET", "/v1.99/version")
    assert status == 400 and b"too new" in body
    status, body, _ = call(daemon, "GET", "/v1.12/version")
    assert status == 400 and b"too old" in body
    assert call(daemon, "GET", "/v1.24/version")[0] == 200


def test_malformed_create_body(daemon):
    status, body, _ = call(daemon, "POST", "/v1.50/containers/create", b"{not json",
                           {"Content-Type": "application/json"})
    assert status == 400 and "message" in json.loads(body)
    status, body, _ = call(daemon, "POST", "/v1.50/containers/create",
                           json.dumps({"Image": "busybox", "Cmd": 5}).encode(), {"Content-Type": "application/json"})
    assert status == 400


def test_unknown_container_and_route(daemon):
    status, body, _ = call(daemon, "GET", "/containers/nope/json")
    assert status == 404 and json.loads(body)["message"] == "No such container: nope"
    assert call(daemon, "GET", "/no/such/route")[0] == 404


def test_invalid_reference(daemon):
    p = daemon.docker("tag", "busybox", "Bad:Name", check=False)
    assert p.returncode != 0 and "invalid reference format" in p.stderr_text
    p = daemon.docker("run", "--rm", "UPPER", "true", check=False)
    assert p.returncode == 125


def _images(daemon):
    return daemon.docker("images", "-a", "-q", "--no-trunc").stdout_text.split()


def _tar(entries) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for info, data in entries:
            tf.addfile(info, io.BytesIO(data) if data else None)
    return buf.getvalue()


def test_tar_escape_rejected_store_unchanged(daemon, tmp_path):
    before = _images(daemon)
    blobs_before = sorted((daemon.dir / "root" / "blobs" / "sha256").iterdir())
    evil = tarfile.TarInfo("../../evil")
    evil.size = 4
    status, body, _ = call(daemon, "POST", "/images/create?fromSrc=-&repo=evil", _tar([(evil, b"boom")]))
    assert status == 400 and b"escape" in body.lower() or b"invalid" in body.lower(), body
    link = tarfile.TarInfo("link")
    link.type = tarfile.SYMTYPE
    link.linkname = "/"
    through = tarfile.TarInfo("link/tmp/escaped-file")
    through.size = 2
    call(daemon, "POST", "/images/create?fromSrc=-&repo=evil2", _tar([(link, b""), (through, b"hi")]))
    assert not __import__("os").path.exists("/tmp/escaped-file")
    assert _images(daemon) == before
    assert sorted((daemon.dir / "root" / "blobs" / "sha256").iterdir()) == blobs_before


def test_unknown_flag(daemon):
    p = daemon.docker("run", "--no-such-flag", "busybox", check=False)
    assert p.returncode == 125
