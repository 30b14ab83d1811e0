"""`docker load`: images from a docker-archive (any Docker version) or OCI-layout tar.

One pass reads the archive (load_archive.py: layers unpacked as they stream past, nothing
extracted to disk), then every digest is checked before anything is recorded: the config's
sha256 is the image ID (and its file name when that is a digest), each layer's diff_id is
the config's `rootfs.diff_ids[i]`, a `blobs/sha256/<hex>` file hashes to <hex>. Only then
are the images stored and tagged; if any check fails, nothing of the load is left in the
store (no blobs, no layers, no tags).

Output as moby's tarexport.Load: `{"stream": "Loaded image: busybox:latest\\n"}` per tag,
"Loaded image ID: sha256:...\\n" lines when the last image has no tag, "The image X already
exists, renaming the old one with ID ... to empty string" when a tag moves, and "Loading
layer" progress unless quiet.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

from dockyard.archive.docker_archive import blob_path, parse_manifest_json, resolve_oci_index
from dockyard.engine.images_model import LayerBlob
from dockyard.engine.load_archive import ArchiveFile, ArchiveIngest, Progress
from dockyard.errors import InvalidArgument
from dockyard.store import references

TYPE_CHECKING = False
if TYPE_CHECKING:
    from dockyard.engine.images import ImageService

__all__ = ["load_images", "LoadedImage"]

_CONFIG_NAME_RE = re.compile(r"(?:blobs/sha256/)?([a-f0-9]{64})(?:\.json)?")


@dataclass
class LoadedImage:
    image_id: str
    config: bytes
    layers: list[ArchiveFile]
    tags: list[references.Reference] = field(default_factory=list)
    parent: str = ""
    history: list[Any] = field(default_factory=list)


def load_images(images: ImageService, source: Any, emit: Progress, *, quiet: bool = True,
                platform: tuple[str, str, str] | None = None) -> list[str]:
    """Load the archive read from `source`; `emit(message)` gets the JSON stream's messages.
    Returns the loaded image IDs. Raises InvalidArgument for a bad archive, leaving the store as it was."""
    ingest = ArchiveIngest(images, None if quiet else emit)
    stored: list[str] = []
    try:
        ingest.read(source)
        plan = _plan(ingest, platform or _host_platform())
        legacy = "manifest.json" not in ingest.files and "index.json" not in ingest.files
        for img in plan:
            stored.append(_store(images, ingest, img, emit, announce=not legacy))
    except BaseException:
        ingest.discard(failed=True)
        raise
    ingest.discard(failed=False)
    # moby prints the IDs when the last image had no tag; its legacy loader prints neither
    if plan and not plan[-1].tags and not legacy:
        emit({"stream": "".join(f"Loaded image ID: {i}\n" for i in stored)})
    return stored


def _host_platform() -> tuple[str, str, str]:
    from dockyard.engine.images import host_platform

    os_name, arch = host_platform()
    return os_name, arch, ""


def _plan(ingest: ArchiveIngest, platform: tuple[str, str, str]) -> list[LoadedImage]:
    if "manifest.json" in ingest.files:
        plan = _plan_docker(ingest, platform)
    elif "index.json" in ingest.files:
        plan = _plan_oci(ingest, platform)
    elif "repositories" in ingest.files:
        plan = _plan_legacy(ingest)
    else:
        raise InvalidArgument("invalid archive: does not contain a manifest.json")
    _link_parents(plan)
    return plan


def _config_doc(config: bytes) -> dict[str, Any]:
    try:
        doc = json.loads(config)
    except ValueError as e:
        raise InvalidArgument(f"invalid image config: {e}") from None
    if not isinstance(doc, dict):
        raise InvalidArgument("invalid image config: not a JSON object")
    os_name = doc.get("os") or "linux"
    if os_name != "linux":
        raise InvalidArgument(f"cannot load {os_name} image on linux")
    rootfs = doc.get("rootfs")
    if not isinstance(rootfs, dict) or rootfs.get("type") != "layers":
        raise InvalidArgument("invalid image config: rootfs type must be 'layers'")
    diff_ids = rootfs.get("diff_ids") or []
    if not isinstance(diff_ids, list) or not all(isinstance(d, str) for d in diff_ids):
        raise InvalidArgument("invalid image config: rootfs.diff_ids must be a list of digests")
    return doc


def _platform_ok(doc: dict[str, Any], platform: tuple[str, str, str]) -> bool:
    os_name, arch, variant = platform
    if doc.get("architecture") and doc.get("architecture") != arch:
        return False
    return not variant or not doc.get("variant") or doc.get("variant") == variant


def _check_layers(ingest: ArchiveIngest, files: list[ArchiveFile], diff_ids: list[str]) -> None:
    for i, (f, expected) in enumerate(zip(files, diff_ids, strict=True)):
        got = ingest.layer(f).diff_id
        if got != expected:
            raise InvalidArgument(f'invalid diffID for layer {i}: expected "{expected}", got "{got}"')


def _image(ingest: ArchiveIngest, config_file: ArchiveFile, layer_names: list[str],
           platform: tuple[str, str, str], strict_platform: bool) -> LoadedImage | None:
    config = ingest.document(config_file)
    image_id = "sha256:" + hashlib.sha256(config).hexdigest()
    m = _CONFIG_NAME_RE.fullmatch(config_file.path)
    if m and m.group(1) != image_id.partition(":")[2]:
        raise InvalidArgument(f"invalid archive: config {config_file.path} does not match its digest {image_id}")
    doc = _config_doc(config)
    if strict_platform and not _platform_ok(doc, platform):
        return None
    diff_ids = list(doc["rootfs"].get("diff_ids") or [])
    if len(layer_names) != len(diff_ids):
        raise InvalidArgument(f"invalid manifest, layers length mismatch: expected {len(layer_names)}, "
                              f"got {len(diff_ids)}")
    files = [ingest.file(name) for name in layer_names]
    _check_layers(ingest, files, diff_ids)
    return LoadedImage(image_id, config, files, history=list(doc.get("history") or []))


def _tag_refs(names: tuple[str, ...], *, strict: bool) -> list[references.Reference]:
    out: list[references.Reference] = []
    for name in names:
        try:
            ref = references.parse_normalized(name)
        except InvalidArgument:
            if strict:
                raise
            continue
        if ref.digest or not ref.tag:
            if strict:
                raise InvalidArgument(f'invalid tag "{name}"')
            if ref.digest:
                continue
            ref = ref.with_default_tag()
        if ref not in out:
            out.append(ref)
    return out


def _plan_docker(ingest: ArchiveIngest, platform: tuple[str, str, str]) -> list[LoadedImage]:
    items = parse_manifest_json(ingest.document(ingest.file("manifest.json")))
    plan = []
    for item in items:
        img = _image(ingest, ingest.file(item.config), list(item.layers), platform, strict_platform=True)
        if img is None:
            continue
        img.tags = _tag_refs(item.repo_tags, strict=True)
        img.parent = item.parent
        plan.append(img)
    return plan


def _plan_oci(ingest: ArchiveIngest, platform: tuple[str, str, str]) -> list[LoadedImage]:
    def read_blob(digest: str, size: int) -> bytes:
        f = ingest.file(blob_path(digest))
        if size >= 0 and f.size != size:
            raise InvalidArgument(f"invalid archive: {blob_path(digest)} has size {f.size}, expected {size}")
        return ingest.document(f)

    found = resolve_oci_index(ingest.document(ingest.file("index.json")), read_blob, platform)
    if not found:
        fmt = "/".join(p for p in platform if p)
        raise InvalidArgument(f"invalid archive: index.json names no image for platform {fmt}")
    plan = []
    for oci in found:
        for digest, size in oci.layers:
            f = ingest.file(blob_path(digest))
            if size >= 0 and f.size != size:
                raise InvalidArgument(f"invalid archive: {blob_path(digest)} has size {f.size}, expected {size}")
        img = _image(ingest, ingest.file(blob_path(oci.config_digest)),
                     [blob_path(d) for d, _ in oci.layers], platform, strict_platform=False)
        assert img is not None
        img.tags = _tag_refs(oci.names, strict=False)
        plan.append(img)
    return plan


def _link_parents(plan: list[LoadedImage]) -> None:
    """moby's validatedParentLinks + checkValidParent: keep a Parent only if it is loaded
    too and its history is the child's minus one entry (moby fails the load, after storing
    the images, on an invalid one; here the link is dropped and the load stays whole)."""
    by_id = {img.image_id: img for img in plan}
    for img in plan:
        parent = by_id.get(img.parent) if img.parent != img.image_id else None
        ok = parent is not None and ((not img.history and not parent.history) or (
            len(img.history) - len(parent.history) == 1 and img.history[:-1] == parent.history))
        if not ok:
            img.parent = ""


def _store(images: ImageService, ingest: ArchiveIngest, img: LoadedImage, emit: Progress, *,
           announce: bool = True) -> str:
    previous = {}
    for ref in img.tags:
        row = images.db.query_one("SELECT image_id FROM tags WHERE reference = ?", (str(ref),))
        if row is not None and row["image_id"] != img.image_id:
            previous[str(ref)] = row["image_id"]
    layers: list[LayerBlob] = [ingest.hand_over(f) for f in img.layers]
    record = images.store_image(img.config, layers, [str(r) for r in img.tags], parent=img.parent)
    images.emit("image", "load", record.id, name=record.id)
    for ref in img.tags:
        if str(ref) in previous:
            emit({"stream": f"The image {ref.familiar} already exists, renaming the old one with ID "
                            f"{previous[str(ref)]} to empty string\n"})
        if announce:
            emit({"stream": f"Loaded image: {ref.familiar}\n"})
    return record.id


# ---------------------------------------------------------------- Docker < 1.10

def _go_json(doc: Any) -> bytes:
    """encoding/json.Marshal of a map: sorted keys, compact, <>& escaped."""
    text = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    for ch, esc in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"),
                    ("\u2029", "\\u2029")):
        text = text.replace(ch, esc)
    return text.encode()


def _plan_legacy(ingest: ArchiveIngest) -> list[LoadedImage]:
    """moby's legacyLoad: every `<v1-id>/` with `json` and `layer.tar` is an image on top of
    its `parent`; the config is made from the v1 JSON (MakeConfigFromV1Config), the tags come
    from `repositories` (name -> tag -> v1 id)."""
    v1_ids = sorted({p.split("/", 1)[0] for p in ingest.files if p.endswith("/json") and p.count("/") == 1})
    loaded: dict[str, LoadedImage] = {}
    order: list[LoadedImage] = []

    def load(v1_id: str, depth: int) -> LoadedImage:
        if v1_id in loaded:
            return loaded[v1_id]
        if depth > 256:
            raise InvalidArgument("invalid archive: parent chain too long or cyclic")
        try:
            v1 = json.loads(ingest.document(ingest.file(f"{v1_id}/json")))
        except ValueError as e:
            raise InvalidArgument(f"invalid archive: {v1_id}/json: {e}") from None
        if not isinstance(v1, dict):
            raise InvalidArgument(f"invalid archive: {v1_id}/json is not an object")
        if (v1.get("os") or "linux") != "linux":
            raise InvalidArgument(f"cannot load {v1['os']} image on linux")
        parent = load(str(v1["parent"]), depth + 1) if v1.get("parent") else None
        layer_file = ingest.file(f"{v1_id}/layer.tar")
        files = [*(parent.layers if parent else []), layer_file]
        container_config = v1.get("container_config") or {}
        item: dict[str, Any] = {"created": v1.get("created") or "0001-01-01T00:00:00Z"}
        for key, field_name in (("author", "author"), ("created_by", None), ("comment", "comment")):
            value = " ".join(container_config.get("Cmd") or []) if key == "created_by" else v1.get(field_name)
            if value:
                item[key] = value
        history = [*(parent.history if parent else []), item]
        doc = {k: v for k, v in v1.items() if k not in ("id", "parent", "Size", "parent_id", "layer_id", "throwaway")}
        doc["rootfs"] = {"type": "layers", "diff_ids": [ingest.layer(f).diff_id for f in files]}
        doc["history"] = history
        config = _go_json(doc)
        img = LoadedImage("sha256:" + hashlib.sha256(config).hexdigest(), config, files,
                          parent=parent.image_id if parent else "", history=history)
        loaded[v1_id] = img
        order.append(img)
        return img

    for v1_id in v1_ids:
        load(v1_id, 0)
    try:
        repos = json.loads(ingest.document(ingest.file("repositories")))
    except ValueError as e:
        raise InvalidArgument(f"invalid archive: repositories: {e}") from None
    for name, tags in (repos or {}).items():
        for tag, v1_id in (tags or {}).items():
            if v1_id not in loaded:
                raise InvalidArgument(f"invalid target ID: {v1_id}")
            ref = references.parse_normalized(name).with_tag(tag)
            for img in order:     # a tag names one image: the last one named keeps it
                if ref in img.tags:
                    img.tags.remove(ref)
            loaded[v1_id].tags.append(ref)
    return order
