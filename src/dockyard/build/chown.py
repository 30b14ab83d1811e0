"""`COPY/ADD --chown`: a user and group, by name or number, looked up in the image's own /etc files."""

from __future__ import annotations

import re
from pathlib import Path

from dockyard.errors import InvalidArgument
from dockyard.securejoin import resolve_in_root

__all__ = ["resolve_chown"]

_CHOWN_PREFIX = "unable to convert uid/gid chown string to host mapping: "


def resolve_chown(rootfs: Path, spec: str) -> tuple[int, int]:
    """uid/gid of a --chown value (`user`, `user:group`, names or numbers) from rootfs's /etc files."""
    parts = spec.split(":")
    if len(parts) > 2:
        raise InvalidArgument(f"{_CHOWN_PREFIX}invalid chown string format: {spec}")
    user = parts[0]
    group = parts[1] if len(parts) == 2 else parts[0]
    uid = _lookup_id(rootfs, user, "/etc/passwd", "uid", "user")
    gid = _lookup_id(rootfs, group, "/etc/group", "gid", "group")
    return uid, gid


def _lookup_id(rootfs: Path, name: str, file: str, what: str, kind: str) -> int:
    if re.fullmatch(r"\+?[0-9]+", name):
        return int(name)  # a number needs no lookup
    fail = f"{_CHOWN_PREFIX}can't find {what} for {kind} {name}: "
    try:
        with open(resolve_in_root(rootfs, file), "rb") as f:
            data = f.read()
    except OSError as e:
        raise InvalidArgument(f"{fail}open {file}: {(e.strerror or str(e))[:1].lower() + (e.strerror or str(e))[1:]}") from None
    for raw in data.decode("utf-8", "surrogateescape").splitlines():
        fields = raw.strip().split(":")
        if fields[0] == name and fields[0]:
            # moby/sys/user ignores a malformed number: it reads as 0
            return int(fields[2]) if len(fields) > 2 and re.fullmatch(r"[+-]?[0-9]+", fields[2]) else 0
    raise InvalidArgument(f"{fail}no such {kind}: {name}")
