"""Image archives built by hand for load tests: Docker's old layout (1.10-24), a pure OCI
layout, and the helpers to make layers, configs and tars from Python bytes."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from dataclasses import dataclass, field
from pathlib import Path


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass
class Entry:
    name: str
    data: bytes = b""
    kind: bytes = tarfile.REGTYPE
    linkname: str = ""
    mode: int = 0o644


def tar_bytes(entries: list[Entry]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for e in entries:
            info = tarfile.TarInfo(e.name)
            info.type, info.linkname, info.mode, info.mtime = e.kind, e.linkname, e.mode, 1_600_000_000
            info.size = len(e.data) if e.kind == tarfile.REGTYPE else 0
            tf.addfile(info, io.BytesIO(e.data) if e.kind == tarfile.REGTYPE else None)
    return buf.getvalue()


def layer(files: dict[str, bytes]) -> bytes:
    """A layer tar: the given files (mode 0644) and their parent dirs."""
    entries, dirs = [], set()
    for name in sorted(files):
        parts = name.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            d = "/".join(parts[:i])
            if d not in dirs:
                dirs.add(d)
                entries.append(Entry(d + "/", kind=tarfile.DIRTYPE, mode=0o755))
        entries.append(Entry(name, files[name]))
    return tar_bytes(entries)


def config(diff_ids: list[str], cmd: list[str] | None = None, history: list[dict] | None = None) -> bytes:
    return json.dumps({
        "architecture": "amd64", "os": "linux", "created": "2024-01-02T03:04:05Z",
        "config": {"Cmd": cmd or ["sh"], "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": history or [{"created": "2024-01-02T03:04:05Z", "created_by": "hand"} for _ in diff_ids],
    }, separators=(",", ":")).encode()


@dataclass
class Image:
    layers: list[bytes]            # uncompressed layer tars, bottom first
    tags: list[str] = field(default_factory=list)
    cmd: list[str] | None = None

    @property
    def config(self) -> bytes:
        return config([sha(lay) for lay in self.layers], self.cmd)

    @property
    def id(self) -> str:
        return sha(self.config)


def old_layout(images: list[Image], *, link_duplicates: bool = True) -> bytes:
    """`docker save` as Docker 1.10-24 wrote it: <v1id>/{VERSION,json,layer.tar}, <id>.json,
    manifest.json, repositories; a layer saved twice is a symlink to the first copy."""
    entries: list[Entry] = []
    manifest, repos, saved = [], {}, {}
    for img in images:
        parent, paths = "", []
        for i, lay in enumerate(img.layers):
            v1id = hashlib.sha256(f"{parent}{sha(lay)}{i}{img.id}".encode()).hexdigest()
            entries.append(Entry(f"{v1id}/", kind=tarfile.DIRTYPE, mode=0o755))
            entries.append(Entry(f"{v1id}/VERSION", b"1.0"))
            v1 = {"id": v1id, "created": "2024-01-02T03:04:05Z", "os": "linux"}
            if parent:
                v1["parent"] = parent
            entries.append(Entry(f"{v1id}/json", json.dumps(v1).encode()))
            if sha(lay) in saved and link_duplicates:
                entries.append(Entry(f"{v1id}/layer.tar", kind=tarfile.SYMTYPE,
                                     linkname=f"../{saved[sha(lay)]}/layer.tar"))
            else:
                entries.append(Entry(f"{v1id}/layer.tar", lay))
                saved.setdefault(sha(lay), v1id)
            paths.append(f"{v1id}/layer.tar")
            parent = v1id
        entries.append(Entry(f"{img.id[7:]}.json", img.config))
        manifest.append({"Config": f"{img.id[7:]}.json", "RepoTags": img.tags or None, "Layers": paths})
        for tag in img.tags:
            name, _, t = tag.rpartition(":")
            repos.setdefault(name, {})[t] = parent
    entries.append(Entry("manifest.json", json.dumps(manifest).encode()))
    if repos:
        entries.append(Entry("repositories", json.dumps(repos).encode()))
    return tar_bytes(entries)


def oci_layout(images: list[Image], *, compress: str = "gzip", nested: bool = False) -> bytes:
    """A pure OCI image layout (no manifest.json), layers gzip/zstd-compressed or plain,
    names in `io.containerd.image.name`; `nested` puts the manifests in an image index."""
    blobs: dict[str, bytes] = {}
    descriptors = []
    for img in images:
        layer_descs = []
        for lay in img.layers:
            if compress == "gzip":
                data, mt = gzip.compress(lay, mtime=0), "application/vnd.oci.image.layer.v1.tar+gzip"
            elif compress == "zstd":
                import zstandard
                data, mt = zstandard.ZstdCompressor().compress(lay), "application/vnd.oci.image.layer.v1.tar+zstd"
            else:
                data, mt = lay, "application/vnd.oci.image.layer.v1.tar"
            blobs[sha(data)] = data
            layer_descs.append({"mediaType": mt, "digest": sha(data), "size": len(data)})
        blobs[img.id] = img.config
        manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                               "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                          "digest": img.id, "size": len(img.config)},
                               "layers": layer_descs}).encode()
        blobs[sha(manifest)] = manifest
        desc = {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": sha(manifest),
                "size": len(manifest), "platform": {"architecture": "amd64", "os": "linux"}}
        if img.tags:
            desc["annotations"] = {"io.containerd.image.name": img.tags[0],
                                   "org.opencontainers.image.ref.name": img.tags[0].rpartition(":")[2]}
        descriptors.append(desc)
    if nested:
        inner = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                            "manifests": descriptors}).encode()
        blobs[sha(inner)] = inner
        descriptors = [{"mediaType": "application/vnd.oci.image.index.v1+json", "digest": sha(inner),
                        "size": len(inner)}]
    entries = [Entry("blobs/", kind=tarfile.DIRTYPE, mode=0o755), Entry("blobs/sha256/", kind=tarfile.DIRTYPE)]
    entries += [Entry(f"blobs/sha256/{d[7:]}", blobs[d]) for d in sorted(blobs)]
    entries.append(Entry("oci-layout", b'{"imageLayoutVersion":"1.0.0"}'))
    entries.append(Entry("index.json", json.dumps({"schemaVersion": 2, "manifests": descriptors}).encode()))
    return tar_bytes(entries)


def store_state(data_root: Path) -> dict[str, set[str]]:
    """What a load could leave behind in a daemon's data root."""
    def names(p: Path) -> set[str]:
        return {c.name for c in p.iterdir()} if p.is_dir() else set()

    import sqlite3
    db = sqlite3.connect(data_root / "dockyard.db")
    try:
        tags = {r[0] for r in db.execute("SELECT reference FROM tags")}
        images = {r[0] for r in db.execute("SELECT id FROM images")}
    finally:
        db.close()
    return {"blobs": names(data_root / "blobs" / "sha256"), "snapshots": names(data_root / "snapshots"),
            "tmp": names(data_root / "tmp"), "tags": tags, "images": images}
