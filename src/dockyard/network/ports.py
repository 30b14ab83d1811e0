"""Published ports: what HostConfig.PortBindings asks for, and holding the host ports it gets.

A published port is reached by kernel DNAT (network/firewall.py), never copied
by a userland proxy. The daemon still binds a socket on each host port it hands
out, without listening: the kernel then refuses that port to anyone else, so
two containers (or a container and a host service) can never both claim it,
and a port taken by a host service fails the start instead of being shadowed.
"""

from __future__ import annotations

import errno
import ipaddress
import socket
from dataclasses import dataclass

from dockyard import errors

__all__ = ["PortRequest", "HeldPort", "requests_from", "hold", "PortsInUse"]

_PROTOS = ("tcp", "udp")


@dataclass(frozen=True)
class PortRequest:
    proto: str
    container_port: int
    host_ip: str        # "" = every address of the host
    host_first: int     # 0 = any free port
    host_last: int


@dataclass
class HeldPort:
    request: PortRequest
    host_port: int
    sock: socket.socket

    @property
    def host_ip(self) -> str:
        return self.request.host_ip or "0.0.0.0"

    def close(self) -> None:
        self.sock.close()


class PortsInUse(errors.SystemError_):
    """A host port someone already holds (Docker answers 500 with this text)."""


def _port(text: str, what: str) -> int:
    if not text.isdigit() or not 0 < int(text) <= 65535:
        raise errors.InvalidArgument(f"invalid {what}: {text}")
    return int(text)


def _host_range(text: str) -> tuple[int, int]:
    if not text:
        return 0, 0
    first, _, last = text.partition("-")
    lo = _port(first, "hostPort")
    hi = _port(last, "hostPort") if last else lo
    if hi < lo:
        raise errors.InvalidArgument(f"invalid hostPort: {text}")
    return lo, hi


def _split_key(key: str) -> tuple[int, str]:
    port, _, proto = key.partition("/")
    proto = (proto or "tcp").lower()
    if proto not in _PROTOS:
        raise errors.InvalidArgument(f"invalid proto: {proto}" if proto != "sctp"
                                     else "publishing sctp ports is not supported")
    return _port(port, "containerPort"), proto


def requests_from(port_bindings: dict | None, exposed: dict | None, publish_all: bool) -> list[PortRequest]:
    """HostConfig.PortBindings (+ every exposed port with PublishAllPorts) → what to publish."""
    out: list[PortRequest] = []
    if port_bindings is not None and not isinstance(port_bindings, dict):
        raise errors.InvalidArgument("invalid PortBindings: must be an object")
    for key, bindings in (port_bindings or {}).items():
        cport, proto = _split_key(key)
        for b in bindings or [{}]:
            if not isinstance(b, dict):
                raise errors.InvalidArgument(f"invalid port binding for {key}")
            ip = b.get("HostIp") or ""
            if ip:
                try:
                    addr = ipaddress.ip_address(ip)
                except ValueError:
                    raise errors.InvalidArgument(f"invalid IP address: {ip}") from None
                ip = "" if addr.version == 6 and addr.is_unspecified else str(addr)
                if addr.version == 6 and ip:
                    raise errors.InvalidArgument(f"invalid IP address: {ip}: IPv6 publishing is not supported")
            lo, hi = _host_range(str(b.get("HostPort") or ""))
            out.append(PortRequest(proto, cport, "" if ip == "0.0.0.0" else ip, lo, hi))
    if publish_all:
        published = {(r.container_port, r.proto) for r in out}
        for key in exposed or {}:
            cport, proto = _split_key(key)
            if (cport, proto) not in published:
                out.append(PortRequest(proto, cport, "", 0, 0))
    return out


def _bind(proto: str, ip: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM)
    try:
        sock.bind((ip or "0.0.0.0", port))
    except BaseException:
        sock.close()
        raise
    return sock


def hold(request: PortRequest, port: int = 0) -> HeldPort:
    """Bind the host port (a given one, one of the request's range, or any free one).

    `port` re-takes a port a running container already had (daemon restart).
    """
    wanted = [port] if port else (list(range(request.host_first, request.host_last + 1))
                                  if request.host_first else [0])
    for candidate in wanted:
        try:
            sock = _bind(request.proto, request.host_ip, candidate)
        except OSError as e:
            if e.errno not in (errno.EADDRINUSE, errno.EACCES):
                if e.errno == errno.EADDRNOTAVAIL:
                    raise errors.InvalidArgument(
                        f"failed to bind host port {request.host_ip}:{candidate}/{request.proto}: "
                        "cannot assign requested address") from None
                raise
            continue
        return HeldPort(request, sock.getsockname()[1], sock)
    shown = wanted[0] if len(wanted) == 1 else f"{wanted[0]}-{wanted[-1]}"
    raise PortsInUse(f"Bind for {request.host_ip or '0.0.0.0'}:{shown} failed: port is already allocated")
