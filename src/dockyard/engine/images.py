"""ImageService: the local image store behind the Engine API's /images endpoints.

Storage (see store/): an image is its config blob (the image ID is the sha256 of
those exact bytes), a manifest blob, one row in `images`, its tags in `tags`, and
one snapshot per layer, shared by chain ID. Layers we ingest ourselves (import,
build, load) are kept as uncompressed tar blobs (digest = diff_id, media type
`application/vnd.oci.image.layer.v1.tar`), which is what `docker save` needs.

Everything about one image is recorded in one transaction; blobs and snapshot
dirs are put in place before it and removed again if it fails. Removal and
prune (images_delete.py) follow moby's daemon/images/image_delete.go.
"""

from __future__ import annotations

import json
import platform as _platform
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from dockyard.distribution.credentials import Credentials
from dockyard.engine import images_delete
from dockyard.engine.images_changes import apply_changes
from dockyard.engine.images_filters import list_images
from dockyard.engine.images_model import HistoryEntry, ImageRecord, LayerBlob, UsersFn
from dockyard.errors import InvalidArgument, NotFound
from dockyard.oci.image_spec import (
    MEDIA_TYPE_OCI_CONFIG,
    MEDIA_TYPE_OCI_LAYER,
    Descriptor,
    HistoryItem,
    ImageConfig,
    Manifest,
    RunConfig,
    canonical_json,
    chain_ids,
    parse_rfc3339,
    rfc3339,
    rfc3339_now,
)
from dockyard.store import diff, references
from dockyard.store.content import ContentStore
from dockyard.store.db import Database
from dockyard.store.paths import Paths
from dockyard.store.references import Reference
from dockyard.store.snapshots import SnapshotInfo, SnapshotStore

__all__ = ["ImageService", "ImageRecord", "HistoryEntry", "LayerBlob", "host_platform"]

_ARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386", "ppc64le": "ppc64le",
         "s390x": "s390x", "riscv64": "riscv64"}


def host_platform() -> tuple[str, str]:
    """(os, architecture) in Go's names."""
    machine = _platform.machine()
    return "linux", _ARCH.get(machine, machine)


class ImageService:
    def __init__(self, paths: Paths, db: Database) -> None:
        self.paths = paths
        self.db = db
        for d in (paths.blobs_dir, paths.tmp_dir, paths.snapshots_dir):
            d.mkdir(parents=True, exist_ok=True)
        self.content = ContentStore(paths)
        self.snapshots = SnapshotStore(paths, db, self.content)
        # Serialises the steps that put things in place or take them away (store vs remove).
        self.lock = threading.RLock()
        # Image events (tag, untag, delete, import): the daemon plugs in its event bus.
        self.emit: Callable[..., Any] = lambda *args, **attrs: None
        # registries reached over plain HTTP besides loopback ones (dockerd's --insecure-registry)
        self.insecure_registries: tuple[str, ...] = ()

    # ------------------------------------------------------------ writing
    def ingest_layer(self, stream: Any) -> LayerBlob:
        """One pass over a layer stream (plain or compressed tar): store it uncompressed
        as a blob and unpack it into a staging dir. Hand the result to store_image(),
        or to discard_layers() if you give up. The store is unchanged on error."""
        # The blob is the uncompressed tar, whose sha256 the unpacker computes as the diff_id:
        # the writer need not hash it again.
        with self.content.writer(hashed=False) as blob:
            staged = self.snapshots.stage(stream, sink=blob)
            digest = staged.stats.diff_id
            # Pinned until store_image()/discard_layers(): a concurrent rmi of an image
            # with the same layer must not delete the blob we are about to reference.
            self._pin(digest, +1)
            try:
                info = blob.commit(digest)
            except BaseException:
                self.snapshots.discard(staged)
                self._pin(digest, -1)
                raise
        return LayerBlob(info.digest, staged.stats.diff_id, info.size, MEDIA_TYPE_OCI_LAYER, staged,
                         new_blob=info.created)

    def commit_layer(self, upper: Path, lowerdirs: list[str], *,
                     exclude_mountpoints: bool = True) -> LayerBlob | None:
        """A container's changes (its overlay upper dir over `lowerdirs`, top first) as a new
        layer, stored and staged as ingest_layer() does; None when there are no changes
        (Docker then adds no layer). Hand the result to store_image() or discard_layers()."""
        if not upper.is_dir() or diff.is_empty_diff(upper, lowerdirs=lowerdirs,
                                                    exclude_mountpoints=exclude_mountpoints):
            return None
        with diff.layer_stream(upper, lowerdirs=lowerdirs, exclude_mountpoints=exclude_mountpoints) as stream:
            return self.ingest_layer(stream)

    def _pin(self, digest: str, delta: int) -> None:
        with self.lock:
            pins = self.snapshots.pinned
            pins[digest] += delta
            if pins[digest] <= 0:
                del pins[digest]

    def discard_layers(self, layers: Iterable[LayerBlob]) -> None:
        """Give up on layers from ingest_layer() without storing an image."""
        for layer in layers:
            if layer.staged is not None:
                self.snapshots.discard(layer.staged)
                self._pin(layer.digest, -1)

    def drop_unused_blob(self, digest: str) -> None:
        """Delete a blob that no layer, image or pending ingest uses (one a failed load added)."""
        with self.lock:
            if self.snapshots.pinned[digest]:
                return
            if self.db.query_one("SELECT 1 FROM snapshots WHERE blob_digest = ?", (digest,)) is not None:
                return
            if self.db.query_one("SELECT 1 FROM images WHERE id = ? OR manifest_digest = ?",
                                 (digest, digest)) is not None:
                return
            self.content.delete(digest)

    def _discard_staged(self, layers: Iterable[LayerBlob]) -> None:
        for layer in layers:
            self.snapshots.discard(layer.staged)

    def store_image(self, config: ImageConfig | bytes, layers: list[LayerBlob], tags: list[str], *,
                    parent: str = "", manifest: bytes | None = None) -> ImageRecord:
        """Record an image whose layer blobs are in the content store. `config` as bytes is
        stored verbatim (pull/load keep their IDs). `tags`: references to point at it."""
        try:
            return self._store(config, layers, tags, parent, manifest)
        finally:
            for layer in layers:
                if layer.staged is not None:
                    self._pin(layer.digest, -1)

    def _store(self, config: ImageConfig | bytes, layers: list[LayerBlob], tags: list[str],
               parent: str, manifest: bytes | None) -> ImageRecord:
        try:
            config_bytes = config.to_bytes() if isinstance(config, ImageConfig) else bytes(config)
            doc = json.loads(config_bytes)
            if not isinstance(doc, dict):
                raise InvalidArgument("invalid image config: not a JSON object")
            diff_ids = list((doc.get("rootfs") or {}).get("diff_ids") or [])
            if [layer.diff_id for layer in layers] != diff_ids:
                raise InvalidArgument("layers do not match the diff_ids of the image config")
            refs = [self._parse_tag(t) for t in tags]
        except (ValueError, TypeError) as e:
            self._discard_staged(layers)
            raise InvalidArgument(f"invalid image config: {e}") from None
        except BaseException:
            self._discard_staged(layers)
            raise
        chains = chain_ids(diff_ids)
        with self.lock:
            return self._store_locked(config_bytes, doc, layers, chains, refs, parent, manifest)

    def _store_locked(self, config_bytes: bytes, doc: dict[str, Any], layers: list[LayerBlob],
                      chains: list[str], refs: list[Reference], parent: str,
                      manifest: bytes | None) -> ImageRecord:
        new_blobs: list[str] = []
        placed: list[tuple[SnapshotInfo, bool]] = []
        try:
            for layer in layers:
                if not self.content.exists(layer.digest):
                    raise InvalidArgument(f"layer blob {layer.digest} is not in the content store")
            cfg = self.content.put(config_bytes)
            image_id = cfg.digest
            if cfg.created:
                new_blobs.append(cfg.digest)
            if manifest is None:
                manifest = canonical_json(Manifest(
                    config=Descriptor(MEDIA_TYPE_OCI_CONFIG, cfg.digest, cfg.size),
                    layers=tuple(Descriptor(lb.media_type, lb.digest, lb.size) for lb in layers)).to_json())
            man = self.content.put(manifest)
            if man.created:
                new_blobs.append(man.digest)
            for i, layer in enumerate(layers):
                placed.append(self.snapshots.place(chains[i], chains[i - 1] if i else None,
                                                   layer.diff_id, layer.digest, staged=layer.staged))
            now = time.time()
            with self.db.tx() as conn:
                for info, _ in placed:
                    conn.execute("INSERT OR IGNORE INTO snapshots (chain_id, parent, diff_id, blob_digest, size)"
                                 " VALUES (?, ?, ?, ?, ?)",
                                 (info.chain_id, info.parent or None, info.diff_id, info.blob_digest, info.size))
                size = sum(info.size for info, _ in placed)
                conn.execute(
                    "INSERT OR IGNORE INTO images (id, manifest_digest, top_chain_id, size, created, added_at,"
                    " parent) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (image_id, man.digest, chains[-1] if chains else None, size,
                     str(doc.get("created") or ""), now, parent))
                self._tag_rows(conn, image_id, refs, now)
        except BaseException:
            for info, created in placed:
                if created:
                    self.snapshots.unplace(info.chain_id)
            for digest in new_blobs:
                self.content.delete(digest)
            self._discard_staged(layers)
            raise
        return self._load(image_id)

    def _tag_rows(self, conn: sqlite3.Connection, image_id: str, refs: list[Reference], now: float) -> None:
        for ref in refs:
            conn.execute("INSERT OR REPLACE INTO tags (reference, image_id) VALUES (?, ?)", (str(ref), image_id))
        if refs:
            conn.execute("UPDATE images SET last_tag_time = ? WHERE id = ?", (now, image_id))

    @staticmethod
    def _parse_tag(tag: str) -> Reference:
        ref = references.parse_normalized(tag).docker_ref()
        if ref.familiar_name == "sha256":
            raise InvalidArgument("refusing to create an ambiguous tag using digest algorithm as name")
        return ref

    def import_tar(self, stream: Any, *, repo: str | None, tag: str | None, changes: list[str],
                   message: str = "", platform: str = "", src: str = "-") -> ImageRecord:
        """`docker import`: one layer from a (gzip or plain) rootfs tar."""
        refs = [references.repo_tag_reference(repo, tag)] if repo else []
        os_name, arch, variant = _parse_platform(platform)
        run_config = apply_changes(RunConfig(), list(changes or []))
        layer = self.ingest_layer(stream)
        created = rfc3339_now()
        comment = message or f"Imported from {src}"
        config = ImageConfig(diff_ids=(layer.diff_id,), config=run_config,
                             history=(HistoryItem(created=created, comment=comment),),
                             created=created, comment=comment, architecture=arch, os=os_name, variant=variant)
        record = self.store_image(config, [layer], [str(r) for r in refs])
        self.emit("image", "import", record.id, name=record.id)
        return record

    # ------------------------------------------------------------ registries
    def pull(self, name: str, creds: Credentials | None, progress: Callable[[dict[str, Any]], None]) -> ImageRecord:
        """`docker pull` (images_pull.py); the API handler runs its two steps itself."""
        from dockyard.engine.images_pull import resolve_pull

        plan = resolve_pull(self, name, creds, insecure=self.insecure_registries)
        try:
            record, _ = plan.run(progress)
        finally:
            plan.client.close()
        self.emit("image", "pull", plan.ref.familiar, name=plan.ref.familiar)
        return record

    def push(self, name: str, tag: str, creds: Credentials | None,
             progress: Callable[[dict[str, Any]], None]) -> list[dict[str, Any]]:
        """`docker push` of `name:tag`, or of every tag of the repository when `tag` is "" (images_push.py)."""
        from dockyard.engine.images_push import push_tags, push_targets

        return push_tags(self, push_targets(self, name, tag), creds, progress, insecure=self.insecure_registries)

    def record_repo_digest(self, image_id: str, ref: Reference) -> None:
        """Remember `repo@digest` (a RepoDigest) for an image; no tag event, as moby."""
        with self.lock, self.db.tx() as conn:
            conn.execute("INSERT OR REPLACE INTO tags (reference, image_id) VALUES (?, ?)", (str(ref), image_id))

    # ------------------------------------------------------------ reading
    def resolve(self, name: str) -> ImageRecord:
        """By reference (normalised; tag defaults to latest), full id, `sha256:<id>`, or a
        unique id prefix. NotFound('No such image: busybox:latest') otherwise."""
        return self._load(self.resolve_id(name))

    def resolve_id(self, name: str) -> str:
        ref = references.parse_any(name)
        if isinstance(ref, str):
            if self.db.query_one("SELECT 1 FROM images WHERE id = ?", (ref,)):
                return ref
            raise NotFound(f"No such image: {ref}")
        row = self.db.query_one("SELECT image_id FROM tags WHERE reference = ?", (str(ref.docker_ref()),))
        if row is not None:
            return str(row["image_id"])
        if references.is_id_prefix(name):
            hexpart = name.removeprefix("sha256:")
            rows = self.db.query("SELECT id FROM images WHERE id >= ? AND id < ? LIMIT 2",
                                 (f"sha256:{hexpart}", f"sha256:{hexpart}g"))
            if len(rows) == 1:
                return str(rows[0]["id"])
        raise NotFound(f"No such image: {ref.with_default_tag().familiar}")

    def _load(self, image_id: str) -> ImageRecord:
        row = self.db.query_one("SELECT * FROM images WHERE id = ?", (image_id,))
        if row is None:
            raise NotFound(f"No such image: {image_id}")
        return self._record(row, self._refs(image_id))

    def _refs(self, image_id: str, conn: sqlite3.Connection | None = None) -> list[Reference]:
        c = conn or self.db.connection()
        rows = c.execute("SELECT reference FROM tags WHERE image_id = ? ORDER BY reference", (image_id,))
        return [references.parse(r[0]) for r in rows.fetchall()]

    def _record(self, row: sqlite3.Row, refs: list[Reference]) -> ImageRecord:
        config = json.loads(self.content.read(row["id"], verify=False))
        return ImageRecord(
            id=row["id"], config=config,
            repo_tags=[r.familiar for r in refs if r.tag],
            repo_digests=[r.familiar for r in refs if r.digest],
            size=row["size"], created=row["created"], parent=row["parent"] or "",
            top_chain_id=row["top_chain_id"] or "", manifest_digest=row["manifest_digest"] or "",
            last_tag_time=rfc3339(int(row["last_tag_time"] * 1e9)) if row["last_tag_time"] else "")

    def list(self, *, all: bool = False, filters: dict[str, list[str]] | None = None) -> list[ImageRecord]:
        """`docker images`: newest first. A ref filter narrows repo_tags/repo_digests too.
        Filters: reference, dangling, label, before, since, until."""
        return list_images(self, all=all, filters=filters)

    def history(self, name: str) -> list[HistoryEntry]:
        """`docker history`, newest first, as moby's ImageHistory."""
        record = self.resolve(name)
        diff_ids = list((record.config.get("rootfs") or {}).get("diff_ids") or [])
        chains = chain_ids(diff_ids)
        rows: list[dict[str, Any]] = []
        layer = 0
        for item in record.config.get("history") or []:
            size = 0
            if not item.get("empty_layer"):
                if layer >= len(chains):
                    raise InvalidArgument("too many non-empty layers in History section")
                info = self.snapshots.get(chains[layer])
                size = info.size if info else 0
                layer += 1
            rows.insert(0, {"created": int(parse_rfc3339(item.get("created") or "")),
                            "created_by": item.get("created_by") or "", "comment": item.get("comment") or "",
                            "size": size})
        out: list[HistoryEntry] = []
        current: ImageRecord | None = record
        for row in rows:
            image_id, tags = "<missing>", []
            if current is not None:
                image_id, tags = current.id, list(current.repo_tags)
                current = self._maybe_load(current.parent) if current.parent else None
            out.append(HistoryEntry(id=image_id, created=row["created"], created_by=row["created_by"],
                                    tags=tags, size=row["size"], comment=row["comment"]))
        # only the chain of locally known parents carries ids; the rest stay "<missing>"
        return out

    def _maybe_load(self, image_id: str) -> ImageRecord | None:
        try:
            return self._load(image_id)
        except NotFound:
            return None

    def image_layers(self, name: str) -> list[LayerBlob]:
        """The layer blobs of an image, bottom first (for save/push)."""
        record = self.resolve(name)
        if not record.top_chain_id:
            return []
        return [LayerBlob(s.blob_digest, s.diff_id, self.content.size(s.blob_digest))
                for s in reversed(self.snapshots.chain(record.top_chain_id))]

    def rootfs_lowerdirs(self, image_id: str) -> list[str]:
        """Overlay lowerdirs for a container of this image, top first; [] for no layers.
        Works for a force-removed image still held by a container."""
        row = self.db.query_one("SELECT top_chain_id FROM images WHERE id = ?", (image_id,))
        if row is None:
            row = self.db.query_one("SELECT top_chain_id FROM snapshot_holds WHERE image_id = ?", (image_id,))
        if row is None:
            raise NotFound(f"No such image: {image_id}")
        return self.snapshots.lowerdirs(row["top_chain_id"])

    # ------------------------------------------------------------ tags and removal
    def tag(self, name: str, repo: str, tag: str | None) -> None:
        if not repo:
            raise InvalidArgument(references.ERR_NAME_EMPTY)
        ref = references.repo_tag_reference(repo, tag)
        with self.lock:
            image_id = self.resolve_id(name)
            with self.db.tx() as conn:
                self._tag_rows(conn, image_id, [ref], time.time())
        self.emit("image", "tag", image_id, name=ref.familiar)

    def add_tags(self, image_id: str, tags: list[str]) -> None:
        """Point `tags` (any reference form) at an existing image; a tag already there is left alone."""
        refs = [self._parse_tag(t) for t in tags]
        with self.lock, self.db.tx() as conn:
            if conn.execute("SELECT 1 FROM images WHERE id = ?", (image_id,)).fetchone() is None:
                raise NotFound(f"No such image: {image_id}")
            changed = [r for r in refs if (row := conn.execute(
                "SELECT image_id FROM tags WHERE reference = ?", (str(r),)).fetchone()) is None
                or row[0] != image_id]
            self._tag_rows(conn, image_id, changed, time.time())
        for ref in changed:
            self.emit("image", "tag", image_id, name=ref.familiar)

    def remove(self, name: str, *, force: bool = False, prune: bool = True,
               users: UsersFn | None = None, running: UsersFn | None = None) -> list[dict[str, str]]:
        """`docker rmi`: [{"Untagged": ...}, {"Deleted": ...}] exactly as Docker.

        `users(image_id)`: ids of all containers created from the image (default: the
        containers table); `running(image_id)`: those of them that are running (default:
        none, i.e. all users count as stopped)."""
        with self.lock:
            return images_delete.image_delete(self, name, force=force, prune=prune,
                                              users=users or self._table_users, running=running)

    def prune(self, *, all: bool = False, filters: dict[str, list[str]] | None = None,
              users: UsersFn | None = None, running: UsersFn | None = None) -> tuple[list[dict[str, str]], int]:
        """`docker image prune`: (deleted entries, bytes reclaimed)."""
        with self.lock:
            return images_delete.images_prune(self, all=all, filters=filters,
                                              users=users or self._table_users, running=running)

    def _table_users(self, image_id: str) -> list[str]:
        return [r["id"] for r in self.db.query(
            "SELECT id FROM containers WHERE image_id = ? ORDER BY created", (image_id,))]

    def gc(self) -> list[str]:
        """Drop holds of containers that no longer exist and the layers nobody uses any more.
        Call after removing a container. Returns the removed chain ids."""
        with self.lock:
            with self.db.tx() as conn:
                conn.execute("DELETE FROM snapshot_holds WHERE holder NOT IN (SELECT id FROM containers)")
                candidates = [r[0] for r in conn.execute("SELECT chain_id FROM snapshots").fetchall()]
                removed = self.snapshots.remove_unreferenced(conn, candidates)
            self.snapshots.delete_files(removed)
        return [s.chain_id for s in removed]

    def recover(self) -> None:
        """At daemon start: remove temp files and unrecorded snapshot dirs left by a crash."""
        with self.lock:
            self.snapshots.sweep()
            for p in self.paths.tmp_dir.glob("blob-*"):
                p.unlink(missing_ok=True)


def _parse_platform(value: str) -> tuple[str, str, str]:
    host_os, host_arch = host_platform()
    if not value:
        return host_os, host_arch, ""
    parts = value.lower().split("/")
    if len(parts) > 3 or not all(parts):
        raise InvalidArgument(f'"{value}": unknown operating system or architecture: invalid argument')
    os_name = parts[0]
    if os_name != "linux":
        raise InvalidArgument(f'"{value}": operating system is not supported')
    arch = parts[1] if len(parts) > 1 else host_arch
    return os_name, arch, parts[2] if len(parts) > 2 else ""
