"""`dockyard volume ...` (and the mount flags of `create`) beside the real `docker` 28.2 CLI.

Both run against one scripted Engine API socket (test_cli_network_vs_docker's Recorder) and
must send the same requests and print the same output, errors and status.
"""

from __future__ import annotations

import sys
from urllib.parse import unquote

import pytest
from test_cli_network_vs_docker import DOCKER, Recorder, _not_found, _renamed, _response, _run

pytestmark = pytest.mark.skipif(DOCKER is None, reason="docker CLI not installed")


def _vol(name: str, **kw: object) -> dict:
    doc = {"CreatedAt": "2026-11-22T16:00:28Z", "Driver": "local", "Labels": None,
           "Mountpoint": f"/var/lib/docker/volumes/{name}/_data", "Name": name, "Options": None, "Scope": "local"}
    doc.update(kw)
    return doc


VOLUMES = [
    _vol("vol10", Labels={"a": "1"}),
    _vol("vol9", Options={"type": "tmpfs", "device": "tmpfs", "o": "size=1m"}),
    _vol("busy"),
    _vol("4f5c" + "0" * 60, Labels={"com.docker.volume.anonymous": ""}),
]


def answer(method: str, path: str) -> bytes:
    if method == "GET" and path == "/volumes":
        return _response(200, {"Volumes": VOLUMES, "Warnings": None})
    if method == "POST" and path == "/volumes/create":
        return _response(201, _vol("v1"), "Created")
    if method == "POST" and path == "/volumes/prune":
        return _response(200, {"VolumesDeleted": ["vol10", "x"], "SpaceReclaimed": 2048})
    if method == "POST" and path == "/containers/create":
        return _response(201, {"Id": "1" * 64, "Warnings": []}, "Created")
    parts = path.split("/")
    if len(parts) == 3 and parts[1] == "volumes":
        name = unquote(parts[2])
        hits = [v for v in VOLUMES if v["Name"] == name]
        if not hits:
            return _not_found(f"get {name}: no such volume")
        if method == "DELETE" and name == "busy":
            return _response(409, {"message": f"remove {name}: volume is in use - [{'2' * 64}]"}, "Conflict")
        return _response(204) if method == "DELETE" else _response(200, hits[0])
    return _not_found("page not found")


@pytest.fixture(scope="module")
def recorder():
    r = Recorder(answer)
    yield r
    r.close()


def _normalised(calls: list) -> list:
    """Go writes -v binds in map order: compare them as a set."""
    for _method, _path, _query, doc in calls:
        if isinstance(doc, dict) and (doc.get("HostConfig") or {}).get("Binds"):
            doc["HostConfig"]["Binds"].sort()
    return calls


def _same(recorder: Recorder, tmp_path, args: list[str], stdin: str = "") -> tuple:
    theirs = _run(recorder, [DOCKER, *args], stdin, str(tmp_path))
    ours = _run(recorder, [sys.executable, "-m", "dockyard.cli", *args], stdin, str(tmp_path))
    want = (_renamed(theirs[0]), _renamed(theirs[1]), theirs[2], _normalised(theirs[3]))
    assert (ours[0], ours[1], ours[2], _normalised(ours[3])) == want
    return ours


CASES = [
    ["volume", "create"],
    ["volume", "create", "v1"],
    ["volume", "create", "-d", "local", "-o", "type=tmpfs", "-o", "device=tmpfs", "-o", "o=size=1m",
     "--label", "a=1", "--label", "b", "v1"],
    ["volume", "create", "--name", "v1"],
    ["volume", "create", "--name", "v1", "v2"],
    ["volume", "create", "a", "b"],
    ["volume", "create", "--label", "", "v1"],
    ["volume", "ls"],
    ["volume", "list", "-q"],
    ["volume", "ls", "-f", "dangling=true", "-f", "label=a=1", "-f", "name=vol"],
    ["volume", "ls", "--format", "json"],
    ["volume", "ls", "--format", "table {{.Name}}\\t{{.Mountpoint}}\\t{{.Links}}\\t{{.Size}}\\t{{.Scope}}"],
    ["volume", "ls", "--format", "raw"],
    ["volume", "ls", "--cluster"],
    ["volume", "ls", "extra"],
    ["volume", "inspect", "vol10", "nope", "vol9"],
    ["volume", "inspect", "-f", "{{.Name}} {{json .Options}}", "vol9"],
    ["volume", "inspect", ""],
    ["volume", "rm", "vol10", "nope", "busy", "vol9"],
    ["volume", "remove", "-f", "vol9"],
    ["volume", "rm"],
    ["volume", "prune", "-f"],
    ["volume", "prune", "-a", "-f", "--filter", "label=a", "--filter", "label!=b"],
    ["volume", "prune", "-a", "-f", "--filter", "all=1"],
    ["volume", "update", "vol10"],
    ["volume"],
    ["volume", "--help"],
    ["volume", "bogus"],
    ["inspect", "--type", "volume", "vol10"],
    # the mount flags of run/create, in the create request
    ["create", "-v", "data:/data", "-v", "/srv/x:/x:ro", "-v", "/anon", "-v", "./rel:/rel:rw,rslave", "busybox"],
    ["create", "-v", "a:/b:c:d", "busybox"],
    ["create", "-v", ":/x", "busybox"],
    ["create", "-v", "", "busybox"],
    ["create", "-v", "/a:/b:ro:x", "busybox"],
    ["create", "--tmpfs", "/run:size=1m,uid=1000", "--tmpfs", "/tmp", "--volumes-from", "c1:ro", "busybox"],
    ["create", "--mount", "type=bind,src=/srv,dst=/srv,readonly,bind-propagation=rshared", "busybox"],
    ["create", "--mount", "type=volume,source=v,target=/v,volume-nocopy,volume-opt=type=tmpfs,volume-label=x=1",
     "--mount", "type=tmpfs,target=/t,tmpfs-size=64m,tmpfs-mode=1770", "--mount", "target=/anon", "busybox"],
    ["create", "--mount", "type=bind,source=./here,target=/here", "busybox"],
    ["create", "--mount", "type=bind", "busybox"],
    ["create", "--mount", "type=tmpfs,target=/t,bind-propagation=shared", "busybox"],
    ["create", "--mount", "type=volume,target=/v,ro=maybe", "busybox"],
]


@pytest.mark.parametrize("args", CASES, ids=[" ".join(c) for c in CASES])
def test_same_requests_and_output_as_docker(recorder, tmp_path, args):
    _same(recorder, tmp_path, args)


@pytest.mark.parametrize("answer_", ["y", "n"])
@pytest.mark.parametrize("all_", [False, True])
def test_prune_prompt(recorder, tmp_path, answer_, all_):
    out, _err, code, calls = _same(recorder, tmp_path, ["volume", "prune"] + (["-a"] if all_ else []),
                                   stdin=answer_ + "\n")
    kind = "all" if all_ else "anonymous"
    assert out.startswith(f"WARNING! This will remove {kind} local volumes not used by at least one container.")
    assert code == 0 and bool(calls) is (answer_ == "y")


@pytest.mark.parametrize("sub", ["create", "ls", "inspect", "rm", "prune", "update"])
def test_help_is_dockers(recorder, tmp_path, sub):
    _same(recorder, tmp_path, ["volume", sub, "--help"])
