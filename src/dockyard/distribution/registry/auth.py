"""Who may do what: htpasswd users (bcrypt, as `htpasswd -B` writes), HTTP Basic, and Docker's
token flow — the registry challenges with `Bearer realm=...,service=...,scope=...`, its own
`/token` endpoint trades Basic credentials for a signed token (JWT, HS256), and every request's
token is checked for the scope it needs."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from dockyard.distribution.registry.errors import RegistryError

__all__ = ["Access", "parse_scope", "load_htpasswd", "Htpasswd", "TokenIssuer", "Authorizer"]

ISSUER = "dockyard-registry"


@dataclass(frozen=True)
class Access:
    """One resource and the actions asked for it: `repository:library/busybox:pull,push`."""
    type: str
    name: str
    actions: tuple[str, ...]

    def scope(self) -> str:
        return f"{self.type}:{self.name}:{','.join(self.actions)}"


def parse_scope(scope: str) -> list[Access]:
    """A `scope` parameter: space-separated entries, `type:name:actions` (a name may hold ':' —
    a registry host with a port — so type is the first field and actions the last)."""
    out = []
    for entry in scope.split():
        parts = entry.split(":")
        if len(parts) < 3:
            raise RegistryError("UNAUTHORIZED", "invalid scope", detail=entry)
        out.append(Access(parts[0], ":".join(parts[1:-1]), tuple(a for a in parts[-1].split(",") if a)))
    return out


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Htpasswd:
    """user → bcrypt hash. Other schemes (MD5, SHA, crypt) are refused when the file is read,
    as distribution does: they are too weak to accept."""

    def __init__(self, entries: dict[str, bytes]) -> None:
        self.entries = entries

    def check(self, user: str, password: str) -> bool:
        import bcrypt

        hashed = self.entries.get(user)
        if hashed is None:
            try:   # spend the same time either way: no oracle for which users exist
                bcrypt.checkpw(b"x", b"$2b$05$" + b"." * 53)
            except ValueError:
                pass
            return False
        try:
            return bcrypt.checkpw(password.encode(), hashed)
        except ValueError:
            return False


def load_htpasswd(path: str) -> Htpasswd:
    entries: dict[str, bytes] = {}
    with open(path) as f:
        for lineno, line in enumerate(f, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            user, sep, hashed = line.partition(":")
            if not sep or not user:
                raise ValueError(f"{path}:{lineno}: not a user:hash line")
            if not hashed.startswith(("$2a$", "$2b$", "$2y$")):
                raise ValueError(f"{path}:{lineno}: only bcrypt entries are supported (htpasswd -B)")
            entries[user] = hashed.encode()
    return Htpasswd(entries)


class TokenIssuer:
    """Signs and checks the registry's own bearer tokens (HMAC-SHA256 JWTs)."""

    def __init__(self, service: str, secret: bytes | None = None, ttl: int = 300) -> None:
        self.service = service
        self.secret = secret or os.urandom(32)
        self.ttl = ttl

    def issue(self, subject: str, access: list[Access], now: float | None = None) -> dict[str, object]:
        now = time.time() if now is None else now
        claims = {
            "iss": ISSUER, "sub": subject, "aud": self.service,
            "iat": int(now), "nbf": int(now) - 1, "exp": int(now) + self.ttl, "jti": str(uuid.uuid4()),
            "access": [{"type": a.type, "name": a.name, "actions": list(a.actions)} for a in access],
        }
        head = _b64url(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
        payload = _b64url(json.dumps(claims, separators=(",", ":")).encode())
        signature = _b64url(hmac.new(self.secret, f"{head}.{payload}".encode(), hashlib.sha256).digest())
        token = f"{head}.{payload}.{signature}"
        issued = datetime.fromtimestamp(int(now), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return {"token": token, "access_token": token, "expires_in": self.ttl, "issued_at": issued}

    def verify(self, token: str, now: float | None = None) -> dict | None:
        """The token's claims, or None if it is forged, malformed, for another service or expired."""
        try:
            head, payload, signature = token.split(".")
            expected = hmac.new(self.secret, f"{head}.{payload}".encode(), hashlib.sha256).digest()
            if not hmac.compare_digest(expected, _unb64url(signature)):
                return None
            if json.loads(_unb64url(head)).get("alg") != "HS256":
                return None
            claims = json.loads(_unb64url(payload))
        except (ValueError, binascii.Error, AttributeError):
            return None
        now = time.time() if now is None else now
        if not isinstance(claims, dict) or claims.get("aud") != self.service or claims.get("iss") != ISSUER:
            return None
        if not isinstance(claims.get("exp"), int) or claims["exp"] < now or claims.get("nbf", 0) > now + 60:
            return None
        return claims


def _granted(claims: dict, need: Access) -> bool:
    for entry in claims.get("access") or []:
        if not isinstance(entry, dict):
            continue
        if entry.get("type") == need.type and entry.get("name") == need.name:
            actions = set(entry.get("actions") or [])
            if "*" in actions or set(need.actions) <= actions:
                return True
    return False


# what an authenticated user may be granted: everything (htpasswd has no ACLs)
_GRANTABLE = {"repository": {"pull", "push", "delete", "*"}, "registry": {"*"}}


class Authorizer:
    """mode "token" challenges with Bearer (the Docker token flow), "basic" with Basic. Either way
    both kinds of credentials are accepted on requests. No users → everything is open."""

    def __init__(self, users: Htpasswd | None, service: str = "dockyard-registry", mode: str = "token",
                 realm: str = "", issuer: TokenIssuer | None = None) -> None:
        if mode not in ("token", "basic"):
            raise ValueError(f"unknown auth mode {mode!r}")
        self.users = users
        self.mode = mode
        self.realm = realm
        self.service = service
        self.issuer = issuer or TokenIssuer(service)

    @property
    def enabled(self) -> bool:
        return self.users is not None

    def _basic(self, header: str) -> str | None:
        """The user named by valid Basic credentials, else None."""
        try:
            raw = base64.b64decode(header.split(None, 1)[1], validate=True).decode()
        except (IndexError, ValueError, binascii.Error):
            return None
        user, sep, password = raw.partition(":")
        if sep and self.users is not None and self.users.check(user, password):
            return user
        return None

    def _realm(self, host: str) -> str:
        if self.mode == "basic":
            return self.realm or "dockyard-registry"
        return self.realm or f"http://{host or '127.0.0.1'}/token"

    def challenge(self, host: str, need: list[Access], error: str = "") -> str:
        realm = self._realm(host)
        if self.mode == "basic":
            return f'Basic realm="{realm}"'
        parts = [f'realm="{realm}"', f'service="{self.service}"']
        if need:
            parts.append(f'scope="{" ".join(a.scope() for a in need)}"')
        if error:
            parts.append(f'error="{error}"')
        return "Bearer " + ",".join(parts)

    def check(self, headers: dict[str, str], need: list[Access]) -> None:
        """Pass if the request's credentials cover `need`; else UNAUTHORIZED with a challenge."""
        if not self.enabled:
            return
        header = headers.get("authorization", "")
        kind = header.split(" ", 1)[0].lower()
        error = ""
        if kind == "basic" and self._basic(header) is not None:
            return
        if kind == "bearer":
            claims = self.issuer.verify(header.split(None, 1)[1] if " " in header else "")
            if claims is None:
                error = "invalid_token"
            elif all(_granted(claims, a) for a in need):
                return
            else:
                error = "insufficient_scope"
        detail = [{"Type": a.type, "Name": a.name, "Action": act} for a in need for act in a.actions] or None
        raise RegistryError("UNAUTHORIZED", detail=detail,
                            headers={"WWW-Authenticate": self.challenge(headers.get("host", ""), need, error)})

    def token(self, headers: dict[str, str], service: str, scopes: list[str]) -> dict[str, object]:
        """The /token endpoint: Basic credentials in, a token for the grantable part of the
        asked scopes out. Anonymous callers get a token with no access when the registry is open."""
        user = ""
        if self.enabled:
            header = headers.get("authorization", "")
            user = self._basic(header) if header.lower().startswith("basic ") else None
            if user is None:
                raise RegistryError("UNAUTHORIZED", "authentication required",
                                    headers={"WWW-Authenticate": f'Basic realm="{self.service}"'})
        if service and service != self.service:
            raise RegistryError("DENIED", f"unknown service {service!r}")
        granted = []
        for scope in scopes:
            for want in parse_scope(scope):
                allowed = tuple(a for a in want.actions if a in _GRANTABLE.get(want.type, set()))
                if allowed:
                    granted.append(Access(want.type, want.name, allowed))
        return self.issuer.issue(user, granted)
