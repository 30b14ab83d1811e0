"""The docker CLI's credentials file, `~/.docker/config.json` (or `$DOCKER_CONFIG/config.json`):
`{"auths": {"<server>": {"auth": base64("user:password")}}}`, the key `https://index.docker.io/v1/`
for Docker Hub and the bare host (`127.0.0.1:5000`) otherwise. Other keys are kept as found."""

from __future__ import annotations

import base64
import binascii
import json
import os
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["config_path", "server_key", "read_auth", "store_auth", "remove_auth", "auth_header"]

INDEX_SERVER = "https://index.docker.io/v1/"


def config_path() -> Path:
    base = os.environ.get("DOCKER_CONFIG") or os.path.join(os.path.expanduser("~"), ".docker")
    return Path(base) / "config.json"


def server_key(host: str) -> str:
    """The `auths` key for a registry host (a reference's domain or what `login` was given)."""
    host = host.strip()
    for prefix in ("https://", "http://"):
        host = host.removeprefix(prefix)
    host = host.rstrip("/")
    if host in ("", "docker.io", "index.docker.io", "registry-1.docker.io", "index.docker.io/v1"):
        return INDEX_SERVER
    return host


def _load() -> dict[str, Any]:
    try:
        doc = json.loads(config_path().read_text())
    except FileNotFoundError:
        return {}
    except ValueError as e:
        raise ValueError(f"loading config file {config_path()}: {e}") from None
    return doc if isinstance(doc, dict) else {}


def _save(doc: dict[str, Any]) -> None:
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, temp = tempfile.mkstemp(prefix="config.json", dir=path.parent)
    with os.fdopen(fd, "w") as f:
        json.dump(doc, f, indent="\t")
    os.chmod(temp, 0o600)
    os.replace(temp, path)


def read_auth(host: str) -> tuple[str, str] | None:
    entry = (_load().get("auths") or {}).get(server_key(host)) or {}
    encoded = entry.get("auth") if isinstance(entry, dict) else None
    if not encoded:
        return None
    try:
        user, _, password = base64.b64decode(encoded).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return user, password


def store_auth(host: str, user: str, password: str) -> None:
    doc = _load()
    auths = doc.setdefault("auths", {})
    auths[server_key(host)] = {"auth": base64.b64encode(f"{user}:{password}".encode()).decode()}
    _save(doc)


def remove_auth(host: str) -> bool:
    doc = _load()
    auths = doc.get("auths") or {}
    if server_key(host) not in auths:
        return False
    del auths[server_key(host)]
    _save(doc)
    return True


def auth_header(host: str) -> str:
    """The X-Registry-Auth value for a registry: its stored credentials, or `{}`."""
    found = read_auth(host)
    doc: dict[str, str] = {}
    if found:
        doc = {"username": found[0], "password": found[1], "serveraddress": server_key(host)}
    return base64.urlsafe_b64encode(json.dumps(doc).encode()).decode()
