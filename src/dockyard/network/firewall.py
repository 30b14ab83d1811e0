"""Packet filter and NAT for bridge networks: Docker's iptables rules, as one nftables table.

Each daemon owns one `table ip dockyard_<key>` and rewrites it whole on every
change (`apply`): the script adds, deletes and redefines the table in a single
transaction, so the kernel switches from the old rule set to the new one
atomically and nothing else on the host is touched.

What the table does (Docker's bridge driver with userland-proxy=false):
- nat prerouting/output: a connection to a local address on a published port is
  DNATed to the container (from outside, from the host itself including
  127.0.0.1, and from containers through a host address: hairpin).
- nat postrouting: a bridge's subnet leaving by another interface is
  masqueraded; so are 127.0.0.0/8 sources (host → 127.0.0.1:port) and DNATed
  container traffic going back out a bridge, so that replies return through us.
- filter forward: internal bridges neither send nor receive across interfaces;
  a bridge accepts packets from another interface only for established flows or
  published-port DNATs (this is DOCKER-ISOLATION, and also Docker's "no direct
  routing to container addresses" default).
Our chains only ever drop or accept; a drop in any table wins, an accept only
ends our own chain, so several daemons' tables coexist.

The network engine's part: a container reaching itself through a published port
needs hairpin mode on its bridge port (`bridge_slave hairpin on`, as Docker sets
without the userland proxy): br_netfilter bridges a DNATed frame whose new
destination is on the same bridge, back out the port it came in by.
"""

from __future__ import annotations

import hashlib
import ipaddress
import os
import re
import shutil
import subprocess
import threading
from collections.abc import Sequence
from dataclasses import dataclass

from dockyard.errors import InvalidArgument
from dockyard.network.nftlib import Nft, NftError

__all__ = ["BridgeRules", "LinkRule", "PortRule", "Firewall", "FirewallError", "ruleset", "table_name"]

_IFNAME = re.compile(r"[A-Za-z0-9_.-]{1,15}")  # IFNAMSIZ-1, and nothing nft would need escaped
_PROTOS = ("tcp", "udp", "sctp")
_COMMENT = "dockyard"


class FirewallError(NftError):
    """Applying or removing rules failed; the message carries nft's or iptables' error text."""


@dataclass(frozen=True)
class LinkRule:
    """A legacy link's hole in icc=false: the parent may reach one exposed port of the child."""
    parent_ip: str
    child_ip: str
    port: int
    proto: str  # "tcp" | "udp" | "sctp"


@dataclass(frozen=True)
class BridgeRules:
    bridge: str  # Linux bridge interface name, e.g. "dyt1a2b3c" or "br-0123456789ab"
    subnet: str  # "172.18.0.0/16"
    internal: bool = False  # --internal: only traffic between the bridge's own ports
    masquerade: bool = True  # com.docker.network.bridge.enable_ip_masquerade
    icc: bool = True  # com.docker.network.bridge.enable_icc: may its containers talk to each other
    links: tuple[LinkRule, ...] = ()  # with icc=false: the legacy links' accepted ports


@dataclass(frozen=True)
class PortRule:
    proto: str  # "tcp" | "udp" (| "sctp")
    host_ip: str  # "" / "0.0.0.0": every local address of the host (incl. 127.0.0.1); else that one
    host_port: int
    container_ip: str
    container_port: int
    bridge: str


def table_name(key: str) -> str:
    """A valid, collision-free nft table name for a daemon key such as "dy-a1"."""
    if not key:
        raise InvalidArgument("firewall table key must not be empty")
    safe = re.sub(r"[^A-Za-z0-9_-]", "_", key)[:40]
    name = f"dockyard_{safe}"
    if safe != key:  # keep distinct keys distinct after squashing characters or truncating
        name += "_" + hashlib.sha256(key.encode()).hexdigest()[:8]
    return name


def _ifname(name: str) -> str:
    if not _IFNAME.fullmatch(name):
        raise InvalidArgument(f"invalid bridge interface name: {name!r}")
    return name


def _ipv4(addr: str, what: str) -> str:
    try:
        return str(ipaddress.IPv4Address(addr))
    except ValueError:
        raise InvalidArgument(f"invalid {what}: {addr!r} is not an IPv4 address") from None


def _subnet(subnet: str) -> str:
    try:
        return str(ipaddress.IPv4Network(subnet, strict=False))
    except ValueError:
        raise InvalidArgument(f"invalid subnet: {subnet!r}") from None


def _port(port: int) -> int:
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        raise InvalidArgument(f"invalid port: {port!r}")
    return port


def _is_ipv6(addr: str) -> bool:
    try:
        return ipaddress.ip_address(addr).version == 6
    except ValueError:
        return False


def _dnat_rule(p: PortRule) -> str | None:
    proto = p.proto.lower()
    if proto not in _PROTOS:
        raise InvalidArgument(f"invalid protocol {p.proto!r}: must be one of {', '.join(_PROTOS)}")
    if _is_ipv6(p.host_ip):
        return None  # this is an IPv4 table; IPv6 bindings have no rule here
    match = "" if p.host_ip in ("", "0.0.0.0") else f"ip daddr {_ipv4(p.host_ip, 'host IP')} "
    target = f"{_ipv4(p.container_ip, 'container IP')}:{_port(p.container_port)}"
    return f"{match}{proto} dport {_port(p.host_port)} dnat to {target}"


def _link_rules(b: BridgeRules) -> list[str]:
    """Docker's link rules: parent → child on the port, and the child's answers from that port."""
    q = f'"{b.bridge}"'
    out = []
    for link in b.links:
        parent, child = _ipv4(link.parent_ip, "parent address"), _ipv4(link.child_ip, "child address")
        if link.proto not in _PROTOS:
            raise InvalidArgument(f"invalid protocol: {link.proto!r}")
        port = _port(link.port)
        out.append(f"iifname {q} oifname {q} ip saddr {parent} ip daddr {child} {link.proto} dport {port} accept")
        out.append(f"iifname {q} oifname {q} ip saddr {child} ip daddr {parent} {link.proto} sport {port} accept")
    return out


def ruleset(table: str, bridges: Sequence[BridgeRules], ports: Sequence[PortRule]) -> str:
    """The nft script that atomically replaces `table ip <table>` with this rule set."""
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]{0,127}", table):
        raise InvalidArgument(f"invalid nft table name: {table!r}")
    by_name: dict[str, BridgeRules] = {}
    for b in bridges:
        if _ifname(b.bridge) in by_name:
            raise InvalidArgument(f"bridge {b.bridge} is listed twice")
        by_name[b.bridge] = b
    subnets = {b.bridge: _subnet(b.subnet) for b in bridges}

    dnat: list[str] = []
    for p in ports:
        if p.bridge not in by_name:
            raise InvalidArgument(f"port {p.host_port}/{p.proto}: bridge {p.bridge!r} is not in the rule set")
        rule = _dnat_rule(p)
        if rule is not None and not by_name[p.bridge].internal:  # Docker publishes nothing on --internal
            dnat.append(rule)

    post: list[str] = []
    forward: list[str] = []
    # an interval set rejects overlapping elements: collapse nested subnets first
    merged = ipaddress.collapse_addresses(ipaddress.IPv4Network(s) for s in subnets.values())
    all_subnets = "{ " + ", ".join(str(n) for n in merged) + " }"
    for b in bridges:
        q = f'"{b.bridge}"'
        if b.internal:  # no DNAT leads into it, and nothing may leave it
            forward.append(f"iifname {q} oifname != {q} drop")
            forward.append(f"oifname {q} iifname != {q} drop")
            continue
        # host → 127.0.0.1:port → container: route_localnet lets the packet out by the bridge, and the
        # container could not answer 127.0.0.1, so it sees the bridge's address instead
        post.append(f"oifname {q} ip saddr 127.0.0.0/8 masquerade")
        # hairpin: a container reaching a published port through a host address; without this the
        # reply would go straight back to the client, bypassing the reverse DNAT
        post.append(f"oifname {q} ip saddr {all_subnets} ct status dnat masquerade")
        if b.masquerade:
            post.append(f"ip saddr {subnets[b.bridge]} oifname != {q} masquerade")
    for b in bridges:
        if not b.icc:   # bridged frames reach this hook through br_netfilter (enabled in apply)
            forward[:0] = [*_link_rules(b), f'iifname "{b.bridge}" oifname "{b.bridge}" drop']
    forward.append("ct state established,related accept")
    forward.append("ct status dnat accept")  # published ports are public, across bridges too
    for b in bridges:
        if not b.internal:
            q = f'"{b.bridge}"'
            forward.append(f"oifname {q} iifname != {q} drop")

    def chain(name: str, hook: str, rules: list[str]) -> list[str]:
        head = [f"\tchain {name} {{"] + ([f"\t\t{hook}"] if hook else [])
        return head + [f"\t\t{r}" for r in rules] + ["\t}"]

    lines = [
        f"table ip {table} {{}}",  # so the delete below works whether or not the table exists
        f"delete table ip {table}",
        f"table ip {table} {{",
        f'\tcomment "{_COMMENT}: generated, replaced as a whole on every change"',
    ]
    lines += chain(
        "prerouting", "type nat hook prerouting priority dstnat; policy accept;",
        ["fib daddr type local jump published"],
    )
    lines += chain(
        # nft 1.0.6 accepts the name "dstnat" only in prerouting; -100 is the same priority
        "output", "type nat hook output priority -100; policy accept;",
        ["fib daddr type local jump published"],
    )
    lines += chain("published", "", dnat)
    lines += chain("postrouting", "type nat hook postrouting priority srcnat; policy accept;", post)
    lines += chain("forward", "type filter hook forward priority filter; policy accept;", forward)
    lines.append("}")
    return "\n".join(lines) + "\n"


def _netns_id() -> int:
    return os.stat("/proc/thread-self/ns/net").st_ino


class Firewall:
    """One daemon's table, in the network namespace of the thread that creates it.

    Every method blocks: call them from a worker thread, never the event loop.
    """

    def __init__(self, table: str) -> None:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]{0,127}", table):
            raise InvalidArgument(f"invalid nft table name: {table!r}")
        self.table = table
        self._netns = _netns_id()
        self._nft = Nft()  # its netlink socket is bound to this thread's netns from now on
        self._lock = threading.Lock()
        self._enabled: set[str] = set()

    def _check_netns(self) -> None:
        # rules would go to the creating netns but sysctls and iptables to the caller's: refuse a mix
        if _netns_id() != self._netns:
            raise FirewallError(f"firewall {self.table} called from another network namespace")

    def _run(self, script: str) -> str:
        try:
            return self._nft.run(script)
        except NftError as e:
            raise FirewallError(e.message) from None

    def apply(self, bridges: Sequence[BridgeRules], ports: Sequence[PortRule]) -> None:
        """Replace the whole table atomically; on error the previous rules stay in force."""
        script = ruleset(self.table, bridges, ports)
        with self._lock:
            self._check_netns()
            # traffic between ports of one bridge skips the IP hooks unless br_netfilter passes it up
            if not all(b.icc for b in bridges) and not _write_sysctl(
                    "net/bridge/bridge-nf-call-iptables", "1", only_if_not=True):
                raise FirewallError("enable_icc=false needs br_netfilter (net.bridge.bridge-nf-call-iptables)")
            self._run(script)

    def dump(self) -> str:
        """`nft list table`, for diagnostics; "" when the table does not exist."""
        with self._lock:
            self._check_netns()
            try:
                return self._nft.run(f"list table ip {self.table}")
            except NftError:
                return ""

    def remove(self) -> None:
        """Delete the table (idempotent) and undo enable_bridge for every bridge enabled here."""
        with self._lock:
            self._check_netns()
            self._run(f"table ip {self.table} {{}}\ndelete table ip {self.table}\n")
            enabled = sorted(self._enabled)
        for bridge in enabled:
            self.disable_bridge(bridge)

    def enable_bridge(self, bridge: str) -> None:
        """Kernel settings a bridge network needs, and compat with a FORWARD-DROP iptables host."""
        _ifname(bridge)
        with self._lock:
            self._check_netns()
            _write_sysctl("net/ipv4/ip_forward", "1", only_if_not=True)
            # lets DNATed 127.0.0.1 traffic leave by the bridge (masqueraded in postrouting)
            if not _write_sysctl(f"net/ipv4/conf/{bridge}/route_localnet", "1"):
                raise FirewallError(f"bridge {bridge} does not exist")
            iptables = self._iptables()
            if iptables:
                for rule in _compat_rules(bridge):
                    if not _iptables_has(iptables, rule):
                        _iptables(iptables, "-I", rule)
            self._enabled.add(bridge)

    def disable_bridge(self, bridge: str) -> None:
        """Undo enable_bridge (ip_forward stays on: the host may route for others too). Idempotent."""
        _ifname(bridge)
        with self._lock:
            self._check_netns()
            _write_sysctl(f"net/ipv4/conf/{bridge}/route_localnet", "0")  # gone with the bridge: fine
            iptables = self._iptables()
            if iptables:
                for rule in _compat_rules(bridge):
                    while _iptables_has(iptables, rule):  # a crashed run may have left a duplicate
                        _iptables(iptables, "-D", rule)
            self._enabled.discard(bridge)

    def _iptables(self) -> str | None:
        """The iptables binary to use when an iptables `filter` FORWARD chain exists here, else None.

        Docker leaves FORWARD with policy DROP; a drop in any base chain wins over our accepts, so
        our bridges need their own ACCEPTs there. Never create the table where there is none.
        """
        try:
            self._nft.run("list chain ip filter FORWARD")
            return shutil.which("iptables-nft") or shutil.which("iptables")
        except NftError:
            pass
        try:  # iptables-legacy keeps its tables outside nftables
            with open("/proc/net/ip_tables_names") as f:
                if "filter" in f.read().split():
                    return shutil.which("iptables-legacy")
        except OSError:
            pass
        return None

    def close(self) -> None:
        """Free the libnftables context (the table stays; see remove)."""
        self._nft.close()

    def __enter__(self) -> Firewall:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _write_sysctl(key: str, value: str, only_if_not: bool = False) -> bool:
    """Write /proc/sys/<key> in this thread's netns; False if it does not exist."""
    path = f"/proc/sys/{key}"
    try:
        if only_if_not:  # writing ip_forward resets every interface's forwarding flag: only when needed
            with open(path) as f:
                if f.read().strip() == value:
                    return True
        with open(path, "w") as f:
            f.write(value)
        return True
    except FileNotFoundError:
        return False
    except OSError as e:
        raise FirewallError(f"cannot write {path}: {e.strerror}") from None


def _compat_rules(bridge: str) -> list[list[str]]:
    tail = ["-j", "ACCEPT", "-m", "comment", "--comment", _COMMENT]
    return [["FORWARD", "-i", bridge, *tail], ["FORWARD", "-o", bridge, *tail]]


def _iptables_cmd(binary: str, op: str, rule: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [binary, "-w", "-t", "filter", op, *rule], capture_output=True, text=True, timeout=60, check=False
    )


def _iptables_has(binary: str, rule: list[str]) -> bool:
    res = _iptables_cmd(binary, "-C", rule)
    if res.returncode == 0:
        return True
    if res.returncode == 1:  # "Bad rule (does a matching rule exist in that chain?)"
        return False
    raise FirewallError(f"{binary} -C {' '.join(rule)}: {res.stderr.strip()}")


def _iptables(binary: str, op: str, rule: list[str]) -> None:
    res = _iptables_cmd(binary, op, rule)
    if res.returncode != 0:
        raise FirewallError(f"{binary} {op} {' '.join(rule)}: {res.stderr.strip()}")
