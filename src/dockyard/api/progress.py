"""Run a long engine call in a worker thread and relay its progress messages as a stream.

The engine call gets a `progress(message)` callback that it calls from its own thread;
the messages (pull-style JSON objects) reach the client in order, then a last one made
from the call's result, or an `errorDetail` message: once a 200 stream has begun, an
error can only travel inside it, as Docker's pull and build streams do.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

from dockyard.errors import DockyardError

__all__ = ["relay_progress", "error_message"]

T = TypeVar("T")
Progress = Callable[[dict[str, Any]], None]


def error_message(message: str) -> dict[str, Any]:
    return {"errorDetail": {"message": message}, "error": message}


async def relay_progress(work: Callable[[Progress], T], *, first: dict[str, Any] | None,
                         last: Callable[[T], dict[str, Any]] | None) -> AsyncIterator[dict[str, Any]]:
    """`first` (if any), the progress messages, then `last(result)` (if any) or the error."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()

    def progress(message: dict[str, Any] | None) -> None:   # called in the worker thread
        loop.call_soon_threadsafe(queue.put_nowait, message)

    def run() -> T:
        try:
            return work(progress)
        finally:
            progress(None)

    if first is not None:
        yield first
    job = loop.run_in_executor(None, run)
    while (message := await queue.get()) is not None:
        yield message
    try:
        result = await job
    except DockyardError as e:
        yield error_message(e.message)
        return
    except Exception as e:
        yield error_message(f"{(first or {}).get('status') or 'the operation'} failed: {e}")
        return
    if last is not None:
        yield last(result)
