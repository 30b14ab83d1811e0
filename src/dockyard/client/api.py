"""The Engine-API client: version negotiation, JSON in and out, streams, hijack.

Usage:
    c = Client()                        # default socket, DOCKYARD_HOST/DOCKER_HOST honoured by the CLI
    c.get_json("/containers/json", {"all": True})
    for msg in c.stream_json("POST", "/images/create", {"fromImage": "busybox", "tag": "latest"}): ...
    s = c.hijack("/containers/ID/attach", {"stream": 1, "stdout": 1})

Errors come back as `dockyard.errors` exceptions chosen by HTTP status (see client/errors.py);
a daemon that is not there raises `ConnectError`.
"""

from __future__ import annotations

import os

from dockyard.client.errors import error_for_status
from dockyard.client.transport import DEFAULT_HOST, ConnectError, Connection, Response

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator
    from typing import IO, Any

    from dockyard.client.hijack import HijackedStream

__all__ = ["Client", "MAX_API_VERSION", "quote", "urlencode", "negotiate"]

MAX_API_VERSION = "1.50"
_FALLBACK_VERSION = "1.24"  # what a daemon without an Api-Version header is assumed to speak
_SAFE = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~")


def quote(text: str, safe: str = "", plus: bool = False) -> str:
    """Percent-encode like Go's url.QueryEscape (plus=True) or PathEscape-ish (safe="/:@")."""
    keep = _SAFE | frozenset(safe.encode())
    out = []
    for b in text.encode("utf-8"):
        if b in keep:
            out.append(chr(b))
        elif plus and b == 0x20:
            out.append("+")
        else:
            out.append(f"%{b:02X}")
    return "".join(out)


def urlencode(params: dict[str, Any] | None) -> str:
    """Go's url.Values.Encode: keys sorted; True → "1"; None and False left out."""
    if not params:
        return ""
    parts = []
    for key in sorted(params):
        value = params[key]
        if value is None or value is False:
            continue
        values = value if isinstance(value, (list, tuple)) else [value]
        for v in values:
            s = "1" if v is True else str(v)
            parts.append(f"{quote(key, plus=True)}={quote(s, plus=True)}")
    return "&".join(parts)


def _vtuple(v: str) -> tuple[int, ...]:
    try:
        return tuple(int(p) for p in v.split("."))
    except ValueError:
        return (0,)


def negotiate(server_version: str | None, client_max: str = MAX_API_VERSION) -> str:
    """min(client max, server's Api-Version); a missing header means 1.24, as docker assumes."""
    server = server_version or _FALLBACK_VERSION
    return server if _vtuple(server) < _vtuple(client_max) else client_max


class Client:
    """A client of one daemon.  Cheap to make: nothing is sent until the first call."""

    def __init__(
        self,
        host: str = DEFAULT_HOST,
        version: str | None = None,
        autostart: bool = False,
        user_agent: str = "dockyard-client",
    ) -> None:
        self.host = host
        self.autostart = autostart
        self.user_agent = user_agent
        pinned = version or os.environ.get("DOCKER_API_VERSION") or None
        self._version: str | None = pinned
        self.server_headers: dict[str, str] = {}

    # -- connection and version ---------------------------------------------------------

    def _connect(self) -> Connection:
        try:
            return Connection(self.host)
        except ConnectError:
            if not self.autostart:
                raise
            from dockyard.client.autostart import ensure_daemon

            ensure_daemon(self.host)
            self.autostart = False
            return Connection(self.host)

    def ping(self) -> dict[str, str]:
        """`HEAD /_ping` on the unversioned path; returns the response headers."""
        resp = self._connect().request("HEAD", "/_ping", {"User-Agent": self.user_agent})
        try:
            if resp.status >= 400:
                # Some servers do not implement HEAD: fall back to GET as docker does.
                resp.close()
                resp = self._connect().request("GET", "/_ping", {"User-Agent": self.user_agent})
                resp.read()
            self.server_headers = dict(resp.headers)
            return self.server_headers
        finally:
            resp.close()

    @property
    def api_version(self) -> str:
        """The negotiated version (pings the daemon the first time)."""
        if self._version is None:
            headers = self.ping()
            self._version = negotiate(headers.get("api-version"))
        return self._version

    def url(self, path: str, params: dict[str, Any] | None = None, versioned: bool = True) -> str:
        target = f"/v{self.api_version}{path}" if versioned else path
        query = urlencode(params)
        return f"{target}?{query}" if query else target

    # -- requests -----------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        params: dict[str, Any] | None = None,
        body: bytes | IO[bytes] | Iterable[bytes] | None = None,
        json: Any = None,
        headers: dict[str, str] | None = None,
    ) -> Response:
        """Send a request; return the open response, or raise the mapped error for >= 300."""
        target = self.url(path, params)
        hdrs = {"User-Agent": self.user_agent}
        if json is not None:
            import json as _json

            body = _json.dumps(json, separators=(",", ":")).encode()
            hdrs["Content-Type"] = "application/json"
        if headers:
            hdrs.update(headers)
        resp = self._connect().request(method, target, hdrs, body)
        if resp.status >= 300:
            try:
                data = resp.read()
            finally:
                resp.close()
            raise error_for_status(resp.status, data, resp.reason)
        return resp

    def call(self, method: str, path: str, params: dict[str, Any] | None = None, **kw: Any) -> Any:
        """A request whose answer is JSON (or empty: None)."""
        resp = self.request(method, path, params, **kw)
        try:
            data = resp.read()
        finally:
            resp.close()
        if not data.strip():
            return None
        import json

        return json.loads(data)

    def get_json(self, path: str, params: dict[str, Any] | None = None) -> Any:
        return self.call("GET", path, params)

    def post_json(self, path: str, params: dict[str, Any] | None = None, json: Any = None, **kw: Any) -> Any:
        return self.call("POST", path, params, json=json, **kw)

    def delete(self, path: str, params: dict[str, Any] | None = None) -> Any:
        return self.call("DELETE", path, params)

    def stream_json(self, method: str, path: str, params: dict[str, Any] | None = None, **kw: Any) -> Iterator[Any]:
        """JSON documents from a streaming response, each as soon as it is complete."""
        from dockyard.client.streams import JSONStreamDecoder

        resp = self.request(method, path, params, **kw)
        dec = JSONStreamDecoder()
        try:
            for block in resp.iter_raw():
                yield from dec.feed(block)
            dec.close()
        finally:
            resp.close()

    def stream_raw(self, method: str, path: str, params: dict[str, Any] | None = None, **kw: Any) -> Response:
        """The open response; iterate `resp.iter_raw()` and close it."""
        return self.request(method, path, params, **kw)

    def hijack(
        self, path: str, params: dict[str, Any] | None = None, json: Any = None, content_type: str = "text/plain"
    ) -> HijackedStream:
        """POST with `Upgrade: tcp`; only a 101 is accepted.  Returns the raw stream."""
        from dockyard.client.hijack import HijackedStream

        target = self.url(path, params)
        hdrs = {"User-Agent": self.user_agent, "Connection": "Upgrade", "Upgrade": "tcp"}
        body: bytes | None = None
        if json is not None:
            import json as _json

            body = _json.dumps(json, separators=(",", ":")).encode()
            hdrs["Content-Type"] = "application/json"
        else:
            hdrs["Content-Type"] = content_type
        conn = self._connect()
        resp = conn.request("POST", target, hdrs, body)
        if resp.status != 101:
            try:
                data = resp.read() if resp.status >= 300 else b""
            finally:
                resp.close()
            if resp.status >= 300:
                raise error_for_status(resp.status, data, resp.reason)
            from dockyard.errors import SystemError_

            raise SystemError_(f"unable to upgrade to tcp, received {resp.status}")
        return HijackedStream(resp.sock, resp.rfile, resp.header("content-type"))

    # -- a few typed helpers the CLI and compose share -------------------------------------

    def version(self) -> dict[str, Any]:
        return self.get_json("/version")

    def info(self) -> dict[str, Any]:
        return self.get_json("/info")

    def containers(self, all: bool = False, filters: dict[str, list[str]] | None = None, **params: Any) -> list[dict[str, Any]]:
        return self.get_json("/containers/json", {"all": all, "filters": encode_filters(filters), **params})

    def inspect_container(self, ref: str) -> dict[str, Any]:
        return self.get_json(f"/containers/{quote(ref)}/json")

    def create_container(self, config: dict[str, Any], name: str | None = None, platform: str | None = None) -> dict[str, Any]:
        return self.post_json("/containers/create", {"name": name, "platform": platform}, json=config)

    def start(self, ref: str) -> None:
        self.call("POST", f"/containers/{quote(ref)}/start")

    def wait(self, ref: str, condition: str | None = None) -> dict[str, Any]:
        return self.post_json(f"/containers/{quote(ref)}/wait", {"condition": condition})

    def resize(self, ref: str, height: int, width: int, exec_id: bool = False) -> None:
        kind = "exec" if exec_id else "containers"
        self.call("POST", f"/{kind}/{quote(ref)}/resize", {"h": height, "w": width})

    def images(self, all: bool = False, filters: dict[str, list[str]] | None = None, **params: Any) -> list[dict[str, Any]]:
        return self.get_json("/images/json", {"all": all, "filters": encode_filters(filters), **params})

    def inspect_image(self, ref: str) -> dict[str, Any]:
        return self.get_json(f"/images/{quote(ref, safe='/:@')}/json")


def encode_filters(filters: dict[str, list[str]] | None) -> str | None:
    """The `filters` query parameter: JSON `{"key": {"value": true}}` as the docker CLI sends it."""
    if not filters:
        return None
    import json

    return json.dumps({k: {v: True for v in vs} for k, vs in filters.items()}, separators=(",", ":"))
