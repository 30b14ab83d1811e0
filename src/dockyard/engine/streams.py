"""Docker's stream multiplexing: an 8-byte header per frame when there is no TTY.

header = [stream (0 stdin, 1 stdout, 2 stderr), 0, 0, 0, payload length as big-endian uint32]
"""

from __future__ import annotations

import struct

__all__ = ["encode_frame", "STDIN", "STDOUT", "STDERR"]

STDIN, STDOUT, STDERR = 0, 1, 2
_HEADER = struct.Struct(">BxxxI")


def encode_frame(stream: int, payload: bytes) -> bytes:
    return _HEADER.pack(stream, len(payload)) + payload
