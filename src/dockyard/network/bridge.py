"""Bridges and the veth pairs that plug containers into them (blocking: call from a worker thread).

A bridge is tagged with an interface alias naming its owner (`dockyard:<key>`),
so a daemon that crashed can find its own leftovers at the next start, and
never touches another daemon's.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dockyard import errors
from dockyard.network.loopback import set_loopback_up
from dockyard.network.netlink import Netlink, link_exists, random_veth_name, set_sysctl
from dockyard.network.netns import in_netns

__all__ = ["Plug", "ensure_bridge", "delete_bridge", "owned", "owned_bridges", "plug", "unplug", "plug_loopback_only",
           "routes_in_use"]

_SYS = Path("/sys/class/net")


def _owner_alias(owner: str) -> str:
    return f"dockyard:{owner}"


def owned(name: str, owner: str) -> bool:
    """Whether interface `name` is a bridge tagged as `owner`'s."""
    try:
        return (_SYS / name / "ifalias").read_text().strip() == _owner_alias(owner)
    except OSError:
        return False


def ensure_bridge(name: str, gateway_cidr: str, owner: str, mtu: int = 0) -> None:
    """The bridge with the gateway address, up; created when missing. Idempotent.

    An interface of that name that is not ours (eth0, another daemon's bridge) is never
    adopted: it would be renumbered now and deleted later.
    """
    with Netlink() as nl:
        if not link_exists(name):
            nl.create_bridge(name, mtu)
        elif not owned(name, owner):
            raise errors.Conflict(f"cannot create network: interface {name} already exists and is not "
                                  "a bridge this daemon made")
        nl.set_alias(name, _owner_alias(owner))
        nl.add_address(name, gateway_cidr)
        nl.set_up(name)
    set_sysctl("net/ipv4/ip_forward", "1")
    with contextlib.suppress(OSError):   # hosts without IPv6 have no such file
        set_sysctl(f"net/ipv6/conf/{name}/disable_ipv6", "1")


def delete_bridge(name: str, owner: str) -> None:
    """Only a bridge tagged as `owner`'s: anything else of that name is left alone."""
    if owned(name, owner):
        with Netlink() as nl:
            nl.delete_link(name)


def owned_bridges(owner: str) -> list[str]:
    """Bridges tagged as this daemon's."""
    out = []
    for dev in _SYS.iterdir() if _SYS.exists() else []:
        try:
            alias = (dev / "ifalias").read_text().strip()
        except OSError:
            continue
        if alias == _owner_alias(owner) and (dev / "bridge").is_dir():
            out.append(dev.name)
    return out


def routes_in_use(ignore: set[str] = frozenset()) -> list[ipaddress.IPv4Network]:
    """The host's IPv4 routes (from /proc/net/route) but those through `ignore`d interfaces:
    subnets a new network must not overlap."""
    out = []
    with contextlib.suppress(OSError), open("/proc/net/route") as f:
        next(f, None)
        for line in f:
            fields = line.split()
            if len(fields) < 8 or fields[0] in ignore:
                continue
            dest, mask = int(fields[1], 16), int(fields[7], 16)
            if mask == 0:
                continue   # the default route overlaps everything; Docker ignores it too
            net = ipaddress.IPv4Network((ipaddress.IPv4Address(dest.to_bytes(4, "little")),
                                         bin(mask).count("1")), strict=False)
            out.append(net)
    return out


@dataclass(frozen=True)
class Plug:
    bridge: str
    ifname: str          # inside the container: eth0, eth1, ...
    address: str         # "172.18.0.2/16"
    mac: str
    gateway: str = ""    # "" = no default route through this network
    mtu: int = 0


def plug(pid: int, p: Plug, inside: Callable[[], Any] | None = None) -> tuple[str, Any]:
    """Create the veth pair into the netns of `pid`, configure its end; return (host end, inside())."""
    host_end = random_veth_name()
    fd = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        with Netlink() as nl:
            nl.create_veth(host_end, p.ifname, fd, master=p.bridge, peer_mac=p.mac, mtu=p.mtu)
            try:
                nl.set_up(host_end)
                with contextlib.suppress(OSError):   # a container may reach itself through a published port
                    (_SYS / host_end / "brport" / "hairpin_mode").write_text("1")
                extra = in_netns(fd_path(fd), lambda: _configure_inside(p, inside))
            except BaseException:
                nl.delete_link(host_end)
                raise
    finally:
        os.close(fd)
    return host_end, extra


def fd_path(fd: int) -> str:
    return f"/proc/self/fd/{fd}"


def _configure_inside(p: Plug, inside: Callable[[], Any] | None) -> Any:
    set_loopback_up()
    with contextlib.suppress(OSError):
        set_sysctl(f"net/ipv6/conf/{p.ifname}/disable_ipv6", "1")
    with Netlink() as nl:
        nl.add_address(p.ifname, p.address)
        nl.set_up(p.ifname)
        if p.gateway:
            nl.add_default_route(p.gateway, p.ifname)
    return inside() if inside is not None else None


def plug_loopback_only(pid: int, inside: Callable[[], Any] | None = None) -> Any:
    def run() -> Any:
        set_loopback_up()
        return inside() if inside is not None else None
    return in_netns(pid, run)


def unplug(host_end: str) -> None:
    """Delete a veth pair by its host end (gone already when the container's netns died)."""
    with Netlink() as nl:
        nl.delete_link(host_end)
