"""Reading a json-file log that the shim rotates: ``<id>-json.log``, ``.1`` (newer) … ``.N`` (oldest).

The shim rotates by renaming (``.k`` → ``.k+1``, the current file → ``.1``) and
opening a new current file.  ``RotatingReader.read_lines`` returns whole lines
in write order: the first call reads the rotated files oldest first then the
current one; later calls (``logs -f``) read what was appended since, and when
the file was rotated under them they finish the file they had open (its fd
survives the rename) and read any files rotated meanwhile before the new one.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

__all__ = ["RotatingReader", "rotated_paths"]

_MAX_ROTATED = 1000   # a bound on the scan; Docker's max-file is small in practice


def rotated_paths(path: Path) -> list[Path]:
    """The rotated files that exist, oldest first (``.N`` … ``.1``)."""
    found = []
    for k in range(1, _MAX_ROTATED):
        p = Path(f"{path}.{k}")
        if not p.exists():
            break
        found.append(p)
    return list(reversed(found))


def _read_all(path: Path) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        return b""


class RotatingReader:
    """Whole lines appended to a rotating log since the last call."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._f = None
        self._ino = -1
        self.partial = b""

    def close(self) -> None:
        if self._f is not None:
            self._f.close()
            self._f = None

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.close()

    def _open_current(self) -> bytes:
        """Open the current file; b'' if there is none (yet)."""
        try:
            f = open(self.path, "rb")  # noqa: SIM115 - kept open across calls on purpose
        except FileNotFoundError:
            return b""
        self._f, self._ino = f, os.fstat(f.fileno()).st_ino
        return f.read()

    def _current_ino(self) -> int:
        try:
            return os.stat(self.path).st_ino
        except FileNotFoundError:
            return -1

    def read_lines(self) -> list[bytes]:
        if self._f is None:
            first = self._ino == -1
            data = b"".join(_read_all(p) for p in rotated_paths(self.path)) if first else b""
            data += self._open_current()
            if first and self._f is None:
                self._ino = -2  # read once: from now on only the current file
        else:
            data = self._f.read()
            if self._current_ino() != self._ino:
                data += self._f.read()  # the writer may have appended before renaming
                data += self._newer_rotations()
                self.close()
                data += self._open_current()
        return self._lines(data)

    def _newer_rotations(self) -> bytes:
        """Files rotated after the one we had open (it may be ``.k`` now, or gone)."""
        rotated = rotated_paths(self.path)   # oldest first
        for i, p in enumerate(rotated):
            with contextlib.suppress(OSError):
                if os.stat(p).st_ino == self._ino:
                    return b"".join(_read_all(q) for q in rotated[i + 1:])
        return b"".join(_read_all(q) for q in rotated)  # ours was deleted: every rotated one is newer

    def _lines(self, data: bytes) -> list[bytes]:
        data = self.partial + data
        lines = data.split(b"\n")
        self.partial = lines.pop()
        return [ln for ln in lines if ln]
