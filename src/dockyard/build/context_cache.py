"""Unpacked build contexts, kept for the next build that sends the very same tar.

A rebuild from the docker CLI sends byte-identical context tars when no file changed
(same names, contents, modes and mtimes). Unpacking the context and hashing what COPY
reads are then most of what a cached rebuild costs, so the last few unpacked contexts
are kept, keyed by the tar's sha256 and the Dockerfile's name, together with the
COPY/ADD checksums computed from them. Builds only read a context, so sharing one is
safe; an entry in use is never evicted.

The kept contexts are the builder's cache that is not an image: `records()` shows them as
BuildKit's "source.local" cache records (`docker system df`), `prune()` removes the idle
ones a plan picks (`docker builder prune`); a pruned context is simply unpacked again by
the next build that sends it. When each entry was made and used lives here in memory
only, which matches the disk: the daemon empties the cache directory when it starts
(Builder.recover), so no entry outlives the process that knows its history.
"""

from __future__ import annotations

import contextlib
import hashlib
import shutil
import tempfile
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dockyard.build.cache_records import SOURCE_LOCAL, CacheRecord, record_id
from dockyard.fsusage import disk_usage

__all__ = ["ContextCache", "CachedContext", "DESCRIPTION"]

_CHUNK = 1 << 20
DESCRIPTION = "local source for context"     # BuildKit's words for the context it received


@dataclass
class CachedContext:
    key: str
    dir: Path                      # the unpacked context (Dockerfile and ignored files handled)
    dockerfile: bytes
    checksums: dict[tuple[Any, ...], str] = field(default_factory=dict)
    users: int = 0
    created_ns: int = field(default_factory=time.time_ns)
    last_used_ns: int | None = None    # when a build last finished with it (BuildKit's LastUsedAt)
    usage_count: int = 0
    _size: int | None = None           # bytes on disk; builds never write a context, so it stays

    @property
    def id(self) -> str:
        return record_id(self.key)

    @property
    def root(self) -> Path:
        """The entry's own directory: removing it frees everything the entry takes."""
        return self.dir.parent

    def size(self) -> int:
        if self._size is None:
            self._size = disk_usage(self.root)
        return self._size


class ContextCache:
    def __init__(self, root: Path, keep: int = 3) -> None:
        self.root = root
        self.keep = keep
        self._entries: OrderedDict[str, CachedContext] = OrderedDict()
        self._lock = threading.Lock()

    def acquire(self, body: Any, dockerfile_name: str,
                unpack: Callable[[Any, Path, str], bytes]) -> CachedContext:
        """The context of this request body: spooled and hashed, then unpacked by `unpack(stream,
        dest, dockerfile_name) -> Dockerfile bytes` unless the same tar was unpacked before.
        Give it back with `release()`."""
        self.root.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        with tempfile.TemporaryFile(dir=self.root) as spool:
            while chunk := body.read(_CHUNK):
                digest.update(chunk)
                spool.write(chunk)
            key = hashlib.sha256(f"{digest.hexdigest()}\0{dockerfile_name}".encode()).hexdigest()
            with self._lock:
                entry = self._entries.get(key)
                if entry is not None and entry.users <= 0 and not entry.dir.is_dir():
                    del self._entries[key]   # removed behind our back: unpack it again
                    entry = None
                if entry is not None:
                    entry.users += 1
                    self._entries.move_to_end(key)
                    return entry
            spool.seek(0)
            dest = Path(tempfile.mkdtemp(prefix="ctx-", dir=self.root))
            try:
                dockerfile = unpack(spool, dest / "c", dockerfile_name)
            except BaseException:
                shutil.rmtree(dest, ignore_errors=True)
                raise
        entry = CachedContext(key, dest / "c", dockerfile, users=1)
        with self._lock:
            if key in self._entries:     # unpacked twice at once: keep the first
                shutil.rmtree(dest, ignore_errors=True)
                entry = self._entries[key]
                entry.users += 1
                return entry
            self._entries[key] = entry
            self._evict()
        return entry

    def release(self, entry: CachedContext) -> None:
        with self._lock:
            entry.users -= 1
            entry.usage_count += 1
            entry.last_used_ns = time.time_ns()
            self._evict()

    def records(self) -> list[CacheRecord]:
        """Every kept context that is on disk, as a build-cache record."""
        with self._lock:
            entries = [(e, e.users > 0, e.last_used_ns, e.usage_count) for e in self._entries.values()]
        out = []
        for entry, in_use, last_used, count in entries:
            size = entry.size()      # outside the lock: walking a big context takes a while
            if not entry.root.is_dir():
                continue
            out.append(CacheRecord(entry.id, SOURCE_LOCAL, DESCRIPTION, size, entry.created_ns, last_used,
                                   count, in_use=in_use))
        return out

    def prune(self, plan: Callable[[list[CacheRecord]], list[CacheRecord]]) -> list[tuple[str, int]]:
        """Remove the entries `plan` picks from the current records, unless a build took one
        up meanwhile; (id, bytes freed) of each removed entry."""
        chosen = [r.id for r in plan(self.records())]
        gone: list[CachedContext] = []
        with self._lock:
            by_id = {e.id: (k, e) for k, e in self._entries.items()}
            for rid in chosen:
                key, entry = by_id.get(rid, ("", None))
                if entry is not None and entry.users <= 0 and key in self._entries:
                    del self._entries[key]   # a build asking for it from now on unpacks it anew
                    gone.append(entry)
        removed = []
        for entry in gone:
            before = entry.size()
            shutil.rmtree(entry.root, ignore_errors=True)
            removed.append((entry.id, before - disk_usage(entry.root)))
        return removed

    def _evict(self) -> None:
        idle = [k for k, e in self._entries.items() if e.users <= 0]
        while len(self._entries) > self.keep and idle:
            gone = self._entries.pop(idle.pop(0))
            shutil.rmtree(gone.dir.parent, ignore_errors=True)

    def clear(self) -> None:
        with self._lock:
            for entry in self._entries.values():
                shutil.rmtree(entry.dir.parent, ignore_errors=True)
            self._entries.clear()
        with contextlib.suppress(FileNotFoundError):
            shutil.rmtree(self.root)
