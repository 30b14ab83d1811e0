"""`docker save`: images as one tar, streamed from the content store as it is read.

`plan_save()` resolves the names the way moby's tarexport does (a bare repository name
saves all its tags, an ID saves the image untagged, a missing tag is "reference does not
exist"), builds the small documents (archive/docker_archive.py) and opens every layer
blob, so an error is reported before the first byte and a concurrent `rmi` cannot pull a
blob away mid-stream. `SaveStream.chunks()` then yields the tar in ~1 MiB pieces: never
the whole archive in memory or on disk.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

from dockyard.archive import tarstream
from dockyard.archive.docker_archive import OCI_LAYOUT, LayerRef, SaveImage, blob_path, save_documents
from dockyard.errors import InvalidArgument, NotFound, SystemError_
from dockyard.oci.image_spec import (
    MEDIA_TYPE_OCI_LAYER,
    MEDIA_TYPE_OCI_LAYER_GZIP,
    MEDIA_TYPE_OCI_LAYER_ZSTD,
    parse_rfc3339,
)
from dockyard.store import references
from dockyard.store.layers import detect_compression

TYPE_CHECKING = False
if TYPE_CHECKING:
    from dockyard.engine.images import ImageService

__all__ = ["SaveStream", "plan_save", "resolve_save_names"]

CHUNK = 1 << 20
_MEDIA_TYPES = {"none": MEDIA_TYPE_OCI_LAYER, "gzip": MEDIA_TYPE_OCI_LAYER_GZIP, "zstd": MEDIA_TYPE_OCI_LAYER_ZSTD}


@dataclass
class _Entry:
    name: str
    size: int
    mtime: int
    data: bytes | None = None     # small documents
    blob: str = ""                # or a layer blob, read from its open file


class SaveStream:
    """A planned archive. Iterate `chunks()` once, then `close()` (also on error)."""

    def __init__(self, entries: list[_Entry], files: dict[str, BinaryIO], image_ids: list[str]) -> None:
        self._entries = entries
        self._files = files
        self.image_ids = image_ids

    def chunks(self) -> Iterator[bytes]:
        buf = bytearray(tarstream.header("blobs/", directory=True))
        buf += tarstream.header("blobs/sha256/", directory=True)
        for e in self._entries:
            buf += tarstream.header(e.name, e.size, mtime=e.mtime)
            if e.data is not None:
                buf += e.data
            else:
                f = self._files[e.blob]
                f.seek(0)
                left = e.size
                while left:
                    piece = f.read(min(left, CHUNK))
                    if not piece:
                        raise SystemError_(f"blob {e.blob} is shorter than recorded: the store is damaged")
                    buf += piece
                    left -= len(piece)
                    if len(buf) >= CHUNK:
                        yield bytes(buf)
                        buf.clear()
            buf += tarstream.padding(e.size)
            if len(buf) >= CHUNK:
                yield bytes(buf)
                buf.clear()
        buf += tarstream.END
        yield bytes(buf)

    def close(self) -> None:
        for f in self._files.values():
            with contextlib.suppress(OSError):
                f.close()
        self._files.clear()


def resolve_save_names(images: ImageService, names: list[str]) -> list[tuple[str, list[references.Reference]]]:
    """[(image id, tags to save it under)] in the order first named (moby's parseNames)."""
    out: dict[str, list[references.Reference]] = {}

    def add(image_id: str, ref: references.Reference | None) -> None:
        tags = out.setdefault(image_id, [])
        if ref is not None and ref.tag and not ref.digest and ref not in tags:
            tags.append(ref)

    db = images.db
    for name in names:
        ref = references.parse_any(name)
        if isinstance(ref, str):
            if db.query_one("SELECT 1 FROM images WHERE id = ?", (ref,)) is None:
                raise NotFound(f"No such image: {ref}")
            add(ref, None)
            continue
        if ref.familiar_name == "sha256":
            add(images.resolve_id(name), None)
            continue
        if not ref.tag and not ref.digest:
            like = ref.name.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + ":%"
            rows = db.query("SELECT reference, image_id FROM tags WHERE reference LIKE ? ESCAPE '\\'"
                            " ORDER BY reference", (like,))
            rows = [r for r in rows if "@" not in r["reference"]]
            for r in rows:
                add(r["image_id"], references.parse(r["reference"]))
            if not rows:
                add(images.resolve_id(name), None)
            continue
        row = db.query_one("SELECT image_id FROM tags WHERE reference = ?", (str(ref.docker_ref()),))
        if row is None:
            raise NotFound("reference does not exist")
        add(row["image_id"], ref.docker_ref())
    return list(out.items())


def _media_type(images: ImageService, digest: str, diff_id: str) -> str:
    if digest == diff_id:
        return MEDIA_TYPE_OCI_LAYER
    with images.content.open(digest) as f:
        kind = detect_compression(f.read(6))
    if kind not in _MEDIA_TYPES:
        raise SystemError_(f"layer blob {digest} has an unsupported compression ({kind})")
    return _MEDIA_TYPES[kind]


def _mtime(created: Any) -> int:
    try:
        return max(0, int(parse_rfc3339(str(created or ""))))
    except (ValueError, TypeError):
        return 0


def plan_save(images: ImageService, names: list[str], platform: tuple[str, str, str] | None = None) -> SaveStream:
    """Resolve `names`, open their blobs, lay out the archive. Raises before any output."""
    resolved = resolve_save_names(images, names)
    ids = {image_id for image_id, _ in resolved}
    files: dict[str, BinaryIO] = {}
    try:
        saves: list[SaveImage] = []
        blobs: dict[str, _Entry] = {}
        for image_id, tags in resolved:
            record = images.resolve(image_id)
            config = images.content.read(image_id, verify=False)
            os_name = str(record.config.get("os") or "linux")
            if os_name != "linux":
                raise InvalidArgument(f'os "{os_name}" is not supported')
            if platform is not None and not _platform_matches(record.config, platform):
                raise NotFound("no suitable export target found for platform " + "/".join(p for p in platform if p))
            layers = []
            for lb in images.image_layers(image_id):
                if lb.digest not in files:
                    files[lb.digest] = images.content.open(lb.digest)
                size = _file_size(files[lb.digest])
                layers.append(LayerRef(lb.digest, size, _media_type(images, lb.digest, lb.diff_id), lb.diff_id))
                blobs.setdefault(lb.digest, _Entry(blob_path(lb.digest), size, _mtime(record.created),
                                                   blob=lb.digest))
            diff_ids = list((record.config.get("rootfs") or {}).get("diff_ids") or [])
            if [lr.diff_id for lr in layers] != diff_ids:
                raise SystemError_(f"image {image_id}: its layers do not match its config")
            blobs.setdefault(image_id, _Entry(blob_path(image_id), len(config), _mtime(record.created),
                                              data=config))
            saves.append(SaveImage(image_id, config, layers,
                                   [(r.name, r.tag, r.familiar) for r in tags],
                                   record.parent if record.parent in ids else ""))
            images.emit("image", "save", image_id, name=image_id)
        docs = save_documents(saves)
        for digest, data in docs.manifests.items():
            blobs.setdefault(digest, _Entry(blob_path(digest), len(data), 0, data=data))
        entries = [blobs[d] for d in sorted(blobs, key=lambda d: blob_path(d))]
        entries.append(_Entry("index.json", len(docs.index_json), 0, data=docs.index_json))
        entries.append(_Entry("manifest.json", len(docs.manifest_json), 0, data=docs.manifest_json))
        entries.append(_Entry("oci-layout", len(OCI_LAYOUT), 0, data=OCI_LAYOUT))
        if docs.repositories is not None:
            entries.append(_Entry("repositories", len(docs.repositories), 0, data=docs.repositories))
    except BaseException:
        SaveStream([], files, []).close()
        raise
    return SaveStream(entries, files, [image_id for image_id, _ in resolved])


def _file_size(f: BinaryIO) -> int:
    import os

    return os.fstat(f.fileno()).st_size


def _platform_matches(config: dict[str, Any], want: tuple[str, str, str]) -> bool:
    os_name, arch, variant = want
    if os_name and config.get("os", "linux") != os_name:
        return False
    if arch and config.get("architecture") != arch:
        return False
    return not variant or config.get("variant", "") == variant
