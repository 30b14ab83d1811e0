"""Content digests (`sha256:<hex>`): parsing, and hashing while bytes stream past.

Validation follows opencontainers/go-digest, whose error strings Docker shows:
"invalid checksum digest format", "invalid checksum digest length",
"unsupported digest algorithm".
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any, BinaryIO, Protocol

from dockyard.errors import InvalidArgument

__all__ = [
    "Digest",
    "DigestMismatch",
    "DigestWriter",
    "VerifyingReader",
    "parse_digest",
    "sha256_digest",
    "is_digest",
]

# algorithm -> length of its hex encoding
_ALGORITHMS = {"sha256": 64, "sha384": 96, "sha512": 128}
_DIGEST_RE = re.compile(r"[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+")
_HEX_RE = re.compile(r"[a-f0-9]+")

ERR_FORMAT = "invalid checksum digest format"
ERR_LENGTH = "invalid checksum digest length"
ERR_UNSUPPORTED = "unsupported digest algorithm"


class DigestMismatch(InvalidArgument):
    """Content did not hash to the digest it was announced with."""


@dataclass(frozen=True, order=True)
class Digest:
    algorithm: str
    hex: str

    def __str__(self) -> str:
        return f"{self.algorithm}:{self.hex}"

    @classmethod
    def parse(cls, value: str) -> Digest:
        return parse_digest(value)


def parse_digest(value: str) -> Digest:
    """Parse and validate `algo:hex`; raise InvalidArgument with go-digest's wording."""
    algo, sep, encoded = value.partition(":")
    if not sep or not algo or not encoded:
        raise InvalidArgument(ERR_FORMAT)
    if algo not in _ALGORITHMS:
        if not _DIGEST_RE.fullmatch(value):
            raise InvalidArgument(ERR_FORMAT)
        raise InvalidArgument(ERR_UNSUPPORTED)
    if len(encoded) != _ALGORITHMS[algo]:
        raise InvalidArgument(ERR_LENGTH)
    if not _HEX_RE.fullmatch(encoded):
        raise InvalidArgument(ERR_FORMAT)
    return Digest(algo, encoded)


def is_digest(value: str) -> bool:
    try:
        parse_digest(value)
    except InvalidArgument:
        return False
    return True


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _new_hash(algorithm: str) -> Any:
    if algorithm not in _ALGORITHMS:
        raise InvalidArgument(ERR_UNSUPPORTED)
    return hashlib.new(algorithm)


class _Sink(Protocol):
    def write(self, data: bytes, /) -> Any: ...


class DigestWriter:
    """Hashes everything written through it, passing it on to `sink` if one is given."""

    def __init__(self, sink: _Sink | None = None, algorithm: str = "sha256") -> None:
        self._sink = sink
        self._algorithm = algorithm
        self._hash = _new_hash(algorithm)
        self.size = 0

    def write(self, data: bytes) -> int:
        if self._sink is not None:
            self._sink.write(data)
        self._hash.update(data)
        self.size += len(data)
        return len(data)

    @property
    def digest(self) -> str:
        return f"{self._algorithm}:{self._hash.hexdigest()}"


class VerifyingReader:
    """Reads from `source`, hashing as it goes; at EOF raises DigestMismatch if the
    bytes do not hash to `expected` (or their count differs from `size`).

    Callers must read to EOF (b"") for the check to run; `verify()` drains and checks explicitly.
    """

    def __init__(self, source: BinaryIO | Any, expected: str, size: int | None = None) -> None:
        self._source = source
        self.expected = parse_digest(expected)
        self._hash = _new_hash(self.expected.algorithm)
        self._size = size
        self.read_bytes = 0
        self._checked = False

    def read(self, n: int = -1) -> bytes:
        data = self._source.read(n)
        if data:
            self._hash.update(data)
            self.read_bytes += len(data)
            if self._size is not None and self.read_bytes > self._size:
                raise DigestMismatch(
                    f"content size exceeds the expected {self._size} bytes for {self.expected}")
        elif n != 0:
            self._check()
        return data

    def verify(self) -> None:
        while self.read(1 << 20):
            pass

    def _check(self) -> None:
        if self._checked:
            return
        self._checked = True
        if self._size is not None and self.read_bytes != self._size:
            raise DigestMismatch(
                f"content size {self.read_bytes} does not match the expected {self._size} for {self.expected}")
        actual = f"{self.expected.algorithm}:{self._hash.hexdigest()}"
        if actual != str(self.expected):
            raise DigestMismatch(f"digest mismatch: expected {self.expected}, got {actual}")
