"""Offline garbage collection of a registry root, as distribution's `registry garbage-collect`.

Deleting a manifest or a blob through the API only removes a repository's link to it: the
content stays, since another repository may use it. This frees it. Mark: every manifest
revision of every repository (with `delete_untagged`, only those a tag reaches, directly or as
an index's child, or as a referrer of a kept manifest; the others are deleted first), its
config and its layers. Sweep: every blob nothing marked. It needs the root to itself: while a
server has it open the lock cannot be taken, and nothing is touched.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from dockyard.distribution.registry.errors import RegistryError
from dockyard.distribution.registry.manifests import Manifest, parse_manifest
from dockyard.distribution.registry.names import Digest
from dockyard.distribution.registry.storage import Storage

__all__ = ["GcReport", "collect", "RegistryBusy"]


class RegistryBusy(Exception):
    """A server has the registry root open."""


@dataclass
class GcReport:
    marked: int = 0
    blobs_deleted: list[str] = field(default_factory=list)
    manifests_deleted: list[tuple[str, str]] = field(default_factory=list)   # (repository, digest)
    freed: int = 0


def _manifest(storage: Storage, repo: str, d: Digest) -> Manifest | None:
    body = storage.read_manifest(repo, d)
    if body is None:
        return None   # a link whose content is gone: nothing to mark
    try:
        return parse_manifest("", body)
    except RegistryError as e:
        # what it references is unknown: deleting anything could break it
        raise ValueError(f"{repo}: cannot read manifest {d} ({e.message}): nothing deleted") from None


def _kept_revisions(storage: Storage, repo: str, parsed: dict[Digest, Manifest | None]) -> set[Digest]:
    """The revisions a tag reaches, with an index's children and the referrers of what is kept."""
    todo = [d for d in (storage.tag_target(repo, t) for t in storage.tags(repo)) if d in parsed]
    kept: set[Digest] = set()
    while todo:
        d = todo.pop()
        if d in kept:
            continue
        kept.add(d)
        m = parsed.get(d)
        todo += [c for c in (m.children if m else []) if c in parsed]
        todo += [r for r, rm in parsed.items() if rm is not None and rm.subject == d]
    return kept


def collect(root: str, *, dry_run: bool = False, delete_untagged: bool = False,
            say: Callable[[str], None] = print) -> GcReport:
    try:
        storage = Storage(root, exclusive=True)
    except BlockingIOError:
        raise RegistryBusy(f"the registry at {root} is being served: stop it first") from None
    report = GcReport()
    marked: set[Digest] = set()
    doomed: list[tuple[str, Digest]] = []   # untagged manifests, deleted only once all is read
    for repo in storage.repositories():
        say(repo)
        parsed = {d: _manifest(storage, repo, d) for d in storage.revisions(repo)}
        if delete_untagged:
            kept = _kept_revisions(storage, repo, parsed)
            for d in sorted(set(parsed) - kept, key=str):
                say(f"{repo}: manifest eligible for deletion: {d}")
                doomed.append((repo, d))
                del parsed[d]
        for d, m in parsed.items():
            say(f"{repo}: marking manifest {d}")
            marked.add(d)
            for blob, _foreign in m.blobs if m else []:
                say(f"{repo}: marking blob {blob}")
                marked.add(blob)
    report.manifests_deleted = [(repo, str(d)) for repo, d in doomed]
    if not dry_run:
        for repo, d in doomed:
            storage.delete_manifest(repo, d)
    unused = [d for d in storage.all_blobs() if d not in marked]
    report.marked = len(marked)
    say(f"\n{len(marked)} blobs marked, {len(unused)} blobs and {len(report.manifests_deleted)} manifests "
        "eligible for deletion")
    for d in unused:
        say(f"blob eligible for deletion: {d}")
        report.blobs_deleted.append(str(d))
        if not dry_run:
            report.freed += storage.delete_blob(d)
    return report
