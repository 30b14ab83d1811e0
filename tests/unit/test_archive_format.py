"""archive/: the streaming tar reader and writer, and the documents of image archives, on bytes."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile

import pytest

from dockyard.archive import tarstream
from dockyard.archive.docker_archive import (
    ArchiveLinks,
    LayerRef,
    SaveImage,
    clean_path,
    parse_manifest_json,
    resolve_oci_index,
    save_documents,
)
from dockyard.engine.load_archive import progress_message
from dockyard.errors import InvalidArgument


def _tar(entries: list[tuple[str, bytes | None, str]], fmt: int = tarfile.PAX_FORMAT) -> bytes:
    """(name, data or None for a dir, symlink target or "")."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tf:
        for name, data, link in entries:
            info = tarfile.TarInfo(name)
            if link:
                info.type, info.linkname = tarfile.SYMTYPE, link
            elif data is None:
                info.type = tarfile.DIRTYPE
            else:
                info.size = len(data)
            tf.addfile(info, io.BytesIO(data) if data is not None and not link else None)
    return buf.getvalue()


class Trickle(io.BytesIO):
    """Short reads, as a socket gives them."""

    def read(self, n: int = -1) -> bytes:
        return super().read(7 if n is None or n < 0 else min(n, 7))


def test_reader_reads_what_tarfile_writes_in_every_format():
    long_name = "d/" + "x" * 150
    for fmt in (tarfile.USTAR_FORMAT, tarfile.GNU_FORMAT, tarfile.PAX_FORMAT):
        entries = [("d", None, ""), ("d/a", b"hello", ""), ("d/l", None, "a"), ("d/e", b"", "")]
        if fmt != tarfile.USTAR_FORMAT:
            entries.append((long_name, b"y" * 1000, ""))
        got = []
        for e in tarstream.iter_entries(Trickle(_tar(entries, fmt))):
            got.append((e.name, e.reader.read() if e.reader else None, e.linkname if e.is_symlink else ""))
        want = [(n, d if d is not None and not link else None, link) for n, d, link in entries]
        assert got == want


def test_reader_skips_what_the_consumer_leaves():
    data = _tar([("a", b"1" * 5000, ""), ("b", b"2" * 3, "")])
    names = [e.name for e in tarstream.iter_entries(io.BytesIO(data))]   # nothing read
    assert names == ["a", "b"]


@pytest.mark.parametrize("mangle, message", [
    (lambda b: b[:700], "unexpected EOF"),
    (lambda b: b"x" * 512 + b[512:], "invalid tar archive"),
    (lambda b: b"", "empty input"),
])
def test_reader_refuses_broken_archives(mangle, message):
    data = mangle(_tar([("a", b"1" * 5000, "")]))
    with pytest.raises(InvalidArgument, match=message):
        for e in tarstream.iter_entries(io.BytesIO(data)):
            if e.reader:
                e.reader.read()


def test_writer_output_is_read_back_by_tarfile():
    body = b"abc" * 200
    raw = (tarstream.header("blobs/", directory=True) + tarstream.header("blobs/f", len(body), mtime=5)
           + body + tarstream.padding(len(body)) + tarstream.header("p/" + "n" * 120, 0) + tarstream.END)
    with tarfile.open(fileobj=io.BytesIO(raw)) as tf:
        members = tf.getmembers()
        assert [m.name for m in members] == ["blobs", "blobs/f", "p/" + "n" * 120]
        assert tf.extractfile("blobs/f").read() == body
        assert members[1].mtime == 5 and members[1].uid == 0 and members[1].mode == 0o644
    assert len(raw) % 512 == 0


def _save_image(tags, layers=("a" * 64,)) -> SaveImage:
    config = json.dumps({"rootfs": {"type": "layers", "diff_ids": [f"sha256:{h}" for h in layers]}}).encode()
    image_id = "sha256:" + hashlib.sha256(config).hexdigest()
    return SaveImage(image_id, config, [LayerRef(f"sha256:{h}", 10, "application/vnd.oci.image.layer.v1.tar",
                                                 f"sha256:{h}") for h in layers], tags)


def test_save_documents_as_docker_25_writes_them():
    tagged = _save_image([("docker.io/library/busybox", "latest", "busybox:latest"),
                          ("docker.io/me/app", "v1", "me/app:v1")])
    untagged = _save_image([], layers=("b" * 64,))
    docs = save_documents([tagged, untagged])
    items = json.loads(docs.manifest_json)
    assert docs.manifest_json.endswith(b"]\n")
    assert items[0] == {"Config": "blobs/sha256/" + tagged.image_id[7:],
                        "RepoTags": ["busybox:latest", "me/app:v1"], "Layers": ["blobs/sha256/" + "a" * 64]}
    assert items[1]["RepoTags"] is None
    index = json.loads(docs.index_json)
    assert index["mediaType"] == "application/vnd.oci.image.index.v1+json"
    anns = [m.get("annotations") for m in index["manifests"]]
    assert anns == [{"io.containerd.image.name": "docker.io/library/busybox:latest",
                     "org.opencontainers.image.ref.name": "latest"},
                    {"io.containerd.image.name": "docker.io/me/app:v1", "org.opencontainers.image.ref.name": "v1"},
                    None]
    for m in index["manifests"]:
        blob = docs.manifests[m["digest"]]
        assert m["size"] == len(blob) and "sha256:" + hashlib.sha256(blob).hexdigest() == m["digest"]
    manifest = json.loads(docs.manifests[index["manifests"][2]["digest"]])
    assert manifest["config"]["digest"] == untagged.image_id
    assert json.loads(docs.repositories) == {"busybox": {"latest": "a" * 64}, "me/app": {"v1": "a" * 64}}


def test_clean_path_and_links():
    assert clean_path("./a//b/../c") == "a/c"
    for bad in ("../x", "a/../../x", "/etc/passwd"):
        with pytest.raises(InvalidArgument):
            clean_path(bad)
    links = ArchiveLinks()
    links.add_symlink("id2/layer.tar", "../id1/layer.tar")
    links.add_symlink("alias", "id2")
    assert links.resolve("id2/layer.tar") == "id1/layer.tar"
    assert links.resolve("alias/layer.tar") == "id1/layer.tar"
    for target in ("../../etc/passwd", "/etc/passwd"):
        with pytest.raises(InvalidArgument, match="invalid symlink"):
            links.add_symlink("x/y", target)
    links.add_symlink("loop1", "loop2")
    links.add_symlink("loop2", "loop1")
    with pytest.raises(InvalidArgument, match="too many links"):
        links.resolve("loop1/f")


def test_parse_manifest_json():
    items = parse_manifest_json(b'[{"Config":"c.json","RepoTags":null,"Layers":["l/layer.tar"],"Parent":"sha256:p"}]')
    assert items[0].config == "c.json" and items[0].repo_tags == () and items[0].parent == "sha256:p"
    with pytest.raises(InvalidArgument, match="cannot be null"):
        parse_manifest_json(b"null")
    with pytest.raises(InvalidArgument, match="manifest.json"):
        parse_manifest_json(b"{nope")


def test_resolve_oci_index_nested_and_platforms():
    def desc(doc: dict, **extra) -> tuple[dict, bytes]:
        raw = json.dumps(doc).encode()
        return {"digest": "sha256:" + hashlib.sha256(raw).hexdigest(), "size": len(raw), **extra}, raw

    config = {"digest": "sha256:" + "c" * 64, "size": 2}
    m_amd, raw_amd = desc({"config": config, "layers": [{"digest": "sha256:" + "1" * 64, "size": 5}]},
                          mediaType="application/vnd.oci.image.manifest.v1+json",
                          platform={"os": "linux", "architecture": "amd64"})
    m_arm, raw_arm = desc({"config": config, "layers": []}, mediaType="application/vnd.oci.image.manifest.v1+json",
                          platform={"os": "linux", "architecture": "arm64"})
    nested, raw_nested = desc({"manifests": [m_amd, m_arm]}, mediaType="application/vnd.oci.image.index.v1+json",
                              annotations={"io.containerd.image.name": "docker.io/library/x:1"})
    blobs = {d["digest"]: raw for d, raw in ((m_amd, raw_amd), (m_arm, raw_arm), (nested, raw_nested))}
    index = json.dumps({"manifests": [nested]}).encode()
    found = resolve_oci_index(index, lambda d, s: blobs[d], ("linux", "amd64", ""))
    assert [(f.manifest_digest, f.names) for f in found] == [(m_amd["digest"], ("docker.io/library/x:1",))]
    assert found[0].layers == (("sha256:" + "1" * 64, 5),)
    assert resolve_oci_index(index, lambda d, s: blobs[d], ("linux", "riscv64", "")) == []


def test_progress_message_is_mobys():
    m = progress_message("0123456789ab", 1_048_576, 4_194_304)
    assert m["status"] == "Loading layer" and m["id"] == "0123456789ab"
    assert m["progressDetail"] == {"current": 1_048_576, "total": 4_194_304}
    assert m["progress"] == "[" + "=" * 12 + ">" + " " * 38 + "]  1.049MB/4.194MB"
