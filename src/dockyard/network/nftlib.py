"""A minimal ctypes binding of libnftables: run an nft script in-process, no `nft` spawn.

Facts about libnftables 1.0.x that shape this module:
- nft_ctx_new() opens the netfilter netlink socket right away, so a context is
  bound for life to the network namespace of the thread that created it.
- If that socket cannot be opened, the library prints an error and calls
  exit(): we open a NETLINK_NETFILTER socket ourselves first and raise instead.
- The interface cache (iface_cache_release() at the end of every run) is a
  process-global list, so two contexts must never run at the same time: one
  lock for the whole process, not one per context.
"""

from __future__ import annotations

import ctypes
import socket
import threading

from dockyard.errors import SystemError_

__all__ = ["NftError", "Nft"]

_NETLINK_NETFILTER = 12
_LOCK = threading.Lock()  # libnftables keeps global state: serialize every call in the process
_lib: ctypes.CDLL | None = None


class NftError(SystemError_):
    """nft refused a script; the message is nft's own error text."""


def _load() -> ctypes.CDLL:
    global _lib
    if _lib is None:
        try:
            lib = ctypes.CDLL("libnftables.so.1")
        except OSError as e:
            raise NftError(f"cannot load libnftables.so.1 (is the nftables package installed?): {e}") from e
        lib.nft_ctx_new.restype = ctypes.c_void_p
        lib.nft_ctx_new.argtypes = [ctypes.c_uint32]
        lib.nft_ctx_free.restype = None
        lib.nft_ctx_free.argtypes = [ctypes.c_void_p]
        for name in ("nft_ctx_buffer_output", "nft_ctx_buffer_error"):
            getattr(lib, name).restype = ctypes.c_int
            getattr(lib, name).argtypes = [ctypes.c_void_p]
        lib.nft_run_cmd_from_buffer.restype = ctypes.c_int
        lib.nft_run_cmd_from_buffer.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
        for name in ("nft_ctx_get_output_buffer", "nft_ctx_get_error_buffer"):
            getattr(lib, name).restype = ctypes.c_char_p
            getattr(lib, name).argtypes = [ctypes.c_void_p]
        _lib = lib
    return _lib


def _probe_netlink() -> None:
    try:
        socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, _NETLINK_NETFILTER).close()
    except OSError as e:
        raise NftError(f"nftables is not available in this kernel (netfilter netlink: {e.strerror})") from e


class Nft:
    """One libnftables context, in the calling thread's network namespace."""

    def __init__(self) -> None:
        lib = _load()
        _probe_netlink()
        with _LOCK:
            ctx = lib.nft_ctx_new(0)  # NFT_CTX_DEFAULT: opens the netlink socket now
            if not ctx:
                raise NftError("nft_ctx_new failed")
            if lib.nft_ctx_buffer_output(ctx) != 0 or lib.nft_ctx_buffer_error(ctx) != 0:
                lib.nft_ctx_free(ctx)
                raise NftError("cannot buffer libnftables output")
        self._lib = lib
        self._ctx: int | None = ctx

    def run(self, script: str) -> str:
        """Run `script` as one transaction; return what nft printed. Raises NftError with nft's text."""
        if "\0" in script:
            raise NftError("nft script contains a NUL byte")
        with _LOCK:
            if self._ctx is None:
                raise NftError("nft context is closed")
            rc = self._lib.nft_run_cmd_from_buffer(self._ctx, script.encode())
            # Both buffers are read every time: reading one rewinds it for the next run.
            out = (self._lib.nft_ctx_get_output_buffer(self._ctx) or b"").decode(errors="replace")
            err = (self._lib.nft_ctx_get_error_buffer(self._ctx) or b"").decode(errors="replace")
        if rc != 0:
            raise NftError(err.strip() or f"nft failed (status {rc})")
        return out

    def close(self) -> None:
        with _LOCK:
            if self._ctx is not None:
                self._lib.nft_ctx_free(self._ctx)  # closes the netlink socket: the netns is released
                self._ctx = None

    def __del__(self) -> None:
        if getattr(self, "_ctx", None) is not None:
            try:
                self.close()
            except Exception:  # noqa: BLE001 - interpreter shutdown may have torn the module down
                pass
