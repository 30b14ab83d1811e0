"""`docker pull`: an image from a registry into the store, with moby's progress messages.

Two steps, because moby answers a missing manifest with an HTTP error before any stream:
`resolve_pull()` fetches the manifest (an index resolved to the host's platform) and the config
(raising NotFound/Unauthorized in Docker's words); `PullPlan.run(progress)` then fetches the
layers the store lacks. Nothing from the registry is trusted: every blob is hashed as it
streams and must match its descriptor's digest and size, each layer's uncompressed digest
must be the config's diff_id; on any failure the layers of this pull are discarded and the
blobs it added dropped, so the store is as before.

Layers are kept as the store keeps every layer: uncompressed (ImageService.ingest_layer
unpacks and stores in one pass while the download streams).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from dockyard.distribution.client import RegistryClient, RegistryResponseError
from dockyard.distribution.credentials import Credentials
from dockyard.engine.images_model import ImageRecord, LayerBlob
from dockyard.engine.load_archive import Progress, progress_message
from dockyard.errors import InvalidArgument, NotFound, Unauthorized
from dockyard.oci.digest import DigestMismatch, VerifyingReader, sha256_digest
from dockyard.oci.image_spec import INDEX_MEDIA_TYPES, LAYER_MEDIA_TYPES, chain_ids
from dockyard.store import references
from dockyard.store.references import Reference

TYPE_CHECKING = False
if TYPE_CHECKING:
    from dockyard.engine.images import ImageService

__all__ = ["PullPlan", "resolve_pull", "pull_error"]

_PROGRESS_EVERY = 512 * 1024


def pull_error(e: RegistryResponseError, ref: Reference) -> Exception:
    """moby's translatePullError."""
    if e.code == "DENIED":
        return NotFound(f"pull access denied for {ref.familiar_name}, repository does not exist or may "
                        f"require 'docker login': {e.message}")
    if e.code == "MANIFEST_UNKNOWN":
        return NotFound(f"manifest for {ref.familiar} not found: {e.message}")
    if e.code == "NAME_UNKNOWN":
        return NotFound(f"repository {ref.familiar_name} not found: {e.message}")
    return e


@dataclass
class PullPlan:
    images: ImageService
    client: RegistryClient
    ref: Reference                      # normalised: tag or digest
    manifest_digest: str
    config: bytes
    layers: list[dict[str, Any]]        # the manifest's layer descriptors
    diff_ids: list[str]
    created: list[str] = field(default_factory=list)

    @property
    def repo(self) -> str:
        return self.ref.path

    def run(self, progress: Progress) -> tuple[ImageRecord, bool]:
        """Fetch what is missing and store the image; (record, True if anything changed)."""
        ref = self.ref
        progress({"status": f"Pulling from {ref.path}",
                  "id": ref.tag or ref.digest})
        chains = chain_ids(self.diff_ids)
        known: list[LayerBlob | None] = []
        for i, desc in enumerate(self.layers):
            info = self.images.snapshots.get(chains[i])
            ident = _short(desc["digest"])
            if info is not None and self.images.content.exists(info.blob_digest):
                known.append(LayerBlob(info.blob_digest, info.diff_id, self.images.content.size(info.blob_digest)))
                progress({"status": "Already exists", "progressDetail": {}, "id": ident})
            else:
                known.append(None)
                progress({"status": "Pulling fs layer", "progressDetail": {}, "id": ident})
        layers: list[LayerBlob] = []
        new: list[LayerBlob] = []
        try:
            for i, desc in enumerate(self.layers):
                layer = known[i]
                if layer is None:
                    layer = self._fetch_layer(desc, self.diff_ids[i], progress)
                    new.append(layer)
                layers.append(layer)
            tags = [str(ref)] if ref.tag else []
            tags.append(str(references.Reference(ref.domain, ref.path, "", self.manifest_digest)))
            previous = self.images.db.query_one("SELECT image_id FROM tags WHERE reference = ?", (str(ref),))
            new = []      # store_image owns them from here on: it discards staged dirs itself on failure
            record = self.images.store_image(self.config, layers, tags)
        except BaseException:
            self.images.discard_layers(new)
            for digest in self.created:
                self.images.drop_unused_blob(digest)
            raise
        changed = bool(self.created) or previous is None or previous["image_id"] != record.id
        progress({"status": f"Digest: {self.manifest_digest}"})
        return record, changed

    def _fetch_layer(self, desc: dict[str, Any], diff_id: str, progress: Progress) -> LayerBlob:
        ident, digest, size = _short(desc["digest"]), str(desc["digest"]), int(desc.get("size") or 0)
        resp = self.client.open_blob(self.repo, digest)
        reader = _Downloading(resp, digest, size, lambda n: progress(progress_message(ident, n, size, "Downloading")))
        try:
            layer = self.images.ingest_layer(reader)
        finally:
            resp.close()
        if layer.new_blob:
            self.created.append(layer.digest)
        try:
            reader.verify()
            if layer.diff_id != diff_id:
                raise InvalidArgument(f"layer {digest}: its content has diff_id {layer.diff_id}, "
                                      f"the image config says {diff_id}")
        except BaseException:
            self.images.discard_layers([layer])
            raise
        progress({"status": "Download complete", "progressDetail": {}, "id": ident})
        progress(progress_message(ident, size, size, "Extracting"))
        progress({"status": "Pull complete", "progressDetail": {}, "id": ident})
        return layer


class _Downloading(VerifyingReader):
    """A blob as it downloads: verified as VerifyingReader verifies (digest and size at EOF or
    `verify()`), read a MiB at a time, its progress reported every _PROGRESS_EVERY bytes."""

    def __init__(self, source: Any, digest: str, size: int, on_progress: Any) -> None:
        super().__init__(source, digest, size or None)
        self._progress = on_progress
        self._last = 0

    def read(self, n: int = -1) -> bytes:
        data = super().read(n if n > 0 else 1 << 20)   # never the whole response at once
        if self.read_bytes - self._last >= _PROGRESS_EVERY:
            self._last = self.read_bytes
            self._progress(self.read_bytes)
        return data


def _short(digest: str) -> str:
    return digest.partition(":")[2][:12]


def _json(data: bytes, what: str) -> dict[str, Any]:
    try:
        doc = json.loads(data)
    except ValueError as e:
        raise InvalidArgument(f"invalid {what}: {e}") from None
    if not isinstance(doc, dict):
        raise InvalidArgument(f"invalid {what}: not a JSON object")
    return doc


def _fetch_small_blob(client: RegistryClient, repo: str, digest: str, size: int) -> bytes:
    resp = client.open_blob(repo, digest)
    try:
        reader = VerifyingReader(resp, digest, size or None)
        data = b"".join(iter(lambda: reader.read(1 << 20), b""))
    finally:
        resp.close()
    return data


def _pick_platform(index: dict[str, Any], platform: tuple[str, str, str]) -> dict[str, Any]:
    os_name, arch, variant = platform
    best = None
    for desc in index.get("manifests") or []:
        p = desc.get("platform") or {}
        if p.get("os", "linux") != os_name or p.get("architecture") != arch:
            continue
        if variant and p.get("variant") and p.get("variant") != variant:
            continue
        if best is None or (not variant and p.get("variant") in ("", None, "v8")):
            best = desc
    if best is None:
        fmt = "/".join(x for x in platform if x)
        raise NotFound(f"no matching manifest for {fmt} in the manifest list entries")
    return best


def resolve_pull(images: ImageService, name: str, creds: Credentials | None, *, insecure: tuple[str, ...] = (),
                 platform: tuple[str, str, str] | None = None) -> PullPlan:
    """Manifest and config of `name` (tag defaults to latest), checked; errors in moby's words."""
    from dockyard.engine.images import host_platform

    ref = references.parse_normalized(name).docker_ref()
    client = RegistryClient(ref.domain, creds, insecure=insecure)
    client.scopes = [f"repository:{ref.path}:pull"]
    ok = False
    try:
        body, media_type, _ = client.get_manifest(ref.path, ref.digest or ref.tag)
        doc = _json(body, "manifest")
        media_type = media_type or str(doc.get("mediaType") or "")
        if ref.digest and sha256_digest(body) != ref.digest:
            raise DigestMismatch(f"manifest verification failed for digest {ref.digest}")
        manifest_digest = sha256_digest(body)
        if media_type in INDEX_MEDIA_TYPES or (doc.get("manifests") and not doc.get("layers")):
            os_name, arch = host_platform()
            desc = _pick_platform(doc, platform or (os_name, arch, ""))
            body, media_type, _ = client.get_manifest(ref.path, str(desc["digest"]))
            if sha256_digest(body) != desc["digest"]:
                raise DigestMismatch(f"manifest verification failed for digest {desc['digest']}")
            doc = _json(body, "manifest")
            # the RepoDigest stays the index digest (as moby records it): the one the user can pull again
        if int(doc.get("schemaVersion") or 0) != 2 or not isinstance(doc.get("config"), dict):
            raise InvalidArgument(f"unsupported manifest format (media type {media_type or 'unknown'})")
        layers = list(doc.get("layers") or [])
        for desc in layers:
            if desc.get("mediaType") not in LAYER_MEDIA_TYPES:
                raise InvalidArgument(f"unsupported media type {desc.get('mediaType')}")
        cfg_desc = doc["config"]
        config = _fetch_small_blob(client, ref.path, str(cfg_desc["digest"]), int(cfg_desc.get("size") or 0))
        ok = True
    except RegistryResponseError as e:
        raise pull_error(e, ref) from None
    except Unauthorized as e:
        # a 404, not a 401: the docker CLI would prompt for a password on a 401
        raise NotFound(f"pull access denied for {ref.familiar_name}, repository does not exist or may "
                       f"require 'docker login': {e.message}") from None
    finally:
        if not ok:
            client.close()
    cfg = _json(config, "image config")
    if (cfg.get("os") or "linux") != "linux":
        raise InvalidArgument(f"image operating system \"{cfg.get('os')}\" cannot be used on this platform")
    diff_ids = list((cfg.get("rootfs") or {}).get("diff_ids") or [])
    if len(diff_ids) != len(layers):
        raise InvalidArgument(f"invalid manifest, layers length mismatch: expected {len(layers)}, got {len(diff_ids)}")
    return PullPlan(images, client, ref, manifest_digest, config, layers, diff_ids)

