"""Typed records the ImageService returns (never wire dicts; api/wire.py renders them)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from dockyard.oci.image_spec import MEDIA_TYPE_OCI_LAYER
from dockyard.store.snapshots import StagedLayer

__all__ = ["ImageRecord", "HistoryEntry", "LayerBlob", "UsersFn", "short_id"]

# image id -> ids of the containers created from it (all of them, or only the running ones)
UsersFn = Callable[[str], list[str]]


@dataclass(frozen=True)
class ImageRecord:
    id: str                      # sha256:<config digest> = Docker's image ID
    config: dict[str, Any]       # the image config document as stored
    repo_tags: list[str]         # familiar form: ["busybox:latest"]; [] when untagged (no "<none>" here)
    repo_digests: list[str]      # familiar form: ["busybox@sha256:..."]
    size: int                    # sum of its layers' sizes
    created: str                 # RFC 3339, from the config
    parent: str = ""             # image id of the parent (local builds), "" otherwise
    top_chain_id: str = ""       # chain id of its top layer; "" for no layers
    manifest_digest: str = ""    # the manifest blob stored for it
    last_tag_time: str = ""      # RFC 3339 of the last tag/import naming it; "" if never tagged


@dataclass(frozen=True)
class HistoryEntry:
    """One row of `docker history`, newest first: Docker's ImageHistoryResponseItem."""
    id: str                      # image id for the top (and local ancestors), "<missing>" otherwise
    created: int                 # unix seconds
    created_by: str
    tags: list[str]
    size: int
    comment: str


@dataclass(frozen=True)
class LayerBlob:
    """A layer blob already in the content store, as store_image() takes it.

    Layers ingested with `ImageService.ingest_layer()` are stored uncompressed (so
    `digest == diff_id`, media type OCI layer tar) and carry `staged`: the layer
    already unpacked, which store_image() moves into place instead of unpacking again.
    Blobs from elsewhere (pull: gzip) leave `staged` None and are unpacked once.
    """
    digest: str
    diff_id: str
    size: int
    media_type: str = MEDIA_TYPE_OCI_LAYER
    staged: StagedLayer | None = field(default=None, compare=False)
    new_blob: bool = field(default=False, compare=False)   # ingest_layer() added the blob to the store


def short_id(image_or_container_id: str) -> str:
    """stringid.TruncateID: drop the algorithm, keep 12 hex digits."""
    return image_or_container_id.partition(":")[2][:12] if ":" in image_or_container_id \
        else image_or_container_id[:12]
