"""Blob upload sessions: bytes stream from the request to the upload's file while a hash follows
them, so nothing is held in memory and the digest is known when the last byte lands.

The hash state lives in memory per upload; after a restart an upload's file is hashed again
when it completes. One request at a time may write an upload (a lock per upload id).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import Awaitable, Callable

from dockyard.distribution.registry.errors import RegistryError
from dockyard.distribution.registry.names import Digest
from dockyard.distribution.registry.storage import Storage

__all__ = ["Uploads", "BodyReader"]

BodyReader = Callable[[], Awaitable[bytes]]   # the next body chunk, b"" at the end


class _State:
    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.hashes: dict[str, hashlib._Hash] = {"sha256": hashlib.sha256()}
        self.offset = 0     # bytes the hashes have seen


class Uploads:
    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self._states: dict[str, _State] = {}

    def start(self, name: str) -> str:
        upload_id = self.storage.new_upload(name)
        self._states[upload_id] = _State()
        return upload_id

    def size(self, name: str, upload_id: str) -> int:
        try:
            return os.stat(self.storage.upload_data(name, upload_id)).st_size
        except FileNotFoundError:
            raise RegistryError("BLOB_UPLOAD_UNKNOWN", detail={"uuid": upload_id}) from None

    def _state(self, upload_id: str) -> _State:
        state = self._states.get(upload_id)
        if state is None:    # an upload from before a restart
            state = self._states[upload_id] = _State()
            state.offset = -1   # unknown: rehash at completion
        return state

    async def append(self, name: str, upload_id: str, read: BodyReader, start: int | None = None,
                     length: int | None = None) -> int:
        """Stream a request body onto the upload; `start` (from Content-Range) must be its size."""
        size = self.size(name, upload_id)
        state = self._state(upload_id)
        async with state.lock:
            size = self.size(name, upload_id)
            if start is not None and start != size:
                raise RegistryError("RANGE_INVALID", detail={"expected_start": size, "start": start})
            written = 0
            with open(self.storage.upload_data(name, upload_id), "ab") as f:
                while chunk := await read():
                    f.write(chunk)
                    written += len(chunk)
                    if state.offset >= 0:
                        for h in state.hashes.values():
                            h.update(chunk)
            if state.offset >= 0:
                state.offset += written
            if length is not None and written != length:
                raise RegistryError("SIZE_INVALID", detail={"expected": length, "received": written})
            return size + written

    async def complete(self, name: str, upload_id: str, expected: Digest, read: BodyReader) -> int:
        """Take the last bytes, check the digest, move the file into the blob store, link it to
        the repository. A mismatch cancels the upload: nothing of it remains."""
        await self.append(name, upload_id, read)
        state = self._state(upload_id)
        data = self.storage.upload_data(name, upload_id)
        async with state.lock:
            actual = await asyncio.to_thread(_finish, data, expected.algorithm, state)
            if actual != expected.hex:
                self.cancel(name, upload_id)
                raise RegistryError("DIGEST_INVALID", detail={"expected": str(expected),
                                                              "actual": f"{expected.algorithm}:{actual}"})
            size = os.stat(data).st_size
            self.storage.adopt_blob(data, expected)
            self.storage.link_blob(name, expected)
            self._drop(name, upload_id)
            return size

    def cancel(self, name: str, upload_id: str) -> None:
        self.size(name, upload_id)   # BLOB_UPLOAD_UNKNOWN if absent
        self._drop(name, upload_id)

    def _drop(self, name: str, upload_id: str) -> None:
        self.storage.remove_upload(name, upload_id)
        self._states.pop(upload_id, None)


def _finish(path: str, algorithm: str, state: _State) -> str:
    """fsync the data (before it gets its final name) and return its hex digest."""
    with open(path, "rb") as f:
        os.fsync(f.fileno())
        h = state.hashes.get(algorithm) if state.offset == os.fstat(f.fileno()).st_size else None
        if h is None:
            h = hashlib.new(algorithm)
            while block := f.read(1 << 20):
                h.update(block)
        return h.hexdigest()
