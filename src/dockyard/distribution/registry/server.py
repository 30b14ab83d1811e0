"""The registry over TCP: the daemon's asyncio + h11 connection plumbing with the registry's
dispatch, headers and error shape."""

from __future__ import annotations

import asyncio
import logging
import signal
from dataclasses import dataclass

from dockyard import __version__
from dockyard.api.http import EmptyResponse, JSONResponse, Request, Response
from dockyard.api.server import HttpConnection, Router
from dockyard.distribution.registry.auth import Authorizer, TokenIssuer, load_htpasswd
from dockyard.distribution.registry.errors import RegistryError, error_document
from dockyard.distribution.registry.handlers import Registry
from dockyard.distribution.registry.storage import Storage

__all__ = ["RegistryConfig", "RegistryServer", "build_registry", "parse_addr", "serve"]

log = logging.getLogger("dockyard.registry")


@dataclass
class RegistryConfig:
    root: str
    addr: str = "127.0.0.1:5000"
    htpasswd: str = ""
    realm: str = ""                  # token mode: the token endpoint's URL; basic: the realm name
    service: str = "dockyard-registry"
    auth_mode: str = "token"         # "token" (Docker token flow) or "basic"
    token_ttl: int = 300
    delete_enabled: bool = True


def parse_addr(addr: str) -> tuple[str, int]:
    host, sep, port = addr.rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535:
        raise ValueError(f"invalid address {addr!r}: want HOST:PORT")
    return host.strip("[]") or "0.0.0.0", int(port)


def build_registry(config: RegistryConfig) -> Registry:
    users = load_htpasswd(config.htpasswd) if config.htpasswd else None
    auth = Authorizer(users, service=config.service, mode=config.auth_mode, realm=config.realm,
                      issuer=TokenIssuer(config.service, ttl=config.token_ttl))
    return Registry(Storage(config.root), auth, delete_enabled=config.delete_enabled)


class _RegistryConnection(HttpConnection):
    registry: Registry

    async def _dispatch(self, method: str, target: str, path: str, headers: dict[str, str]) -> Response:
        req = Request.build(method, target, headers, "", path, self._body_chunk)
        try:
            return await self.registry.handle(req)
        except Exception as e:   # a bug: answer UNKNOWN and keep serving
            log.exception("registry handler failed: %s %s", method, target)
            err = RegistryError("UNKNOWN", detail=str(e))
            return JSONResponse(error_document(err), err.status)

    def _head_response(self, response: Response) -> Response:
        if isinstance(response, EmptyResponse):
            return response   # the handlers answer HEAD themselves, with the real length
        headers = dict(getattr(response, "headers", None) or {})
        return EmptyResponse(response.status, headers=headers, content_type="application/json")

    def _common_headers(self) -> list[tuple[str, str]]:
        return [("Docker-Distribution-API-Version", "registry/2.0"), ("X-Content-Type-Options", "nosniff"),
                ("Server", f"dockyard-registry/{__version__}")]


class RegistryServer:
    """Listens on host:port (port 0 picks one: read `.port` after `start()`)."""

    def __init__(self, registry: Registry, host: str, port: int) -> None:
        self.registry = registry
        self.host = host
        self.port = port
        self._server: asyncio.base_events.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._on_client, self.host, self.port, limit=256 * 1024)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _on_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        conn = _RegistryConnection(Router(), reader, writer)
        conn.registry = self.registry
        try:
            await conn.serve()
        finally:
            if task is not None:
                self._tasks.discard(task)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()


def serve(config: RegistryConfig) -> int:
    """Run until SIGINT/SIGTERM. Prints the address it listens on (useful with port 0)."""
    host, port = parse_addr(config.addr)
    registry = build_registry(config)

    async def main() -> None:
        server = RegistryServer(registry, host, port)
        await server.start()
        print(f"dockyard registry listening on {host}:{server.port}", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        await server.close()

    try:
        asyncio.run(main())
    finally:
        registry.storage.close()
    return 0
