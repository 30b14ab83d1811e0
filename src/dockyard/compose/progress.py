"""compose v2's plain progress lines on stderr: ` Container accproj-web-1  Started`."""

from __future__ import annotations

import sys
import threading

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import TextIO

__all__ = ["Progress"]


class Progress:
    def __init__(self, err: TextIO | None = None) -> None:
        self.err = err or sys.stderr
        self._lock = threading.Lock()

    def event(self, kind: str, name: str, status: str) -> None:
        shown = f'"{name}"' if kind == "Volume" else name
        with self._lock:
            self.err.write(f" {kind} {shown}  {status}\n")
            self.err.flush()

    def warn(self, text: str) -> None:
        with self._lock:
            self.err.write(f"WARN[0000] {text}\n")
            self.err.flush()
