"""Unpacked build contexts, kept for the next build that sends the very same tar.

A rebuild from the docker CLI sends byte-identical context tars when no file changed
(same names, contents, modes and mtimes). Unpacking the context and hashing what COPY
reads are then most of what a cached rebuild costs, so the last few unpacked contexts
are kept, keyed by the tar's sha256 and the Dockerfile's name, together with the
COPY/ADD checksums computed from them. Builds only read a context, so sharing one is
safe; an entry in use is never evicted.
"""

from __future__ import annotations

import contextlib
import hashlib
import shutil
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["ContextCache", "CachedContext"]

_CHUNK = 1 << 20


@dataclass
class CachedContext:
    key: str
    dir: Path                      # the unpacked context (Dockerfile and ignored files handled)
    dockerfile: bytes
    checksums: dict[tuple[Any, ...], str] = field(default_factory=dict)
    users: int = 0


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
            self._evict()

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
