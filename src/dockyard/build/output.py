"""What a build tells its client: Docker's JSON message stream, one object per line.

    {"stream": "Step 1/3 : FROM busybox"} {"stream": "\\n"} {"stream": " ---> 1a2b3c4d5e6f\\n"} ...
    {"aux": {"ID": "sha256:..."}} {"stream": "Successfully built 1a2b3c4d5e6f\\n"}
    {"errorDetail": {"code": 5, "message": "..."}, "error": "..."}

With `quiet`, only the aux message, the image ID and errors are sent (`docker build -q`).
Messages are queued as the build makes them and read by the HTTP response as it flushes.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from dockyard.engine.images_model import short_id

__all__ = ["BuildOutput"]

_END = object()


class BuildOutput:
    def __init__(self, *, quiet: bool = False) -> None:
        self.quiet = quiet
        self._queue: asyncio.Queue[Any] = asyncio.Queue()

    def _put(self, obj: dict[str, Any]) -> None:
        self._queue.put_nowait(obj)

    def stream(self, text: str) -> None:
        if not self.quiet:
            self._put({"stream": text})

    def step(self, number: int, total: int, original: str) -> None:
        # Docker sends the step line and its newline as two messages.
        self.stream(f"Step {number}/{total} : {original}")
        self.stream("\n")

    def result(self, image_id: str) -> None:
        self.stream(f" ---> {short_id(image_id)}\n")

    def aux(self, obj: dict[str, Any]) -> None:
        self._put({"aux": obj})

    def always(self, text: str) -> None:
        """Sent even when quiet (the image ID a quiet build prints)."""
        self._put({"stream": text})

    def error(self, message: str, code: int = 0) -> None:
        detail: dict[str, Any] = {"message": message}
        if code:
            detail["code"] = code
        self._put({"errorDetail": detail, "error": message})

    def close(self) -> None:
        self._queue.put_nowait(_END)

    async def lines(self) -> AsyncIterator[bytes]:
        while True:
            obj = await self._queue.get()
            if obj is _END:
                return
            yield json.dumps(obj).encode() + b"\r\n"

