"""`POST /auth` (`docker login`): check credentials against a registry, as moby's loginV2 does —
ping /v2/, answer its challenge (a token fetched with the credentials, or Basic), and require a
200 from /v2/ with them. Errors are Unauthorized (401) in moby's words."""

from __future__ import annotations

from typing import Any

from dockyard.distribution.client import RegistryClient, RegistryResponseError
from dockyard.distribution.credentials import credentials_from_json
from dockyard.errors import Unauthorized

__all__ = ["login", "server_host"]


def server_host(address: str) -> str:
    """`https://index.docker.io/v1/`, `127.0.0.1:5000`, `http://host/` -> the registry host."""
    address = address.strip() or "docker.io"
    for prefix in ("https://", "http://"):
        if address.startswith(prefix):
            address = address[len(prefix):]
    host = address.split("/", 1)[0]
    return "docker.io" if host in ("index.docker.io", "registry-1.docker.io") else host


def login(doc: Any, insecure: tuple[str, ...] = ()) -> str:
    creds = credentials_from_json(doc)
    client = RegistryClient(server_host(creds.server_address), creds, insecure=insecure, timeout=30)
    url = f"{client.base_url}/v2/"
    try:
        client.login()
    except RegistryResponseError as e:
        if e.status == 401:
            raise Unauthorized(f"login attempt to {url} failed with status: 401 Unauthorized") from None
        raise
    finally:
        client.close()
    return "Login Succeeded"
