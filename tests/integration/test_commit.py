"""`commit` through the real docker CLI and dockyard's: changes captured, config, history, parent, errors."""

from __future__ import annotations

import json
import time

import pytest

CHANGES = ("echo hello > /hello.txt && rm /etc/group && mkdir -p /data/sub && echo d > /data/sub/f"
           " && ln /hello.txt /data/hard && ln -s /hello.txt /data/soft")


def inspect(daemon, ref: str) -> dict:
    return json.loads(daemon.docker("image", "inspect", ref).stdout_text)[0]


@pytest.fixture(scope="module")
def busybox_id(daemon) -> str:
    return inspect(daemon, "busybox")["Id"]


@pytest.mark.parametrize("cli", ["docker", "dockyard"])
def test_commit_captures_the_containers_changes(daemon, busybox_id, cli):
    run = getattr(daemon, cli)
    name, image = f"cm-{cli}", f"committed-{cli}:1"
    run("run", "--name", name, "busybox", "sh", "-c", CHANGES)
    try:
        out = run("commit", "-m", "a message", "-a", "Jane <jane@example.com>", name, image).stdout_text
        image_id = out.strip()
        assert image_id.startswith("sha256:") and len(image_id) == 71
        check = ("cat /hello.txt /data/sub/f /data/hard; readlink /data/soft;"
                 " test -e /etc/group && echo group-present || echo group-gone; cat /etc/passwd | head -1")
        got = daemon.docker("run", "--rm", image, "sh", "-c", check).stdout_text.splitlines()
        assert got == ["hello", "d", "hello", "/hello.txt", "group-gone", "root:x:0:0:root:/root:/bin/sh"]

        doc = inspect(daemon, image)
        assert doc["Id"] == image_id
        assert doc["Parent"] == busybox_id
        assert doc["Author"] == "Jane <jane@example.com>"
        assert doc["Comment"] == "a message"
        base_layers = inspect(daemon, "busybox")["RootFS"]["Layers"]
        assert doc["RootFS"]["Layers"][:-1] == base_layers and len(doc["RootFS"]["Layers"]) == len(base_layers) + 1
        assert doc["Config"]["Cmd"] == ["sh", "-c", CHANGES]   # the container's command, as Docker keeps it

        rows = daemon.docker("history", "--no-trunc", "--format", "{{.ID}}|{{.CreatedBy}}|{{.Comment}}|{{.Size}}",
                             image).stdout_text.splitlines()
        top, below = rows[0].split("|"), rows[1].split("|")
        assert top[0] == image_id and top[1] == "sh -c " + CHANGES and top[2] == "a message"
        assert top[3] != "0B"
        assert below[0] == busybox_id
        assert len(rows) == len(daemon.docker("history", "-q", "busybox").stdout_text.split()) + 1
    finally:
        daemon.docker("rm", "-f", name, check=False)
        daemon.docker("rmi", image, check=False)


@pytest.mark.parametrize("cli", ["docker", "dockyard"])
def test_commit_applies_changes(daemon, cli):
    run = getattr(daemon, cli)
    name, image = f"cmc-{cli}", f"changed-{cli}"
    run("run", "--name", name, "-e", "FROM_RUN=1", "busybox", "sh", "-c", "echo from-layer > /msg")
    try:
        run("commit", "-c", 'CMD ["cat", "/msg"]', "--change", "ENV GREETING=hi", "-c", "WORKDIR /tmp",
            "-c", "LABEL a=b", name, image)
        assert daemon.docker("run", "--rm", image).stdout_text == "from-layer\n"
        cfg = inspect(daemon, image + ":latest")["Config"]
        assert cfg["Cmd"] == ["cat", "/msg"] and "GREETING=hi" in cfg["Env"]
        assert cfg["WorkingDir"] == "/tmp" and cfg["Labels"] == {"a": "b"}
        assert "FROM_RUN=1" in cfg["Env"]   # the container's own config is the base
        p = run("commit", "-c", "RUN true", name, "bad:1", check=False)
        assert p.returncode == 1 and "run is not a valid change command" in p.stderr_text
    finally:
        daemon.docker("rm", "-f", name, check=False)
        daemon.docker("rmi", image, check=False)


@pytest.mark.parametrize("cli", ["docker", "dockyard"])
def test_commit_of_a_missing_container_fails_as_docker(daemon, cli):
    p = getattr(daemon, cli)("commit", "no-such-container", "x:1", check=False)
    assert p.returncode == 1
    assert p.stderr_text.strip() == "Error response from daemon: No such container: no-such-container"


def test_commit_without_changes_adds_no_layer(daemon, busybox_id):
    """The runtime's mountpoints (/etc/hosts, ...) are not changes: an empty layer, as Docker makes it."""
    daemon.docker("run", "--name", "cm-empty", "busybox", "true")
    try:
        image_id = daemon.docker("commit", "cm-empty").stdout_text.strip()
        doc = inspect(daemon, image_id)
        assert doc["RootFS"]["Layers"] == inspect(daemon, "busybox")["RootFS"]["Layers"]
        assert doc["Parent"] == busybox_id and doc["RepoTags"] == []
        top = daemon.docker("history", "--format", "{{.Size}}|{{.CreatedBy}}", image_id).stdout_text.splitlines()[0]
        assert top == "0B|true"
    finally:
        daemon.docker("rm", "-f", "cm-empty", check=False)
        daemon.docker("rmi", image_id, check=False)


def test_commit_of_a_running_container_pauses_it_and_resumes(daemon):
    daemon.docker("run", "-d", "--name", "cm-run", "busybox", "sh", "-c", "echo up > /state; exec sleep 300")
    try:
        for _ in range(100):
            if daemon.docker("exec", "cm-run", "cat", "/state", check=False).returncode == 0:
                break
            time.sleep(0.05)
        image_id = daemon.docker("commit", "cm-run", "live:1").stdout_text.strip()
        assert daemon.docker("inspect", "-f", "{{.State.Status}}", "cm-run").stdout_text.strip() == "running"
        assert daemon.docker("run", "--rm", "live:1", "cat", "/state").stdout_text == "up\n"
        until = str(int(time.time()) + 1)   # a moment ahead: "now" in whole seconds could cut the last events off
        events = daemon.docker("events", "--since", "5m", "--until", until, "--format",
                               "{{.Type}} {{.Action}}").stdout_text.splitlines()
        relevant = [e for e in events if e in ("container pause", "container unpause", "container commit")]
        assert relevant[-3:] == ["container pause", "container unpause", "container commit"]
        # --pause=false leaves it running throughout
        daemon.docker("commit", "--pause=false", "cm-run", "live:2")
        assert inspect(daemon, "live:2")["RootFS"]["Layers"] == inspect(daemon, image_id)["RootFS"]["Layers"]
        # a paused container stays paused
        daemon.docker("pause", "cm-run")
        daemon.docker("commit", "cm-run", "live:3")
        assert daemon.docker("inspect", "-f", "{{.State.Status}}", "cm-run").stdout_text.strip() == "paused"
        daemon.docker("unpause", "cm-run")
    finally:
        daemon.docker("rm", "-f", "cm-run", check=False)
        for tag in ("live:1", "live:2", "live:3"):
            daemon.docker("rmi", tag, check=False)


def test_commit_with_a_bad_repository_name(daemon):
    daemon.docker("create", "--name", "cm-bad", "busybox", "true")
    try:
        p = daemon.dockyard("commit", "cm-bad", "Upper/Case", check=False)
        assert p.returncode == 1 and "must be lowercase" in p.stderr_text
    finally:
        daemon.docker("rm", "-f", "cm-bad", check=False)


def test_commit_with_docker_py(daemon):
    docker = pytest.importorskip("docker")
    client = docker.DockerClient(base_url=daemon.host, version="1.45")
    c = client.containers.run("busybox", ["sh", "-c", "echo py > /py"], name="cm-py", detach=True)
    try:
        c.wait()
        img = c.commit(repository="from-py", tag="v1", message="via docker-py", changes=["CMD cat /py"])
        assert img.tags == ["from-py:v1"]
        assert client.containers.run("from-py:v1", remove=True) == b"py\n"
        assert img.attrs["Config"]["Cmd"] == ["/bin/sh", "-c", "cat /py"]
        assert img.history()[0]["Comment"] == "via docker-py"
    finally:
        c.remove(force=True)
        client.images.remove("from-py:v1")
        client.close()
