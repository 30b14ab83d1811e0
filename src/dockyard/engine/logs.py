"""Reading a container's json-file log as `docker logs` wants it.

Each line of the file is {"log": "...", "stream": "stdout"|"stderr", "time": RFC3339Nano}.
Without a TTY the output is Docker's multiplexed stream (8-byte header per
frame); with a TTY, raw bytes.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from dockyard.engine.logfiles import RotatingReader
from dockyard.engine.streams import encode_frame
from dockyard.engine.timeutil import rfc3339_to_epoch

__all__ = ["LogOptions", "log_stream"]

_STREAMS = {"stdout": 1, "stderr": 2}


@dataclass(frozen=True)
class LogOptions:
    stdout: bool = True
    stderr: bool = True
    follow: bool = False
    tail: int | None = None       # None: all
    since: float = 0.0
    until: float = 0.0
    timestamps: bool = False


def _entries(lines: list[bytes], opts: LogOptions) -> Iterator[tuple[int, str, bytes]]:
    for raw in lines:
        try:
            entry = json.loads(raw)
        except ValueError:
            continue  # a torn last line while the shim writes: the next read completes it
        stream = _STREAMS.get(entry.get("stream"), 1)
        if (stream == 1 and not opts.stdout) or (stream == 2 and not opts.stderr):
            continue
        ts = entry.get("time", "")
        if opts.since or opts.until:
            t = rfc3339_to_epoch(ts)
            if opts.since and t < opts.since:
                continue
            if opts.until and t > opts.until:
                continue
        yield stream, ts, entry.get("log", "").encode("utf-8", "surrogateescape")


def _render(entries: Iterator[tuple[int, str, bytes]], opts: LogOptions, tty: bool) -> bytes:
    out = []
    for stream, ts, data in entries:
        if opts.timestamps:
            data = ts.encode() + b" " + data
        out.append(data if tty else encode_frame(stream, data))
    return b"".join(out)


async def log_stream(path: Path, opts: LogOptions, *, tty: bool,
                     running: Callable[[], asyncio.Event | None]) -> AsyncIterator[bytes]:
    """`running()` gives the container's exit event while it runs, else None."""
    reader = RotatingReader(path)   # reads the rotated files too
    lines = reader.read_lines()
    if opts.tail is not None and opts.tail >= 0:
        selected = deque(_entries(lines, opts), maxlen=opts.tail) if opts.tail else deque()
        first = _render(iter(selected), opts, tty)
    else:
        first = _render(_entries(lines, opts), opts, tty)
    if first:
        yield first
    if not opts.follow:
        return
    while True:
        exited = running()
        if exited is not None:
            try:
                await asyncio.wait_for(exited.wait(), 0.1)
            except TimeoutError:
                pass
        chunk = _render(_entries(reader.read_lines(), opts), opts, tty)
        if chunk:
            yield chunk
        if exited is None or exited.is_set():
            await asyncio.sleep(0.05)   # the shim's last lines land before its exit report
            chunk = _render(_entries(reader.read_lines(), opts), opts, tty)
            if chunk:
                yield chunk
            return
