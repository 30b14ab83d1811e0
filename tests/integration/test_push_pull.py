"""push, pull and login against dockyard's own registry server, driven by the docker CLI,
dockyard's CLI and docker-py: round trips, layers that exist already, Docker's error texts for
a missing tag or repository, token auth with an htpasswd file, and a registry that lies about
a blob (the pull fails and leaves nothing in the store)."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from daemon_harness import DOCKER  # noqa: E402
from registry_harness import RunningRegistry, write_htpasswd  # noqa: E402


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    reg = RunningRegistry(str(tmp_path_factory.mktemp("reg")))
    yield reg
    reg.stop()


@pytest.fixture(scope="module")
def auth_registry(tmp_path_factory):
    root = tmp_path_factory.mktemp("authreg")
    htpasswd = write_htpasswd(str(root / "htpasswd"), {"alice": "s3cret"})
    reg = RunningRegistry(str(root / "data"), htpasswd=htpasswd, auth_mode="token")
    yield reg
    reg.stop()


def run_docker(daemon, config_dir: Path, *args: str, input: bytes | None = None) -> subprocess.CompletedProcess:
    env = {**daemon.env, "DOCKER_CONFIG": str(config_dir)}
    return subprocess.run([DOCKER, *args], env=env, capture_output=True, input=input, timeout=120,
                          stdin=None if input is not None else subprocess.DEVNULL)


def store_blobs(daemon) -> set[str]:
    blobs = Path(daemon.dir) / "root" / "blobs" / "sha256"
    return {p.name for p in blobs.iterdir()} if blobs.is_dir() else set()


def repo_digests(daemon, ref: str) -> list[str]:
    return json.loads(daemon.docker("image", "inspect", "-f", "{{json .RepoDigests}}", ref).stdout_text)


def test_push_rmi_pull_run_with_docker_cli(clean, registry):
    ref = f"{registry.addr}/acc/bb:1"
    clean.docker("tag", "busybox:latest", ref)
    push = clean.docker("push", ref).stdout_text
    assert f"The push refers to repository [{registry.addr}/acc/bb]" in push
    assert "Pushed" in push
    digest = push.split("1: digest: ")[1].split()[0]
    assert digest.startswith("sha256:")
    assert f"{registry.addr}/acc/bb@{digest}" in repo_digests(clean, ref)
    image_id = clean.docker("image", "inspect", "-f", "{{.Id}}", ref).stdout_text.strip()

    again = clean.docker("push", ref).stdout_text
    assert "Layer already exists" in again and "Pushed" not in again
    assert f"1: digest: {digest}" in again

    clean.docker("rmi", ref)
    pull = clean.docker("pull", ref).stdout_text
    assert "1: Pulling from acc/bb" in pull
    assert f"Digest: {digest}" in pull
    assert f"Status: Image is up to date for {ref}" in pull or \
        f"Status: Downloaded newer image for {ref}" in pull
    assert pull.strip().endswith(ref)
    assert clean.docker("image", "inspect", "-f", "{{.Id}}", ref).stdout_text.strip() == image_id
    assert clean.docker("run", "--rm", ref, "echo", "pulled").stdout_text == "pulled\n"
    assert f"Status: Image is up to date for {ref}" in clean.docker("pull", ref).stdout_text


def test_pull_into_fresh_store_downloads_and_runs(clean, registry):
    """The layer is not in the store at all: it is downloaded, verified, unpacked."""
    ref = f"{registry.addr}/acc/fresh:2"
    clean.docker("tag", "busybox:latest", ref)
    clean.docker("push", ref)
    ids = clean.docker("images", "-q", "--no-trunc").stdout_text.split()
    for tag in clean.docker("images", "--format", "{{.Repository}}:{{.Tag}}").stdout_text.split():
        clean.docker("rmi", tag, check=False)
    assert not clean.docker("images", "-q").stdout_text.strip()
    pull = clean.docker("pull", ref).stdout_text
    assert "Pull complete" in pull and "Downloaded newer image" in pull
    assert clean.docker("run", "--rm", ref, "echo", "fresh").stdout_text == "fresh\n"
    # put busybox back for the other tests
    clean.docker("tag", ref, "busybox:latest")
    assert ids


def test_run_of_missing_image_pulls(clean, registry):
    ref = f"{registry.addr}/acc/runme:latest"
    clean.docker("tag", "busybox:latest", ref)
    clean.docker("push", ref)
    clean.docker("rmi", ref)
    p = clean.docker("run", "--rm", ref, "echo", "hi")
    assert p.stdout_text == "hi\n"
    assert "Unable to find image" in p.stderr_text


def test_pull_missing_tag_and_repo(clean, registry):
    clean.docker("tag", "busybox:latest", f"{registry.addr}/acc/have:1")
    clean.docker("push", f"{registry.addr}/acc/have:1")
    p = clean.docker("pull", f"{registry.addr}/acc/have:nope", check=False)
    assert p.returncode == 1
    assert f"manifest for {registry.addr}/acc/have:nope not found: manifest unknown" in p.stderr_text
    p = clean.docker("pull", f"{registry.addr}/no/such", check=False)
    assert p.returncode == 1
    assert f"{registry.addr}/no/such" in p.stderr_text and "not found" in p.stderr_text


def test_push_of_missing_tag(clean, registry):
    p = clean.docker("push", f"{registry.addr}/acc/never:1", check=False)
    assert p.returncode == 1
    assert "tag does not exist" in p.stderr_text or "does not exist" in p.stderr_text


def test_bad_registry_auth_header_is_400(clean, registry):
    import docker

    api = docker.APIClient(base_url=clean.host)
    resp = api._post(api._url("/images/create"), params={"fromImage": f"{registry.addr}/acc/bb", "tag": "1"},
                     headers={"X-Registry-Auth": "!!!not base64"})
    assert resp.status_code == 400
    assert "invalid X-Registry-Auth header" in resp.json()["message"]


def test_docker_py_push_and_pull(clean, registry):
    import docker

    client = docker.DockerClient(base_url=clean.host)
    image = client.images.get("busybox:latest")
    image.tag(f"{registry.addr}/py/bb", "x")
    lines = [json.loads(line) for line in
             client.api.push(f"{registry.addr}/py/bb", tag="x", stream=True)]
    aux = [m["aux"] for m in lines if "aux" in m]
    assert aux and aux[0]["Tag"] == "x" and aux[0]["Digest"].startswith("sha256:")
    client.images.remove(f"{registry.addr}/py/bb:x")
    pulled = client.images.pull(f"{registry.addr}/py/bb", tag="x")
    assert pulled.id == image.id
    assert f"{registry.addr}/py/bb@{aux[0]['Digest']}" in pulled.attrs["RepoDigests"]


def test_dockyard_cli_push_pull(clean, registry):
    ref = f"{registry.addr}/dy/bb:3"
    clean.dockyard("tag", "busybox:latest", ref)
    push = clean.dockyard("push", ref).stdout_text
    assert "3: digest: sha256:" in push
    clean.dockyard("rmi", ref)
    pull = clean.dockyard("pull", ref).stdout_text
    assert pull.strip().endswith(ref) and "Digest: sha256:" in pull
    assert clean.dockyard("pull", "-q", ref).stdout_text == ref + "\n"


def test_login_and_credentials(clean, auth_registry, tmp_path):
    addr = auth_registry.addr
    ref = f"{addr}/team/bb:1"
    clean.docker("tag", "busybox:latest", ref)
    # no credentials: refused
    p = run_docker(clean, tmp_path, "push", ref)
    assert p.returncode == 1 and b"denied" in p.stderr.lower() + p.stdout.lower()
    bad = run_docker(clean, tmp_path, "login", "-u", "alice", "--password-stdin", addr, input=b"wrong\n")
    assert bad.returncode == 1 and b"unauthorized" in bad.stderr
    good = run_docker(clean, tmp_path, "login", "-u", "alice", "--password-stdin", addr, input=b"s3cret\n")
    assert good.returncode == 0, good.stderr
    assert b"Login Succeeded" in good.stdout
    auths = json.loads((tmp_path / "config.json").read_text())["auths"]
    assert base64.b64decode(auths[addr]["auth"]) == b"alice:s3cret"
    p = run_docker(clean, tmp_path, "push", ref)
    assert p.returncode == 0, p.stderr
    clean.docker("rmi", ref)
    p = run_docker(clean, tmp_path / "empty", "pull", ref)
    assert p.returncode == 1
    assert b"pull access denied for " + addr.encode() + b"/team/bb, repository does not exist or may " \
        b"require 'docker login'" in p.stderr
    p = run_docker(clean, tmp_path, "pull", ref)
    assert p.returncode == 0, p.stderr
    # dockyard's own login writes the same file
    dy_config = tmp_path / "dy"
    env = {**clean.env, "DOCKER_CONFIG": str(dy_config)}
    cmd = [sys.executable, "-m", "dockyard.cli", "-H", clean.host]
    out = subprocess.run([*cmd, "login", "-u", "alice", "--password-stdin", addr], input=b"s3cret\n",
                         env=env, capture_output=True, timeout=60)
    assert out.returncode == 0 and b"Login Succeeded" in out.stdout, out.stderr
    assert addr in json.loads((dy_config / "config.json").read_text())["auths"]
    out = subprocess.run([*cmd, "pull", ref], env=env, capture_output=True, timeout=60)
    assert out.returncode == 0, out.stderr
    out = subprocess.run([*cmd, "logout", addr], env=env, capture_output=True, timeout=60)
    assert out.stdout == f"Removing login credentials for {addr}\n".encode()
    assert os.path.exists(dy_config / "config.json")


def test_corrupt_blob_fails_and_leaves_nothing(clean, registry, busybox_with_extra_layer):
    ref = f"{registry.addr}/bad/img:1"
    clean.docker("tag", busybox_with_extra_layer, ref)
    push = clean.docker("push", ref).stdout_text
    digest = push.split("1: digest: ")[1].split()[0]
    manifest = registry.request("GET", f"/v2/bad/img/manifests/{digest}",
                                headers={"Accept": "application/vnd.oci.image.manifest.v1+json"}).json()
    top = manifest["layers"][-1]["digest"].partition(":")[2]
    clean.docker("rmi", ref, busybox_with_extra_layer)
    before = store_blobs(clean)
    assert top not in before
    blob = Path(registry.config.root) / "blobs" / "sha256" / top[:2] / top
    data = bytearray(blob.read_bytes())
    data[-2000] ^= 0xFF   # same size, other bytes: inside the tar's data, a valid tar still
    blob.write_bytes(bytes(data))
    p = clean.docker("pull", ref, check=False)
    assert p.returncode == 1
    assert "digest" in p.stderr_text.lower() or "mismatch" in p.stderr_text.lower()
    assert store_blobs(clean) == before
    assert clean.docker("images", "-q", ref).stdout_text.strip() == ""
    tmp = Path(clean.dir) / "root" / "tmp"
    assert not list(tmp.glob("blob-*"))


@pytest.fixture()
def busybox_with_extra_layer(clean):
    """An image whose top layer holds a file of random bytes (so its blob is only its own)."""
    name = f"extra{os.getpid()}"
    clean.docker("run", "--name", name, "busybox", "sh", "-c", "head -c 20000 /dev/urandom > /data.bin")
    clean.docker("commit", name, "extra:1")
    clean.docker("rm", name)
    yield "extra:1"
    clean.docker("rmi", "extra:1", check=False)
