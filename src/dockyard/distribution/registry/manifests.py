"""Manifests as the registry sees them: which kind a body is, what it references, and which
kind a client's Accept header lets us return (distribution's rules)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from dockyard.distribution.registry.errors import RegistryError
from dockyard.distribution.registry.names import Digest, parse_digest

__all__ = ["OCI_MANIFEST", "OCI_INDEX", "DOCKER_MANIFEST", "DOCKER_LIST", "MANIFEST_TYPES", "Manifest",
           "parse_manifest", "accepted_types", "MAX_MANIFEST_SIZE"]

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
MANIFEST_TYPES = (OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST)
INDEX_TYPES = (OCI_INDEX, DOCKER_LIST)
MAX_MANIFEST_SIZE = 4 << 20   # distribution's limit on a manifest body


@dataclass(frozen=True)
class Manifest:
    media_type: str
    digest: Digest
    body: bytes
    blobs: list[tuple[Digest, bool]] = field(default_factory=list)   # (digest, foreign: has urls)
    children: list[Digest] = field(default_factory=list)             # an index's manifests
    subject: Digest | None = None
    artifact_type: str = ""
    annotations: dict[str, str] = field(default_factory=dict)

    @property
    def is_index(self) -> bool:
        return self.media_type in INDEX_TYPES


def _invalid(detail: str) -> RegistryError:
    return RegistryError("MANIFEST_INVALID", detail=detail)


def _descriptor_digest(desc: Any, where: str) -> Digest:
    if not isinstance(desc, dict) or not isinstance(desc.get("digest"), str):
        raise _invalid(f"{where}: descriptor without a digest")
    if not isinstance(desc.get("size"), int) or desc["size"] < 0:
        raise _invalid(f"{where}: descriptor without a valid size")
    try:
        return parse_digest(desc["digest"])
    except RegistryError:
        raise RegistryError("DIGEST_INVALID", detail=f"{where}: {desc['digest']!r}") from None


def parse_manifest(content_type: str, body: bytes) -> Manifest:
    """Parse a pushed body. The media type comes from Content-Type; a `mediaType` field in the
    body must agree with it; with neither, the body's shape decides (OCI allows no mediaType)."""
    try:
        doc = json.loads(body)
    except ValueError as e:
        raise _invalid(f"invalid JSON: {e}") from None
    if not isinstance(doc, dict):
        raise _invalid("manifest is not a JSON object")
    if doc.get("schemaVersion") != 2:
        raise _invalid(f"unsupported schemaVersion {doc.get('schemaVersion')!r}")
    declared = content_type.split(";")[0].strip().lower()
    in_body = doc.get("mediaType")
    if declared not in MANIFEST_TYPES:
        declared = in_body if isinstance(in_body, str) else ("" if "manifests" not in doc else OCI_INDEX)
        declared = declared or OCI_MANIFEST
    if declared not in MANIFEST_TYPES:
        raise _invalid(f"unsupported manifest media type {declared!r}")
    if in_body is not None and in_body != declared:
        raise _invalid(f"mediaType in manifest should be '{declared}' not '{in_body}'")
    if declared in (DOCKER_MANIFEST, DOCKER_LIST) and in_body is None:
        raise _invalid("mediaType missing from a Docker manifest")
    digest = Digest("sha256", hashlib.sha256(body).hexdigest())
    subject = None
    if doc.get("subject") is not None:
        subject = _descriptor_digest(doc["subject"], "subject")
    annotations = doc.get("annotations") if isinstance(doc.get("annotations"), dict) else {}
    artifact_type = doc.get("artifactType") if isinstance(doc.get("artifactType"), str) else ""
    if declared in INDEX_TYPES:
        entries = doc.get("manifests")
        if not isinstance(entries, list):
            raise _invalid("index without a manifests list")
        children = [_descriptor_digest(m, f"manifests[{i}]") for i, m in enumerate(entries)]
        return Manifest(declared, digest, body, children=children, subject=subject,
                        artifact_type=artifact_type, annotations=annotations)
    config = doc.get("config")
    layers = doc.get("layers", [])
    if not isinstance(layers, list):
        raise _invalid("layers is not a list")
    blobs = [(_descriptor_digest(config, "config"), False)]
    for i, layer in enumerate(layers):
        foreign = isinstance(layer, dict) and bool(layer.get("urls"))
        blobs.append((_descriptor_digest(layer, f"layers[{i}]"), foreign))
    if not artifact_type and isinstance(config, dict) and isinstance(config.get("mediaType"), str):
        artifact_type = config["mediaType"]   # what the referrers API reports for an image
    return Manifest(declared, digest, body, blobs=blobs, subject=subject,
                    artifact_type=artifact_type, annotations=annotations)


def accepted_types(accept_values: list[str]) -> set[str]:
    """The manifest media types named in Accept headers (q-values ignored, as distribution does;
    `*/*` names none of them)."""
    found = set()
    for value in accept_values:
        for item in value.split(","):
            media_type = item.split(";")[0].strip().lower()
            if media_type in MANIFEST_TYPES:
                found.add(media_type)
    return found
