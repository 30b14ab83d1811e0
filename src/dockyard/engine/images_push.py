"""`docker push`: a stored image's layer blobs, config and manifest to a registry, with moby's
progress messages.

The store keeps every layer as an uncompressed tar blob (digest = diff_id), so those are the
blobs pushed, and the image's stored manifest (an OCI manifest naming exactly those blobs) is
the manifest pushed, byte for byte: its digest is then the same on every push and after a
pull (which stores the same manifest again). A stored manifest that names blobs the store
does not have (none does today) is rebuilt from the layers.

Per layer, as moby's push_v2: HEAD (exists → "Layer already exists"), a cross-repository mount
from another repository of the same registry that the image was pulled from or pushed to
("Mounted from x"), else an upload ("Pushing" ... "Pushed").
"""

from __future__ import annotations

import json
from typing import Any

from dockyard.distribution.client import RegistryClient, RegistryResponseError
from dockyard.distribution.credentials import Credentials
from dockyard.engine.images_model import ImageRecord
from dockyard.engine.images_pull import _short
from dockyard.engine.load_archive import Progress, progress_message
from dockyard.errors import NotFound, Unauthorized
from dockyard.oci.image_spec import (
    MEDIA_TYPE_OCI_CONFIG,
    MEDIA_TYPE_OCI_MANIFEST,
    Descriptor,
    Manifest,
    canonical_json,
)
from dockyard.store import references
from dockyard.store.references import Reference

TYPE_CHECKING = False
if TYPE_CHECKING:
    from dockyard.engine.images import ImageService

__all__ = ["push_tags", "push_targets"]


def push_targets(images: ImageService, name: str, tag: str) -> list[Reference]:
    """The references to push: `name:tag`, or every tag of the repository when no tag is given
    (moby's behaviour for an empty `tag` parameter). NotFound in Docker's words otherwise."""
    ref = references.parse_normalized(name)
    if tag:
        ref = ref.with_tag(tag) if not tag.startswith("sha256:") else ref
    if ref.tag or ref.digest:
        row = images.db.query_one("SELECT 1 FROM tags WHERE reference = ?", (str(ref),))
        if row is None:
            raise NotFound(f"tag does not exist: {ref.familiar}")
        return [ref]
    rows = images.db.query("SELECT reference FROM tags WHERE reference LIKE ? ORDER BY reference",
                           (ref.name + ":%",))
    refs = [r for r in (references.parse(row[0]) for row in rows) if r.name == ref.name and r.tag]
    if not refs:
        raise NotFound(f"An image does not exist locally with the tag: {ref.familiar_name}")
    return refs


def _manifest_for(images: ImageService, record: ImageRecord) -> tuple[bytes, str, list[tuple[str, int]]]:
    """(manifest bytes, media type, [(layer digest, size)]) for the stored image."""
    layers = [(lb.digest, lb.size) for lb in images.image_layers(record.id)]
    if record.manifest_digest and images.content.exists(record.manifest_digest):
        body = images.content.read(record.manifest_digest)
        try:
            doc = json.loads(body)
            named = [(str(d["digest"]), int(d["size"])) for d in doc.get("layers") or []]
            cfg = doc["config"]["digest"]
        except (ValueError, KeyError, TypeError):
            named, cfg = [], ""
        if named == layers and cfg == record.id:
            return body, str(doc.get("mediaType") or MEDIA_TYPE_OCI_MANIFEST), layers
    cfg_size = images.content.size(record.id)
    manifest = Manifest(config=Descriptor(MEDIA_TYPE_OCI_CONFIG, record.id, cfg_size),
                        layers=tuple(lb_desc for lb_desc in (
                            Descriptor(lb.media_type, lb.digest, lb.size)
                            for lb in images.image_layers(record.id))))
    return canonical_json(manifest.to_json()), MEDIA_TYPE_OCI_MANIFEST, layers


def _mount_sources(images: ImageService, record_id: str, ref: Reference) -> list[str]:
    """Other repositories of the same registry that hold this image (its RepoDigests/tags)."""
    rows = images.db.query("SELECT reference FROM tags WHERE image_id = ?", (record_id,))
    out = []
    for row in rows:
        other = references.parse(row[0])
        if other.domain == ref.domain and other.path != ref.path and other.path not in out:
            out.append(other.path)
    return out


def push_tags(images: ImageService, refs: list[Reference], creds: Credentials | None, progress: Progress, *,
              insecure: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """Push each reference (all of one repository); the aux results {"Tag","Digest","Size"}."""
    first = refs[0]
    progress({"status": f"The push refers to repository [{first.name}]"})
    client = RegistryClient(first.domain, creds, insecure=insecure)
    client.scopes = [f"repository:{first.path}:pull,push"]
    results = []
    try:
        for ref in refs:
            results.append(_push_one(images, client, ref, progress))
    except Unauthorized:
        raise Unauthorized("denied: requested access to the resource is denied") from None
    except RegistryResponseError as e:
        if e.code in ("DENIED", "UNAUTHORIZED"):
            raise Unauthorized(e.message) from None
        raise
    finally:
        client.close()
    return results


def _push_one(images: ImageService, client: RegistryClient, ref: Reference, progress: Progress) -> dict[str, Any]:
    record = images.resolve(str(ref))
    body, media_type, layers = _manifest_for(images, record)
    sources = _mount_sources(images, record.id, ref)
    for digest, _ in reversed(layers):
        progress({"status": "Preparing", "progressDetail": {}, "id": _short(digest)})
    for digest, size in reversed(layers):
        ident = _short(digest)
        if client.blob_exists(ref.path, digest):
            progress({"status": "Layer already exists", "progressDetail": {}, "id": ident})
            continue
        mounted = next((src for src in sources if client.mount_blob(ref.path, digest, src)), None)
        if mounted is not None:
            progress({"status": f"Mounted from {mounted}", "progressDetail": {}, "id": ident})
            continue
        with images.content.open(digest) as f:
            client.upload_blob(ref.path, digest, size, f,
                               lambda n, ident=ident, size=size: progress(progress_message(ident, n, size, "Pushing")))
        progress({"status": "Pushed", "progressDetail": {}, "id": ident})
    if not client.blob_exists(ref.path, record.id):
        with images.content.open(record.id) as f:
            client.upload_blob(ref.path, record.id, images.content.size(record.id), f)
    tag = ref.tag or ref.digest
    digest = client.put_manifest(ref.path, tag, body, media_type)
    from dockyard.oci.digest import sha256_digest

    digest = sha256_digest(body) if not digest else digest
    progress({"status": f"{tag}: digest: {digest} size: {len(body)}"})
    images.record_repo_digest(record.id, Reference(ref.domain, ref.path, "", digest))
    images.emit("image", "push", ref.familiar, name=ref.familiar)
    aux = {"Tag": tag, "Digest": digest, "Size": len(body)}
    progress({"progressDetail": {}, "aux": aux})
    return aux
