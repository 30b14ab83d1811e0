"""Validation of everything a URL or a header carries into the registry: repository names, tags,
digests, upload ids. Nothing builds a filesystem path from a string these did not accept."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from dockyard.distribution.registry.errors import RegistryError

__all__ = ["Digest", "parse_digest", "check_name", "check_tag", "check_upload_id", "is_digest",
           "NAME_MAX"]

# the distribution spec's <name> grammar: path components of lower-case alphanumerics
# separated by '.', '_', '__' or runs of '-'
_COMPONENT = r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*"
_NAME_RE = re.compile(rf"{_COMPONENT}(?:/{_COMPONENT})*")
_TAG_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,127}")
_UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
NAME_MAX = 255
# algorithms we can verify: name → (hex length, constructor)
_ALGORITHMS = {"sha256": 64, "sha512": 128}
_DIGEST_RE = re.compile(r"([a-z0-9]+(?:[+._-][a-z0-9]+)*):([a-zA-Z0-9=_-]+)")


@dataclass(frozen=True)
class Digest:
    algorithm: str
    hex: str

    def __str__(self) -> str:
        return f"{self.algorithm}:{self.hex}"

    def hasher(self) -> hashlib._Hash:
        return hashlib.new(self.algorithm)


def parse_digest(text: str) -> Digest:
    """'sha256:<64 hex>' → Digest; anything else is DIGEST_INVALID (including unknown algorithms
    and upper-case hex, which would name a second path for the same content)."""
    m = _DIGEST_RE.fullmatch(text or "")
    if not m:
        raise RegistryError("DIGEST_INVALID", "invalid digest", detail=text)
    algorithm, encoded = m.groups()
    length = _ALGORITHMS.get(algorithm)
    if length is None:
        raise RegistryError("DIGEST_INVALID", "unsupported digest algorithm", detail=text)
    if len(encoded) != length or not re.fullmatch(r"[0-9a-f]+", encoded):
        raise RegistryError("DIGEST_INVALID", "invalid digest", detail=text)
    return Digest(algorithm, encoded)


def is_digest(reference: str) -> bool:
    return ":" in reference


def check_name(name: str) -> str:
    if len(name) > NAME_MAX:
        raise RegistryError("NAME_INVALID", f"repository name must not be more than {NAME_MAX} characters",
                            detail={"name": name})
    if not _NAME_RE.fullmatch(name):
        raise RegistryError("NAME_INVALID", detail={"name": name})
    return name


def check_tag(tag: str) -> str:
    if not _TAG_RE.fullmatch(tag):
        raise RegistryError("TAG_INVALID", "invalid tag", detail={"tag": tag})
    return tag


def check_upload_id(upload_id: str) -> str:
    if not _UUID_RE.fullmatch(upload_id):
        raise RegistryError("BLOB_UPLOAD_UNKNOWN", detail={"uuid": upload_id})
    return upload_id
