"""`docker rmi` and `docker image prune`, following moby's daemon/images/image_delete.go
and image_prune.go step by step, so records and conflict messages match Docker's.

Each delete runs in one transaction; snapshot dirs and blobs are deleted after
it commits. A stopped container of a force-removed image keeps its layers through
a row in `snapshot_holds` (ImageService.gc() drops it once the container is gone).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from dockyard.engine.images_filters import PRUNE_FILTERS, Filters, get_timestamp
from dockyard.engine.images_model import UsersFn, short_id
from dockyard.errors import Conflict, NotFound
from dockyard.oci.image_spec import parse_rfc3339
from dockyard.store import references
from dockyard.store.references import Reference
from dockyard.store.snapshots import SnapshotInfo

if TYPE_CHECKING:
    from dockyard.engine.images import ImageService

__all__ = ["image_delete", "images_prune"]

CHILD, RUNNING, ACTIVE_REF, STOPPED = 1, 2, 4, 8
HARD = CHILD | RUNNING
SOFT = ACTIVE_REF | STOPPED


class _DeleteConflict(Conflict):
    def __init__(self, image_id: str, message: str, *, hard: bool = False, used: bool = False) -> None:
        force = "cannot be forced" if hard else "must be forced"
        super().__init__(f"conflict: unable to delete {short_id(image_id)} ({force}) - {message}")
        self.hard, self.used = hard, used


@dataclass
class _Deletion:
    svc: ImageService
    conn: sqlite3.Connection
    users: UsersFn
    running: UsersFn | None
    records: list[dict[str, str]] = field(default_factory=list)
    removed_snapshots: list[SnapshotInfo] = field(default_factory=list)
    removed_blobs: list[str] = field(default_factory=list)
    events: list[tuple[str, str]] = field(default_factory=list)   # (action, image id), sent after commit

    # -- facts
    def refs(self, image_id: str) -> list[Reference]:
        return self.svc._refs(image_id, self.conn)

    def children(self, image_id: str) -> list[str]:
        return [r[0] for r in self.conn.execute("SELECT id FROM images WHERE parent = ?", (image_id,))]

    def running_users(self, image_id: str) -> list[str]:
        return self.running(image_id) if self.running else []

    def stopped_users(self, image_id: str) -> list[str]:
        running = set(self.running_users(image_id))
        return [c for c in self.users(image_id) if c not in running]

    def dangling(self, image_id: str) -> bool:
        return not self.refs(image_id) and not self.children(image_id)

    # -- steps
    def untag(self, ref: Reference, image_id: str) -> None:
        ref = ref.with_default_tag()
        self.conn.execute("DELETE FROM tags WHERE reference = ?", (str(ref.docker_ref()),))
        self.records.append({"Untagged": ref.familiar})
        self.events.append(("untag", image_id))

    def conflict(self, image_id: str, mask: int) -> _DeleteConflict | None:
        if mask & CHILD and self.children(image_id):
            return _DeleteConflict(image_id, "image has dependent child images", hard=True)
        if mask & RUNNING and (running := self.running_users(image_id)):
            return _DeleteConflict(image_id, f"image is being used by running container {short_id(running[0])}",
                                   hard=True, used=True)
        if mask & ACTIVE_REF and self.refs(image_id):
            return _DeleteConflict(image_id, "image is referenced in multiple repositories")
        if mask & STOPPED and (stopped := self.stopped_users(image_id)):
            return _DeleteConflict(image_id, f"image is being used by stopped container {short_id(stopped[0])}",
                                   used=True)
        return None

    def delete_helper(self, image_id: str, *, force: bool, prune: bool, quiet: bool) -> None:
        mask = HARD if force else HARD | SOFT
        found = self.conflict(image_id, mask)
        if found is not None:
            if quiet and (not self.dangling(image_id) or found.used):
                return
            raise found
        row = self.conn.execute("SELECT parent, top_chain_id, manifest_digest FROM images WHERE id = ?",
                                (image_id,)).fetchone()
        if row is None:
            return
        for ref in self.refs(image_id):
            self.untag(ref, image_id)
        # Containers that still use it (stopped ones, under force) keep its layers.
        for cid in self.users(image_id):
            self.conn.execute("INSERT OR REPLACE INTO snapshot_holds (holder, image_id, top_chain_id)"
                              " VALUES (?, ?, ?)", (cid, image_id, row["top_chain_id"]))
        self.conn.execute("DELETE FROM images WHERE id = ?", (image_id,))
        self.records.append({"Deleted": image_id})
        self.events.append(("delete", image_id))
        self.removed_blobs.append(image_id)
        if row["manifest_digest"]:
            self.removed_blobs.append(row["manifest_digest"])
        if row["top_chain_id"]:
            chain = [s.chain_id for s in self.svc.snapshots.chain(row["top_chain_id"])]
            gone = self.svc.snapshots.remove_unreferenced(self.conn, chain)
            self.removed_snapshots.extend(gone)
            self.records.extend({"Deleted": s.chain_id} for s in gone)
        parent = row["parent"]
        if prune and parent:
            self.delete_helper(parent, force=False, prune=True, quiet=True)

    def finish(self) -> None:
        """After the commit: delete the files of what the transaction removed; tell the events."""
        self.svc.snapshots.delete_files(self.removed_snapshots)
        for digest in self.removed_blobs:
            self.svc.content.delete(digest)
        for action, image_id in self.events:
            self.svc.emit("image", action, image_id, name=image_id)


def _is_single_reference(refs: list[Reference]) -> bool:
    if len(refs) <= 1:
        return len(refs) == 1
    single: Reference | None = None
    canonical: set[str] = set()
    for ref in refs:
        if ref.digest:
            canonical.add(ref.name)
        elif single is None:
            single = ref
        else:
            return False
    if single is None:
        single = refs[0]
    return len(canonical) == 1 and single.name in canonical


def _is_id_prefix(image_id: str, candidate: str) -> bool:
    return image_id.startswith(candidate) or image_id.partition(":")[2].startswith(candidate)


def image_delete(svc: ImageService, name: str, *, force: bool, prune: bool,
                 users: UsersFn, running: UsersFn | None) -> list[dict[str, str]]:
    image_id = svc.resolve_id(name)
    deferred: Conflict | None = None
    with svc.db.tx() as conn:
        d = _Deletion(svc, conn, users, running)
        refs = d.refs(image_id)
        removed_repo_ref = untag_only = False
        if not _is_id_prefix(image_id, name):
            if not force and _is_single_reference(refs) and (using := users(image_id)):
                raise Conflict(f'conflict: unable to remove repository reference "{name}" (must force) - '
                               f"container {short_id(using[0])} is using its referenced image {short_id(image_id)}")
            parsed = references.parse_normalized(name).with_default_tag()
            d.untag(parsed, image_id)
            refs = d.refs(image_id)
            if not parsed.digest and not any(not r.digest and r.name == parsed.name for r in refs):
                # only digest references to the same repository are left: drop them too
                remaining = []
                for r in refs:
                    if r.digest and r.name == parsed.name:
                        d.untag(r, image_id)
                    else:
                        remaining.append(r)
                refs = remaining
            untag_only = bool(refs)   # other tags keep the image
            removed_repo_ref = True
        elif _is_single_reference(refs):
            mask = HARD if force else HARD | (SOFT & ~ACTIVE_REF)
            found = d.conflict(image_id, mask)
            if found is not None:
                raise found
            for r in refs:
                d.untag(r, image_id)
        try:
            if not untag_only:
                d.delete_helper(image_id, force=force, prune=prune, quiet=removed_repo_ref)
        except Conflict as e:
            if not d.records:
                raise
            deferred = e  # Docker keeps the untags it already made, then reports the conflict
    d.finish()
    if deferred is not None:
        raise deferred
    return d.records


def images_prune(svc: ImageService, *, all: bool, filters: dict[str, list[str]] | None,
                 users: UsersFn, running: UsersFn | None) -> tuple[list[dict[str, str]], int]:
    f = Filters(filters)
    f.validate(PRUNE_FILTERS)
    svc.gc()  # layers of force-removed images whose containers are gone
    dangling_only = f.bool_or_default("dangling", True) and not all
    until = min((get_timestamp(v) for v in f.get("until")), default=None)
    rows = svc.db.query("SELECT id, parent, created FROM images ORDER BY created")
    has_children = {r["parent"] for r in rows if r["parent"]}
    sizes = {r["chain_id"]: r["size"] for r in svc.db.query("SELECT chain_id, size FROM snapshots")}
    deleted: list[dict[str, str]] = []
    for row in rows:
        image_id = row["id"]
        if dangling_only and image_id in has_children:
            continue
        refs = svc._refs(image_id)
        if not refs and image_id in has_children:
            continue
        if until is not None and parse_rfc3339(row["created"]) > until:
            continue
        if f.contains("label") or f.contains("label!"):
            try:
                labels = (svc.resolve(image_id).config.get("config") or {}).get("Labels") or {}
            except NotFound:
                continue
            if not f.match_kv_list("label", labels):
                continue
            if f.contains("label!") and f.match_kv_list("label!", labels):
                continue
        if refs:
            if dangling_only and any(r.tag for r in refs):
                continue
            targets = [str(r) for r in refs]
        else:
            targets = [image_id.partition(":")[2]]
        for target in targets:
            try:
                deleted.extend(image_delete(svc, target, force=False, prune=True, users=users, running=running))
            except (Conflict, NotFound):
                continue
    reclaimed = sum(sizes.get(d["Deleted"], 0) for d in deleted if "Deleted" in d)
    return deleted, reclaimed
