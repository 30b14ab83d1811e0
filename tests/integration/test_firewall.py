"""The firewall's rules, checked with real kernel traffic inside throwaway network namespaces.

Topology (all under a random prefix P; the host's own netns is never touched):

    P-o  (outside) eth0 198.51.100.2 ── up0 198.51.100.1 ┐
                                                         P-h ("host", runs the Firewall)
    P-a1 172.30.1.2, P-a2 172.30.1.3 ── brA 172.30.1.1   │  published 8080/tcp → a1:80,
    P-b1 172.30.2.2 ── brB 172.30.2.1 (masquerade off)   │  198.51.100.1:8081 → a2:80,
    P-i1 172.30.3.2, P-i2 172.30.3.3 ── brI (internal)   ┘  5353/udp → b1:53, 8090 → i1 (ignored)

P-o routes 172.30.2.0/24 via the host (so brB's unmasqueraded egress can be answered) and has
no route to brA's subnet. P-h starts with an iptables FORWARD chain whose policy is DROP, like a
host where dockerd ran, so every passing test also exercises enable_bridge's compat rules.
"""

from __future__ import annotations

import os
import secrets
import socket
import statistics
import subprocess
import threading
import time
from collections.abc import Callable

import pytest

from dockyard.network.firewall import BridgeRules, Firewall, FirewallError, PortRule, ruleset, table_name
from dockyard.network.netns import in_netns

UPLINK, OUTSIDE = "198.51.100.1", "198.51.100.2"
BRIDGES = [
    BridgeRules("brA", "172.30.1.0/24"),
    BridgeRules("brB", "172.30.2.0/24", masquerade=False),
    BridgeRules("brI", "172.30.3.0/24", internal=True),
]
PORTS = [
    PortRule("tcp", "", 8080, "172.30.1.2", 80, "brA"),
    PortRule("tcp", UPLINK, 8081, "172.30.1.3", 80, "brA"),
    PortRule("udp", "0.0.0.0", 5353, "172.30.2.2", 53, "brB"),
    PortRule("tcp", "", 8090, "172.30.3.2", 80, "brI"),
]
CONTAINERS = {  # name: (bridge, address)
    "a1": ("brA", "172.30.1.2"),
    "a2": ("brA", "172.30.1.3"),
    "b1": ("brB", "172.30.2.2"),
    "i1": ("brI", "172.30.3.2"),
    "i2": ("brI", "172.30.3.3"),
}
GATEWAYS = {"brA": "172.30.1.1", "brB": "172.30.2.1", "brI": "172.30.3.1"}
NEGATIVE_TIMEOUT = 0.6  # a dropped SYN never answers: keep the wait for "no" short


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True)


class Lab:
    """The namespaces, their servers, and the Firewall living in the "host" namespace."""

    def __init__(self) -> None:
        self.prefix = f"dyfw{secrets.token_hex(3)}"
        self.names: list[str] = []
        self.sockets: list[socket.socket] = []
        self.fw: Firewall | None = None

    def path(self, name: str) -> str:
        return f"/run/netns/{self.prefix}-{name}"

    def ns(self, name: str) -> str:
        return f"{self.prefix}-{name}"

    def run_in(self, name: str, fn: Callable[[], object]) -> object:
        return in_netns(self.path(name), fn)

    def host(self, fn: Callable[[], object]) -> object:
        return self.run_in("h", fn)

    def add_ns(self, name: str) -> None:
        ip("netns", "add", self.ns(name))
        self.names.append(name)
        ip("-n", self.ns(name), "link", "set", "lo", "up")

    def build(self) -> None:
        h = self.ns("h")
        for name in ["h", "o", *CONTAINERS]:
            self.add_ns(name)
        for br, gw in GATEWAYS.items():
            ip("-n", h, "link", "add", br, "type", "bridge")
            ip("-n", h, "addr", "add", f"{gw}/24", "dev", br)
            ip("-n", h, "link", "set", br, "up")
        for name, (br, addr) in CONTAINERS.items():
            ip("-n", h, "link", "add", f"v{name}", "type", "veth", "peer", "name", "eth0", "netns", self.ns(name))
            ip("-n", h, "link", "set", f"v{name}", "master", br, "up")
            # as Docker does without the userland proxy: br_netfilter bridges a DNATed frame whose
            # new destination is on the same bridge, so a container reaching itself through a
            # published port needs its frame sent back out the port it came in by
            ip("-n", h, "link", "set", f"v{name}", "type", "bridge_slave", "hairpin", "on")
            ip("-n", self.ns(name), "addr", "add", f"{addr}/24", "dev", "eth0")
            ip("-n", self.ns(name), "link", "set", "eth0", "up")
            ip("-n", self.ns(name), "route", "add", "default", "via", GATEWAYS[br])
        ip("-n", h, "link", "add", "up0", "type", "veth", "peer", "name", "eth0", "netns", self.ns("o"))
        ip("-n", h, "addr", "add", f"{UPLINK}/24", "dev", "up0")
        ip("-n", h, "link", "set", "up0", "up")
        ip("-n", self.ns("o"), "addr", "add", f"{OUTSIDE}/24", "dev", "eth0")
        ip("-n", self.ns("o"), "link", "set", "eth0", "up")
        ip("-n", self.ns("o"), "route", "add", "172.30.2.0/24", "via", UPLINK)
        # what dockerd leaves on a host: iptables' filter FORWARD with policy DROP
        subprocess.run(["ip", "netns", "exec", h, "iptables", "-w", "-P", "FORWARD", "DROP"], check=True)

    def serve_tcp(self, name: str, port: int) -> None:
        """A server in netns `name` that answers every connection with the peer address it saw."""
        srv = self.run_in(name, lambda: socket.create_server(("0.0.0.0", port)))
        self.sockets.append(srv)

        def loop() -> None:
            while True:
                try:
                    conn, peer = srv.accept()
                except OSError:
                    return  # closed at teardown
                with conn:
                    conn.sendall(f"{name} {peer[0]}".encode())

        threading.Thread(target=loop, daemon=True).start()

    def serve_udp(self, name: str, port: int) -> None:
        def bind() -> socket.socket:
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind(("0.0.0.0", port))
            return s

        srv = self.run_in(name, bind)
        self.sockets.append(srv)

        def loop() -> None:
            while True:
                try:
                    _, peer = srv.recvfrom(100)
                    srv.sendto(f"{name} {peer[0]}".encode(), peer)
                except OSError:
                    return

        threading.Thread(target=loop, daemon=True).start()

    def tcp(self, name: str, addr: str, port: int, timeout: float = 3.0) -> str:
        """Connect from netns `name`; the server's answer ("<server> <peer it saw>") or the error."""

        def go() -> str:
            try:
                with socket.create_connection((addr, port), timeout=timeout) as c:
                    return c.recv(100).decode()
            except OSError as e:
                return f"!{type(e).__name__}"

        return self.run_in(name, go)  # type: ignore[return-value]

    def udp(self, name: str, addr: str, port: int, timeout: float = 3.0) -> str:
        def go() -> str:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.settimeout(timeout)
                try:
                    s.sendto(b"hi", (addr, port))
                    return s.recv(100).decode()
                except OSError as e:
                    return f"!{type(e).__name__}"

        return self.run_in(name, go)  # type: ignore[return-value]

    def teardown(self) -> None:
        for s in self.sockets:
            s.close()
        if self.fw is not None:
            try:
                self.host(self.fw.remove)
            finally:
                self.fw.close()  # its netlink socket holds the "host" netns alive
        for name in reversed(self.names):
            subprocess.run(["ip", "netns", "del", self.ns(name)], check=False)


@pytest.fixture(scope="module")
def lab():
    lab = Lab()
    try:
        lab.build()
        lab.fw = lab.host(lambda: Firewall(table_name("dy-a1")))
        for b in BRIDGES:
            lab.host(lambda b=b: lab.fw.enable_bridge(b.bridge))
        lab.host(lambda: lab.fw.apply(BRIDGES, PORTS))
        for name in CONTAINERS:
            lab.serve_tcp(name, 80)
        lab.serve_udp("b1", 53)
        lab.serve_tcp("o", 9000)
        yield lab
    finally:
        lab.teardown()
    left = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert lab.prefix not in left


def sysctl(lab: Lab, name: str, key: str) -> str:
    def read() -> str:
        with open(f"/proc/sys/{key}") as f:
            return f.read().strip()

    return lab.run_in(name, read)  # type: ignore[return-value]


def test_enable_bridge_sets_kernel_flags(lab):
    assert sysctl(lab, "h", "net/ipv4/ip_forward") == "1"  # a new netns starts with 0
    assert sysctl(lab, "h", "net/ipv4/conf/brA/route_localnet") == "1"
    # bridged traffic goes through the ip hooks here too, like on this machine
    assert sysctl(lab, "h", "net/bridge/bridge-nf-call-iptables") == "1"


def test_egress_is_masqueraded(lab):
    assert lab.tcp("a1", OUTSIDE, 9000) == f"o {UPLINK}"


def test_egress_without_masquerade_keeps_container_address(lab):
    assert lab.tcp("b1", OUTSIDE, 9000) == "o 172.30.2.2"


def test_outside_cannot_open_connections_to_container_addresses(lab):
    # P-o has a route to brB's subnet, but only published ports let connections in
    assert lab.tcp("o", "172.30.2.2", 80, NEGATIVE_TIMEOUT) == "!TimeoutError"


def test_publish_from_host_loopback(lab):
    # needs route_localnet on the bridge and the 127.0.0.0/8 masquerade
    assert lab.tcp("h", "127.0.0.1", 8080) == "a1 172.30.1.1"


def test_publish_from_host_own_address(lab):
    assert lab.tcp("h", UPLINK, 8080).startswith("a1 ")
    assert lab.tcp("h", "172.30.2.1", 8080).startswith("a1 ")  # any local address, a gateway too


def test_publish_from_outside(lab):
    assert lab.tcp("o", UPLINK, 8080) == f"a1 {OUTSIDE}"


def test_publish_on_one_host_address_only(lab):
    assert lab.tcp("o", UPLINK, 8081) == f"a2 {OUTSIDE}"
    assert lab.tcp("h", "127.0.0.1", 8081) == "!ConnectionRefusedError"  # no DNAT: nothing listens
    assert lab.tcp("h", "172.30.1.1", 8081) == "!ConnectionRefusedError"


def test_hairpin_from_same_bridge(lab):
    assert lab.tcp("a2", UPLINK, 8080) == "a1 172.30.1.1"
    assert lab.tcp("a1", UPLINK, 8080) == "a1 172.30.1.1"  # a container reaching itself
    assert lab.tcp("a2", "172.30.1.1", 8080) == "a1 172.30.1.1"  # through its own gateway


def test_hairpin_from_other_bridge(lab):
    # ct status dnat: a published port is public, even to an isolated bridge
    assert lab.tcp("b1", UPLINK, 8080).startswith("a1 ")


def test_same_bridge_ports_talk(lab):
    assert lab.tcp("a1", "172.30.1.3", 80) == "a2 172.30.1.2"
    assert lab.tcp("i1", "172.30.3.3", 80) == "i2 172.30.3.2"


def test_icc_disabled_keeps_one_bridges_containers_apart(lab):
    """com.docker.network.bridge.enable_icc=false: nothing between two ports of that bridge, not
    even through a published port (Docker's published-port accept excludes the bridge itself);
    the host, the outside and other bridges' published ports are unaffected."""
    no_icc = [BridgeRules(b.bridge, b.subnet, b.internal, b.masquerade, icc=b.bridge != "brA") for b in BRIDGES]
    try:
        lab.host(lambda: lab.fw.apply(no_icc, PORTS))
        assert sysctl(lab, "h", "net/bridge/bridge-nf-call-iptables") == "1"
        assert lab.tcp("a1", "172.30.1.3", 80, NEGATIVE_TIMEOUT) == "!TimeoutError"
        assert lab.tcp("a2", UPLINK, 8080, NEGATIVE_TIMEOUT) == "!TimeoutError"
        assert lab.tcp("a1", OUTSIDE, 9000).startswith("o ")
        assert lab.tcp("h", "127.0.0.1", 8080) == "a1 172.30.1.1"
        assert lab.tcp("b1", UPLINK, 8080).startswith("a1 ")
        assert lab.tcp("i1", "172.30.3.3", 80) == "i2 172.30.3.2"   # other bridges keep icc
    finally:
        lab.host(lambda: lab.fw.apply(BRIDGES, PORTS))
    assert lab.tcp("a1", "172.30.1.3", 80) == "a2 172.30.1.2"


def test_bridges_are_isolated(lab):
    assert lab.tcp("a1", "172.30.2.2", 80, NEGATIVE_TIMEOUT) == "!TimeoutError"
    assert lab.tcp("b1", "172.30.1.2", 80, NEGATIVE_TIMEOUT) == "!TimeoutError"


def test_internal_bridge_has_no_way_out_or_in(lab):
    assert lab.tcp("i1", OUTSIDE, 9000, NEGATIVE_TIMEOUT) == "!TimeoutError"
    assert lab.tcp("i1", "172.30.1.2", 80, NEGATIVE_TIMEOUT) == "!TimeoutError"
    assert lab.tcp("a1", "172.30.3.2", 80, NEGATIVE_TIMEOUT) == "!TimeoutError"
    assert lab.tcp("h", "127.0.0.1", 8090) == "!ConnectionRefusedError"  # ports on --internal: not published


def test_udp_publish(lab):
    assert lab.udp("o", UPLINK, 5353) == f"b1 {OUTSIDE}"
    assert lab.udp("h", "127.0.0.1", 5353) == "b1 172.30.2.1"
    assert lab.udp("a1", UPLINK, 5353).startswith("b1 ")


def iptables_forward(lab: Lab) -> list[str]:
    out = subprocess.run(
        ["ip", "netns", "exec", lab.ns("h"), "iptables", "-w", "-S", "FORWARD"],
        check=True, capture_output=True, text=True,
    ).stdout
    return [line for line in out.splitlines() if "dockyard" in line]


def test_compat_rules_idempotent_and_removed(lab):
    lab.host(lambda: lab.fw.enable_bridge("brA"))  # second time: nothing added
    rules = iptables_forward(lab)
    for br in GATEWAYS:
        assert rules.count(f'-A FORWARD -i {br} -m comment --comment dockyard -j ACCEPT') == 1
        assert rules.count(f'-A FORWARD -o {br} -m comment --comment dockyard -j ACCEPT') == 1
    try:
        lab.host(lambda: lab.fw.disable_bridge("brA"))
        lab.host(lambda: lab.fw.disable_bridge("brA"))  # idempotent
        assert not [r for r in iptables_forward(lab) if "brA" in r]
        assert sysctl(lab, "h", "net/ipv4/conf/brA/route_localnet") == "0"
        # the FORWARD DROP policy now wins over our table's accept
        assert lab.tcp("a1", OUTSIDE, 9000, NEGATIVE_TIMEOUT) == "!TimeoutError"
    finally:
        lab.host(lambda: lab.fw.enable_bridge("brA"))
    assert lab.tcp("a1", OUTSIDE, 9000) == f"o {UPLINK}"


def test_apply_replaces_table_atomically(lab):
    moved = [PortRule("tcp", "", 8082, "172.30.1.2", 80, "brA")]
    try:
        lab.host(lambda: lab.fw.apply(BRIDGES, moved))
        assert lab.tcp("h", "127.0.0.1", 8082) == "a1 172.30.1.1"
        assert lab.tcp("h", "127.0.0.1", 8080) == "!ConnectionRefusedError"  # the old rule is gone
        listing = lab.host(lab.fw.dump)
        assert "dport 8082" in listing and "dport 8080" not in listing
        assert listing.count("chain forward") == 1

        # a transaction the kernel rejects changes nothing: the table in force stays whole
        bad = ruleset(lab.fw.table, BRIDGES, PORTS) + f"add rule ip {lab.fw.table} nosuchchain accept\n"
        with pytest.raises(FirewallError, match="No such file or directory"):
            lab.host(lambda: lab.fw._run(bad))
        assert lab.host(lab.fw.dump) == listing
        assert lab.tcp("h", "127.0.0.1", 8082) == "a1 172.30.1.1"
    finally:
        lab.host(lambda: lab.fw.apply(BRIDGES, PORTS))
    assert lab.tcp("h", "127.0.0.1", 8080) == "a1 172.30.1.1"


def test_tables_of_two_daemons_coexist(lab):
    other = lab.host(lambda: Firewall(table_name("dy-b2")))
    try:
        # two daemons' worker threads applying at once (libnftables state is process-global)
        errors: list[BaseException] = []

        def hammer(fw: Firewall, bridges: list[BridgeRules], ports: list[PortRule]) -> None:
            try:
                for _ in range(40):
                    lab.host(lambda: fw.apply(bridges, ports))
            except BaseException as e:  # noqa: BLE001 - reported below
                errors.append(e)

        threads = [
            threading.Thread(target=hammer, args=(lab.fw, BRIDGES, PORTS)),
            threading.Thread(target=hammer, args=(other, [BridgeRules("brB", "172.30.2.0/24")], [])),
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        listing = lab.host(lambda: other._nft.run("list tables"))
        assert f"table ip {table_name('dy-a1')}" in listing and f"table ip {table_name('dy-b2')}" in listing
        lab.host(other.remove)
        lab.host(other.remove)  # idempotent
        assert table_name("dy-b2") not in lab.host(lambda: other._nft.run("list tables"))
        assert lab.tcp("o", UPLINK, 8080) == f"a1 {OUTSIDE}"  # ours untouched
    finally:
        other.close()


def test_calls_from_another_netns_are_refused(lab):
    with pytest.raises(FirewallError, match="another network namespace"):
        lab.run_in("o", lab.fw.dump)


def test_apply_latency(lab):
    """3 bridges, 50 published ports: apply() through libnftables, no process spawned."""
    bridges = [BridgeRules(b.bridge, b.subnet) for b in BRIDGES]
    ports = [
        PortRule("tcp" if i % 2 else "udp", "", 20000 + i, f"172.30.{i % 3 + 1}.{i + 10}", 80, bridges[i % 3].bridge)
        for i in range(50)
    ]

    def measure() -> list[float]:
        times = []
        for _ in range(30):
            t = time.perf_counter()
            lab.fw.apply(bridges, ports)
            times.append(time.perf_counter() - t)
        return times

    try:
        times = lab.host(measure)
    finally:
        lab.host(lambda: lab.fw.apply(BRIDGES, PORTS))
    med = statistics.median(times)
    print(f"\napply(3 bridges, 50 ports): median {med * 1000:.2f} ms, min {min(times) * 1000:.2f} ms, "
          f"max {max(times) * 1000:.2f} ms over {len(times)} runs (pid {os.getpid()})")
    assert med < 0.5
