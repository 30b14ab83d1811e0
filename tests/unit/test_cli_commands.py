"""The `dockyard` CLI, run as a real process, against a scripted fake Engine API daemon.

These are protocol checks: which requests the CLI sends in which order, and what it prints
and exits with for given answers.  Tests against the real daemon live with the API engineer.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from urllib.parse import parse_qs, urlsplit

import pytest
from test_client_protocol import FakeDaemon, chunked_response, json_response

from dockyard.client.streams import frame

CID = "c" * 64


class Engine:
    """Routes by (method, path without /vNN prefix); records every request in order."""

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], object] = {}
        self.calls: list[tuple[str, str, dict[str, list[str]], bytes]] = []
        self.lock = threading.Lock()

    def route(self, method: str, path: str, handler) -> None:
        self.routes[(method, path)] = handler

    def __call__(self, method, target, headers, body, conn, f):
        parts = urlsplit(target)
        path = parts.path
        if path.startswith("/v1."):
            path = "/" + path.split("/", 2)[2]
        query = parse_qs(parts.query)
        with self.lock:
            self.calls.append((method, path, query, body))
        handler = self.routes.get((method, path))
        if handler is None:
            return json_response(404, {"message": f"page not found: {method} {path}"}, "Not Found")
        if callable(handler):
            return handler(query=query, body=body, conn=conn, f=f, headers=headers)
        return handler

    def paths(self) -> list[str]:
        return [f"{m} {p}" for m, p, _q, _b in self.calls if p != "/_ping"]


@pytest.fixture
def engine():
    eng = Engine()
    d = FakeDaemon(eng, api_version="1.45")
    eng.host = d.host
    yield eng
    d.close()


def cli(engine: Engine, *args: str, stdin: bytes = b"") -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("DOCKYARD_HOST", "DOCKER_HOST")}
    env["DOCKER_HOST"] = engine.host
    return subprocess.run([sys.executable, "-m", "dockyard.cli", *args], input=stdin, capture_output=True,
                          env=env, timeout=30)


def hijack_response(frames: bytes):
    def handler(conn, **_kw):
        conn.sendall(b"HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\n"
                     b"Connection: Upgrade\r\nUpgrade: tcp\r\n\r\n")
        started.wait(5)
        conn.sendall(frames)
        return b""

    started = threading.Event()
    handler.started = started  # type: ignore[attr-defined]
    return handler


def wait_response(status: int, gate: threading.Event):
    def handler(conn, **_kw):
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
        gate.wait(5)
        body = json.dumps({"Error": None, "StatusCode": status}).encode() + b"\n"
        try:
            conn.sendall(b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body))
        except OSError:
            pass  # a detached run hangs up on its wait, as docker's does
        return b""

    return handler


def test_run_pulls_missing_image_then_attaches_waits_starts(engine):
    creates = []

    def create(body, query, **_kw):
        creates.append(json.loads(body))
        if len(creates) == 1:
            return json_response(404, {"message": "No such image: busybox:latest"}, "Not Found")
        return json_response(201, {"Id": CID, "Warnings": []}, "Created")

    attach = hijack_response(frame(1, b"hi\n") + frame(2, b"oops\n"))
    engine.route("POST", "/containers/create", create)
    engine.route("POST", "/images/create", chunked_response([
        b'{"status":"Pulling from library/busybox","id":"latest"}\n',
        b'{"status":"Downloading","progressDetail":{"current":1,"total":2},"id":"abc"}\n',
        b'{"status":"Status: Downloaded newer image for busybox:latest"}\n']))
    engine.route("POST", f"/containers/{CID}/attach", attach)
    engine.route("POST", f"/containers/{CID}/wait", wait_response(3, attach.started))

    def start(**_kw):
        attach.started.set()
        return b"HTTP/1.1 204 No Content\r\n\r\n"

    engine.route("POST", f"/containers/{CID}/start", start)
    r = cli(engine, "run", "--rm", "-e", "A=1", "busybox", "sh", "-c", "echo hi")
    assert r.returncode == 3, r.stderr
    assert r.stdout == b"hi\n"
    assert r.stderr.decode().splitlines() == [
        "Unable to find image 'busybox:latest' locally",
        "latest: Pulling from library/busybox",
        "Status: Downloaded newer image for busybox:latest",
        "oops",
    ]
    assert engine.paths() == [
        "POST /containers/create", "POST /images/create", "POST /containers/create",
        f"POST /containers/{CID}/attach", f"POST /containers/{CID}/wait", f"POST /containers/{CID}/start",
    ]
    pull_q = [c[2] for c in engine.calls if c[1] == "/images/create"][0]
    assert pull_q == {"fromImage": ["docker.io/library/busybox"], "tag": ["latest"]}
    wait_q = [c[2] for c in engine.calls if c[1].endswith("/wait")][0]
    assert wait_q == {"condition": ["removed"]}
    attach_q = [c[2] for c in engine.calls if c[1].endswith("/attach")][0]
    assert attach_q == {"stream": ["1"], "stdout": ["1"], "stderr": ["1"]}
    body = creates[-1]
    assert body["Image"] == "busybox" and body["Cmd"] == ["sh", "-c", "echo hi"]
    assert body["Env"] == ["A=1"] and body["HostConfig"]["AutoRemove"] is True
    assert body["AttachStdout"] and body["AttachStderr"] and not body["AttachStdin"]
    assert body["HostConfig"]["NetworkMode"] == "default" and body["HostConfig"]["MemorySwappiness"] == -1


def test_run_detached_prints_id_and_opens_wait_before_start(engine):
    engine.route("POST", "/containers/create", json_response(201, {"Id": CID, "Warnings": ["low memory"]}))
    gate = threading.Event()
    engine.route("POST", f"/containers/{CID}/wait", wait_response(0, gate))
    engine.route("POST", f"/containers/{CID}/start", b"HTTP/1.1 204 No Content\r\n\r\n")
    r = cli(engine, "run", "-d", "--name", "web", "-p", "8080:80", "-m", "64m", "--restart", "on-failure:2",
            "busybox", "httpd", "-f")
    gate.set()
    assert r.returncode == 0, r.stderr
    assert r.stdout == CID.encode() + b"\n"
    assert r.stderr == b"WARNING: low memory\n"
    assert engine.paths() == ["POST /containers/create", f"POST /containers/{CID}/wait",
                              f"POST /containers/{CID}/start"]
    method, path, query, body = [c for c in engine.calls if c[1] == "/containers/create"][0]
    assert query == {"name": ["web"]}
    doc = json.loads(body)
    assert doc["ExposedPorts"] == {"80/tcp": {}}
    assert doc["HostConfig"]["PortBindings"] == {"80/tcp": [{"HostIp": "", "HostPort": "8080"}]}
    assert doc["HostConfig"]["Memory"] == 64 * 1024 * 1024
    assert doc["HostConfig"]["RestartPolicy"] == {"Name": "on-failure", "MaximumRetryCount": 2}
    assert not doc["AttachStdout"]


@pytest.mark.parametrize(
    ("message", "code"),
    [('exec: "nope": executable file not found in $PATH', 127), ("exec: permission denied", 126),
     ("something else broke", 125)],
)
def test_run_start_failure_exit_codes(engine, message, code):
    engine.route("POST", "/containers/create", json_response(201, {"Id": CID, "Warnings": []}))
    engine.route("POST", f"/containers/{CID}/attach", hijack_response(b""))
    engine.route("POST", f"/containers/{CID}/wait", wait_response(0, threading.Event()))
    engine.route("POST", f"/containers/{CID}/start", json_response(400, {"message": message}, "Bad Request"))
    r = cli(engine, "run", "busybox", "nope")
    assert r.returncode == code
    assert r.stderr.decode() == (f"dockyard: Error response from daemon: {message}\n\n"
                                 "Run 'dockyard run --help' for more information\n")


def test_run_pull_failure_is_125(engine):
    engine.route("POST", "/containers/create", json_response(404, {"message": "No such image: nope:latest"}))
    engine.route("POST", "/images/create", json_response(
        404, {"message": "pull access denied for nope, repository does not exist"}))
    r = cli(engine, "run", "nope")
    assert r.returncode == 125
    assert r.stderr.decode() == (
        "Unable to find image 'nope:latest' locally\n"
        "dockyard: Error response from daemon: pull access denied for nope, repository does not exist\n\n"
        "Run 'dockyard run --help' for more information\n")


def test_run_unknown_flag(engine):
    r = cli(engine, "run", "--foo", "busybox")
    assert r.returncode == 125
    assert r.stderr.decode().startswith("unknown flag: --foo\n\nUsage:  dockyard run [OPTIONS] IMAGE")
    assert engine.paths() == []


def test_run_tty_needs_terminal(engine):
    r = cli(engine, "run", "-it", "busybox")
    assert r.returncode == 1
    assert r.stderr == b"the input device is not a TTY\n"


def test_ps(engine):
    engine.route("GET", "/containers/json", json_response(200, [{
        "Id": CID, "Names": ["/web"], "Image": "busybox", "Command": "sleep 100", "Created": 0,
        "Ports": [], "Labels": {}, "State": "running", "Status": "Up 3 seconds"}]))
    r = cli(engine, "ps", "-a", "--filter", "name=web", "--format", "{{.ID}} {{.Names}} {{.Command}} {{.Status}}")
    assert r.returncode == 0, r.stderr
    assert r.stdout == b'cccccccccccc web "sleep 100" Up 3 seconds\n'
    assert engine.calls[-1][2] == {"all": ["1"], "filters": ['{"name":{"web":true}}']}
    r = cli(engine, "ps", "-q", "--no-trunc")
    assert r.stdout == CID.encode() + b"\n"


def test_images_rmi_tag(engine):
    engine.route("GET", "/images/json", json_response(200, [{
        "Id": "sha256:" + "e" * 64, "RepoTags": ["busybox:latest"], "RepoDigests": [], "Created": 0, "Size": 4261000}]))
    r = cli(engine, "images", "--format", "{{.Repository}}:{{.Tag}} {{.Size}}")
    assert r.stdout == b"busybox:latest 4.26MB\n"
    engine.route("DELETE", "/images/busybox", json_response(200, [
        {"Untagged": "busybox:latest"}, {"Deleted": "sha256:" + "e" * 64}]))
    r = cli(engine, "rmi", "busybox")
    assert r.stdout.decode() == f"Untagged: busybox:latest\nDeleted: sha256:{'e' * 64}\n"
    engine.route("POST", "/images/busybox/tag", b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n")
    r = cli(engine, "tag", "busybox", "me/box:v1")
    assert r.returncode == 0, r.stderr
    assert engine.calls[-1][2] == {"repo": ["docker.io/me/box"], "tag": ["v1"]}


def test_inspect_and_not_found(engine):
    engine.route("GET", "/containers/web/json", json_response(200, {"Id": CID, "State": {"Status": "running"}}))
    r = cli(engine, "inspect", "web")
    assert r.stdout.decode() == json.dumps([{"Id": CID, "State": {"Status": "running"}}], indent=4) + "\n"
    r = cli(engine, "inspect", "-f", "{{.State.Status}}", "web", "ghost")
    assert r.returncode == 1
    assert r.stdout == b"running\n"
    assert r.stderr == b"Error: No such object: ghost\n"
    r = cli(engine, "container", "inspect", "ghost")
    assert r.stdout == b"[]\n"
    assert r.returncode == 1


def test_stop_errors_collected(engine):
    engine.route("POST", "/containers/a/stop", b"HTTP/1.1 204 No Content\r\n\r\n")
    engine.route("POST", "/containers/b/stop", b"HTTP/1.1 304 Not Modified\r\n\r\n")
    engine.route("POST", "/containers/x/stop", json_response(404, {"message": "No such container: x"}))
    r = cli(engine, "stop", "-t", "1", "a", "x", "b")
    assert r.returncode == 1
    assert r.stdout == b"a\nb\n"
    assert r.stderr == b"Error response from daemon: No such container: x\n"
    assert engine.calls[1][2] == {"t": ["1"]}


def test_logs_demux(engine):
    engine.route("GET", "/containers/web/json", json_response(200, {"Id": CID, "Config": {"Tty": False}}))
    engine.route("GET", f"/containers/{CID}/logs", chunked_response([frame(1, b"out1\n") + frame(2, b"err1\n")[:5],
                                                                    frame(2, b"err1\n")[5:] + frame(1, b"out2\n")]))
    r = cli(engine, "logs", "--tail", "5", "web")
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"out1\nout2\n" and r.stderr == b"err1\n"
    assert engine.calls[-1][2] == {"stdout": ["1"], "stderr": ["1"], "tail": ["5"]}


def test_import_from_stdin(engine):
    engine.route("POST", "/images/create", chunked_response([b'{"status":"sha256:' + b"a" * 64 + b'"}\n']))
    r = cli(engine, "import", "-c", "CMD [\"sh\"]", "-", "me/root:1", stdin=b"TARDATA" * 1000)
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"sha256:" + b"a" * 64 + b"\n"
    _m, _p, query, body = engine.calls[-1]
    assert query == {"fromSrc": ["-"], "repo": ["me/root:1"], "changes": ['CMD ["sh"]']}
    assert body == b"TARDATA" * 1000


def test_version_shows_both_sides(engine):
    engine.route("GET", "/version", json_response(200, {
        "Components": [{"Name": "Engine", "Version": "0.1.0", "Details": {
            "ApiVersion": "1.45", "MinAPIVersion": "1.24", "GoVersion": "python", "GitCommit": "x",
            "BuildTime": "now", "Os": "linux", "Arch": "amd64", "Experimental": "false"}}],
        "Version": "0.1.0", "ApiVersion": "1.45"}))
    r = cli(engine, "version")
    assert r.returncode == 0, r.stderr
    out = r.stdout.decode()
    assert " API version:       1.45 (downgraded from 1.50)\n" in out
    assert "\nServer:\n Engine:\n  Version:          0.1.0\n  API version:      1.45 (minimum version 1.24)\n" in out


def test_no_daemon_message(tmp_path):
    env = dict(os.environ, DOCKER_HOST=f"unix://{tmp_path}/none.sock")
    env.pop("DOCKYARD_HOST", None)
    r = subprocess.run([sys.executable, "-m", "dockyard.cli", "ps"], capture_output=True, env=env, timeout=30)
    assert r.returncode == 1
    assert r.stderr.decode() == (f"Cannot connect to the dockyard daemon at unix://{tmp_path}/none.sock. "
                                 "Is the dockyard daemon running?\n")


def test_run_interactive_forwards_stdin_and_half_closes(engine):
    got = []

    def attach(conn, f, **_kw):
        conn.sendall(b"HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.multiplexed-stream\r\n"
                     b"Connection: Upgrade\r\nUpgrade: tcp\r\n\r\n")
        data = b""
        while True:
            block = f.read1(65536)
            if not block:
                break  # the CLI half-closed at stdin EOF; we can still answer
            data += block
        got.append(data)
        conn.sendall(frame(1, data.upper()))
        gate.set()
        return b""

    gate = threading.Event()
    engine.route("POST", "/containers/create", json_response(201, {"Id": CID, "Warnings": []}))
    engine.route("POST", f"/containers/{CID}/attach", attach)
    engine.route("POST", f"/containers/{CID}/wait", wait_response(0, gate))
    engine.route("POST", f"/containers/{CID}/start", b"HTTP/1.1 204 No Content\r\n\r\n")
    r = cli(engine, "run", "-i", "busybox", "cat", stdin=b"hello stdin\n")
    assert r.returncode == 0, r.stderr
    assert got == [b"hello stdin\n"]
    assert r.stdout == b"HELLO STDIN\n"
    create = json.loads([c for c in engine.calls if c[1] == "/containers/create"][0][3])
    assert create["OpenStdin"] and create["StdinOnce"] and create["AttachStdin"]
    attach_q = [c[2] for c in engine.calls if c[1].endswith("/attach")][0]
    assert attach_q["stdin"] == ["1"]


def test_exec_runs_and_exits_with_code(engine):
    engine.route("GET", "/containers/web/json", json_response(200, {"Id": CID, "State": {"Running": True}}))
    engine.route("POST", "/containers/web/exec", json_response(201, {"Id": "e1"}))
    engine.route("POST", "/exec/e1/start", hijack_response(frame(1, b"from exec\n")))
    engine.routes[("POST", "/exec/e1/start")].started.set()
    engine.route("GET", "/exec/e1/json", json_response(200, {"ExitCode": 7, "Running": False}))
    r = cli(engine, "exec", "-e", "X=1", "web", "sh", "-c", "exit 7")
    assert r.returncode == 7, r.stderr
    assert r.stdout == b"from exec\n"
    body = json.loads([c for c in engine.calls if c[1] == "/containers/web/exec"][0][3])
    assert body["Cmd"] == ["sh", "-c", "exit 7"] and body["Env"] == ["X=1"] and body["AttachStdout"]
    start = json.loads([c for c in engine.calls if c[1] == "/exec/e1/start"][0][3])
    assert start == {"Detach": False, "Tty": False}
