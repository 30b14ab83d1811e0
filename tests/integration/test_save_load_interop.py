"""Image archives across implementations: what dockyard saves, skopeo, umoci and Debian's
dockerd read; what they write, dockyard loads."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from daemon_harness import DOCKER, ROOT  # noqa: E402

needs_skopeo = pytest.mark.skipif(shutil.which("skopeo") is None, reason="skopeo is not installed")
needs_umoci = pytest.mark.skipif(shutil.which("umoci") is None, reason="umoci is not installed")


def run(*argv: str) -> str:
    p = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, f"{argv} failed: {p.stderr}"
    return p.stdout


def image_id(daemon, ref: str) -> str:
    return daemon.docker("image", "inspect", "-f", "{{.Id}}", ref).stdout_text.strip()


@pytest.fixture(scope="module")
def saved(daemon, tmp_path_factory) -> tuple[Path, str, list[str]]:
    """busybox as dockyard saves it: (tar, image id, diff ids)."""
    daemon.docker("tag", "busybox", "interop/bb:1")
    path = tmp_path_factory.mktemp("interop") / "bb.tar"
    daemon.dockyard("save", "-o", str(path), "interop/bb:1")
    doc = json.loads(daemon.docker("image", "inspect", "interop/bb:1").stdout_text)[0]
    return path, doc["Id"], doc["RootFS"]["Layers"]


@needs_skopeo
def test_skopeo_reads_what_dockyard_saves(saved, tmp_path):
    path, iid, diff_ids = saved
    for transport in ("docker-archive", "oci-archive"):    # one tar, both readers
        info = json.loads(run("skopeo", "inspect", f"{transport}:{path}"))
        assert info["Layers"] == diff_ids and info["Os"] == "linux"
    config = json.loads(run("skopeo", "inspect", "--config", "--raw", f"docker-archive:{path}"))
    assert config["rootfs"]["diff_ids"] == diff_ids
    run("skopeo", "copy", f"docker-archive:{path}", f"oci:{tmp_path / 'oci'}:bb")
    assert (tmp_path / "oci" / "index.json").is_file()


@needs_skopeo
@needs_umoci
def test_umoci_unpacks_what_skopeo_copied(saved, tmp_path):
    path, _, _ = saved
    run("skopeo", "copy", f"oci-archive:{path}", f"oci:{tmp_path / 'oci'}:bb")
    run("umoci", "unpack", "--image", f"{tmp_path / 'oci'}:bb", str(tmp_path / "bundle"))
    assert (tmp_path / "bundle" / "rootfs" / "bin" / "busybox").is_file()


@needs_skopeo
def test_dockyard_loads_what_skopeo_writes(daemon, saved, tmp_path):
    path, iid, _ = saved
    archive = tmp_path / "sk.tar"
    run("skopeo", "copy", f"docker-archive:{path}", f"docker-archive:{archive}:skopeo/bb:2")
    assert daemon.dockyard("load", "-i", str(archive)).stdout_text == "Loaded image: skopeo/bb:2\n"
    assert image_id(daemon, "skopeo/bb:2") == iid
    # an OCI layout directory, as a tar
    run("skopeo", "copy", f"docker-archive:{path}", f"oci:{tmp_path / 'oci'}:skopeo/bb:3")
    layout = tmp_path / "oci.tar"
    with tarfile.open(layout, "w") as tf:
        for p in sorted((tmp_path / "oci").rglob("*")):
            tf.add(p, arcname=str(p.relative_to(tmp_path / "oci")), recursive=False)
    assert daemon.docker("load", "-i", str(layout)).stdout_text == "Loaded image: skopeo/bb:3\n"
    assert daemon.docker("run", "--rm", "skopeo/bb:3", "echo", "via-skopeo").stdout_text == "via-skopeo\n"
    daemon.docker("rmi", "skopeo/bb:2", "skopeo/bb:3")


@pytest.fixture(scope="module")
def dockerd_host() -> str:
    """Debian's dockerd (20.10), started by bench/with-dockerd on its own socket."""
    if shutil.which("dockerd") is None:
        pytest.skip("dockerd is not installed")
    p = subprocess.run([str(ROOT / "bench" / "with-dockerd")], capture_output=True, text=True, timeout=120)
    if p.returncode != 0 or "DOCKERD_HOST=" not in p.stdout:
        pytest.skip(f"dockerd did not start: {p.stderr[-500:]}")
    return p.stdout.strip().split("DOCKERD_HOST=", 1)[1]


def dockerd(host: str, *args: str, input: bytes | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "DOCKER_HOST": host}
    p = subprocess.run([DOCKER, *args], env=env, capture_output=True, input=input, timeout=120)
    assert p.returncode == 0, f"dockerd {args}: {p.stderr.decode()}"
    return p


def test_dockerd_archives_both_ways(daemon, saved, dockerd_host, tmp_path):
    # dockerd → dockyard: the old layout (<id>/layer.tar) dockerd 20.10 writes
    theirs = tmp_path / "dockerd.tar"
    dockerd(dockerd_host, "save", "-o", str(theirs), "busybox:latest")
    their_id = dockerd(dockerd_host, "image", "inspect", "-f", "{{.Id}}", "busybox:latest").stdout.decode().strip()
    with tarfile.open(theirs) as tf:
        assert any(n.endswith("/layer.tar") for n in tf.getnames())
    daemon.docker("tag", "busybox", "keep:bb")       # busybox:latest is the module's: put it back after
    try:
        daemon.docker("rmi", "busybox:latest")
        assert daemon.docker("load", "-i", str(theirs)).stdout_text == "Loaded image: busybox:latest\n"
        assert image_id(daemon, "busybox:latest") == their_id
        assert daemon.docker("run", "--rm", "busybox", "echo", "from-dockerd").stdout_text == "from-dockerd\n"
    finally:
        daemon.docker("tag", "keep:bb", "busybox:latest")
        daemon.docker("rmi", "keep:bb")
    # dockyard → dockerd: the Docker 25+ layout, read by an older dockerd through manifest.json
    path, iid, _ = saved
    try:
        out = dockerd(dockerd_host, "load", "-i", str(path)).stdout.decode()
        assert "Loaded image: interop/bb:1" in out
        assert dockerd(dockerd_host, "image", "inspect", "-f", "{{.Id}}", "interop/bb:1").stdout.decode().strip() == iid
        assert dockerd(dockerd_host, "run", "--rm", "--network", "none", "interop/bb:1", "echo", "in-dockerd").stdout \
            == b"in-dockerd\n"
    finally:
        subprocess.run([DOCKER, "-H", dockerd_host, "rmi", "interop/bb:1"], capture_output=True, timeout=60)
