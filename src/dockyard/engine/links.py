"""Container links (`--link name[:alias]`), as Docker 28 does them.

On the default bridge a link is "legacy": the parent gets /etc/hosts lines and
environment variables describing the child, and with icc=false the firewall
lets the parent reach the child's exposed ports. A container records its links
as `{"Alias": "/parent/alias", "Child": <child id>}`, so they follow a child's
rename and survive a daemon restart. On a user-defined network a link is only
an alias for the parent's own DNS lookups (dns_records.py).

Everything here is pure data: the callers look the containers up.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from dockyard import errors

__all__ = ["DEPRECATION_WARNING", "LinkedChild", "env_vars", "hosts_line", "inspect_links",
           "parse_link", "sorted_ports"]

DEPRECATION_WARNING = ("Links on the default bridge network are deprecated and will be removed in a "
                       "future release. Use a custom network instead.")
HOST_CONFLICT = ("conflicting options: host type networking can't be used with links. "
                 "This would result in undefined behavior")
CONTAINER_CONFLICT = ("conflicting options: container type network can't be used with links. "
                      "This would result in undefined behavior")


def parse_link(value: object) -> tuple[str, str]:
    """'name:alias' → (name, alias); 'name' → (name, name); '/name:/parent/alias' → (name, alias)."""
    if not isinstance(value, str) or value == "":
        raise errors.InvalidArgument("empty string specified for links")
    parts = value.split(":")
    if len(parts) > 2:
        raise errors.InvalidArgument(f"bad format for links: {value}")
    if len(parts) == 1:
        return value, value
    name, alias = parts
    if name.startswith("/"):   # the form inspect shows, fed back by clients that copy a HostConfig
        return name[1:], alias.rsplit("/", 1)[-1]
    return name, alias


@dataclass(frozen=True)
class LinkedChild:
    """What the parent needs to know about one linked child at start."""
    alias: str                 # "/parent/alias"
    name: str                  # "/child"
    hostname: str
    ip: str
    env: tuple[str, ...] = ()
    exposed_ports: tuple[str, ...] = ()   # "80/tcp" keys of the child's Config.ExposedPorts


def _port(key: str) -> tuple[int, str]:
    num, _, proto = key.partition("/")
    return int(num), (proto or "tcp").lower()


def sorted_ports(keys: Iterable[str]) -> list[tuple[int, str]]:
    """tcp first, then other protocols by name; by number within a protocol (moby's withTCPPriority)."""
    ports = {_port(k) for k in keys}
    return sorted(ports, key=lambda p: (p[1] != "tcp", p[1], p[0]))


def env_vars(child: LinkedChild) -> list[str]:
    """The variables moby's links.ToEnv gives the parent, in its order (ranges get _START/_END too)."""
    alias = child.alias.rsplit("/", 1)[-1].upper().replace("-", "_")
    ports = sorted_ports(child.exposed_ports)
    out: list[str] = []
    ip = child.ip
    start = end = ports[0] if ports else (0, "")
    for i, (num, proto) in enumerate(ports):
        if i == 0:
            out.append(f"{alias}_PORT={proto}://{ip}:{num}")
        prefix = f"{alias}_PORT_{num}_{proto.upper()}"
        out += [f"{prefix}={proto}://{ip}:{num}", f"{prefix}_ADDR={ip}", f"{prefix}_PORT={num}",
                f"{prefix}_PROTO={proto}"]
        if num == end[0] + 1 and proto == start[1]:
            end = (num, proto)
            if i < len(ports) - 1:
                continue   # the range goes on
        if end != start:
            prefix = f"{alias}_PORT_{start[0]}_{start[1].upper()}"
            out += [f"{prefix}_START={start[1]}://{ip}:{start[0]}", f"{prefix}_PORT_START={start[0]}",
                    f"{prefix}_END={end[1]}://{ip}:{end[0]}", f"{prefix}_PORT_END={end[0]}"]
        start = end = (num, proto)
    out.append(f"{alias}_NAME={child.alias}")
    for item in child.env:
        key, eq, val = item.partition("=")
        if eq and key not in ("HOME", "PATH"):
            out.append(f"{alias}_ENV_{key}={val}")
    return out


def hosts_line(child: LinkedChild) -> str:
    """'IP\\talias hostname [name]': the alias, the child's hostname, and its name unless that is the alias."""
    alias = child.alias.rsplit("/", 1)[-1]
    names = f"{alias} {child.hostname}"
    if alias != child.name.lstrip("/"):
        names += f" {child.name.lstrip('/')}"
    return f"{child.ip}\t{names}"


def inspect_links(records: Iterable[Mapping[str, str]], name_of: Mapping[str, str]) -> list[str] | None:
    """HostConfig.Links as inspect shows it: '/child:/parent/alias'; links to removed children drop out."""
    out = [f"/{name_of[r['Child']]}:{r['Alias']}" for r in records if r.get("Child") in name_of]
    return out or None
