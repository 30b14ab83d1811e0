"""IPv4 address management: which subnet a new network gets, which address a new endpoint gets.

Pure: no I/O. The caller says which subnets are taken (other networks and the
host's routes) and which addresses are in use; this module only decides.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network

from dockyard import errors

__all__ = ["AddressPool", "DEFAULT_POOLS", "Pool", "parse_pools", "pick_subnet", "mac_for", "validate_ipam_config"]


@dataclass(frozen=True)
class Pool:
    base: IPv4Network
    size: int   # prefix length of the subnets carved from base


# Docker's defaults: 172.17-31.0.0/16, then 192.168.0.0/16 in /20s.
DEFAULT_POOLS = (Pool(IPv4Network("172.17.0.0/16"), 16), Pool(IPv4Network("172.18.0.0/15"), 16),
                 Pool(IPv4Network("172.20.0.0/14"), 16), Pool(IPv4Network("172.24.0.0/14"), 16),
                 Pool(IPv4Network("172.28.0.0/14"), 16), Pool(IPv4Network("192.168.0.0/16"), 20))


def parse_pools(specs: Iterable[str]) -> tuple[Pool, ...]:
    """`--default-address-pool base=10.10.0.0/16,size=24` values."""
    pools = []
    for spec in specs:
        fields = dict(part.split("=", 1) for part in spec.split(",") if "=" in part)
        try:
            base = IPv4Network(fields["base"])
            size = int(fields["size"])
        except (KeyError, ValueError) as e:
            raise errors.InvalidArgument(f"invalid default address pool {spec!r}: {e}") from None
        if not base.prefixlen <= size <= 30:
            raise errors.InvalidArgument(f"invalid default address pool {spec!r}: size must be /{base.prefixlen}-/30")
        pools.append(Pool(base, size))
    return tuple(pools)


def pick_subnet(taken: Iterable[IPv4Network], pools: Iterable[Pool] = DEFAULT_POOLS) -> IPv4Network:
    """The first subnet of the pools that overlaps nothing taken."""
    taken = list(taken)
    for pool in pools:
        for candidate in pool.base.subnets(new_prefix=pool.size):
            if not any(candidate.overlaps(t) for t in taken):
                return candidate
    raise errors.InvalidArgument("all predefined address pools have been fully subnetted")


def mac_for(ip: IPv4Address) -> str:
    """02:42 + the address: unique on the subnet, and stable, so a reused address keeps its ARP entry valid."""
    return "02:42:" + ":".join(f"{b:02x}" for b in ip.packed)


def validate_ipam_config(subnet: str, gateway: str = "", ip_range: str = "",
                         aux: dict[str, str] | None = None) -> list[str]:
    """Docker's checks on one IPAM.Config entry; the problems found, in its words."""
    problems = []
    try:
        net = ipaddress.ip_network(subnet, strict=False)
    except ValueError:
        return [f"invalid CIDR address: {subnet}"]
    if net.version != 4:
        return [f"invalid subnet {subnet}: IPv6 is not supported"]
    if str(net) != subnet and ipaddress.ip_interface(subnet).ip != net.network_address:
        problems.append(f"invalid subnet {subnet}: it should be {net}")
    if ip_range:
        try:
            rng = ipaddress.ip_network(ip_range, strict=False)
        except ValueError:
            return [*problems, f"invalid CIDR address: {ip_range}"]
        if rng.prefixlen < net.prefixlen:
            problems.append(f"invalid ip-range {ip_range}: CIDR block is bigger than its parent subnet {net}")
        if ipaddress.ip_interface(ip_range).ip != rng.network_address:
            problems.append(f"invalid ip-range {ip_range}: it should be {rng}")
        if not net.overlaps(rng):
            problems.append(f"invalid ip-range {ip_range}: parent subnet {net} doesn't contain ip-range")
    for label, value in [("gateway", gateway)] + [(f"auxiliary address {k}", v) for k, v in (aux or {}).items()]:
        if not value:
            continue
        try:
            addr = ipaddress.ip_address(value)
        except ValueError:
            problems.append(f"invalid {label} {value}: ParseAddr({value!r}): unable to parse IP")
            continue
        if addr not in net:
            problems.append(f"invalid {label} {value}: parent subnet {net} doesn't contain this address")
    return problems


@dataclass
class AddressPool:
    """One network's addresses: the gateway and aux addresses are reserved, endpoints take the rest."""
    subnet: IPv4Network
    gateway: IPv4Address
    ip_range: IPv4Network | None = None
    reserved: set[IPv4Address] = field(default_factory=set)
    used: set[IPv4Address] = field(default_factory=set)

    def _unusable(self, ip: IPv4Address) -> bool:
        return ip == self.gateway or ip in self.reserved or (
            self.subnet.prefixlen < 31 and ip in (self.subnet.network_address, self.subnet.broadcast_address))

    def claim(self, ip: IPv4Address) -> None:
        """A static address (`--ip`), or one a running container already holds after a restart."""
        if ip not in self.subnet:
            raise errors.InvalidArgument(
                f"invalid endpoint settings:\nno configured subnet contains IP address {ip}")
        if ip in self.used or self._unusable(ip):
            raise errors.Forbidden(f"Address already in use: {ip}")
        self.used.add(ip)

    def allocate(self) -> IPv4Address:
        """The lowest free address (of the ip-range when there is one)."""
        space = self.ip_range or self.subnet
        for ip in space.hosts() if space.prefixlen < 31 else space:
            if ip in self.subnet and ip not in self.used and not self._unusable(ip):
                self.used.add(ip)
                return ip
        raise errors.Forbidden(f"no available IPv4 addresses on this network's address pools: {self.subnet}")

    def release(self, ip: IPv4Address) -> None:
        self.used.discard(ip)
