"""Docker's json-file log format: one JSON object per output line.

``{"log":"hello\\n","stream":"stdout","time":"2026-11-22T17:13:00.123456789Z"}``

Output is split at "\\n" (kept in the entry); a partial line that reaches
16 KiB is flushed as its own entry without "\\n", as Docker's copier does; the
final partial line is flushed at exit.  Each entry is one ``write`` on an
O_APPEND fd, so a reader tailing the file (``logs -f``) never sees half an entry.
"""

from __future__ import annotations

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

    def __init__(self, path: str) -> None:
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o640)
        self._split = {"stdout": LineSplitter(), "stderr": LineSplitter()}

    def write(self, stream: str, data: bytes) -> None:
        ns = time.time_ns()
        for entry in self._split[stream].feed(data):
            self._write(encode_entry(entry, stream, ns))

    def flush(self) -> None:
        for stream, splitter in self._split.items():
            for entry in splitter.flush():
                self._write(encode_entry(entry, stream))

    def _write(self, line: bytes) -> None:
        view = memoryview(line)
        while view:
            view = view[os.write(self._fd, view):]

    def close(self) -> None:
        if self._fd >= 0:
            self.flush()
            os.close(self._fd)
            self._fd = -1
