"""The documents of an image archive, as `docker save` writes and `docker load` reads them.

Docker 25+ writes one tar that two kinds of readers understand:

    blobs/sha256/<hex>     configs, OCI manifests, layers (uncompressed tars)
    index.json             OCI index: one manifest descriptor per tag, annotated with
                           io.containerd.image.name / org.opencontainers.image.ref.name
    manifest.json          docker-archive: [{"Config", "RepoTags", "Layers"}], paths into blobs/
    oci-layout             {"imageLayoutVersion": "1.0.0"}
    repositories           {"busybox": {"latest": "<top layer hex>"}} (only when something is tagged)

Older Docker (1.10-24) wrote `<v1-id>/layer.tar`, `<v1-id>/json`, `<v1-id>/VERSION` and
`<config-hex>.json` with the same manifest.json; a pure OCI layout (skopeo, buildkit) has no
manifest.json. This module builds and parses those documents; no I/O.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from dockyard.errors import InvalidArgument
from dockyard.oci.digest import parse_digest
from dockyard.oci.image_spec import (
    INDEX_MEDIA_TYPES,
    MANIFEST_MEDIA_TYPES,
    MEDIA_TYPE_OCI_CONFIG,
    MEDIA_TYPE_OCI_INDEX,
    MEDIA_TYPE_OCI_MANIFEST,
)
from dockyard.store.safepath import PathEscape, clean_components

__all__ = [
    "LayerRef", "SaveImage", "SaveDocuments", "save_documents", "blob_path",
    "ManifestItem", "parse_manifest_json", "OciImage", "resolve_oci_index",
    "clean_path", "ArchiveLinks", "ANNOTATION_IMAGE_NAME", "ANNOTATION_REF_NAME", "OCI_LAYOUT",
]

ANNOTATION_IMAGE_NAME = "io.containerd.image.name"
ANNOTATION_REF_NAME = "org.opencontainers.image.ref.name"
OCI_LAYOUT = b'{"imageLayoutVersion": "1.0.0"}'
_MAX_LINKS = 40


def _dumps(doc: Any) -> bytes:
    """Go's json.Marshal: compact, keys in the order given."""
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()


def blob_path(digest: str) -> str:
    d = parse_digest(digest)
    return f"blobs/{d.algorithm}/{d.hex}"


# ---------------------------------------------------------------- save

@dataclass(frozen=True)
class LayerRef:
    digest: str          # the blob as it goes into the archive
    size: int
    media_type: str
    diff_id: str


@dataclass(frozen=True)
class SaveImage:
    image_id: str                         # sha256 of `config`
    config: bytes
    layers: Sequence[LayerRef]
    tags: Sequence[tuple[str, str, str]]  # (full name "docker.io/library/busybox", tag, familiar "busybox:latest")
    parent: str = ""                      # set only when the parent is saved too


@dataclass
class SaveDocuments:
    manifests: dict[str, bytes] = field(default_factory=dict)   # OCI manifest blobs by digest
    manifest_json: bytes = b""
    index_json: bytes = b""
    repositories: bytes | None = None


def save_documents(images: Sequence[SaveImage]) -> SaveDocuments:
    """The small documents of an archive of `images` (in this order)."""
    import hashlib

    out = SaveDocuments()
    items: list[dict[str, Any]] = []
    descriptors: list[dict[str, Any]] = []
    repos: dict[str, dict[str, str]] = {}
    for img in images:
        manifest = _dumps({
            "schemaVersion": 2, "mediaType": MEDIA_TYPE_OCI_MANIFEST,
            "config": {"mediaType": MEDIA_TYPE_OCI_CONFIG, "digest": img.image_id, "size": len(img.config)},
            "layers": [{"mediaType": lr.media_type, "digest": lr.digest, "size": lr.size} for lr in img.layers]})
        digest = "sha256:" + hashlib.sha256(manifest).hexdigest()
        out.manifests[digest] = manifest
        untagged = {"mediaType": MEDIA_TYPE_OCI_MANIFEST, "digest": digest, "size": len(manifest)}
        for name, tag, familiar in img.tags:
            familiar_name = familiar.rsplit(":", 1)[0]
            if img.layers:
                repos.setdefault(familiar_name, {})[tag] = parse_digest(img.layers[-1].diff_id).hex
            descriptors.append({**untagged, "annotations": {ANNOTATION_IMAGE_NAME: f"{name}:{tag}",
                                                            ANNOTATION_REF_NAME: tag}})
        if not img.tags:
            descriptors.append(untagged)
        item: dict[str, Any] = {"Config": blob_path(img.image_id),
                                "RepoTags": [familiar for _, _, familiar in img.tags] or None,
                                "Layers": [blob_path(lr.digest) for lr in img.layers]}
        if img.parent:
            item["Parent"] = img.parent
        items.append(item)
    out.manifest_json = _dumps(items) + b"\n"
    out.index_json = _dumps({"schemaVersion": 2, "mediaType": MEDIA_TYPE_OCI_INDEX, "manifests": descriptors})
    if repos:
        out.repositories = _dumps({k: dict(sorted(v.items())) for k, v in sorted(repos.items())}) + b"\n"
    return out


# ---------------------------------------------------------------- paths inside an archive

def clean_path(name: str) -> str:
    """An entry name as a relative path without `.`/`..`; refuses names that leave the archive."""
    if name.startswith("/"):
        raise InvalidArgument(f'invalid tar entry "{name}": absolute paths are not allowed in an image archive')
    try:
        return "/".join(clean_components(name))
    except PathEscape:
        raise InvalidArgument(f'invalid tar entry "{name}": path escapes the archive') from None


class ArchiveLinks:
    """Symlinks and hardlinks between entries of one archive (old `docker save` links a
    layer.tar saved twice to the first copy). Links are checked as they are added: one
    whose target leaves the archive is refused."""

    def __init__(self) -> None:
        self._links: dict[str, str] = {}

    def add_symlink(self, path: str, target: str) -> None:
        if target.startswith("/"):
            raise InvalidArgument(f'invalid symlink "{path}" -> "{target}": target outside the archive')
        base = path.rsplit("/", 1)[0] if "/" in path else ""
        try:
            self._links[path] = clean_path(f"{base}/{target}" if base else target)
        except InvalidArgument:
            raise InvalidArgument(f'invalid symlink "{path}" -> "{target}": target outside the archive') from None

    def add_hardlink(self, path: str, target: str) -> None:
        try:
            self._links[path] = clean_path(target)
        except InvalidArgument:
            raise InvalidArgument(f'invalid hardlink "{path}" -> "{target}": target outside the archive') from None

    def resolve(self, name: str) -> str:
        """`name` (as manifest.json writes it) with links followed, components one by one."""
        parts = clean_path(name.lstrip("/")).split("/")
        done: list[str] = []
        hops = 0
        while parts:
            current = "/".join([*done, parts[0]])
            if current in self._links:
                hops += 1
                if hops > _MAX_LINKS:
                    raise InvalidArgument(f"invalid archive: too many links resolving {name}")
                parts = [p for p in self._links[current].split("/") if p] + parts[1:]
                done = []
                continue
            done.append(parts.pop(0))
        return "/".join(done)


# ---------------------------------------------------------------- load: manifest.json

@dataclass(frozen=True)
class ManifestItem:
    config: str
    repo_tags: tuple[str, ...]
    layers: tuple[str, ...]
    parent: str = ""


def parse_manifest_json(data: bytes) -> list[ManifestItem]:
    try:
        doc = json.loads(data)
    except ValueError as e:
        raise InvalidArgument(f"invalid archive: failed to decode manifest.json: {e}") from None
    if doc is None:
        raise InvalidArgument("invalid manifest, manifest cannot be null (but can be [])")
    if not isinstance(doc, list):
        raise InvalidArgument("invalid archive: failed to decode manifest.json: not a list")
    items = []
    for entry in doc:
        if not isinstance(entry, dict) or not isinstance(entry.get("Config"), str):
            raise InvalidArgument("invalid archive: failed to decode manifest.json: an item has no Config")
        tags, layers = entry.get("RepoTags") or [], entry.get("Layers") or []
        if not all(isinstance(t, str) for t in tags) or not all(isinstance(p, str) for p in layers):
            raise InvalidArgument("invalid archive: failed to decode manifest.json: bad RepoTags or Layers")
        items.append(ManifestItem(entry["Config"], tuple(tags), tuple(layers), str(entry.get("Parent") or "")))
    return items


# ---------------------------------------------------------------- load: OCI layout

@dataclass(frozen=True)
class OciImage:
    manifest_digest: str
    config_digest: str
    layers: tuple[tuple[str, int], ...]    # (digest, size) of each layer blob, bottom first
    names: tuple[str, ...]                 # references to tag it with (not normalised)


def _json_doc(data: bytes, what: str) -> dict[str, Any]:
    try:
        doc = json.loads(data)
    except ValueError as e:
        raise InvalidArgument(f"invalid archive: failed to decode {what}: {e}") from None
    if not isinstance(doc, dict):
        raise InvalidArgument(f"invalid archive: failed to decode {what}: not an object")
    return doc


def _platform_ok(desc: dict[str, Any], want: tuple[str, str, str]) -> bool:
    plat = desc.get("platform")
    if not isinstance(plat, dict):
        return True
    os_name, arch, variant = want
    if plat.get("os") != os_name or plat.get("architecture") != arch:
        return False
    return not variant or not plat.get("variant") or plat.get("variant") == variant


def _descriptor(desc: Any) -> tuple[str, str, int]:
    if not isinstance(desc, dict) or not isinstance(desc.get("digest"), str):
        raise InvalidArgument("invalid archive: a descriptor has no digest")
    parse_digest(desc["digest"])
    try:
        size = int(desc.get("size", -1))
    except (TypeError, ValueError):
        raise InvalidArgument("invalid archive: a descriptor has an invalid size") from None
    return str(desc.get("mediaType") or ""), desc["digest"], size


def _names(desc: dict[str, Any]) -> tuple[str, ...]:
    ann = desc.get("annotations") or {}
    if not isinstance(ann, dict):
        return ()
    if isinstance(ann.get(ANNOTATION_IMAGE_NAME), str):
        return (ann[ANNOTATION_IMAGE_NAME],)
    ref = ann.get(ANNOTATION_REF_NAME)
    # a bare tag ("latest") names nothing by itself; a full reference does
    if isinstance(ref, str) and ("/" in ref or ":" in ref or "." in ref):
        return (ref,)
    return ()


def resolve_oci_index(index: bytes, read_blob: Callable[[str, int], bytes],
                      platform: tuple[str, str, str]) -> list[OciImage]:
    """The images an OCI layout's index.json names, for `platform` (os, arch, variant).
    `read_blob(digest, size)` returns a verified small blob (manifest, nested index)."""
    found: dict[str, OciImage] = {}

    def visit(doc: dict[str, Any], names: tuple[str, ...], depth: int) -> None:
        if depth > 4:
            raise InvalidArgument("invalid archive: indexes nested too deep")
        manifests = doc.get("manifests")
        if not isinstance(manifests, list):
            raise InvalidArgument("invalid archive: index has no manifests")
        for desc in manifests:
            media_type, digest, size = _descriptor(desc)
            own = _names(desc) or names
            if media_type in INDEX_MEDIA_TYPES:
                visit(_json_doc(read_blob(digest, size), "index"), own, depth + 1)
            elif media_type in MANIFEST_MEDIA_TYPES or not media_type:
                if not _platform_ok(desc, platform):
                    continue
                manifest = _json_doc(read_blob(digest, size), "manifest")
                if manifest.get("mediaType") in INDEX_MEDIA_TYPES or "manifests" in manifest:
                    visit(manifest, own, depth + 1)
                    continue
                _, config_digest, _ = _descriptor(manifest.get("config"))
                layers = tuple(_descriptor(d)[1:] for d in manifest.get("layers") or [])
                prior = found.get(digest)
                merged = tuple(dict.fromkeys((*(prior.names if prior else ()), *own)))
                found[digest] = OciImage(digest, config_digest, layers, merged)

    visit(_json_doc(index, "index.json"), (), 0)
    return list(found.values())
