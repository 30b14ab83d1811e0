"""The Engine-API client against a tiny fake unix-socket HTTP server: pure protocol checks."""

from __future__ import annotations

import io
import json
import os
import socket
import tempfile
import threading

import pytest

from dockyard import errors
from dockyard.client import Client, ConnectError, negotiate, resolve_host, urlencode
from dockyard.client.streams import FrameDecoder, JSONStreamDecoder, demux, frame
from dockyard.client.transport import encode_chunked


class FakeDaemon:
    """Accepts connections; `handler(method, target, headers, body, conn)` returns bytes to send."""

    def __init__(self, handler, api_version: str | None = "1.45") -> None:
        self.dir = tempfile.mkdtemp()
        self.path = os.path.join(self.dir, "d.sock")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(self.path)
        self.sock.listen(16)
        self.handler = handler
        self.api_version = api_version
        self.requests: list[tuple[str, str, dict[str, str], bytes]] = []
        self._t = threading.Thread(target=self._serve, daemon=True)
        self._t.start()

    @property
    def host(self) -> str:
        return "unix://" + self.path

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    def _one(self, conn: socket.socket) -> None:
        f = conn.makefile("rb")
        line = f.readline().decode()
        if not line:
            conn.close()
            return
        method, target, _ = line.split(" ", 2)
        headers: dict[str, str] = {}
        while True:
            h = f.readline().decode()
            if h in ("\r\n", ""):
                break
            k, _, v = h.partition(":")
            headers[k.strip().lower()] = v.strip()
        body = b""
        if "content-length" in headers:
            body = f.read(int(headers["content-length"]))
        elif headers.get("transfer-encoding") == "chunked":
            while True:
                size = int(f.readline().strip(), 16)
                if size == 0:
                    f.readline()
                    break
                body += f.read(size)
                f.readline()
        self.requests.append((method, target, headers, body))
        if target == "/_ping":
            extra = f"Api-Version: {self.api_version}\r\n" if self.api_version else ""
            conn.sendall(f"HTTP/1.1 200 OK\r\n{extra}Content-Length: 0\r\n\r\n".encode())
        else:
            try:
                out = self.handler(method, target, headers, body, conn, f)
                if out:
                    conn.sendall(out)
            except (BrokenPipeError, ConnectionResetError):
                pass   # the client has hung up, as some tests make it do
        conn.close()

    def close(self) -> None:
        self.sock.close()


def json_response(status: int, doc: object, reason: str = "OK") -> bytes:
    body = json.dumps(doc).encode()
    return (f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode() + body


def chunked_response(parts: list[bytes], status: int = 200) -> bytes:
    out = f"HTTP/1.1 {status} OK\r\nTransfer-Encoding: chunked\r\n\r\n".encode()
    for p in parts:
        out += b"%x\r\n%s\r\n" % (len(p), p)
    return out + b"0\r\n\r\n"


@pytest.fixture
def daemon():
    made = []

    def make(handler, **kw):
        d = FakeDaemon(handler, **kw)
        made.append(d)
        return d

    yield make
    for d in made:
        d.close()


@pytest.mark.parametrize(
    ("server", "expected"),
    [("1.41", "1.41"), ("1.50", "1.50"), ("1.99", "1.50"), (None, "1.24"), ("1.9", "1.9")],
)
def test_negotiate(server, expected):
    assert negotiate(server) == expected


def test_ping_negotiates_down_and_prefixes_paths(daemon):
    d = daemon(lambda *a: json_response(200, {"ok": True}), api_version="1.41")
    c = Client(d.host)
    assert c.get_json("/containers/json", {"all": True}) == {"ok": True}
    assert [r[:2] for r in d.requests] == [("HEAD", "/_ping"), ("GET", "/v1.41/containers/json?all=1")]


def test_missing_api_version_header_means_1_24(daemon):
    d = daemon(lambda *a: json_response(200, []), api_version=None)
    c = Client(d.host)
    c.get_json("/images/json")
    assert d.requests[-1][1] == "/v1.24/images/json"


def test_json_request_body_and_headers(daemon):
    d = daemon(lambda *a: json_response(201, {"Id": "abc", "Warnings": []}, "Created"))
    c = Client(d.host)
    out = c.create_container({"Image": "busybox", "Cmd": ["true"]}, name="n1")
    assert out["Id"] == "abc"
    method, target, headers, body = d.requests[-1]
    assert (method, target) == ("POST", "/v1.45/containers/create?name=n1")
    assert headers["content-type"] == "application/json"
    assert json.loads(body) == {"Image": "busybox", "Cmd": ["true"]}


@pytest.mark.parametrize(
    ("status", "cls"),
    [(404, errors.NotFound), (409, errors.Conflict), (400, errors.InvalidArgument),
     (500, errors.SystemError_), (304, errors.NotModified), (403, errors.Forbidden)],
)
def test_errors_map_to_typed_exceptions(daemon, status, cls):
    if status == 304:
        handler = lambda *a: b"HTTP/1.1 304 Not Modified\r\n\r\n"  # noqa: E731
    else:
        handler = lambda *a: json_response(status, {"message": "No such container: x"}, "Err")  # noqa: E731
    d = daemon(handler)
    with pytest.raises(cls) as info:
        Client(d.host).start("x")
    if status != 304:
        assert info.value.message == "No such container: x"
    assert info.value.status == status


def test_plain_text_error_body(daemon):
    d = daemon(lambda *a: b"HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot here\n")
    with pytest.raises(errors.NotFound, match="not here"):
        Client(d.host).get_json("/x")


def test_chunked_json_stream_split_anywhere(daemon):
    lines = b'{"status":"Pulling"}\r\n{"status":"Downloading","id":"a"}\n{"aux":{"ID":"sha256:1"}}\n'
    parts = [lines[:5], lines[5:23], lines[23:24], lines[24:]]
    d = daemon(lambda *a: chunked_response(parts))
    msgs = list(Client(d.host).stream_json("POST", "/images/create", {"fromImage": "busybox", "tag": "latest"}))
    assert msgs == [{"status": "Pulling"}, {"status": "Downloading", "id": "a"}, {"aux": {"ID": "sha256:1"}}]
    assert d.requests[-1][1] == "/v1.45/images/create?fromImage=busybox&tag=latest"


def test_streamed_request_body_is_chunked(daemon):
    d = daemon(lambda *a: chunked_response([b'{"status":"sha256:ff"}\n']))
    payload = os.urandom(200_000)
    msgs = list(Client(d.host).stream_json("POST", "/images/create", {"fromSrc": "-", "repo": "r"},
                                           body=io.BytesIO(payload)))
    assert msgs == [{"status": "sha256:ff"}]
    _, _, headers, body = d.requests[-1]
    assert headers["transfer-encoding"] == "chunked"
    assert "content-length" not in headers
    assert body == payload


def test_hijack_101_with_leftover_bytes_and_half_close(daemon):
    got_stdin = []

    def handler(method, target, headers, body, conn, f):
        assert headers["upgrade"] == "tcp" and headers["connection"] == "Upgrade"
        # the first frame travels in the same packet as the headers
        conn.sendall(b"HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.multiplexed-stream\r\n"
                     b"Connection: Upgrade\r\nUpgrade: tcp\r\n\r\n" + frame(1, b"hello\n"))
        data = b""
        while True:
            block = f.read1(1024)
            if not block:
                break  # the client half-closed: stdin EOF
            data += block
        got_stdin.append(data)
        conn.sendall(frame(2, b"err\n") + frame(1, b"bye\n"))
        return b""

    d = daemon(handler)
    s = Client(d.host).hijack("/containers/c1/attach", {"stream": 1, "stdin": 1, "stdout": 1, "stderr": 1})
    assert s.multiplexed
    s.send(b"input data")
    s.close_write()
    frames = list(demux(s))
    s.close()
    assert frames == [(1, b"hello\n"), (2, b"err\n"), (1, b"bye\n")]
    assert got_stdin == [b"input data"]
    assert d.requests[-1][1] == "/v1.45/containers/c1/attach?stderr=1&stdin=1&stdout=1&stream=1"


def test_hijack_error_is_mapped(daemon):
    d = daemon(lambda *a: json_response(404, {"message": "No such container: nope"}, "Not Found"))
    with pytest.raises(errors.NotFound, match="No such container: nope"):
        Client(d.host).hijack("/containers/nope/attach", {"stream": 1})


def test_hijack_rejects_200(daemon):
    d = daemon(lambda *a: b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
    with pytest.raises(errors.DockyardError, match="unable to upgrade"):
        Client(d.host).hijack("/exec/x/start", json={"Detach": False})


def test_connect_error_for_missing_socket(tmp_path):
    with pytest.raises(ConnectError, match="Cannot connect to the dockyard daemon at unix://"):
        Client("unix://" + str(tmp_path / "none.sock")).version()


def test_wait_response_headers_then_body_later(daemon):
    ready = threading.Event()

    def handler(method, target, headers, body, conn, f):
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
        ready.wait(5)
        b = b'{"Error":null,"StatusCode":3}\n'
        conn.sendall(b"%x\r\n%s\r\n0\r\n\r\n" % (len(b), b))
        return b""

    d = daemon(handler)
    c = Client(d.host)
    resp = c.stream_raw("POST", "/containers/x/wait", {"condition": "next-exit"})
    assert resp.status == 200  # headers arrive before the body
    ready.set()
    assert json.loads(resp.read()) == {"Error": None, "StatusCode": 3}
    resp.close()


def test_urlencode_like_go():
    assert urlencode({"t": "a:latest", "b": True, "x": None, "f": False}) == "b=1&t=a%3Alatest"
    assert urlencode({"changes": ["CMD a b", "ENV x=1"]}) == "changes=CMD+a+b&changes=ENV+x%3D1"
    assert urlencode({"filters": '{"name":{"x":true}}'}) == "filters=%7B%22name%22%3A%7B%22x%22%3Atrue%7D%7D"


def test_resolve_host(monkeypatch):
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    monkeypatch.delenv("DOCKYARD_HOST", raising=False)
    assert resolve_host(None) == ("unix:///run/dockyard/dockyard.sock", True)
    assert resolve_host(["unix:///tmp/x.sock"]) == ("unix:///tmp/x.sock", False)
    monkeypatch.setenv("DOCKER_HOST", "unix:///tmp/d.sock")
    assert resolve_host(None) == ("unix:///tmp/d.sock", False)
    monkeypatch.setenv("DOCKYARD_HOST", "/tmp/y.sock")
    assert resolve_host(None) == ("unix:///tmp/y.sock", False)
    with pytest.raises(ValueError, match="only unix://"):
        resolve_host(["tcp://1.2.3.4:2375"])


def test_frame_decoder_handles_split_headers():
    data = frame(1, b"out") + frame(2, b"") + frame(2, b"e" * 70000) + frame(1, b"x")
    dec = FrameDecoder()
    got = []
    for i in range(0, len(data), 3):
        got.extend(dec.feed(data[i:i + 3]))
    assert got == [(1, b"out"), (2, b""), (2, b"e" * 70000), (1, b"x")]
    assert dec.pending == 0


def test_json_stream_decoder_utf8_split():
    doc = '{"stream":"héllo ✓"}\n'.encode()
    dec = JSONStreamDecoder()
    out = []
    for i in range(len(doc)):
        out.extend(dec.feed(doc[i:i + 1]))
    assert out == [{"stream": "héllo ✓"}]
    dec.close()


def test_encode_chunked():
    assert b"".join(encode_chunked([b"ab", b"", b"cde"])) == b"2\r\nab\r\n3\r\ncde\r\n0\r\n\r\n"
    assert b"".join(encode_chunked(io.BytesIO(b""))) == b"0\r\n\r\n"
