"""ruleset() and table_name() as text: the rules each input produces, and the inputs refused.

The traffic these rules give is checked in tests/integration/test_firewall.py.
"""

from __future__ import annotations

import re

import pytest

from dockyard.errors import InvalidArgument
from dockyard.network.firewall import BridgeRules, PortRule, ruleset, table_name

A = BridgeRules("br-0123456789ab", "172.18.0.0/16")
B = BridgeRules("dyt1a2b3c", "172.19.0.0/16", masquerade=False)
I = BridgeRules("dyint", "172.20.0.0/16", internal=True)  # noqa: E741


def chain(script: str, name: str) -> list[str]:
    body = re.search(rf"^\tchain {name} {{\n(.*?)^\t}}$", script, re.S | re.M)
    assert body, name
    return [line.strip() for line in body.group(1).splitlines()]


def test_script_replaces_the_table_in_one_go():
    s = ruleset("dockyard_x", [A], [])
    assert s.splitlines()[:3] == ["table ip dockyard_x {}", "delete table ip dockyard_x", "table ip dockyard_x {"]
    assert s.endswith("}\n") and s.count("table ip dockyard_x {") == 2


def test_hooks():
    s = ruleset("t", [A], [])
    assert chain(s, "prerouting") == [
        "type nat hook prerouting priority dstnat; policy accept;",
        "fib daddr type local jump published",
    ]
    assert chain(s, "output")[0] == "type nat hook output priority -100; policy accept;"
    assert chain(s, "postrouting")[0] == "type nat hook postrouting priority srcnat; policy accept;"
    assert chain(s, "forward")[0] == "type filter hook forward priority filter; policy accept;"


def test_published_ports():
    ports = [
        PortRule("tcp", "", 8080, "172.18.0.2", 80, A.bridge),
        PortRule("udp", "0.0.0.0", 53, "172.18.0.3", 5353, A.bridge),
        PortRule("TCP", "192.0.2.7", 443, "172.19.0.2", 8443, B.bridge),
        PortRule("tcp", "::", 8080, "172.18.0.2", 80, A.bridge),  # IPv6 binding: not this table's job
        PortRule("tcp", "", 9000, "172.20.0.2", 80, I.bridge),  # --internal: never published
    ]
    assert chain(ruleset("t", [A, B, I], ports), "published") == [
        "tcp dport 8080 dnat to 172.18.0.2:80",
        "udp dport 53 dnat to 172.18.0.3:5353",
        "ip daddr 192.0.2.7 tcp dport 443 dnat to 172.19.0.2:8443",
    ]


def test_masquerade_rules():
    post = chain(ruleset("t", [A, B, I], []), "postrouting")[1:]
    both = "{ 172.18.0.0/15, 172.20.0.0/16 }"  # adjacent subnets collapse: an interval set rejects overlaps
    assert post == [
        'oifname "br-0123456789ab" ip saddr 127.0.0.0/8 masquerade',
        f'oifname "br-0123456789ab" ip saddr {both} ct status dnat masquerade',
        'ip saddr 172.18.0.0/16 oifname != "br-0123456789ab" masquerade',
        'oifname "dyt1a2b3c" ip saddr 127.0.0.0/8 masquerade',
        f'oifname "dyt1a2b3c" ip saddr {both} ct status dnat masquerade',
    ]


def test_forward_rules():
    fwd = chain(ruleset("t", [A, I, B], []), "forward")[1:]
    assert fwd == [
        'iifname "dyint" oifname != "dyint" drop',
        'oifname "dyint" iifname != "dyint" drop',
        "ct state established,related accept",
        "ct status dnat accept",
        'oifname "br-0123456789ab" iifname != "br-0123456789ab" drop',
        'oifname "dyt1a2b3c" iifname != "dyt1a2b3c" drop',
    ]


def test_subnet_is_normalised():
    s = ruleset("t", [BridgeRules("br0", "10.1.2.3/16")], [])
    assert 'ip saddr 10.1.0.0/16 oifname != "br0" masquerade' in s


def test_empty_rule_set_is_valid_text():
    s = ruleset("t", [], [])
    assert chain(s, "published") == []
    assert chain(s, "forward")[1:] == ["ct state established,related accept", "ct status dnat accept"]


@pytest.mark.parametrize(
    ("bridges", "ports", "message"),
    [
        ([BridgeRules("br 0", "10.0.0.0/8")], [], "invalid bridge interface name"),
        ([BridgeRules('br"0', "10.0.0.0/8")], [], "invalid bridge interface name"),
        ([BridgeRules("a" * 16, "10.0.0.0/8")], [], "invalid bridge interface name"),
        ([BridgeRules("br0", "10.0.0.0/33")], [], "invalid subnet"),
        ([BridgeRules("br0", "fd00::/64")], [], "invalid subnet"),
        ([A, A], [], "listed twice"),
        ([A], [PortRule("icmp", "", 1, "172.18.0.2", 1, A.bridge)], "invalid protocol"),
        ([A], [PortRule("tcp", "", 0, "172.18.0.2", 1, A.bridge)], "invalid port"),
        ([A], [PortRule("tcp", "", 80, "172.18.0.2", 65536, A.bridge)], "invalid port"),
        ([A], [PortRule("tcp", "host.example", 80, "172.18.0.2", 80, A.bridge)], "invalid host IP"),
        ([A], [PortRule("tcp", "", 80, "172.18.0.2; flush ruleset", 80, A.bridge)], "invalid container IP"),
        ([A], [PortRule("tcp", "", 80, "172.18.0.2", 80, "br-other")], "not in the rule set"),
    ],
)
def test_bad_input_is_refused(bridges, ports, message):
    with pytest.raises(InvalidArgument, match=message):
        ruleset("t", bridges, ports)


def test_bad_table_name_is_refused():
    with pytest.raises(InvalidArgument, match="invalid nft table name"):
        ruleset("t; flush ruleset", [], [])


def test_table_name():
    assert table_name("dy-a1") == "dockyard_dy-a1"
    names = {table_name(k) for k in ["dy-a1", "dy_a1", "dy.a1", "dy/a1", "x" * 40, "x" * 41, "x" * 42]}
    assert len(names) == 7  # squashed or truncated keys keep distinct names
    for name in names:
        assert re.fullmatch(r"dockyard_[A-Za-z0-9_-]+", name) and len(name) <= 64
    with pytest.raises(InvalidArgument):
        table_name("")
