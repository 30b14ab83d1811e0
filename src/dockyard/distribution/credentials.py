"""Registry credentials as the Engine API carries them: the `X-Registry-Auth` header (base64url
of an AuthConfig JSON object) and the `POST /auth` body. Pure.

moby (api/pkg/authconfig) decodes the header with the URL-safe alphabet and treats an empty
header as "no credentials"; anything undecodable is a 400 "invalid X-Registry-Auth header: ...".
Clients disagree about padding (docker pads, docker-py does not), so both are taken.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

from dockyard.errors import InvalidArgument

__all__ = ["Credentials", "decode_auth_header", "encode_auth_header", "credentials_from_json"]


@dataclass(frozen=True)
class Credentials:
    username: str = ""
    password: str = ""
    identity_token: str = ""     # a refresh token (OAuth2 flow); sent instead of a password
    registry_token: str = ""     # a bearer token to use as is
    server_address: str = ""

    @property
    def empty(self) -> bool:
        return not (self.username or self.password or self.identity_token or self.registry_token)


def credentials_from_json(doc: Any) -> Credentials:
    if not isinstance(doc, dict):
        raise InvalidArgument("invalid X-Registry-Auth header: not a JSON object")

    def text(*keys: str) -> str:
        for key in keys:
            value = doc.get(key)
            if isinstance(value, str) and value:
                return value
        return ""

    user, password = text("username", "Username"), text("password", "Password")
    encoded = text("auth", "Auth")
    if encoded and not user:
        # the CLI's config.json form: base64("user:password")
        try:
            user, _, password = base64.b64decode(encoded).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise InvalidArgument("invalid X-Registry-Auth header: invalid auth field") from None
    return Credentials(username=user, password=password,
                       identity_token=text("identitytoken", "IdentityToken"),
                       registry_token=text("registrytoken", "RegistryToken"),
                       server_address=text("serveraddress", "ServerAddress"))


def decode_auth_header(value: str) -> Credentials:
    """The X-Registry-Auth header's credentials; Credentials() when it is empty."""
    value = value.strip()
    if not value:
        return Credentials()
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
        doc = json.loads(raw)
    except (binascii.Error, ValueError) as e:
        raise InvalidArgument(f"invalid X-Registry-Auth header: {e}") from None
    return credentials_from_json(doc)


def encode_auth_header(creds: Credentials) -> str:
    doc = {"username": creds.username, "password": creds.password, "serveraddress": creds.server_address}
    if creds.identity_token:
        doc["identitytoken"] = creds.identity_token
    return base64.urlsafe_b64encode(json.dumps(doc).encode()).decode()
