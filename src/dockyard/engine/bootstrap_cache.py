"""The bootstrap cache: built layers and downloaded packages, kept across `rmi` and daemons.

    <cache>/layers/<key>.tar.gz   a built layer (gzip, level 1: made once, read on every re-create)
    <cache>/layers/<key>.json     its record: diff_id, created, ...; written last, so it marks a whole entry
    <cache>/debs/<suite>-<arch>/  debootstrap's --cache-dir: the .debs of the base system
    <cache>/apt/<suite>-<arch>/   apt's lists/ and archives/ for the apt-get runs inside the rootfs
    <cache>/locks/<name>.lock     flock(2): one build of a kind at a time, across daemons sharing the cache

A key is the sha256 of everything that goes into a layer (the recipe version, the
host's sources and CA files, the parent layer), so a changed input misses the cache
instead of reusing a layer that no longer fits.
"""

from __future__ import annotations

import contextlib
import fcntl
import gzip
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

__all__ = ["BootstrapCache", "TeeReader"]


class TeeReader:
    """`.read(n)` from a source, writing every chunk read to `sink` as well."""

    def __init__(self, source: Any, sink: BinaryIO) -> None:
        self.source = source
        self.sink = sink

    def read(self, n: int = -1) -> bytes:
        data: bytes = self.source.read(n)
        if data:
            self.sink.write(data)
        return data


class BootstrapCache:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    @staticmethod
    def key(recipe: dict[str, Any]) -> str:
        return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:32]

    def _dir(self, *parts: str) -> Path:
        path = self.root.joinpath(*parts)
        path.mkdir(parents=True, exist_ok=True)
        return path

    def debs_dir(self, suite: str, arch: str) -> Path:
        return self._dir("debs", f"{suite}-{arch}")

    def apt_dirs(self, suite: str, arch: str) -> tuple[Path, Path]:
        """(lists, archives) for apt-get -o Dir::State::Lists / Dir::Cache::Archives."""
        base = self._dir("apt", f"{suite}-{arch}")
        lists, archives = base / "lists", base / "archives"
        for d in (lists / "partial", archives / "partial"):
            d.mkdir(parents=True, exist_ok=True)
        return lists, archives

    def layer_path(self, key: str) -> Path:
        return self.root / "layers" / f"{key}.tar.gz"

    def record(self, key: str) -> dict[str, Any] | None:
        """The entry's record, or None when there is no whole entry."""
        try:
            doc = json.loads((self.root / "layers" / f"{key}.json").read_text())
        except (OSError, ValueError):
            return None
        if not isinstance(doc, dict) or not self.layer_path(key).is_file():
            return None
        return doc

    def drop(self, key: str) -> None:
        for path in (self.root / "layers" / f"{key}.json", self.layer_path(key)):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()

    @contextlib.contextmanager
    def lock(self, name: str) -> Iterator[None]:
        fd = os.open(self._dir("locks") / f"{name}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    @contextlib.contextmanager
    def layer_writer(self, key: str) -> Iterator[tuple[BinaryIO, dict[str, Any]]]:
        """Write a layer into the cache: yields (gzip sink, record to fill). The entry appears
        (tar renamed into place, then the record) only if the block finishes without error."""
        layers = self._dir("layers")
        fd, tmp = tempfile.mkstemp(prefix=f".{key}-", suffix=".tmp", dir=layers)
        record: dict[str, Any] = {}
        try:
            with os.fdopen(fd, "wb") as raw:
                with gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=1, mtime=0) as gz:
                    yield gz, record   # type: ignore[misc]
                raw.flush()
                os.fsync(raw.fileno())
            os.rename(tmp, self.layer_path(key))
            meta_tmp = layers / f".{key}.json.tmp"
            meta_tmp.write_text(json.dumps(record, sort_keys=True, indent=1))
            os.rename(meta_tmp, layers / f"{key}.json")
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
