"""engine/links.py on plain data: link parsing, moby's link variables (ports, ranges), hosts lines."""

from __future__ import annotations

import pytest

from dockyard import errors
from dockyard.engine.links import LinkedChild, env_vars, hosts_line, inspect_links, parse_link, sorted_ports
from dockyard.network.firewall import BridgeRules, LinkRule, ruleset


@pytest.mark.parametrize(("value", "want"), [
    ("db", ("db", "db")), ("db:data", ("db", "data")), ("/db:/web/data", ("db", "data"))])
def test_parse_link(value, want):
    assert parse_link(value) == want


@pytest.mark.parametrize(("value", "message"), [
    ("", "empty string specified for links"), ("a:b:c", "bad format for links: a:b:c")])
def test_parse_link_refuses(value, message):
    with pytest.raises(errors.InvalidArgument, match=message):
        parse_link(value)


def test_ports_sort_tcp_first_then_by_protocol_and_number():
    assert sorted_ports(["53/udp", "8080/tcp", "80/tcp", "9/sctp", "80"]) == [
        (80, "tcp"), (8080, "tcp"), (9, "sctp"), (53, "udp")]


def test_env_for_one_port_and_the_child_env():
    child = LinkedChild(alias="/web/db-1", name="/db", hostname="h", ip="172.17.0.2",
                        env=("PATH=/bin", "HOME=/root", "PASSWORD=x=y", "NOVALUE"), exposed_ports=("5432/tcp",))
    assert env_vars(child) == [
        "DB_1_PORT=tcp://172.17.0.2:5432",
        "DB_1_PORT_5432_TCP=tcp://172.17.0.2:5432", "DB_1_PORT_5432_TCP_ADDR=172.17.0.2",
        "DB_1_PORT_5432_TCP_PORT=5432", "DB_1_PORT_5432_TCP_PROTO=tcp",
        "DB_1_NAME=/web/db-1", "DB_1_ENV_PASSWORD=x=y"]


def test_env_for_a_port_range_adds_start_and_end():
    child = LinkedChild(alias="/p/a", name="/c", hostname="h", ip="10.0.0.5",
                        exposed_ports=("8002/tcp", "8000/tcp", "8001/tcp", "53/udp"))
    env = env_vars(child)
    assert env[0] == "A_PORT=tcp://10.0.0.5:8000"
    assert "A_PORT_8000_TCP_START=tcp://10.0.0.5:8000" in env
    assert "A_PORT_8000_TCP_PORT_START=8000" in env
    assert "A_PORT_8000_TCP_END=tcp://10.0.0.5:8002" in env
    assert "A_PORT_8000_TCP_PORT_END=8002" in env
    # the range's variables follow its last port's, and the udp port is not part of it
    assert env.index("A_PORT_8000_TCP_START=tcp://10.0.0.5:8000") > env.index("A_PORT_8002_TCP_PROTO=tcp")
    assert "A_PORT_53_UDP=udp://10.0.0.5:53" in env and not any("53_UDP_START" in e for e in env)
    assert env[-1] == "A_NAME=/p/a"


def test_env_without_ports_is_just_the_name():
    assert env_vars(LinkedChild(alias="/p/c", name="/c", hostname="h", ip="10.0.0.5")) == ["C_NAME=/p/c"]


def test_hosts_line_names_alias_hostname_and_name_unless_alias_is_the_name():
    assert hosts_line(LinkedChild(alias="/p/db", name="/pg", hostname="abc", ip="10.0.0.5")) == "10.0.0.5\tdb abc pg"
    assert hosts_line(LinkedChild(alias="/p/pg", name="/pg", hostname="abc", ip="10.0.0.5")) == "10.0.0.5\tpg abc"


def test_inspect_links_use_current_child_names_and_drop_removed_children():
    records = [{"Alias": "/p/db", "Child": "id1"}, {"Alias": "/p/gone", "Child": "id2"}]
    assert inspect_links(records, {"id1": "pg"}) == ["/pg:/p/db"]
    assert inspect_links([], {}) is None


def test_ruleset_opens_linked_ports_before_the_icc_drop():
    b = BridgeRules("br0", "172.17.0.0/16", icc=False, links=(LinkRule("172.17.0.3", "172.17.0.2", 80, "tcp"),))
    lines = [ln.strip() for ln in ruleset("t", [b], []).splitlines()]
    fwd = lines[lines.index("chain forward {") + 2:]
    assert fwd[:3] == [
        'iifname "br0" oifname "br0" ip saddr 172.17.0.3 ip daddr 172.17.0.2 tcp dport 80 accept',
        'iifname "br0" oifname "br0" ip saddr 172.17.0.2 ip daddr 172.17.0.3 tcp sport 80 accept',
        'iifname "br0" oifname "br0" drop']
    with pytest.raises(errors.InvalidArgument):
        ruleset("t", [BridgeRules("br0", "172.17.0.0/16", icc=False,
                                  links=(LinkRule("nope", "172.17.0.2", 80, "tcp"),))], [])
