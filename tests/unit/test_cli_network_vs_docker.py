"""`dockyard network ...` and the real `docker network ...` (28.2) against one scripted daemon.

Both CLIs run as processes against the same fake Engine API socket, which answers like
dockerd and records every request.  For each command line the two must send the same
requests (method, path, query, JSON body) and print the same stdout, stderr (with the
binary's name swapped) and exit status.  This pins the client side without a daemon.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from test_client_protocol import FakeDaemon

DOCKER = shutil.which("docker")
pytestmark = pytest.mark.skipif(DOCKER is None, reason="docker CLI not installed")


def _net(name: str, ident: str, created: str, **kw: object) -> dict:
    doc = {"Name": name, "Id": ident, "Created": created, "Scope": "local", "Driver": "bridge", "EnableIPv4": True,
           "EnableIPv6": False, "IPAM": {"Driver": "default", "Options": None, "Config": []}, "Internal": False,
           "Attachable": False, "Ingress": False, "ConfigFrom": {"Network": ""}, "ConfigOnly": False,
           "Containers": {}, "Options": {}, "Labels": {}}
    doc.update(kw)
    return doc


NETWORKS = [
    _net("bridge", "bbec28f01dbc54679b1ec079bdd7e6e3f8340d3a950baba5b59f4c45fb301169",
         "2026-11-22T15:56:38.259318914Z", IPAM={"Driver": "default", "Options": None,
                                                 "Config": [{"Subnet": "172.17.0.0/16"}]},
         Options={"com.docker.network.bridge.default_bridge": "true", "com.docker.network.bridge.name": "docker0"}),
    _net("none", "0e534c39259e52e650795e78d6f15677c0911fba712f2d2d79cf7068f2b80cd6",
         "2026-11-22T15:56:38.206947204Z", Driver="null"),
    _net("net10", "aa1166baa70ec6d354f4c5df9c25ed84e59976e9af56a6818bc0227614828406",
         "2026-11-22T16:00:29.605579016+01:00", Labels={"a": "1"},
         IPAM={"Driver": "default", "Options": {}, "Config": [{"Subnet": "172.20.0.0/16", "Gateway": "172.20.0.1"}]}),
    _net("net9", "9a1166baa70ec6d354f4c5df9c25ed84e59976e9af56a6818bc0227614828406", "2026-11-22T16:00:29Z",
         Internal=True),
    _net("ingress", "1e1166baa70ec6d354f4c5df9c25ed84e59976e9af56a6818bc0227614828406", "2026-11-22T16:00:29Z",
         Ingress=True, Scope="swarm", Driver="overlay"),
    _net("host", "f6885096b1e72a4f4f2bab9f17f09451f1f7a9e3aa45fd3c1037bfb0bbaa82fa",
         "2026-11-22T15:56:38.21806789Z", Driver="host"),
]


def _response(status: int, doc: object = None, reason: str = "OK") -> bytes:
    body = b"" if doc is None else json.dumps(doc).encode()
    head = f"HTTP/1.1 {status} {reason}\r\nApi-Version: 1.50\r\nContent-Type: application/json\r\n"
    return (head + f"Content-Length: {len(body)}\r\n\r\n").encode() + body


def _not_found(message: str) -> bytes:
    return _response(404, {"message": message}, "Not Found")


def answer(method: str, path: str) -> bytes:
    """What dockerd would say, for the networks above."""
    if method == "GET" and path == "/networks":
        return _response(200, NETWORKS)
    if method == "POST" and path == "/networks/create":
        return _response(201, {"Id": "1" * 64, "Warning": ""}, "Created")
    if method == "POST" and path == "/networks/prune":
        return _response(200, {"NetworksDeleted": ["net10", "net9"]})
    parts = path.split("/")
    if len(parts) >= 3 and parts[1] == "networks":
        name = unquote(parts[2])
        hits = [n for n in NETWORKS if name in (n["Name"], n["Id"]) or n["Id"].startswith(name)]
        if not hits:
            return _not_found(f"network {name} not found")
        if method == "GET":
            return _response(200, hits[0])
        if method == "DELETE":
            if hits[0]["Name"] in ("bridge", "host", "none"):
                return _response(403, {"message": f"{name} is a pre-defined network and cannot be removed"},
                                 "Forbidden")
            return _response(204)
        if parts[-1] in ("connect", "disconnect"):
            return _not_found("No such container: c1")
    return _not_found("page not found")


class Recorder(FakeDaemon):
    """The fake daemon, with keep-alive (the Go client reuses its connection after the ping)."""

    def __init__(self, respond=None) -> None:
        super().__init__(None, api_version="1.50")
        self.respond = respond or answer   # (method, path) → the raw HTTP response
        self.calls: list[tuple[str, str, dict, object]] = []
        self.lock = threading.Lock()

    def _one(self, conn: socket.socket) -> None:
        f = conn.makefile("rb")
        try:
            while True:
                line = f.readline().decode()
                if not line.strip():
                    return
                method, target, _ = line.split(" ", 2)
                headers: dict[str, str] = {}
                while (h := f.readline().decode()) not in ("\r\n", "\n", ""):
                    k, _, v = h.partition(":")
                    headers[k.strip().lower()] = v.strip()
                body = f.read(int(headers.get("content-length") or 0))
                url = urlsplit(target)
                path = url.path
                if path.startswith("/v1."):
                    path = "/" + path.split("/", 2)[2]
                if path == "/_ping":
                    conn.sendall(_response(200))
                    continue
                doc = json.loads(body) if body.strip() else None
                with self.lock:
                    self.calls.append((method, url.path, parse_qs(url.query), doc))
                conn.sendall(self.respond(method, path))
        except OSError:
            return
        finally:
            conn.close()

    def take(self) -> list:
        with self.lock:
            calls, self.calls = self.calls, []
        return calls

    def close(self) -> None:
        super().close()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="module")
def recorder():
    r = Recorder()
    yield r
    r.close()


def _run(recorder: Recorder, argv: list[str], stdin: str, tmp: str) -> tuple:
    env = {k: v for k, v in os.environ.items() if k not in ("DOCKYARD_HOST", "DOCKER_API_VERSION")}
    env.update(DOCKER_HOST="unix://" + recorder.path, DOCKER_CONFIG=tmp, DOCKER_CLI_HINTS="false", TZ="UTC")
    p = subprocess.run(argv, input=stdin.encode(), capture_output=True, env=env, timeout=60)
    return p.stdout.decode(), p.stderr.decode(), p.returncode, recorder.take()


def _renamed(text: str) -> str:
    """docker's text with the binary's name changed (option keys like com.docker.* stay)."""
    for word in ("docker ", "docker:", "'docker"):
        text = text.replace(word, word.replace("docker", "dockyard"))
    return text.replace("dockyard engine", "docker engine")  # the ingress warning names docker's engine


def _same(recorder: Recorder, tmp_path, args: list[str], stdin: str = "") -> tuple:
    theirs = _run(recorder, [DOCKER, *args], stdin, str(tmp_path))
    ours = _run(recorder, [sys.executable, "-m", "dockyard.cli", *args], stdin, str(tmp_path))
    want = (_renamed(theirs[0]), _renamed(theirs[1]), theirs[2], theirs[3])
    assert ours == want
    return ours


CASES = [
    # create
    ["network", "create", "n1"],
    ["network", "create", "--subnet", "10.1.0.0/16", "--gateway", "10.1.0.1", "--ip-range", "10.1.2.0/24",
     "--aux-address", "a=10.1.0.5", "--label", "x=y", "--label", "z", "-o", "com.docker.network.bridge.name=br9",
     "--internal", "--attachable", "--ipv6", "--ipam-opt", "q=r", "--scope", "local", "n1"],
    ["network", "create", "--ipv4=false", "--config-from", "x", "--config-only", "--ingress", "-d", "macvlan", "n1"],
    ["network", "create", "--subnet", "foo", "n1"],
    ["network", "create", "--subnet", "10.1.0.0/16", "--gateway", "10.2.0.1", "n1"],
    ["network", "create", "--gateway", "10.2.0.1", "n1"],
    ["network", "create", "--subnet", "10.1.0.0/16,10.1.2.0/24", "n1"],
    ["network", "create", "--subnet", "10.1.0.0/16", "--ip-range", "foo", "n1"],
    ["network", "create", "--subnet", "foo", "--gateway", "1.2.3.4", "n1"],
    ["network", "create", "--subnet", "10.1.0.0/16", "--aux-address", "a=9.9.9.9", "n1"],
    ["network", "create", "--subnet", 'a,b"c', "n1"],
    ["network", "create", "--label", "", "n1"],
    ["network", "create", "--label", " a b=c", "n1"],
    ["network", "create"],
    ["network", "create", "--bogus", "n1"],
    # ls
    ["network", "ls"],
    ["network", "list", "-q", "--no-trunc"],
    ["network", "ls", "--no-trunc"],
    ["network", "ls", "-f", "name=net", "-f", "driver=bridge", "-f", "label=a=1", "-f", "label=b", "-f", " NAME = x "],
    ["network", "ls", "--format", '{{.Name}} {{.Labels}} {{.Label "a"}} {{.CreatedAt}} {{.IPv4}} {{.IPv6}}'],
    ["network", "ls", "--format", 'table {{.Name}}\\t{{.Labels}}\\t{{.Internal}}\\t{{.Label "com.x_y"}}'],
    ["network", "ls", "--format", "json"],
    ["network", "ls", "--format", "raw"],
    ["network", "ls", "-q", "--format", "{{.Name}}"],
    ["network", "ls", "-f", "foo"],
    ["network", "ls", "extra"],
    # inspect
    ["network", "inspect", "net10", "nope"],
    ["network", "inspect", "-v", "-f", "{{.Name}} {{.Driver}} {{json .IPAM}}", "net10", "nope", "none"],
    ["network", "inspect", "-f", "json", "net10", "net9"],
    ["network", "inspect", "-f", "{{.Name}}", "nope"],
    ["network", "inspect", "-f", "{{.Name", "net10"],
    ["network", "inspect", ""],
    ["inspect", "--type", "network", "net10", "nope"],
    ["inspect", "--type", "bogus", "x"],
    ["inspect", "--type", "container", "-f", "json", "nope"],
    ["container", "inspect", "nope"],
    ["image", "inspect", "-f", "{{.Id}}", "nope", "x"],
    # rm
    ["network", "rm", "net10", "nope", "bridge", "net9"],
    ["network", "remove", "-f", "nope", "net9"],
    ["network", "rm", ""],
    # prune
    ["network", "prune", "-f"],
    ["network", "prune", "-f", "--filter", "until=24h", "--filter", "label=a"],
    ["network", "prune", "--filter", "foo"],
    # connect / disconnect
    ["network", "connect", "--alias", "a,b", "--alias", "c", "--ip", "10.0.0.2", "--ip6", "fe80::1", "--link", "x:y",
     "--link-local-ip", "169.254.1.1", "--driver-opt", "k=v", "--gw-priority", "3", "net10", "c1"],
    ["network", "connect", "net10", "c1"],
    ["network", "connect", "--driver-opt", "bad", "net10", "c1"],
    ["network", "connect", "--link", "a:b:c", "net10", "c1"],
    ["network", "connect", "net10"],
    ["network", "disconnect", "-f", "net10", "c1"],
    ["network", "disconnect", "net10", " "],
    # the group itself
    ["network"],
    ["network", "--help"],
    ["network", "bogus"],
]


@pytest.mark.parametrize("args", CASES, ids=[" ".join(c) for c in CASES])
def test_same_requests_and_output_as_docker(recorder, tmp_path, args):
    _same(recorder, tmp_path, args)


@pytest.mark.parametrize("answer_", ["y", "Y", "yes", "n", ""])
def test_prune_prompt(recorder, tmp_path, answer_):
    out, _err, code, calls = _same(recorder, tmp_path, ["network", "prune"], stdin=answer_ + "\n")
    assert out.startswith("WARNING! This will remove all custom networks not used by at least one container.\n"
                          "Are you sure you want to continue? [y/N] ")
    assert code == 0 and bool(calls) is (answer_ in ("y", "Y"))


@pytest.mark.parametrize("answer_", ["y", "n"])
def test_rm_asks_before_removing_the_ingress_network(recorder, tmp_path, answer_):
    out, _err, _code, calls = _same(recorder, tmp_path, ["network", "rm", "ingress"], stdin=answer_ + "\n")
    assert "WARNING! Before removing the routing-mesh network" in out
    assert [c[0] for c in calls] == (["GET", "DELETE"] if answer_ == "y" else ["GET"])


@pytest.mark.parametrize("sub", ["create", "ls", "inspect", "rm", "prune", "connect", "disconnect"])
def test_help_is_dockers(recorder, tmp_path, sub):
    _same(recorder, tmp_path, ["network", sub, "--help"])
