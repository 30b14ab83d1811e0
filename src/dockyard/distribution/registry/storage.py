"""The registry's filesystem layout under its root. Every path is built here, and only from
names, tags, digests and upload ids that names.py accepted.

    blobs/<alg>/<hex[:2]>/<hex>                      content, shared by all repositories
    repositories/<name>/_layers/<alg>/<hex>          this repository may serve that blob
    repositories/<name>/_manifests/revisions/<alg>/<hex>   a manifest pushed here
    repositories/<name>/_manifests/tags/<tag>        the digest the tag points to (text)
    repositories/<name>/_referrers/<alg>/<subject hex>/<alg>:<hex>   manifests naming a subject
    repositories/<name>/_uploads/<uuid>/data         an upload in progress
    tmp/                                             temp files, renamed into place

Name components never start with '_', so the '_' directories never collide with a repository.
Files appear under their final name only by rename (atomic), so a crash never leaves a half
blob, manifest or tag behind.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import tempfile
import uuid

from dockyard.distribution.registry.errors import RegistryError
from dockyard.distribution.registry.names import Digest, check_name, check_tag, check_upload_id, parse_digest

__all__ = ["Storage"]


class Storage:
    def __init__(self, root: str, *, exclusive: bool = False) -> None:
        """A server shares the root's lock with other servers; `exclusive` (garbage collection)
        wants it alone and fails with BlockingIOError while any server holds it."""
        self.root = os.path.abspath(root)
        for sub in ("blobs", "repositories", "tmp"):
            os.makedirs(os.path.join(self.root, sub), exist_ok=True)
        self._lock = open(os.path.join(self.root, ".lock"), "a")   # held for the object's life
        fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB if exclusive else fcntl.LOCK_SH)

    def close(self) -> None:
        """Let go of the root's lock."""
        self._lock.close()

    # -- paths
    def blob_path(self, d: Digest) -> str:
        return os.path.join(self.root, "blobs", d.algorithm, d.hex[:2], d.hex)

    def repo_path(self, name: str) -> str:
        return os.path.join(self.root, "repositories", *check_name(name).split("/"))

    def _layer_link(self, name: str, d: Digest) -> str:
        return os.path.join(self.repo_path(name), "_layers", d.algorithm, d.hex)

    def _revision_link(self, name: str, d: Digest) -> str:
        return os.path.join(self.repo_path(name), "_manifests", "revisions", d.algorithm, d.hex)

    def _tags_dir(self, name: str) -> str:
        return os.path.join(self.repo_path(name), "_manifests", "tags")

    def _referrers_dir(self, name: str, subject: Digest) -> str:
        return os.path.join(self.repo_path(name), "_referrers", subject.algorithm, subject.hex)

    def upload_dir(self, name: str, upload_id: str) -> str:
        return os.path.join(self.repo_path(name), "_uploads", check_upload_id(upload_id))

    # -- atomic writes
    def write_atomic(self, path: str, data: bytes) -> None:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=os.path.join(self.root, "tmp"))
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.rename(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    def _touch(self, path: str) -> None:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        if not os.path.exists(path):
            self.write_atomic(path, b"")

    def adopt_blob(self, src: str, d: Digest) -> None:
        """Move a verified, fsynced file into the blob store. Two pushes of the same content may
        race here: both renames put identical bytes under the name, so either winner is right."""
        dst = self.blob_path(d)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        os.rename(src, dst)

    # -- blobs
    def blob_exists(self, d: Digest) -> bool:
        return os.path.isfile(self.blob_path(d))

    def blob_size(self, d: Digest) -> int:
        return os.stat(self.blob_path(d)).st_size

    def repo_has_blob(self, name: str, d: Digest) -> bool:
        """A repository serves a blob it received (upload, mount) or a manifest pushed to it."""
        if not self.blob_exists(d):
            return False
        return os.path.exists(self._layer_link(name, d)) or os.path.exists(self._revision_link(name, d))

    def link_blob(self, name: str, d: Digest) -> None:
        self._touch(self._layer_link(name, d))

    def unlink_blob(self, name: str, d: Digest) -> bool:
        try:
            os.unlink(self._layer_link(name, d))
            return True
        except FileNotFoundError:
            return False

    def all_blobs(self) -> list[Digest]:
        out = []
        for algorithm in sorted(os.listdir(os.path.join(self.root, "blobs"))):
            base = os.path.join(self.root, "blobs", algorithm)
            for prefix in sorted(os.listdir(base)):
                for hex_ in sorted(os.listdir(os.path.join(base, prefix))):
                    with contextlib.suppress(RegistryError):
                        out.append(parse_digest(f"{algorithm}:{hex_}"))
        return out

    def delete_blob(self, d: Digest) -> int:
        """Remove the content (garbage collection only); → the bytes freed."""
        path = self.blob_path(d)
        try:
            size = os.stat(path).st_size
            os.unlink(path)
        except FileNotFoundError:
            return 0
        return size

    def put_blob_bytes(self, d: Digest, data: bytes) -> None:
        if not self.blob_exists(d):
            self.write_atomic(self.blob_path(d), data)

    # -- repositories
    def repo_exists(self, name: str) -> bool:
        return os.path.isdir(self.repo_path(name))

    def repositories(self) -> list[str]:
        base = os.path.join(self.root, "repositories")
        found = []
        for dirpath, dirnames, _files in os.walk(base):
            if "_manifests" in dirnames:
                found.append(os.path.relpath(dirpath, base).replace(os.sep, "/"))
            dirnames[:] = [n for n in dirnames if not n.startswith("_")]
        return sorted(found)

    # -- manifests
    def has_manifest(self, name: str, d: Digest) -> bool:
        return self.blob_exists(d) and os.path.exists(self._revision_link(name, d))

    def read_manifest(self, name: str, d: Digest) -> bytes | None:
        if not os.path.exists(self._revision_link(name, d)):
            return None
        try:
            with open(self.blob_path(d), "rb") as f:
                return f.read()
        except FileNotFoundError:
            return None

    def revisions(self, name: str) -> list[Digest]:
        """The manifests pushed to this repository (and not deleted)."""
        base = os.path.join(self.repo_path(name), "_manifests", "revisions")
        out = []
        for algorithm in sorted(os.listdir(base)) if os.path.isdir(base) else ():
            for hex_ in sorted(os.listdir(os.path.join(base, algorithm))):
                with contextlib.suppress(RegistryError):
                    out.append(parse_digest(f"{algorithm}:{hex_}"))
        return out

    def put_manifest(self, name: str, d: Digest, data: bytes) -> None:
        self.put_blob_bytes(d, data)
        self._touch(self._revision_link(name, d))

    def delete_manifest(self, name: str, d: Digest) -> bool:
        try:
            os.unlink(self._revision_link(name, d))
        except FileNotFoundError:
            return False
        for tag in self.tags(name):
            if self.tag_target(name, tag) == d:
                self.delete_tag(name, tag)
        return True

    # -- tags
    def tag(self, name: str, tag: str, d: Digest) -> None:
        self.write_atomic(os.path.join(self._tags_dir(name), check_tag(tag)), str(d).encode())

    def tag_target(self, name: str, tag: str) -> Digest | None:
        try:
            with open(os.path.join(self._tags_dir(name), check_tag(tag))) as f:
                return parse_digest(f.read().strip())
        except FileNotFoundError:
            return None

    def delete_tag(self, name: str, tag: str) -> bool:
        try:
            os.unlink(os.path.join(self._tags_dir(name), check_tag(tag)))
            return True
        except FileNotFoundError:
            return False

    def tags(self, name: str) -> list[str]:
        try:
            return sorted(os.listdir(self._tags_dir(name)))
        except FileNotFoundError:
            return []

    # -- referrers
    def add_referrer(self, name: str, subject: Digest, d: Digest) -> None:
        self._touch(os.path.join(self._referrers_dir(name, subject), str(d)))

    def referrers(self, name: str, subject: Digest) -> list[Digest]:
        try:
            entries = sorted(os.listdir(self._referrers_dir(name, subject)))
        except FileNotFoundError:
            return []
        return [d for d in map(parse_digest, entries) if self.has_manifest(name, d)]

    # -- uploads
    def new_upload(self, name: str) -> str:
        upload_id = str(uuid.uuid4())
        path = self.upload_dir(name, upload_id)
        os.makedirs(path)
        open(os.path.join(path, "data"), "wb").close()
        return upload_id

    def upload_data(self, name: str, upload_id: str) -> str:
        return os.path.join(self.upload_dir(name, upload_id), "data")

    def remove_upload(self, name: str, upload_id: str) -> None:
        shutil.rmtree(self.upload_dir(name, upload_id), ignore_errors=True)
