"""The embedded DNS server: Docker's 127.0.0.11 for containers on user-defined networks.

One asyncio loop serves every container. The daemon opens a UDP and a
listening TCP socket inside each container's netns (`open_listeners` run via
`netns.in_netns`) and hands them to `EmbeddedDns.add`; a socket keeps the netns
it was made in, so the loop's thread never changes namespace. Per query:

    bytes ──parse_query──► malformed: FORMERR/NOTIMP, or dropped (runts, responses)
      │
      ▼
    container name / PTR of a container IP (resolver.lookup/.reverse) ──► answer at once
      │ not ours
      ▼
    resolver.may_forward? ──no (only --internal networks)──► SERVFAIL
      │ yes; at most `max_inflight` per client, beyond that REFUSED
      ▼
    upstreams 1..3 in turn, from the daemon's (host) netns, over the client's
    transport, fresh socket and random id each; one ~2 s budget shared out;
    UDP answer with TC → same upstream over TCP; timeout, garbage, SERVFAIL
    or REFUSED → next upstream; none left → SERVFAIL.
      │
      ▼
    reply with the client's id; on UDP cut to 512 bytes or the client's EDNS size, TC set.

Host resolv.conf nameservers are dialled from the host netns, as Docker does
for them (it marks them HostLoopback), so 127.0.0.53-style stubs work.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import random
import secrets
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, cast

from dockyard.network.dnswire import (
    CLASS_IN,
    MIN_UDP_SIZE,
    DnsFormatError,
    Message,
    Rcode,
    Type,
    a_response,
    error_response,
    nodata_response,
    parse_message,
    parse_query,
    ptr_response,
    reject,
    reverse_ipv4,
    truncate,
    with_id,
)

__all__ = ["DnsResolver", "EmbeddedDns", "host_nameservers", "open_listeners", "parse_upstream"]

log = logging.getLogger("dockyard.dns")

MAX_UPSTREAMS = 3  # Docker tries at most three external servers
TCP_IDLE = 10.0  # seconds a TCP client may stay silent (or not read) before we hang up


class DnsResolver(Protocol):
    """The engine's view of names. Called on the event loop: must answer from memory, fast."""

    def lookup(self, client: str, name: str) -> list[str] | None:
        """IPv4s of `name` (lower case, no trailing dot) the client may see; [] = a known name
        without IPv4 (NOERROR, no data); None = not a container name (forward)."""

    def reverse(self, client: str, ip: str) -> str | None:
        """PTR target for a container IP the client may see ("web.mynet"), else None (forward)."""

    def may_forward(self, client: str) -> bool:
        """False when every network of the client is --internal: unknown names get SERVFAIL."""


def parse_upstream(entry: str) -> tuple[int, tuple[Any, ...]]:
    """"1.2.3.4", "1.2.3.4:5353", "fe80::1%eth0", "[::1]:5353" → (family, sockaddr). ValueError if not."""
    host, port = entry, "53"
    if entry.startswith("["):
        host, bracket, rest = entry[1:].partition("]")
        if not bracket or rest[:1] not in ("", ":"):
            raise ValueError(f"invalid nameserver {entry!r}")
        port = rest[1:] or "53"
    elif entry.count(":") == 1:
        host, _, port = entry.partition(":")
    try:
        info = socket.getaddrinfo(host, int(port), type=socket.SOCK_DGRAM, flags=socket.AI_NUMERICHOST)
    except (socket.gaierror, ValueError) as err:
        raise ValueError(f"invalid nameserver {entry!r}") from err
    return info[0][0], info[0][4]


def host_nameservers(resolv_conf_text: str) -> list[str]:
    """The `nameserver` addresses of a resolv.conf (IPv4 and IPv6, zone kept), in order."""
    servers = []
    for line in resolv_conf_text.splitlines():
        fields = line.split("#", 1)[0].split(";", 1)[0].split()
        if len(fields) >= 2 and fields[0] == "nameserver":
            with contextlib.suppress(ValueError):
                ipaddress.ip_address(fields[1])
                servers.append(fields[1])
    return servers


def open_listeners(address: str = "127.0.0.11", port: int = 53) -> tuple[socket.socket, socket.socket]:
    """UDP socket + listening TCP socket on address:port in the calling thread's netns.

    Non-blocking and close-on-exec (Python's default). Port 0 picks one free
    port for both.
    """
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM | socket.SOCK_NONBLOCK | socket.SOCK_CLOEXEC)
    tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM | socket.SOCK_NONBLOCK | socket.SOCK_CLOEXEC)
    try:
        udp.bind((address, port))
        tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        tcp.bind((address, udp.getsockname()[1]))
        tcp.listen(128)
    except BaseException:
        udp.close()
        tcp.close()
        raise
    return udp, tcp


@dataclass(eq=False)
class _Client:
    key: str
    udp: asyncio.DatagramTransport | None = None
    server: asyncio.Server | None = None
    writers: set[asyncio.StreamWriter] = field(default_factory=set)
    tasks: set[asyncio.Task[None]] = field(default_factory=set)
    inflight: int = 0  # queries waiting on an upstream


class _UdpProtocol(asyncio.DatagramProtocol):
    def __init__(self, dns: EmbeddedDns, client: _Client) -> None:
        self.dns, self.client = dns, client

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.client.udp = cast(asyncio.DatagramTransport, transport)  # before the first datagram arrives

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.dns._on_datagram(self.client, data, addr)

    def error_received(self, exc: Exception) -> None:
        pass  # an ICMP error about a client that went away: nothing to do


class EmbeddedDns:
    def __init__(
        self,
        resolver: DnsResolver,
        upstreams: Callable[[], list[str]],
        *,
        timeout: float = 2.0,
        max_inflight: int = 100,
        max_tcp_connections: int = 32,
    ) -> None:
        self.resolver = resolver
        self.upstreams = upstreams  # "ip" or "ip:port" entries, read again for every forwarded query
        self.timeout = timeout  # the whole budget of one forwarded query, shared by its upstreams
        self.max_inflight = max_inflight
        self.max_tcp_connections = max_tcp_connections
        self._clients: dict[str, _Client] = {}

    async def add(self, client: str, udp: socket.socket, tcp: socket.socket) -> None:
        """Serve the client's sockets (bound, non-blocking); they are ours to close from now on."""
        if client in self._clients:
            await self.remove(client)
        state = _Client(client)
        self._clients[client] = state
        loop = asyncio.get_running_loop()
        try:
            await loop.create_datagram_endpoint(lambda: _UdpProtocol(self, state), sock=udp)
            state.server = await asyncio.start_server(
                lambda r, w: self._serve_tcp(state, r, w), sock=tcp, limit=2**16 + 2
            )
        except BaseException:
            await self.remove(client)
            udp.close()
            tcp.close()
            raise

    async def remove(self, client: str) -> None:
        """Stop serving the client: close its sockets and TCP connections, cancel its queries."""
        state = self._clients.pop(client, None)
        if state is None:
            return
        if state.udp is not None:
            state.udp.close()
        if state.server is not None:
            state.server.close()
        for writer in list(state.writers):
            writer.close()
        for task in list(state.tasks):
            task.cancel()
        await asyncio.gather(*state.tasks, return_exceptions=True)
        if state.server is not None:
            await state.server.wait_closed()

    async def close(self) -> None:
        for client in list(self._clients):
            await self.remove(client)

    # --- answering ---------------------------------------------------------------------------

    def _local(self, client: str, query: Message) -> bytes | None:
        """The answer this server gives itself, or None when the query must be forwarded."""
        q = query.question
        try:
            if q.qclass == CLASS_IN and q.name and "\\" not in q.name:
                if q.qtype in (Type.A, Type.AAAA, Type.MX):
                    ips = self.resolver.lookup(client, q.name)
                    if ips is not None:
                        if q.qtype != Type.A:  # IPv4-only names: NOERROR without data, as Docker
                            return nodata_response(query)
                        return a_response(query, random.sample(ips, len(ips)))  # Docker shuffles too
                elif q.qtype == Type.PTR and (ip := reverse_ipv4(q.name)) is not None:
                    target = self.resolver.reverse(client, ip)
                    if target:
                        return ptr_response(query, target)
            if not self.resolver.may_forward(client):
                return error_response(query, Rcode.SERVFAIL)
        except Exception:
            log.exception("resolving %s (type %d) for %s", q.name, q.qtype, client[:12])
            return error_response(query, Rcode.SERVFAIL)
        return None

    def _on_datagram(self, state: _Client, data: bytes, addr: tuple[str, int]) -> None:
        assert state.udp is not None
        try:
            query = parse_query(data)
        except DnsFormatError:
            if (reply := reject(data)) is not None:
                state.udp.sendto(reply, addr)
            return
        reply = self._local(state.key, query)
        if reply is None and state.inflight >= self.max_inflight:
            reply = error_response(query, Rcode.REFUSED)  # Docker's answer when too many are in flight
        if reply is not None:
            state.udp.sendto(truncate(reply, query.edns_size or MIN_UDP_SIZE), addr)
            return
        state.inflight += 1  # now, not in the task: a burst arrives before any task runs
        task = asyncio.get_running_loop().create_task(self._forward_udp(state, query, data, addr))
        state.tasks.add(task)
        task.add_done_callback(lambda t: _finished(state, t))

    async def _forward_udp(self, state: _Client, query: Message, data: bytes, addr: tuple[str, int]) -> None:
        reply = await self._forward(query, data, tcp=False)
        if state.udp is not None and not state.udp.is_closing():
            state.udp.sendto(truncate(reply, query.edns_size or MIN_UDP_SIZE), addr)

    async def _serve_tcp(self, state: _Client, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._clients.get(state.key) is not state or len(state.writers) >= self.max_tcp_connections:
            writer.close()
            return
        task = asyncio.current_task()
        assert task is not None
        state.writers.add(writer)
        state.tasks.add(task)
        try:
            while True:  # one query at a time: a connection holds at most one upstream exchange
                try:
                    size = int.from_bytes(await asyncio.wait_for(reader.readexactly(2), TCP_IDLE), "big")
                    data = await asyncio.wait_for(reader.readexactly(size), TCP_IDLE)
                except (asyncio.IncompleteReadError, TimeoutError, ConnectionError):
                    return
                reply = await self._answer_tcp(state, data)
                if reply is None:
                    return  # not something to answer: drop the connection
                reply = truncate(reply, 0xFFFF)  # a resolver with thousands of IPs must not break framing
                writer.write(len(reply).to_bytes(2, "big") + reply)
                await asyncio.wait_for(writer.drain(), TCP_IDLE)
        except (TimeoutError, ConnectionError):
            pass
        finally:
            state.writers.discard(writer)
            state.tasks.discard(task)
            writer.close()

    async def _answer_tcp(self, state: _Client, data: bytes) -> bytes | None:
        try:
            query = parse_query(data)
        except DnsFormatError:
            return reject(data)
        reply = self._local(state.key, query)
        if reply is not None:
            return reply
        if state.inflight >= self.max_inflight:
            return error_response(query, Rcode.REFUSED)
        state.inflight += 1
        try:
            return await self._forward(query, data, tcp=True)
        finally:
            state.inflight -= 1

    # --- forwarding --------------------------------------------------------------------------

    def _upstream_addrs(self) -> list[tuple[int, tuple[Any, ...]]]:
        addrs = []
        for entry in self.upstreams()[:MAX_UPSTREAMS]:
            try:
                addrs.append(parse_upstream(entry))
            except ValueError as err:
                log.debug("skipping upstream: %s", err)  # per query: a warning would flood the log
        return addrs

    async def _forward(self, query: Message, data: bytes, *, tcp: bool) -> bytes:
        """The upstreams' answer with the client's id, or SERVFAIL when none gives a usable one."""
        loop = asyncio.get_running_loop()
        servers = self._upstream_addrs()
        deadline = loop.time() + self.timeout
        for i, (family, addr) in enumerate(servers):
            left = deadline - loop.time()
            if left <= 0:
                break
            ident = secrets.randbits(16)  # a guessable id would let anyone on path spoof answers
            try:
                raw, reply = await asyncio.wait_for(
                    _exchange(family, addr, with_id(data, ident), query, tcp), left / (len(servers) - i)
                )
            except (TimeoutError, OSError, DnsFormatError, asyncio.IncompleteReadError) as err:
                log.debug("upstream %s: %r", addr, err)
                continue
            if reply.rcode in (Rcode.SERVFAIL, Rcode.REFUSED):
                continue  # Docker: maybe transitional, ask the next one
            return with_id(raw, query.id)
        return error_response(query, Rcode.SERVFAIL)


def _finished(state: _Client, task: asyncio.Task[None]) -> None:
    state.tasks.discard(task)
    state.inflight -= 1


_Reply = tuple[bytes, Message]


def _as_reply(raw: bytes, ident: int, query: Message) -> _Reply | None:
    """(raw, parsed) when `raw` answers our query (id and question), else None. DnsFormatError if garbage."""
    msg = parse_message(raw)
    if msg.qr and msg.id == ident and len(msg.questions) == 1 and msg.question.matches(query.question):
        return raw, msg
    return None


async def _exchange(family: int, addr: tuple[Any, ...], packet: bytes, query: Message, tcp: bool) -> _Reply:
    """One upstream's reply; a truncated UDP reply is asked again over TCP."""
    ident = int.from_bytes(packet[:2], "big")
    if not tcp:
        reply = await _exchange_udp(family, addr, packet, ident, query)
        if not reply[1].tc:
            return reply
    return await _exchange_tcp(family, addr, packet, ident, query)


async def _exchange_udp(family: int, addr: tuple[Any, ...], packet: bytes, ident: int, query: Message) -> _Reply:
    loop = asyncio.get_running_loop()
    with socket.socket(family, socket.SOCK_DGRAM | socket.SOCK_NONBLOCK | socket.SOCK_CLOEXEC) as sock:
        await loop.sock_connect(sock, addr)  # connected: only the upstream's datagrams get through
        await loop.sock_sendall(sock, packet)
        while True:
            raw = await loop.sock_recv(sock, 65535)
            with contextlib.suppress(DnsFormatError):
                if reply := _as_reply(raw, ident, query):
                    return reply
            # a stray or forged datagram: keep waiting for the real one until the timeout


async def _exchange_tcp(family: int, addr: tuple[Any, ...], packet: bytes, ident: int, query: Message) -> _Reply:
    loop = asyncio.get_running_loop()
    sock = socket.socket(family, socket.SOCK_STREAM | socket.SOCK_NONBLOCK | socket.SOCK_CLOEXEC)
    try:
        await loop.sock_connect(sock, addr)
    except BaseException:
        sock.close()
        raise
    reader, writer = await asyncio.open_connection(sock=sock, limit=2**16 + 2)
    try:
        writer.write(len(packet).to_bytes(2, "big") + packet)
        await writer.drain()
        raw = await reader.readexactly(int.from_bytes(await reader.readexactly(2), "big"))
        if reply := _as_reply(raw, ident, query):
            return reply
        raise DnsFormatError("upstream answered another question")
    finally:
        writer.close()
