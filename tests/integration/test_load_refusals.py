"""`load` of bad archives: every digest checked, unsafe paths refused, and nothing of a failed
load left in the store (blobs, layers, tags, temp files) or outside it. Memory stays flat."""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tarfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from image_archives import Entry, Image, layer, old_layout, store_state, tar_bytes  # noqa: E402


@pytest.fixture(scope="module")
def busybox_layer(daemon, tmp_path_factory) -> bytes:
    path = tmp_path_factory.mktemp("bbl") / "bb.tar"
    daemon.docker("save", "-o", str(path), "busybox")
    with tarfile.open(path) as tf:
        return tf.extractfile(json.load(tf.extractfile("manifest.json"))[0]["Layers"][0]).read()


def refused(daemon, archive: bytes, message: str) -> None:
    """Load `archive` with both CLIs: refused with `message`, the store exactly as before."""
    root = daemon.dir / "root"
    before = store_state(root)
    for cli in (daemon.docker, daemon.dockyard):
        p = cli("load", input=archive, check=False)
        assert p.returncode == 1, p.stdout_text
        assert message in p.stderr_text, p.stderr_text
        assert store_state(root) == before


def new_layout(daemon, tmp_path, img: Image) -> bytes:
    """`img` loaded, saved (Docker 25+ layout) and removed again: its own layer is not in the store."""
    daemon.docker("load", input=old_layout([img]))
    out = tmp_path / "img.tar"
    daemon.docker("save", "-o", str(out), img.tags[0])
    daemon.docker("rmi", img.tags[0])
    return out.read_bytes()


def test_corrupt_layer_is_refused_and_nothing_is_left(daemon, busybox_layer, tmp_path):
    img = Image([busybox_layer, layer({"data.txt": b"precious-content\n" * 100})], ["corrupt:1"])
    archive = new_layout(daemon, tmp_path, img)
    bad = archive.replace(b"precious-content", b"PRECIOUS-content", 1)
    assert bad != archive and len(bad) == len(archive)
    refused(daemon, bad, "does not match its digest")
    # a good image before the bad one in the same archive is not loaded either
    daemon.docker("tag", "busybox", "corrupt:0")
    both = tmp_path / "both.tar"
    daemon.docker("load", input=old_layout([img]))
    daemon.docker("save", "-o", str(both), "corrupt:0", "corrupt:1")
    daemon.docker("rmi", "corrupt:0", "corrupt:1")
    refused(daemon, both.read_bytes().replace(b"precious-content", b"PRECIOUS-content", 1),
            "does not match its digest")
    assert "corrupt:0" not in daemon.docker("images", "--format", "{{.Repository}}:{{.Tag}}").stdout_text
    # the untouched archive still loads
    assert daemon.docker("load", input=archive).stdout_text == "Loaded image: corrupt:1\n"
    daemon.docker("rmi", "corrupt:1")


def test_layer_that_is_not_the_configs_diff_id(daemon, busybox_layer):
    img = Image([busybox_layer, layer({"x": b"dy-original-marker\n"})], ["diffid:1"])
    bad = old_layout([img]).replace(b"dy-original-marker", b"dy-tampered-marker", 1)    # old layout: no digest in the name
    refused(daemon, bad, 'invalid diffID for layer 1: expected "')


def test_config_that_is_not_its_digest(daemon, busybox_layer, tmp_path):
    img = Image([busybox_layer, layer({"c": b"c\n"})], ["cfg:1"], cmd=["echo", "config-marker"])
    archive = new_layout(daemon, tmp_path, img)
    refused(daemon, archive.replace(b"config-marker", b"CONFIG-marker", 1), "does not match its digest")


def test_broken_archives(daemon, busybox_layer):
    img = Image([busybox_layer], ["broken:1"])
    refused(daemon, b"this is not a tar archive at all" * 40, "invalid tar archive")
    refused(daemon, old_layout([img])[:5000], "unexpected EOF")
    refused(daemon, tar_bytes([Entry("hello.txt", b"hi")]), "does not contain a manifest.json")
    two = json.dumps([{"Config": f"{img.id[7:]}.json", "RepoTags": ["broken:1"], "Layers": []}]).encode()
    refused(daemon, tar_bytes([Entry(f"{img.id[7:]}.json", img.config), Entry("manifest.json", two)]),
            "invalid manifest, layers length mismatch: expected 0, got 1")
    bad_tag = json.dumps([{"Config": f"{img.id[7:]}.json", "RepoTags": ["broken@sha256:" + "0" * 64],
                           "Layers": ["l.tar"]}]).encode()
    refused(daemon, tar_bytes([Entry(f"{img.id[7:]}.json", img.config), Entry("l.tar", busybox_layer),
                               Entry("manifest.json", bad_tag)]), "invalid tag")


@pytest.mark.parametrize("entry, message", [
    (Entry("../escaped-by-load", b"x"), "path escapes the archive"),
    (Entry("/tmp/escaped-by-load", b"x"), "absolute paths are not allowed"),
    (Entry("lnk", kind=tarfile.SYMTYPE, linkname="../../../tmp"), "invalid symlink"),
    (Entry("lnk", kind=tarfile.SYMTYPE, linkname="/tmp"), "invalid symlink"),
    (Entry("hard", kind=tarfile.LNKTYPE, linkname="../../etc/passwd"), "invalid hardlink"),
])
def test_archive_entries_that_leave_the_archive(daemon, busybox_layer, entry, message):
    img = Image([busybox_layer], ["escape:1"])
    archive = tar_bytes([entry, Entry(f"{img.id[7:]}.json", img.config), Entry("l.tar", busybox_layer),
                         Entry("manifest.json", json.dumps([{"Config": f"{img.id[7:]}.json", "RepoTags": [],
                                                            "Layers": ["l.tar"]}]).encode())])
    refused(daemon, archive, message)
    assert not Path("/tmp/escaped-by-load").exists() and not (daemon.dir / "escaped-by-load").exists()


def test_layers_that_leave_their_root(daemon, busybox_layer, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    for evil in (tar_bytes([Entry("../../../../../../" + str(outside / "dotdot")[1:], b"x")]),
                 tar_bytes([Entry("lnk", kind=tarfile.SYMTYPE, linkname=str(outside)), Entry("lnk/through", b"x")]),
                 tar_bytes([Entry("rel", kind=tarfile.SYMTYPE, linkname="../../../../../../../.." + str(outside)),
                            Entry("rel/through", b"x")])):
        img = Image([busybox_layer, evil], ["evil:1"])
        refused(daemon, old_layout([img]), "invalid tar entry")
        assert list(outside.iterdir()) == []


def _huge_archive(size: int, digest_out: dict[str, str]):
    """An old-layout archive with one layer of `size` bytes of random-looking data, made as it
    is sent (nothing of it on disk or in memory); the layer's digest is known only at its end."""
    block = os.urandom(1 << 20)
    files, per_file = 4, size // 4
    v1 = "1" * 64
    h = hashlib.sha256()

    def hdr(name: str, n: int, kind: bytes = tarfile.REGTYPE) -> bytes:
        info = tarfile.TarInfo(name)
        info.size, info.type, info.mode = (n if kind == tarfile.REGTYPE else 0), kind, 0o644
        return info.tobuf(format=tarfile.USTAR_FORMAT)

    inner_size = files * (512 + per_file) + 1024
    yield hdr(f"{v1}/layer.tar", inner_size)
    for i in range(files):
        piece = hdr(f"big{i}.bin", per_file)
        h.update(piece)
        yield piece
        for j in range(per_file >> 20):
            chunk = j.to_bytes(8, "big") + i.to_bytes(8, "big") + block[16:]
            h.update(chunk)
            yield chunk
    end = b"\0" * 1024
    h.update(end)
    yield end
    diff_id = "sha256:" + h.hexdigest()
    config = json.dumps({"architecture": "amd64", "os": "linux", "config": {},
                         "rootfs": {"type": "layers", "diff_ids": [diff_id]}}).encode()
    image_id = hashlib.sha256(config).hexdigest()
    digest_out["id"] = "sha256:" + image_id
    manifest = json.dumps([{"Config": f"{image_id}.json", "RepoTags": ["huge:1"],
                            "Layers": [f"{v1}/layer.tar"]}]).encode()
    for name, data in ((f"{image_id}.json", config), ("manifest.json", manifest)):
        yield hdr(name, len(data)) + data + b"\0" * (-len(data) % 512)
    yield b"\0" * 1024


def _hwm_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


def test_loading_1gib_keeps_memory_flat(daemon):
    from dockyard.client.api import Client

    client = Client(daemon.host)
    before = _hwm_kib(daemon.proc.pid)
    ids: dict[str, str] = {}
    messages = list(client.stream_json("POST", "/images/load", {"quiet": "1"},
                                       body=_huge_archive(1 << 30, ids),
                                       headers={"Content-Type": "application/x-tar"}))
    assert messages == [{"stream": "Loaded image: huge:1\n"}], messages
    grown_mib = (_hwm_kib(daemon.proc.pid) - before) / 1024
    print(f"peak RSS before {before // 1024} MiB, grew {grown_mib:.1f} MiB")
    try:
        assert daemon.docker("image", "inspect", "-f", "{{.Id}} {{.Size}}", "huge:1").stdout_text.split() == \
            [ids["id"], str(1 << 30)]
        assert grown_mib < 100, f"the daemon's peak RSS grew by {grown_mib:.0f} MiB loading 1 GiB"
    finally:
        daemon.docker("rmi", "huge:1")
