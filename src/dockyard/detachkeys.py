"""Detach keys (shared by the daemon and the CLI): Docker's key-sequence syntax and a filter for it.

``ctrl-p,ctrl-q`` (the default) → b"\\x10\\x11". Each comma-separated item is one
character, or ``ctrl-X`` for X in ``a``–``z``, ``@``, ``[``, ``\\``, ``]``, ``^``, ``_``
(moby/term's ``ToBytes``). The filter passes input through unchanged except for the
sequence itself: a partial match is held back until the next key decides it, and a
complete one ends the stream (the client detaches; the process keeps running).
"""

from __future__ import annotations

__all__ = ["DEFAULT_DETACH_KEYS", "EscapeFilter", "parse_detach_keys"]

DEFAULT_DETACH_KEYS = b"\x10\x11"  # ctrl-p ctrl-q

# "ctrl-@" is 0, "ctrl-a" 1 ... "ctrl-z" 26, then "ctrl-[" 27 ... "ctrl-_" 31
_CTRL = {name: code for code, name in enumerate("@abcdefghijklmnopqrstuvwxyz[\\]^_")}


def parse_detach_keys(spec: str) -> bytes:
    """Docker's detach-key syntax → bytes; ValueError on anything else ('' → the default)."""
    if not spec:
        return DEFAULT_DETACH_KEYS
    out = bytearray()
    for key in spec.split(","):
        if len(key) == 1 and ord(key) < 256:
            out.append(ord(key))
            continue
        name = key.lower()
        if not name.startswith("ctrl-") or name[5:] not in _CTRL:
            raise ValueError(f"Unknown character: '{key}'")
        out.append(_CTRL[name[5:]])
    return bytes(out)


class EscapeFilter:
    """Feed input chunks; get back what to forward, and whether the sequence was typed."""

    def __init__(self, keys: bytes) -> None:
        self.keys = keys
        self._held = 0          # how many leading bytes of `keys` are held back
        self.detached = False

    def feed(self, data: bytes) -> bytes:
        """The bytes to forward. Once the sequence is seen, returns what preceded it and
        sets ``detached``; anything after it is dropped."""
        if not self.keys or self.detached:
            return b"" if self.detached else data
        out = bytearray()
        for byte in data:
            if byte == self.keys[self._held]:
                self._held += 1
                if self._held == len(self.keys):
                    self.detached = True
                    self._held = 0
                    return bytes(out)
                continue
            if self._held:
                # mismatch: release what was held, then look at this byte afresh
                out += self.keys[:self._held]
                self._held = 0
                if byte == self.keys[0]:
                    self._held = 1
                    continue
            out.append(byte)
        return bytes(out)

    def flush(self) -> bytes:
        """At EOF: a partial match was just keys, not a detach."""
        held, self._held = self.keys[:self._held], 0
        return held
