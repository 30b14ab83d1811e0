"""What the engine asks a shim for, and how the request travels daemon → zygote → shim → worker.

On the wire it is the fields' values in order, in ``marshal``'s format: the
three processes are forks of one interpreter, and the shim decodes it after its
fork from the zygote, where every page touched is a private copy for the
container's life.  Decoding JSON (a dict of strings) touched ~0.3 MiB there,
``marshal`` (one tuple) about a third of that.
"""

from __future__ import annotations

import marshal
from dataclasses import astuple, dataclass

__all__ = ["ShimRequest", "encode_request", "decode_request"]


@dataclass(frozen=True)
class ShimRequest:
    container_id: str
    bundle: str            # dir with config.json and rootfs/
    shim_dir: str          # short dir for shim.sock, exit.json, shim.pid, runtime state
    log_path: str          # json-file log path ('' if log_driver == 'none')
    log_driver: str        # 'json-file' | 'none'
    runtime: str           # 'dockyard' (built-in, in-process) or a runc-compatible binary
    tty: bool
    open_stdin: bool
    stdin_once: bool
    console_width: int = 0
    console_height: int = 0
    log_max_size: int = -1     # json-file rotation (--log-opt max-size, bytes); -1: never
    log_max_files: int = 1     # --log-opt max-file: the current file and rotated ones


def encode_request(req: ShimRequest) -> bytes:
    return marshal.dumps(astuple(req))


def decode_request(data: bytes) -> ShimRequest:
    """ValueError if `data` is not an encoded request."""
    try:
        values = marshal.loads(data)
    except (EOFError, TypeError, ValueError) as e:
        raise ValueError(f"bad shim request: {e}") from None
    if not isinstance(values, tuple):
        raise ValueError("bad shim request: not a tuple")
    try:
        return ShimRequest(*values)
    except TypeError as e:
        raise ValueError(f"bad shim request: {e}") from None
