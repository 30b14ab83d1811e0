"""Docker's json-file log format: one JSON object per output line.

``{"log":"hello\\n","stream":"stdout","time":"2026-11-22T17:13:00.123456789Z"}``

Output is split at "\\n" (kept in the entry); a partial line that reaches
16 KiB is flushed as its own entry without "\\n", as Docker's copier does; the
final partial line is flushed at exit.  Each entry is one ``write`` on an
O_APPEND fd, so a reader tailing the file (``logs -f``) never sees half an entry.

Rotation (``--log-opt max-size=… max-file=N``), as Docker's loggerutils.LogFile:
before an entry is written to a file already at max-size, ``.N-1`` is dropped,
``.k`` → ``.k+1``, the file → ``.1`` (or, with N = 1, unlinked) and a new one
is opened; readers holding the old file finish it (engine/logfiles.py).
"""

from __future__ import annotations

import contextlib
import json
import os
import time

from dockyard.shim.protocol import rfc3339nano

__all__ = ["MAX_PARTIAL", "LineSplitter", "encode_entry", "JsonFileLog"]

MAX_PARTIAL = 16 * 1024


class LineSplitter:
    """Feed raw bytes of one stream; get back complete entries (bytes)."""

    def __init__(self, max_partial: int = MAX_PARTIAL) -> None:
        self._buf = bytearray()
        self._max = max_partial

    def feed(self, data: bytes) -> list[bytes]:
        self._buf += data
        out: list[bytes] = []
        start = 0
        buf = self._buf
        while True:
            nl = buf.find(b"\n", start, start + self._max)
            if nl >= 0:
                out.append(bytes(buf[start:nl + 1]))
                start = nl + 1
            elif len(buf) - start >= self._max:
                out.append(bytes(buf[start:start + self._max]))
                start += self._max
            else:
                break
        del buf[:start]
        return out

    def flush(self) -> list[bytes]:
        if not self._buf:
            return []
        rest = bytes(self._buf)
        self._buf.clear()
        return [rest]


def encode_entry(data: bytes, stream: str, ns: int | None = None) -> bytes:
    text = data.decode("utf-8", errors="replace")
    return (json.dumps({"log": text, "stream": stream, "time": rfc3339nano(ns)}, ensure_ascii=False,
                       separators=(",", ":"))
            .encode() + b"\n")


class JsonFileLog:
    """Appends entries for the "stdout"/"stderr" streams to one file."""

    def __init__(self, path: str, *, max_size: int = -1, max_files: int = 1) -> None:
        self._path, self._max_size, self._max_files = path, max_size, max(1, max_files)
        self._fd = self._open()
        self._size = os.fstat(self._fd).st_size
        self._split = {"stdout": LineSplitter(), "stderr": LineSplitter()}

    def _open(self) -> int:
        return os.open(self._path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o640)

    def _rotate(self) -> None:
        os.close(self._fd)
        path, n = self._path, self._max_files
        try:
            if n >= 2:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(f"{path}.{n - 1}")
                for i in range(n - 1, 1, -1):
                    with contextlib.suppress(FileNotFoundError):
                        os.rename(f"{path}.{i - 1}", f"{path}.{i}")
                os.rename(path, f"{path}.1")
            else:
                os.unlink(path)
        except OSError:
            pass  # as Docker: write on, into a truncated file
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o640)
        self._size = 0

    def write(self, stream: str, data: bytes) -> None:
        ns = time.time_ns()
        for entry in self._split[stream].feed(data):
            self._write(encode_entry(entry, stream, ns))

    def flush(self) -> None:
        for stream, splitter in self._split.items():
            for entry in splitter.flush():
                self._write(encode_entry(entry, stream))

    def _write(self, line: bytes) -> None:
        if 0 < self._max_size <= self._size:
            self._rotate()
        self._size += len(line)
        view = memoryview(line)
        while view:
            view = view[os.write(self._fd, view):]

    def close(self) -> None:
        if self._fd >= 0:
            self.flush()
            os.close(self._fd)
            self._fd = -1
