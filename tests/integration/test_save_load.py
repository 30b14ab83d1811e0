"""`save` and `load` through the docker CLI and dockyard's: round trips, several images in
one archive, Docker's old layout, OCI layouts, compressed archives and layers."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import sys
import tarfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from image_archives import Entry, Image, layer, oci_layout, old_layout, tar_bytes  # noqa: E402

from daemon_harness import DOCKER  # noqa: E402


def image_id(daemon, ref: str) -> str:
    return daemon.docker("image", "inspect", "-f", "{{.Id}}", ref).stdout_text.strip()


def tags_of(daemon) -> set[str]:
    return set(daemon.docker("images", "--format", "{{.Repository}}:{{.Tag}}").stdout_text.split())


@pytest.fixture(scope="module")
def busybox_layer(daemon, tmp_path_factory) -> bytes:
    """busybox's layer as the store keeps it (from a save), to build runnable images by hand."""
    path = tmp_path_factory.mktemp("bbl") / "bb.tar"
    daemon.docker("save", "-o", str(path), "busybox")
    with tarfile.open(path) as tf:
        manifest = json.load(tf.extractfile("manifest.json"))
        return tf.extractfile(manifest[0]["Layers"][0]).read()


def test_docker_cli_round_trip(daemon, tmp_path):
    daemon.docker("tag", "busybox", "rt/one:1")
    before = image_id(daemon, "rt/one:1")
    out = tmp_path / "one.tar"
    daemon.docker("save", "-o", str(out), "rt/one:1")
    with tarfile.open(out) as tf:
        names = tf.getnames()
        manifest = json.load(tf.extractfile("manifest.json"))
        index = json.load(tf.extractfile("index.json"))
        assert json.load(tf.extractfile("oci-layout")) == {"imageLayoutVersion": "1.0.0"}
        assert json.load(tf.extractfile("repositories"))["rt/one"]["1"]
        for path in [manifest[0]["Config"], *manifest[0]["Layers"]]:   # Docker 25+: paths into blobs/
            assert path.startswith("blobs/sha256/") and path in names
            assert "sha256:" + hashlib.sha256(tf.extractfile(path).read()).hexdigest() == "sha256:" + path[13:]
    assert manifest[0]["RepoTags"] == ["rt/one:1"] and manifest[0]["Config"] == "blobs/sha256/" + before[7:]
    assert index["manifests"][0]["annotations"] == {"io.containerd.image.name": "docker.io/rt/one:1",
                                                    "org.opencontainers.image.ref.name": "1"}
    daemon.docker("rmi", "rt/one:1")
    p = daemon.docker("load", "-i", str(out))
    assert p.stdout_text == "Loaded image: rt/one:1\n"
    assert image_id(daemon, "rt/one:1") == before
    assert daemon.docker("run", "--rm", "rt/one:1", "echo", "loaded").stdout_text == "loaded\n"
    # stdout / stdin, and the same bytes every time
    again = daemon.docker("save", "rt/one:1").stdout
    assert again == out.read_bytes()
    assert daemon.docker("load", input=again).stdout_text == "Loaded image: rt/one:1\n"
    daemon.docker("rmi", "rt/one:1")


def test_dockyard_cli_round_trip(daemon, tmp_path):
    daemon.docker("tag", "busybox", "rt/two:2")
    before = image_id(daemon, "rt/two:2")
    out = tmp_path / "two.tar"
    daemon.dockyard("save", "-o", str(out), "rt/two:2")
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tmp-")]
    daemon.dockyard("rmi", "rt/two:2")
    assert daemon.dockyard("load", "-i", str(out)).stdout_text == "Loaded image: rt/two:2\n"
    assert image_id(daemon, "rt/two:2") == before
    assert daemon.dockyard("run", "--rm", "rt/two:2", "echo", "ok").stdout_text == "ok\n"
    streamed = daemon.dockyard("image", "save", "rt/two:2").stdout
    assert streamed == out.read_bytes()
    assert daemon.dockyard("image", "load", "-q", input=streamed).stdout_text == "Loaded image: rt/two:2\n"
    # docker's refusals, in its words
    p = daemon.dockyard("save", "nosuch:tag", "-o", str(tmp_path / "x.tar"), check=False)
    assert p.returncode == 1 and "reference does not exist" in p.stderr_text
    assert not (tmp_path / "x.tar").exists()
    p = daemon.dockyard("save", "-o", str(tmp_path / "missing" / "x.tar"), "busybox", check=False)
    assert p.returncode == 1 and "failed to save image: invalid output path" in p.stderr_text
    p = daemon.docker("save", "-o", str(tmp_path / "missing" / "x.tar"), "busybox", check=False)
    assert p.returncode == 1 and "failed to save image: invalid output path" in p.stderr_text
    p = daemon.dockyard("load", "extra", check=False)
    assert p.returncode == 1 and "accepts no arguments" in p.stderr_text
    daemon.docker("rmi", "rt/two:2")


def test_save_refuses_a_terminal(daemon):
    from pty_session import PtySession

    for argv in ([sys.executable, "-m", "dockyard.cli", "-H", daemon.host, "save", "busybox"],
                 [DOCKER, "-H", daemon.host, "save", "busybox"]):
        s = PtySession(argv, env=daemon.env)
        try:
            s.expect("cowardly refusing to save to a terminal. Use the -o flag or redirect")
            assert s.wait() == 1
        finally:
            s.close()


def test_several_images_in_one_tar(daemon, tmp_path):
    daemon.docker("tag", "busybox", "multi/a:1")
    daemon.docker("tag", "busybox", "multi/a:2")
    daemon.docker("run", "--name", "mk", "busybox", "sh", "-c", "echo b > /b.txt")
    daemon.docker("commit", "mk", "multi/b:1")
    daemon.docker("rm", "mk")
    daemon.docker("run", "--name", "mk2", "busybox", "sh", "-c", "echo c > /c.txt")
    untagged = daemon.docker("commit", "mk2").stdout_text.strip()
    daemon.docker("rm", "mk2")
    ids = {ref: image_id(daemon, ref) for ref in ("multi/a:1", "multi/b:1")}
    out = tmp_path / "multi.tar"
    # a bare repository name saves all its tags; an ID saves the image untagged
    daemon.docker("save", "-o", str(out), "multi/a", "multi/b:1", untagged)
    with tarfile.open(out) as tf:
        manifest = json.load(tf.extractfile("manifest.json"))
        index = json.load(tf.extractfile("index.json"))
    assert [sorted(m["RepoTags"] or []) for m in manifest] == [["multi/a:1", "multi/a:2"], ["multi/b:1"], []]
    assert len(index["manifests"]) == 4 and "annotations" not in index["manifests"][3]
    daemon.docker("rmi", "multi/a:1", "multi/a:2", "multi/b:1", untagged)
    out_lines = daemon.docker("load", "-i", str(out)).stdout_text.splitlines()
    assert out_lines[:3] == ["Loaded image: multi/a:1", "Loaded image: multi/a:2", "Loaded image: multi/b:1"]
    assert out_lines[3:] == [f"Loaded image ID: {ids['multi/a:1']}", f"Loaded image ID: {ids['multi/b:1']}",
                             f"Loaded image ID: {untagged}"]   # moby prints them all when the last is untagged
    assert {ref: image_id(daemon, ref) for ref in ids} == ids
    assert image_id(daemon, untagged) == untagged
    assert daemon.docker("run", "--rm", "multi/b:1", "cat", "/b.txt").stdout_text == "b\n"
    daemon.docker("rmi", "multi/a:1", "multi/a:2", "multi/b:1", untagged)


def test_load_moves_a_tag_as_docker_says(daemon, busybox_layer, tmp_path):
    img = Image([busybox_layer, layer({"moved.txt": b"new\n"})], ["mover:1"])
    daemon.docker("tag", "busybox", "mover:1")
    old = image_id(daemon, "mover:1")
    out = daemon.docker("load", input=old_layout([img])).stdout_text
    assert out == (f"The image mover:1 already exists, renaming the old one with ID {old} to empty string\n"
                   "Loaded image: mover:1\n")
    assert image_id(daemon, "mover:1") == img.id
    daemon.docker("rmi", "mover:1")


def test_load_old_docker_layout(daemon, busybox_layer):
    shared = layer({"etc/shared": b"s\n"})
    a = Image([busybox_layer, shared, layer({"a.txt": b"a\n"})], ["old/a:1"], cmd=["cat", "/a.txt"])
    b = Image([busybox_layer, shared], ["old/b:1"])
    archive = old_layout([a, b])
    with tarfile.open(fileobj=io.BytesIO(archive)) as tf:
        assert any(m.issym() for m in tf.getmembers())      # the shared layers are links to the first copy
    out = daemon.docker("load", input=archive).stdout_text
    assert out == "Loaded image: old/a:1\nLoaded image: old/b:1\n"
    assert image_id(daemon, "old/a:1") == a.id and image_id(daemon, "old/b:1") == b.id
    assert daemon.docker("run", "--rm", "old/a:1").stdout_text == "a\n"
    assert daemon.docker("run", "--rm", "old/b:1", "cat", "/etc/shared").stdout_text == "s\n"
    daemon.docker("rmi", "old/a:1", "old/b:1")


@pytest.mark.parametrize("compress, nested", [("gzip", False), ("zstd", True), ("none", False)])
def test_load_oci_layout(daemon, busybox_layer, compress, nested):
    img = Image([busybox_layer, layer({"oci.txt": compress.encode() + b"\n"})],
                [f"docker.io/library/ocitest:{compress}"], cmd=["cat", "/oci.txt"])
    untagged = Image([busybox_layer, layer({"u": b"u"})])
    out = daemon.dockyard("load", input=oci_layout([img, untagged], compress=compress, nested=nested)).stdout_text
    assert out == f"Loaded image: ocitest:{compress}\nLoaded image ID: {img.id}\nLoaded image ID: {untagged.id}\n"
    assert image_id(daemon, f"ocitest:{compress}") == img.id
    assert daemon.docker("run", "--rm", f"ocitest:{compress}").stdout_text == f"{compress}\n"
    daemon.docker("rmi", f"ocitest:{compress}", untagged.id)


def test_load_compressed_archives(daemon, busybox_layer, tmp_path):
    import zstandard

    img = Image([busybox_layer, layer({"z": b"z\n"})], ["packed:1"])
    plain = old_layout([img])
    for packed in (gzip.compress(plain), zstandard.ZstdCompressor().compress(plain)):
        assert daemon.docker("load", input=packed).stdout_text == "Loaded image: packed:1\n"
        assert image_id(daemon, "packed:1") == img.id
        daemon.docker("rmi", "packed:1")
    # layers inside may be compressed too (docker load takes gzip'd layer.tar files)
    gz = Image([busybox_layer, layer({"z": b"z\n"})], ["packed:2"])
    entries = [Entry(f"{gz.id[7:]}.json", gz.config), Entry("l1.tar", busybox_layer),
               Entry("l2.tar.gz", gzip.compress(gz.layers[1])),
               Entry("manifest.json", json.dumps([{"Config": f"{gz.id[7:]}.json", "RepoTags": ["packed:2"],
                                                   "Layers": ["l1.tar", "l2.tar.gz"]}]).encode())]
    assert daemon.docker("load", input=tar_bytes(entries)).stdout_text == "Loaded image: packed:2\n"
    assert daemon.docker("run", "--rm", "packed:2", "cat", "/z").stdout_text == "z\n"
    daemon.docker("rmi", "packed:2")


def test_load_progress_on_a_terminal(daemon, tmp_path):
    from pty_session import PtySession

    out = tmp_path / "p.tar"
    daemon.docker("tag", "busybox", "prog:1")
    daemon.docker("save", "-o", str(out), "prog:1")
    daemon.docker("rmi", "prog:1")
    for argv in ([sys.executable, "-m", "dockyard.cli", "-H", daemon.host, "load", "-i", str(out)],
                 [DOCKER, "-H", daemon.host, "load", "-i", str(out)]):
        s = PtySession(argv, env=daemon.env)
        try:
            s.expect("Loading layer")
            s.expect("Loaded image: prog:1")
            assert s.wait() == 0
        finally:
            s.close()
    daemon.docker("rmi", "prog:1")


def test_load_pre_1_10_layout_without_manifest(daemon, busybox_layer):
    """Docker < 1.10: only `repositories` and `<v1-id>/{json,layer.tar}`, each layer an image."""
    from image_archives import Entry, tar_bytes

    top_layer = layer({"legacy.txt": b"legacy\n"})
    base = {"id": "a" * 64, "created": "2015-06-01T10:00:00.123456789Z", "os": "linux",
            "container_config": {"Cmd": ["/bin/sh", "-c", "#(nop) ADD file"]}, "Size": 5}
    top = {"id": "b" * 64, "parent": "a" * 64, "created": "2015-06-01T10:00:01Z", "os": "linux",
           "author": "me <me@example.com>", "config": {"Cmd": ["cat", "/legacy.txt"]},
           "container_config": {"Cmd": ["/bin/sh", "-c", "echo legacy > /legacy.txt"]}}
    archive = tar_bytes([
        Entry("a" * 64 + "/VERSION", b"1.0"), Entry("a" * 64 + "/json", json.dumps(base).encode()),
        Entry("a" * 64 + "/layer.tar", busybox_layer),
        Entry("b" * 64 + "/VERSION", b"1.0"), Entry("b" * 64 + "/json", json.dumps(top).encode()),
        Entry("b" * 64 + "/layer.tar", top_layer),
        Entry("repositories", json.dumps({"legacy": {"v1": "b" * 64}}).encode())])
    assert daemon.docker("load", input=archive).stdout_text == ""     # moby's legacy loader says nothing
    assert daemon.docker("run", "--rm", "legacy:v1").stdout_text == "legacy\n"
    doc = json.loads(daemon.docker("image", "inspect", "legacy:v1").stdout_text)[0]
    assert doc["Author"] == "me <me@example.com>" and len(doc["RootFS"]["Layers"]) == 2
    history = daemon.docker("history", "--no-trunc", "--format", "{{.CreatedBy}}", "legacy:v1").stdout_text
    assert history.splitlines() == ["/bin/sh -c echo legacy > /legacy.txt", "/bin/sh -c #(nop) ADD file"]
    assert doc["Parent"].startswith("sha256:")       # each v1 layer was an image, linked to its parent
    daemon.docker("rmi", "legacy:v1")


def test_docker_py_save_and_load(daemon):
    import docker

    client = docker.DockerClient(base_url=daemon.host, timeout=60)
    try:
        daemon.docker("tag", "busybox", "dpy/saved:1")
        image = client.images.get("dpy/saved:1")
        data = b"".join(image.save(named=True))
        client.images.remove("dpy/saved:1")
        loaded = client.images.load(data)
        assert [i.id for i in loaded] == [image.id] and "dpy/saved:1" in loaded[0].tags
        assert client.containers.run("dpy/saved:1", ["echo", "py"], remove=True) == b"py\n"
        client.images.remove("dpy/saved:1")
    finally:
        client.close()
