"""A small rtnetlink client: the handful of link, address and route requests a bridge network needs.

Why not pyroute2: it costs the daemon ~12 MiB and ~100 ms to import for the
seven messages below. Each request is one datagram with NLM_F_ACK; the kernel's
answer is an NLMSG_ERROR whose errno is 0 on success, raised as OSError otherwise.

A `Netlink` talks to the network namespace it was opened in: open one inside a
container's netns (with `netns.in_netns`) to configure the container's side.
"""

from __future__ import annotations

import errno as errnos
import ipaddress
import os
import socket
import struct
from collections.abc import Iterator

__all__ = ["Netlink", "link_exists", "link_index", "random_veth_name", "set_sysctl"]

_RTM_NEWLINK, _RTM_DELLINK, _RTM_NEWADDR, _RTM_NEWROUTE = 16, 17, 20, 24
_NLM_F_REQUEST, _NLM_F_ACK, _NLM_F_EXCL, _NLM_F_CREATE = 0x1, 0x4, 0x200, 0x400
_NLMSG_ERROR = 2
_IFLA_ADDRESS, _IFLA_IFNAME, _IFLA_MTU, _IFLA_MASTER = 1, 3, 4, 10
_IFLA_LINKINFO, _IFLA_IFALIAS, _IFLA_NET_NS_FD = 18, 20, 28
_IFLA_INFO_KIND, _IFLA_INFO_DATA, _VETH_INFO_PEER = 1, 2, 1
_IFA_ADDRESS, _IFA_LOCAL, _IFA_BROADCAST = 1, 2, 4
_RTA_DST, _RTA_OIF, _RTA_GATEWAY = 1, 4, 5
_NLA_F_NESTED = 0x8000
_IFF_UP = 0x1
_RT_TABLE_MAIN, _RTPROT_BOOT, _RTN_UNICAST = 254, 3, 1
_RT_SCOPE_UNIVERSE, _RT_SCOPE_LINK = 0, 253


def _attr(kind: int, payload: bytes) -> bytes:
    length = 4 + len(payload)
    return struct.pack("=HH", length, kind) + payload + b"\0" * (-length % 4)


def _str(kind: int, text: str) -> bytes:
    return _attr(kind, text.encode() + b"\0")


def _u32(kind: int, value: int) -> bytes:
    return _attr(kind, struct.pack("=I", value))


def _ifinfo(index: int = 0, flags: int = 0, change: int = 0) -> bytes:
    return struct.pack("=BxHiII", socket.AF_UNSPEC, 0, index, flags, change)


def _mac(text: str) -> bytes:
    return bytes(int(part, 16) for part in text.split(":"))


def link_index(name: str) -> int:
    """The interface index of `name` in the calling thread's netns; OSError(ENODEV) if absent."""
    try:
        return socket.if_nametoindex(name)
    except OSError:
        raise OSError(errnos.ENODEV, f"no such network interface: {name}") from None


def link_exists(name: str) -> bool:
    return os.path.exists(f"/sys/class/net/{name}")


def random_veth_name() -> str:
    return "veth" + os.urandom(4).hex()[:7]


def set_sysctl(path: str, value: str) -> None:
    """Write /proc/sys/<path>, e.g. net/ipv4/conf/br0/route_localnet (slashes: names may hold dots)."""
    with open("/proc/sys/" + path, "w") as f:
        f.write(value)


class Netlink:
    """One NETLINK_ROUTE socket, bound to the netns of the thread that opened it."""

    def __init__(self) -> None:
        self._sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC, 0)
        self._sock.bind((0, 0))
        self._seq = 0

    def close(self) -> None:
        self._sock.close()

    def __enter__(self) -> Netlink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ transport
    def _request(self, kind: int, flags: int, body: bytes) -> None:
        self._seq += 1
        seq = self._seq
        msg = struct.pack("=IHHII", 16 + len(body), kind, flags | _NLM_F_REQUEST | _NLM_F_ACK, seq, 0) + body
        self._sock.send(msg)
        while True:
            for mtype, mseq, payload in self._messages(self._sock.recv(65536)):
                if mtype == _NLMSG_ERROR and mseq == seq:
                    code = -struct.unpack_from("=i", payload)[0]
                    if code:
                        raise OSError(code, os.strerror(code))
                    return

    @staticmethod
    def _messages(data: bytes) -> Iterator[tuple[int, int, bytes]]:
        offset = 0
        while offset + 16 <= len(data):
            length, mtype, _flags, seq, _pid = struct.unpack_from("=IHHII", data, offset)
            if length < 16:
                return
            yield mtype, seq, data[offset + 16:offset + length]
            offset += (length + 3) & ~3

    # ------------------------------------------------------------------ links
    def create_bridge(self, name: str, mtu: int = 0) -> None:
        attrs = _str(_IFLA_IFNAME, name) + _attr(_IFLA_LINKINFO | _NLA_F_NESTED, _str(_IFLA_INFO_KIND, "bridge"))
        if mtu:
            attrs += _u32(_IFLA_MTU, mtu)
        self._request(_RTM_NEWLINK, _NLM_F_CREATE | _NLM_F_EXCL, _ifinfo() + attrs)

    def create_veth(self, host_name: str, peer_name: str, peer_netns_fd: int, *, master: str,
                    peer_mac: str = "", mtu: int = 0) -> None:
        """A veth pair whose peer is born inside another netns (given as an open fd), host end on `master`."""
        peer = _str(_IFLA_IFNAME, peer_name) + _u32(_IFLA_NET_NS_FD, peer_netns_fd)
        if peer_mac:
            peer += _attr(_IFLA_ADDRESS, _mac(peer_mac))
        if mtu:
            peer += _u32(_IFLA_MTU, mtu)
        info = _str(_IFLA_INFO_KIND, "veth") + _attr(
            _IFLA_INFO_DATA | _NLA_F_NESTED, _attr(_VETH_INFO_PEER | _NLA_F_NESTED, _ifinfo() + peer))
        attrs = _str(_IFLA_IFNAME, host_name) + _attr(_IFLA_LINKINFO | _NLA_F_NESTED, info)
        attrs += _u32(_IFLA_MASTER, link_index(master))
        if mtu:
            attrs += _u32(_IFLA_MTU, mtu)
        self._request(_RTM_NEWLINK, _NLM_F_CREATE | _NLM_F_EXCL, _ifinfo() + attrs)

    def set_up(self, name: str) -> None:
        self._request(_RTM_NEWLINK, 0, _ifinfo(link_index(name), _IFF_UP, _IFF_UP))

    def set_alias(self, name: str, alias: str) -> None:
        self._request(_RTM_NEWLINK, 0, _ifinfo(link_index(name)) + _str(_IFLA_IFALIAS, alias))

    def delete_link(self, name: str) -> bool:
        """False when it was already gone."""
        try:
            index = link_index(name)
            self._request(_RTM_DELLINK, 0, _ifinfo(index))
        except OSError as e:
            if e.errno in (errnos.ENODEV, errnos.ENOENT):
                return False
            raise
        return True

    # ------------------------------------------------------------------ addresses and routes
    def add_address(self, name: str, cidr: str) -> None:
        """`cidr` as "172.18.0.1/16"; an address already there is fine."""
        iface = ipaddress.IPv4Interface(cidr)
        body = struct.pack("=BBBBI", socket.AF_INET, iface.network.prefixlen, 0, _RT_SCOPE_UNIVERSE, link_index(name))
        packed = iface.ip.packed
        body += _attr(_IFA_LOCAL, packed) + _attr(_IFA_ADDRESS, packed)
        body += _attr(_IFA_BROADCAST, iface.network.broadcast_address.packed)
        try:
            self._request(_RTM_NEWADDR, _NLM_F_CREATE | _NLM_F_EXCL, body)
        except FileExistsError:
            pass

    def add_default_route(self, gateway: str, dev: str) -> None:
        body = struct.pack("=BBBBBBBBI", socket.AF_INET, 0, 0, 0, _RT_TABLE_MAIN, _RTPROT_BOOT,
                           _RT_SCOPE_UNIVERSE, _RTN_UNICAST, 0)
        body += _attr(_RTA_GATEWAY, ipaddress.IPv4Address(gateway).packed) + _u32(_RTA_OIF, link_index(dev))
        self._request(_RTM_NEWROUTE, _NLM_F_CREATE | _NLM_F_EXCL, body)
