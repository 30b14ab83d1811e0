"""Docker's stream multiplexing for the engine's readers (logs, exec errors).

The framing itself lives in shim/protocol.py, where the shim writes it; the engine
re-uses that one definition:
header = [stream (0 stdin, 1 stdout, 2 stderr), 0, 0, 0, payload length as big-endian uint32]
"""

from __future__ import annotations

from dockyard.shim.protocol import STDERR, STDIN, STDOUT
from dockyard.shim.protocol import frame as encode_frame

__all__ = ["encode_frame", "STDIN", "STDOUT", "STDERR"]
