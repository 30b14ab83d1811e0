"""A registry client (OCI distribution API + Docker's token auth), blocking: the engine runs it
in a worker thread, never on the daemon's event loop.

Auth follows the docker daemon: a request answered 401 carries a challenge
(`WWW-Authenticate: Bearer realm=..,service=..,scope=..` or `Basic realm=..`); for Bearer the
client asks `realm?service=&scope=repository:<name>:pull[,push]` for a token (with Basic
credentials when it has them, anonymously otherwise) and retries once with it; for Basic it
retries with the credentials. Tokens are cached per scope for the client's lifetime.

Registries on 127.0.0.0/8, ::1 and `localhost` speak plain HTTP, as dockerd assumes; so do the
hosts given as insecure registries; everything else is HTTPS.
"""

from __future__ import annotations

import base64
import http.client
import ipaddress
import json
import re
import socket
import ssl
import urllib.parse
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, BinaryIO

from dockyard.distribution.credentials import Credentials
from dockyard.errors import DockyardError, InvalidArgument, SystemError_, Unauthorized
from dockyard.oci.image_spec import (
    MEDIA_TYPE_DOCKER_MANIFEST,
    MEDIA_TYPE_DOCKER_MANIFEST_LIST,
    MEDIA_TYPE_OCI_INDEX,
    MEDIA_TYPE_OCI_MANIFEST,
)

__all__ = ["RegistryClient", "RegistryResponseError", "MANIFEST_ACCEPT", "registry_host", "is_insecure",
           "parse_challenge"]

# what the docker daemon sends for a manifest GET
MANIFEST_ACCEPT = (MEDIA_TYPE_DOCKER_MANIFEST, MEDIA_TYPE_DOCKER_MANIFEST_LIST,
                   MEDIA_TYPE_OCI_MANIFEST, MEDIA_TYPE_OCI_INDEX)
_CHUNK = 1 << 20
USER_AGENT = "dockyard (registry client)"


class RegistryResponseError(DockyardError):
    """An error document from the registry: `code` (MANIFEST_UNKNOWN, ...) and its text as
    distribution's errcode renders it: `manifest unknown: manifest unknown`."""

    def __init__(self, status: int, code: str, message: str) -> None:
        self.status, self.code = status, code
        super().__init__(message)


def _network_error(e: OSError, netloc: str) -> str:
    """A connection failure in the words of Go's net/http and crypto/tls, as docker prints them."""
    if isinstance(e, ssl.SSLCertVerificationError):
        return f"tls: failed to verify certificate: x509: {e.verify_message}"
    if isinstance(e, ssl.SSLError) and e.reason == "WRONG_VERSION_NUMBER":
        return "http: server gave HTTP response to HTTPS client"
    if isinstance(e, ConnectionRefusedError):
        return f"dial tcp {netloc}: connect: connection refused"
    if isinstance(e, TimeoutError | socket.timeout):
        return f"dial tcp {netloc}: i/o timeout"
    return str(e)


def registry_host(domain: str) -> str:
    """docker.io is served at registry-1.docker.io."""
    return "registry-1.docker.io" if domain in ("docker.io", "index.docker.io") else domain


def is_insecure(host: str, insecure: Iterable[str] = ()) -> bool:
    name = host
    if name.startswith("["):
        name = name[1:].partition("]")[0]
    elif name.count(":") == 1:
        name = name.partition(":")[0]
    if host in insecure or name in insecure or name == "localhost":
        return True
    try:
        addr = ipaddress.ip_address(name)
    except ValueError:
        return False
    for entry in insecure:
        try:
            if addr in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            continue
    return addr.is_loopback


_PARAM_RE = re.compile(r'([A-Za-z_]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))')


def parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    """`Bearer realm="...",service="..."` -> ("bearer", {realm, service, ...})."""
    scheme, _, rest = header.strip().partition(" ")
    params = {m.group(1).lower(): (m.group(2) if m.group(2) is not None else m.group(3))
              for m in _PARAM_RE.finditer(rest)}
    return scheme.lower(), params


def _error_from(status: int, body: bytes, what: str) -> RegistryResponseError:
    try:
        doc = json.loads(body)
        first = (doc.get("errors") or [])[0]
        code = str(first.get("code") or "UNKNOWN")
        text = code.lower().replace("_", " ")
        message = str(first.get("message") or "")
        return RegistryResponseError(status, code, f"{text}: {message}" if message else text)
    except (ValueError, IndexError, AttributeError, TypeError):
        pass
    if status == 401:
        return RegistryResponseError(status, "UNAUTHORIZED", "unauthorized: authentication required")
    return RegistryResponseError(status, "UNKNOWN",
                                 f"{what}: unexpected status {status} {http.client.responses.get(status, '')}")


@dataclass
class _Auth:
    scheme: str = ""
    params: dict[str, str] | None = None


class RegistryClient:
    """One registry, one set of credentials. `scopes` are the token scopes this client asks for
    (the docker daemon asks for the whole operation's scopes at once)."""

    def __init__(self, host: str, creds: Credentials | None = None, *, insecure: Iterable[str] = (),
                 timeout: float = 120) -> None:
        self.host = registry_host(host)
        self.creds = creds or Credentials()
        self.scheme = "http" if is_insecure(self.host, insecure) else "https"
        self.timeout = timeout
        self._auth = _Auth()
        self._tokens: dict[str, str] = {}
        self._conn: http.client.HTTPConnection | None = None
        self.scopes: list[str] = []

    @property
    def base_url(self) -> str:
        return f"{self.scheme}://{self.host}"

    # ------------------------------------------------------------ transport
    def _connect(self, url: urllib.parse.SplitResult | None = None) -> http.client.HTTPConnection:
        scheme = url.scheme if url else self.scheme
        netloc = url.netloc if url else self.host
        if scheme == "https":
            return http.client.HTTPSConnection(netloc, timeout=self.timeout, context=ssl.create_default_context())
        return http.client.HTTPConnection(netloc, timeout=self.timeout)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _send(self, method: str, path: str, headers: dict[str, str], body: Any) -> http.client.HTTPResponse:
        # one kept-alive connection; a broken one (the server closed it) is replaced once
        for attempt in (0, 1):
            if self._conn is None:
                self._conn = self._connect()
            try:
                self._conn.request(method, path, body=body, headers=headers)
                return self._conn.getresponse()
            except (ConnectionError, http.client.BadStatusLine, http.client.CannotSendRequest) as e:
                self.close()
                if attempt or (body is not None and not isinstance(body, bytes)):
                    raise SystemError_(f'{method} "{self.base_url}{path}": {_network_error(e, self.host)}') from None
            except OSError as e:
                self.close()
                raise SystemError_(f'{method} "{self.base_url}{path}": {_network_error(e, self.host)}') from None
        raise AssertionError("unreachable")

    def _auth_header(self) -> dict[str, str]:
        if self._auth.scheme == "basic":
            if self.creds.username:
                raw = f"{self.creds.username}:{self.creds.password}".encode()
                return {"Authorization": "Basic " + base64.b64encode(raw).decode()}
            return {}
        if self._auth.scheme == "bearer":
            if self.creds.registry_token:
                return {"Authorization": "Bearer " + self.creds.registry_token}
            token = self._tokens.get(" ".join(self.scopes))
            if token:
                return {"Authorization": "Bearer " + token}
        return {}

    def request(self, method: str, path: str, *, headers: dict[str, str] | None = None, body: Any = None,
                ok: tuple[int, ...] = (200,), what: str = "") -> http.client.HTTPResponse:
        """Send with auth; on 401 answer the challenge and send once more. A status outside
        `ok` raises RegistryResponseError (its body read); the caller reads an `ok` response."""
        for attempt in (0, 1):
            all_headers = {"User-Agent": USER_AGENT, **(headers or {}), **self._auth_header()}
            if body is not None and "Content-Length" not in all_headers and isinstance(body, bytes):
                all_headers["Content-Length"] = str(len(body))
            resp = self._send(method, path, all_headers, body)
            if resp.status == 401 and attempt == 0 and (body is None or isinstance(body, bytes)):
                challenge = resp.getheader("WWW-Authenticate", "")
                resp.read()
                if challenge and self._answer(challenge):
                    continue
                raise Unauthorized(_error_from(401, b"", what).message)
            if resp.status in ok:
                return resp
            data = resp.read()
            raise _error_from(resp.status, data, what or f"{method} {path}")
        raise AssertionError("unreachable")

    def _answer(self, challenge: str) -> bool:
        """Learn the scheme from a challenge and fetch a token if it is Bearer. False: nothing to retry with."""
        scheme, params = parse_challenge(challenge)
        self._auth = _Auth(scheme, params)
        if scheme == "basic":
            return bool(self.creds.username)
        if scheme == "bearer":
            if self.creds.registry_token:
                return True
            self._tokens[" ".join(self.scopes)] = self._fetch_token(params)
            return True
        return False

    def _fetch_token(self, params: dict[str, str]) -> str:
        realm = params.get("realm", "")
        url = urllib.parse.urlsplit(realm)
        if url.scheme not in ("http", "https") or not url.netloc:
            raise SystemError_(f"invalid token realm {realm!r}")
        query: list[tuple[str, str]] = []
        if params.get("service"):
            query.append(("service", params["service"]))
        query.extend(("scope", s) for s in self.scopes)
        if self.creds.identity_token:
            query.extend((("grant_type", "refresh_token"), ("refresh_token", self.creds.identity_token)))
        path = (url.path or "/") + "?" + "&".join(
            p for p in ([url.query] if url.query else []) + [urllib.parse.urlencode(query)] if p)
        headers = {"User-Agent": USER_AGENT}
        if self.creds.username:
            raw = f"{self.creds.username}:{self.creds.password}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(raw).decode()
        conn = self._connect(url)
        try:
            conn.request("GET", path, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
        except OSError as e:
            raise SystemError_(f'Get "{realm}": {_network_error(e, url.netloc)}') from None
        finally:
            conn.close()
        if resp.status == 401:
            raise Unauthorized(_error_from(401, data, "token").message)
        if resp.status != 200:
            raise _error_from(resp.status, data, f'Get "{realm}"')
        try:
            doc = json.loads(data)
            token = doc.get("token") or doc.get("access_token")
        except (ValueError, AttributeError):
            token = None
        if not isinstance(token, str) or not token:
            raise SystemError_(f"the token server at {realm} sent no token")
        return token

    # ------------------------------------------------------------ the API
    def ping(self) -> None:
        """GET /v2/ with credentials: raises Unauthorized if the registry refuses them."""
        resp = self.request("GET", "/v2/", what=f'Get "{self.base_url}/v2/"')
        resp.read()

    def login(self) -> None:
        """Check the credentials as `docker login` does: /v2/, then the token (no scope) or Basic."""
        self.scopes = []
        resp = self._send("GET", "/v2/", {"User-Agent": USER_AGENT}, None)
        resp.read()
        if resp.status == 200:
            return
        if resp.status != 401:
            raise SystemError_(f'Get "{self.base_url}/v2/": unexpected status {resp.status}')
        if not self._answer(resp.getheader("WWW-Authenticate", "")):
            raise Unauthorized("unauthorized: authentication required")
        self.ping()

    def get_manifest(self, repo: str, ref: str) -> tuple[bytes, str, str]:
        """(body, media type, Docker-Content-Digest or "") of a manifest or index."""
        resp = self.request("GET", f"/v2/{repo}/manifests/{ref}",
                            headers={"Accept": ", ".join(MANIFEST_ACCEPT)}, what="manifest")
        body = resp.read(8 << 20 + 1)
        resp.read()
        if len(body) > 8 << 20:
            raise InvalidArgument("manifest too large")
        media_type = (resp.getheader("Content-Type") or "").split(";")[0].strip()
        return body, media_type, resp.getheader("Docker-Content-Digest") or ""

    def open_blob(self, repo: str, digest: str) -> http.client.HTTPResponse:
        """A blob's bytes as a stream (follows a redirect to another host once). Read it to the end."""
        resp = self.request("GET", f"/v2/{repo}/blobs/{digest}", ok=(200, 307, 302, 303), what="blob")
        if resp.status == 200:
            return resp
        location = resp.getheader("Location") or ""
        resp.read()
        url = urllib.parse.urlsplit(urllib.parse.urljoin(f"{self.base_url}/v2/{repo}/blobs/", location))
        conn = self._connect(url)
        conn.request("GET", url.path + ("?" + url.query if url.query else ""), headers={"User-Agent": USER_AGENT})
        other = conn.getresponse()
        if other.status != 200:
            raise _error_from(other.status, other.read(), "blob")
        return other

    def blob_exists(self, repo: str, digest: str) -> bool:
        try:
            self.request("HEAD", f"/v2/{repo}/blobs/{digest}", what="blob").read()
        except RegistryResponseError as e:
            if e.status == 404:
                return False
            raise
        return True

    def mount_blob(self, repo: str, digest: str, source_repo: str) -> bool:
        """Cross-repository mount: True if the registry linked it (201); False if it opened an
        upload instead (202), which is cancelled."""
        q = urllib.parse.urlencode({"mount": digest, "from": source_repo})
        try:
            resp = self.request("POST", f"/v2/{repo}/blobs/uploads/?{q}", body=b"", ok=(201, 202), what="mount")
        except (RegistryResponseError, Unauthorized):
            return False
        resp.read()
        if resp.status == 201:
            return True
        location = resp.getheader("Location")
        if location:
            try:
                self.request("DELETE", _local_path(location), ok=(204, 200, 404), what="upload").read()
            except DockyardError:
                pass
        return False

    def upload_blob(self, repo: str, digest: str, size: int, source: BinaryIO,
                    progress: Callable[[int], None] | None = None) -> None:
        """POST an upload, then one monolithic PUT of the bytes with ?digest= (the registry verifies)."""
        resp = self.request("POST", f"/v2/{repo}/blobs/uploads/", body=b"", ok=(202,), what="upload")
        resp.read()
        location = resp.getheader("Location")
        if not location:
            raise SystemError_("registry gave no upload location")
        path = _local_path(location)
        path += ("&" if "?" in path else "?") + urllib.parse.urlencode({"digest": digest})
        body = _ProgressReader(source, progress)
        headers = {"Content-Type": "application/octet-stream", "Content-Length": str(size)}
        all_headers = {"User-Agent": USER_AGENT, **headers, **self._auth_header()}
        resp = self._send("PUT", path, all_headers, body)
        data = resp.read()
        if resp.status not in (201, 204):
            raise _error_from(resp.status, data, "upload")

    def put_manifest(self, repo: str, ref: str, body: bytes, media_type: str) -> str:
        resp = self.request("PUT", f"/v2/{repo}/manifests/{ref}", body=body,
                            headers={"Content-Type": media_type}, ok=(201, 200), what="manifest")
        resp.read()
        return resp.getheader("Docker-Content-Digest") or ""

    def tags(self, repo: str) -> list[str]:
        resp = self.request("GET", f"/v2/{repo}/tags/list", what="tags")
        try:
            return list(json.loads(resp.read()).get("tags") or [])
        except (ValueError, AttributeError):
            return []


def _local_path(location: str) -> str:
    url = urllib.parse.urlsplit(location)
    return url.path + ("?" + url.query if url.query else "")


class _ProgressReader:
    """A file object for http.client's body: it reads in blocks and reports the count."""

    def __init__(self, source: BinaryIO, progress: Callable[[int], None] | None) -> None:
        self._source, self._progress, self.count = source, progress, 0

    def read(self, n: int = _CHUNK) -> bytes:
        data = self._source.read(max(n, _CHUNK))
        self.count += len(data)
        if self._progress is not None and data:
            self._progress(self.count)
        return data
