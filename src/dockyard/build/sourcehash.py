"""The cache key of COPY/ADD sources, computed as Docker's classic builder computes it.

Each file's key is its tarsum v1 (name, mode, uid, gid, size, type, link target, device
numbers, `security.capability`, then the content; never the mtime). A source file gives
`file:<tarsum>`; a directory `dir:<sha256 of the sorted keys of everything in it,
itself included, joined by ",">`; several sources `multi:<sha256 of their keys joined by
",">`. These are the strings `docker history` shows (`COPY file:0b84… in /x/`).

Two flavours, as in moby (remotecontext.archiveContext and lazySource):

* the build context (`archive=True`): keys are those of the tar the docker CLI sent, so a
  second name of a hardlinked file is keyed as a link to the first name in walk order,
  and a path whose target has no entry (a dangling symlink) is keyed by its own name;
* another stage or image (`archive=False`): every file is keyed from disk as it is, and a
  missing target is keyed by its resolved path.

Either way a symlink is keyed by what it points to, which is what COPY copies.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterator

from dockyard.build import gopath
from dockyard.build.fswalk import walk
from dockyard.build.tarentry import header_for, tarsum_v1
from dockyard.securejoin import resolve_in_root

__all__ = ["SourceHasher", "Forbidden", "hash_string_slice"]

_CHUNK = 1 << 20


class Forbidden(Exception):
    """A path that leaves the source root (moby: "forbidden path outside the build context")."""


def hash_string_slice(prefix: str, items: list[str]) -> str:
    return prefix + ":" + hashlib.sha256(",".join(items).encode("utf-8", "surrogateescape")).hexdigest()


def full_path(root: str, path: str) -> str:
    """moby's FullPath: `path` inside `root` with symlinks followed within it; Forbidden if it leaves."""
    cleaned = gopath.clean(path)
    if cleaned == ".." or cleaned.startswith("../"):
        raise Forbidden(path)
    try:
        return resolve_in_root(root, gopath.clean("/" + path))
    except OSError:
        raise Forbidden(path) from None


class SourceHasher:
    """Keys of paths under `root`; see the module docstring for `archive`."""

    def __init__(self, root: str, *, archive: bool) -> None:
        self.root = os.path.abspath(root)
        self.archive = archive
        self._first_names: dict[tuple[int, int], str] | None = None
        self._cache: dict[str, str] = {}

    def hash(self, path: str) -> str:
        """moby Source.Hash(path) (without the `file:` prefix). Raises Forbidden, OSError, ValueError."""
        full = full_path(self.root, path)
        rel = os.path.relpath(full, self.root).replace(os.sep, "/")
        if self.archive:
            if rel == "." or not os.path.lexists(full):
                return path  # no tar entry for it: Docker falls back to the name
        elif not os.path.lexists(full):
            return rel
        if rel not in self._cache:
            self._cache[rel] = self._entry_sum(rel, full)
        return self._cache[rel]

    def _entry_sum(self, rel: str, full: str) -> str:
        st = os.lstat(full)
        link = os.readlink(full) if stat.S_ISLNK(st.st_mode) else ""
        info = header_for(rel, st, linkname=link, path=full)
        if self.archive and stat.S_ISREG(st.st_mode) and st.st_nlink > 1:
            first = self._first_name(st)
            if first is not None and first != rel:
                # the CLI sent this name as a hardlink to the first one it met
                info.type, info.linkname, info.size = b"1", first, 0
                return tarsum_v1(info)
        if stat.S_ISREG(st.st_mode):
            return tarsum_v1(info, _read_chunks(full))
        return tarsum_v1(info)

    def _first_name(self, st: os.stat_result) -> str | None:
        if self._first_names is None:
            self._first_names = {}
            for rel, _, est in walk(self.root):
                if not stat.S_ISDIR(est.st_mode) and est.st_nlink > 1:
                    self._first_names.setdefault((est.st_dev, est.st_ino), rel)
        return self._first_names.get((st.st_dev, st.st_ino))

    def file_key(self, path: str) -> str:
        return "file:" + self.hash(path)

    def dir_key(self, path: str) -> str:
        """`dir:` key of the directory `path` (moby walkSource): everything below it, itself included."""
        top = full_path(self.root, path)
        keys: list[str] = []
        for rel in self._walk_rel(top):
            try:
                keys.append(self.hash(rel))
            except (Forbidden, OSError, ValueError):
                continue  # Docker skips what it cannot hash
        keys.sort()
        return hash_string_slice("dir", keys)

    def _walk_rel(self, top: str) -> Iterator[str]:
        rel_top = os.path.relpath(top, self.root).replace(os.sep, "/")
        if rel_top != ".":
            yield rel_top
        prefix = "" if rel_top == "." else rel_top + "/"
        for rel, _, _ in walk(top, prefix=prefix):
            yield rel


def _read_chunks(path: str) -> Iterator[bytes]:
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    with os.fdopen(fd, "rb") as f:
        while chunk := f.read(_CHUNK):
            yield chunk
