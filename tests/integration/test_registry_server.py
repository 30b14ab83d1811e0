"""The registry against real clients: skopeo (OCI layout and docker-archive in and out, inspect,
with and without credentials) and, when installed, Debian's dockerd (push and pull)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time

import pytest

from registry_harness import make_oci_layout, write_htpasswd

pytestmark = pytest.mark.skipif(shutil.which("skopeo") is None, reason="skopeo not installed")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class Served:
    """`dockyard registry serve` as a subprocess, as a user runs it."""

    def __init__(self, root: str, *flags: str) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "dockyard.cli", "registry", "serve",
                                      "--addr", "127.0.0.1:0", "--root", root, *flags],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()   # "dockyard registry listening on 127.0.0.1:PORT"
        assert "listening on" in line, self.proc.stderr.read()
        self.addr = line.split()[-1]

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def skopeo(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    r = subprocess.run(["skopeo", *args], capture_output=True, text=True, timeout=120)
    if check:
        assert r.returncode == 0, r.stderr
    return r


@pytest.fixture
def image(tmp_path):
    path = str(tmp_path / "img")
    make_oci_layout(path, "latest", [{"a.txt": os.urandom(200_000)}, {"b.txt": b"second layer\n"}])
    return path


def test_skopeo_round_trip_open(tmp_path, image):
    srv = Served(str(tmp_path / "root"))
    try:
        dest = f"docker://{srv.addr}/lib/demo:v1"
        skopeo("copy", "--dest-tls-verify=false", f"oci:{image}:latest", dest)
        info = json.loads(skopeo("inspect", "--tls-verify=false", dest).stdout)
        assert info["RepoTags"] == ["v1"] and len(info["Layers"]) == 2
        # the same image again as a Docker schema2 manifest, via a mount-free re-push
        skopeo("copy", "--dest-tls-verify=false", "--format", "v2s2", f"oci:{image}:latest",
               f"docker://{srv.addr}/lib/demo:v2s2")
        raw = json.loads(skopeo("inspect", "--raw", "--tls-verify=false", f"docker://{srv.addr}/lib/demo:v2s2").stdout)
        assert raw["mediaType"] == "application/vnd.docker.distribution.manifest.v2+json"
        # and back out, to an OCI layout and to a docker-archive
        skopeo("copy", "--src-tls-verify=false", dest, f"oci:{tmp_path / 'back'}:x")
        skopeo("copy", "--src-tls-verify=false", f"docker://{srv.addr}/lib/demo:v2s2",
               f"docker-archive:{tmp_path / 'back.tar'}:lib/demo:v2s2")
        assert os.path.getsize(tmp_path / "back.tar") > 200_000
        # a docker-archive pushed to another repository: layers already here are mounted/reused
        skopeo("copy", "--dest-tls-verify=false", f"docker-archive:{tmp_path / 'back.tar'}",
               f"docker://{srv.addr}/other/demo:copy")
        tags = json.loads(skopeo("list-tags", "--tls-verify=false", f"docker://{srv.addr}/lib/demo").stdout)
        assert sorted(tags["Tags"]) == ["v1", "v2s2"]
    finally:
        srv.stop()


@pytest.mark.parametrize("mode", ["token", "basic"])
def test_skopeo_with_credentials(tmp_path, image, mode):
    hp = write_htpasswd(str(tmp_path / "htpasswd"), {"alice": "s3cret"})
    srv = Served(str(tmp_path / "root"), "--htpasswd", hp, "--auth", mode)
    try:
        dest = f"docker://{srv.addr}/sec/demo:v1"
        r = skopeo("copy", "--dest-tls-verify=false", f"oci:{image}:latest", dest, check=False)
        assert r.returncode != 0 and "unauthorized" in r.stderr.lower()
        r = skopeo("copy", "--dest-tls-verify=false", "--dest-creds", "alice:wrong", f"oci:{image}:latest", dest,
                   check=False)
        assert r.returncode != 0
        skopeo("copy", "--dest-tls-verify=false", "--dest-creds", "alice:s3cret", f"oci:{image}:latest", dest)
        info = json.loads(skopeo("inspect", "--tls-verify=false", "--creds", "alice:s3cret", dest).stdout)
        assert info["RepoTags"] == ["v1"]
    finally:
        srv.stop()


def _dockerd_host() -> str | None:
    if shutil.which("dockerd") is None or shutil.which("docker") is None:
        return None
    r = subprocess.run([os.path.join(ROOT, "bench", "with-dockerd")], capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        return None
    return r.stdout.strip().split("=", 1)[1]


def test_dockerd_push_pull(tmp_path, image):
    host = _dockerd_host()
    if host is None:
        pytest.skip("dockerd not installed")
    srv = Served(str(tmp_path / "root"))

    def docker(*args: str) -> str:
        r = subprocess.run(["docker", "-H", host, *args], capture_output=True, text=True, timeout=180)
        assert r.returncode == 0, r.stderr
        return r.stdout

    ref = f"{srv.addr}/dockerd/demo:{int(time.time())}"
    try:
        skopeo("copy", f"oci:{image}:latest", f"docker-archive:{tmp_path / 'img.tar'}:{ref}")
        docker("load", "-i", str(tmp_path / "img.tar"))
        docker("push", ref)
        docker("rmi", ref)
        docker("pull", ref)
        assert ref in docker("images", "--format", "{{.Repository}}:{{.Tag}}")
        raw = json.loads(skopeo("inspect", "--raw", "--tls-verify=false", f"docker://{ref}").stdout)
        assert raw["mediaType"] == "application/vnd.docker.distribution.manifest.v2+json"
    finally:
        subprocess.run(["docker", "-H", host, "rmi", ref], capture_output=True)
        srv.stop()
