"""docker-py (docker.from_env with DOCKER_HOST) running, listing, logging and removing a container."""

from __future__ import annotations

import docker
import pytest


@pytest.fixture()
def client(daemon):
    c = docker.DockerClient(base_url=daemon.host, timeout=60)
    yield c
    c.close()


def test_run_and_logs(client):
    out = client.containers.run("busybox", ["echo", "from-docker-py"], remove=True)
    assert out == b"from-docker-py\n"


def test_detached_list_logs_remove(client):
    c = client.containers.run("busybox", ["sh", "-c", "echo hi; sleep 300"], detach=True, name="dpy",
                              labels={"via": "docker-py"})
    try:
        ids = [x.id for x in client.containers.list(filters={"label": "via=docker-py"})]
        assert c.id in ids
        c.reload()
        assert c.status == "running"
        for _ in range(50):
            if b"hi" in c.logs():
                break
            import time
            time.sleep(0.1)
        assert c.logs() == b"hi\n"
        c.stop(timeout=1)
        c.reload()
        assert c.status == "exited"
    finally:
        c.remove(force=True)
    assert "dpy" not in [x.name for x in client.containers.list(all=True)]


def test_version_and_info(client):
    assert client.version()["ApiVersion"] == "1.50"
    assert "Containers" in client.info()
    assert any("busybox:latest" in i.tags for i in client.images.list())
