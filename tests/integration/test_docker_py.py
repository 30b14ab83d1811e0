"""docker-py (docker.from_env with DOCKER_HOST) running, listing, logging and removing a container;
its volumes API."""

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


def test_docker_py_volumes(client):
    v = client.volumes.create("dpy-vol", labels={"via": "docker-py"})
    assert v.name == "dpy-vol" and v.attrs["Labels"] == {"via": "docker-py"}
    out = client.containers.run("busybox", ["sh", "-c", "echo hi > /data/f; cat /data/f"], remove=True,
                                volumes={"dpy-vol": {"bind": "/data", "mode": "rw"}})
    assert out == b"hi\n"
    mount = docker.types.Mount("/m", "dpy-vol", type="volume", read_only=True)
    out = client.containers.run("busybox", ["cat", "/m/f"], remove=True, mounts=[mount])
    assert out == b"hi\n"
    assert [x.name for x in client.volumes.list(filters={"label": "via=docker-py"})] == ["dpy-vol"]
    c = client.containers.create("busybox", "true", volumes=["dpy-vol:/data"])
    with pytest.raises(docker.errors.APIError) as e:
        client.volumes.get("dpy-vol").remove()
    assert e.value.status_code == 409 and "volume is in use" in str(e.value)
    c.remove()
    client.volumes.get("dpy-vol").remove()
    with pytest.raises(docker.errors.NotFound):
        client.volumes.get("dpy-vol")
    before = {x.name for x in client.volumes.list()}
    client.containers.run("busybox", "true", remove=True, volumes=["/anon-dpy"])   # removed without v=True
    left = {x.name for x in client.volumes.list()} - before
    assert len(left) == 1
    assert left <= set(client.volumes.prune()["VolumesDeleted"])
    assert not left & {x.name for x in client.volumes.list()}
