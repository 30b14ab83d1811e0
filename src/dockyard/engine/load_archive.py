"""The one pass over an image archive that `docker load` sends: nothing is extracted to disk.

Every regular file of the archive is looked at once, as it streams past:

* a layer (a tar, plain or compressed, judged by its first bytes) is unpacked at once
  into a staging dir and stored as an uncompressed blob (ImageService.ingest_layer), its
  diff_id and the digest of its bytes as archived computed on the way; a blob the store
  already has as a layer (`blobs/sha256/<hex>` of an image loaded before) is only hashed;
* a small document (config, manifest, index, manifest.json) is kept in memory;
* anything else large is spooled to a temp file under the data root, in case a manifest
  names it as a layer after all.

manifest.json comes last in Docker's archives, so nothing is trusted until the whole
archive has been read: images_load.py then checks every digest and stores the images,
or `discard()` removes everything this pass put in the store (staged layers, new blobs,
spooled files).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import re
import shutil
import tarfile
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dockyard.archive import tarstream
from dockyard.archive.docker_archive import ArchiveLinks, clean_path
from dockyard.engine.images_model import LayerBlob
from dockyard.errors import InvalidArgument
from dockyard.store.entryops import Prepend
from dockyard.store.layers import DecompressingReader, detect_compression, read_head
from dockyard.units import human_size

TYPE_CHECKING = False
if TYPE_CHECKING:
    from dockyard.engine.images import ImageService

__all__ = ["ArchiveFile", "ArchiveIngest", "Progress", "open_archive"]

Progress = Callable[[dict[str, Any]], None]
MEMORY_LIMIT = 4 << 20          # documents up to this size are kept in memory,
MEMORY_TOTAL = 32 << 20         # up to this much in all; the rest is spooled to disk
DOCUMENT_LIMIT = 64 << 20       # a config or manifest larger than this is refused
_PROGRESS_EVERY = 512 * 1024    # as moby's progress reader
_BLOB_RE = re.compile(r"blobs/sha256/([a-f0-9]{64})")


@dataclass
class ArchiveFile:
    """One regular file of the archive, as far as the pass learnt it."""
    path: str
    size: int
    raw_digest: str = ""             # sha256 of its bytes as archived
    data: bytes | None = None        # kept in memory
    spool: Path | None = None        # or spooled to disk
    layer: LayerBlob | None = None   # or already a layer: stored blob (+ staged dir, or known snapshot)


def open_archive(source: Any) -> Any:
    """The archive's own bytes: gzip, bzip2, xz and zstd archives are decompressed on the fly."""
    head = read_head(source, 6)
    stream = Prepend(head, source)
    if detect_compression(head) == "none":
        return stream
    return DecompressingReader(stream, what="archives")


class _Hashing:
    """`.read(n)` passing through, hashing what passes, with moby-style progress."""

    def __init__(self, source: Any, hasher: Any | None, on_progress: Callable[[int], None] | None) -> None:
        self._source, self._hasher, self._progress = source, hasher, on_progress
        self.count = 0
        self._last = 0

    def read(self, n: int = -1) -> bytes:
        data = self._source.read(n)
        if data:
            if self._hasher is not None:
                self._hasher.update(data)
            self.count += len(data)
            if self._progress is not None and self.count - self._last > _PROGRESS_EVERY:
                self._last = self.count
                self._progress(self.count)
        return data


def progress_message(ident: str, current: int, total: int, status: str = "Loading layer") -> dict[str, Any]:
    """moby's JSON progress line (load, pull, push), with the bar JSONProgress.String() draws at
    width 200; an unknown total (0) shows the count alone."""
    pct = min(50, int(current / total * 100) // 2) if total > 0 else 0
    bar = f"[{'=' * pct}>{' ' * (50 - pct)}] " if total > 0 else ""
    numbers = f"{human_size(current, 4):>8}/{human_size(total, 4)}" if 0 < total and current <= total \
        else f"{human_size(current, 4):>8}"
    return {"status": status, "progressDetail": {"current": current, "total": total},
            "progress": bar + numbers, "id": ident}


def _looks_like_layer(path: str, head: bytes) -> bool:
    if path.endswith("layer.tar") or detect_compression(head) != "none":
        return True
    if len(head) < tarstream.BLOCK:
        return False
    try:
        tarfile.TarInfo.frombuf(head[:tarstream.BLOCK], "utf-8", "surrogateescape")
    except tarfile.HeaderError:
        return False
    return True


class ArchiveIngest:
    """Reads one archive into `files` (by cleaned path) and `links`; see the module doc."""

    def __init__(self, images: ImageService, progress: Progress | None = None) -> None:
        self.images = images
        self.progress = progress
        self.files: dict[str, ArchiveFile] = {}
        self.links = ArchiveLinks()
        self._spool_dir: Path | None = None
        self._in_memory = 0
        self._new: list[LayerBlob] = []          # ingested, staged dir not yet handed over
        self.created_blobs: list[str] = []       # blobs this load added to the store

    # ------------------------------------------------------------ the pass
    def read(self, source: Any) -> None:
        for entry in tarstream.iter_entries(open_archive(source)):
            path = clean_path(entry.name)
            if entry.is_dir or not path:
                continue
            if entry.is_symlink:
                self.links.add_symlink(path, entry.linkname)
            elif entry.is_hardlink:
                self.links.add_hardlink(path, entry.linkname)
            elif entry.is_file:
                if path in self.files:
                    raise InvalidArgument(f'invalid archive: "{path}" appears twice')
                self.files[path] = self._take(path, entry.size, entry.reader)
            else:
                raise InvalidArgument(f'invalid archive: unsupported entry "{entry.name}" in an image archive')

    def _take(self, path: str, size: int, reader: Any) -> ArchiveFile:
        head = read_head(reader, tarstream.BLOCK)
        f = ArchiveFile(path, size)
        if _looks_like_layer(path, head):
            self._take_layer(f, Prepend(head, reader))
        elif size <= MEMORY_LIMIT and self._in_memory + size <= MEMORY_TOTAL:
            f.data = head + reader.read()
            f.raw_digest = "sha256:" + hashlib.sha256(f.data).hexdigest()
            self._in_memory += size
        else:
            self._spool(f, Prepend(head, reader))
        return f

    def _progress_id(self, path: str) -> str:
        m = _BLOB_RE.fullmatch(path)
        if m:
            return m.group(1)[:12]
        return path.split("/", 1)[0][:12] if "/" in path else path[:12]

    def _take_layer(self, f: ArchiveFile, source: Any) -> None:
        ident = self._progress_id(f.path)
        on_progress = None
        if self.progress is not None:
            report = self.progress

            def on_progress(n: int) -> None:
                report(progress_message(ident, n, f.size))
        m = _BLOB_RE.fullmatch(f.path)
        known = self._known_layer("sha256:" + m.group(1)) if m else None
        if known is not None:
            # the store has this blob as a layer already: check the bytes, keep nothing
            reader = _Hashing(source, hashlib.sha256(), on_progress)
            while reader.read(1 << 20):
                pass
            f.raw_digest = "sha256:" + reader._hasher.hexdigest()
            f.layer = known
        else:
            head = source.read(6)
            compressed = detect_compression(head) != "none"
            reader = _Hashing(Prepend(head, source), hashlib.sha256() if compressed else None, on_progress)
            f.layer = self._ingest(reader)
            f.raw_digest = ("sha256:" + reader._hasher.hexdigest()) if compressed else f.layer.diff_id
            if reader.count != f.size:
                raise InvalidArgument(f'invalid archive: layer "{f.path}" has trailing data')
        if self.progress is not None:
            self.progress(progress_message(ident, f.size, f.size))

    def _known_layer(self, digest: str) -> LayerBlob | None:
        row = self.images.db.query_one("SELECT diff_id FROM snapshots WHERE blob_digest = ? LIMIT 1", (digest,))
        if row is None or not self.images.content.exists(digest):
            return None
        return LayerBlob(digest, row["diff_id"], self.images.content.size(digest))

    def _spool(self, f: ArchiveFile, source: Any) -> None:
        if self._spool_dir is None:
            self.images.paths.tmp_dir.mkdir(parents=True, exist_ok=True)
            self._spool_dir = Path(tempfile.mkdtemp(prefix="load-", dir=self.images.paths.tmp_dir))
        target = self._spool_dir / f"{len(self.files)}"
        hasher = hashlib.sha256()
        with open(target, "wb") as out:
            while data := source.read(1 << 20):
                hasher.update(data)
                out.write(data)
        f.spool, f.raw_digest = target, "sha256:" + hasher.hexdigest()

    # ------------------------------------------------------------ after the pass
    def file(self, name: str) -> ArchiveFile:
        """The file a manifest names, links followed; a `blobs/sha256/<hex>` file must hash to <hex>."""
        path = self.links.resolve(name)
        f = self.files.get(path)
        if f is None:
            raise InvalidArgument(f"invalid archive: {name} is missing")
        m = _BLOB_RE.fullmatch(path)
        if m and f.raw_digest != "sha256:" + m.group(1):
            raise InvalidArgument(f"invalid archive: {path} does not match its digest: its content is {f.raw_digest}")
        return f

    def document(self, f: ArchiveFile) -> bytes:
        if f.data is not None:
            return f.data
        if f.size > DOCUMENT_LIMIT or f.spool is None:
            raise InvalidArgument(f"invalid archive: {f.path} is not a JSON document")
        return f.spool.read_bytes()

    def layer(self, f: ArchiveFile) -> LayerBlob:
        """`f` as a layer: unpacked now if the pass did not take it for one."""
        if f.layer is None:
            source: Any = io.BytesIO(f.data) if f.data is not None else None
            with contextlib.ExitStack() as stack:
                if source is None:
                    assert f.spool is not None
                    source = stack.enter_context(open(f.spool, "rb"))
                f.layer = self._ingest(source)
        return f.layer

    def _ingest(self, source: Any) -> LayerBlob:
        layer = self.images.ingest_layer(source)
        if layer.new_blob:
            self.created_blobs.append(layer.digest)
        self._new.append(layer)
        return layer

    def hand_over(self, f: ArchiveFile) -> LayerBlob:
        """The LayerBlob for store_image: with the staged dir the first time, without after
        (store_image moves a staged dir into place, or discards it, and unpins its blob)."""
        layer = self.layer(f)
        if any(n is layer for n in self._new):
            self._new = [n for n in self._new if n is not layer]
            return layer
        return LayerBlob(layer.digest, layer.diff_id, layer.size, layer.media_type)

    def discard(self, *, failed: bool) -> None:
        """Give back what was not handed to store_image (staged dirs, pins) and the spooled
        files; after a failed load also the blobs it created that nothing uses."""
        self.images.discard_layers(self._new)
        self._new = []
        if failed:
            for digest in self.created_blobs:
                self.images.drop_unused_blob(digest)
        if self._spool_dir is not None:
            shutil.rmtree(self._spool_dir, ignore_errors=True)
            self._spool_dir = None
