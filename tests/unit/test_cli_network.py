"""`dockyard network ...`: flags → request bodies, and the output formats, as docker 28.2 has them.

The expected bodies and texts are what the real docker CLI 28.2 sent and printed for the
same command lines (recorded against a fake daemon; see test_cli_network_vs_docker.py,
which keeps checking that both CLIs still agree).
"""

from __future__ import annotations

import json
import re
import time

import pytest

from dockyard.cli.format import format_rows
from dockyard.cli.netconfig import (
    FlagValueError,
    connect_request,
    create_body,
    disconnect_request,
    parse_cidr,
    parse_filters,
    sorted_filters,
    split_csv,
)
from dockyard.cli.netformat import (
    DEFAULT_TABLE,
    NetworkRow,
    go_time_text,
    list_format,
    natural_less,
    sort_networks,
)
from dockyard.cli.network import NETWORK_CONNECT, NETWORK_CREATE


def _create(*argv: str, api: str = "1.50") -> dict:
    o = NETWORK_CREATE.flagset().parse(list(argv))
    return create_body(o.args[0], o, api)


def _wire(doc: dict) -> str:
    return json.dumps(doc, separators=(",", ":"))


def test_create_plain_body_is_dockers():
    assert _wire(_create("n1")) == (
        '{"Driver":"bridge","Scope":"","IPAM":{"Driver":"default","Options":{},"Config":[]},"Internal":false,'
        '"Attachable":false,"Ingress":false,"ConfigOnly":false,"ConfigFrom":null,"Options":{},"Labels":{},'
        '"Name":"n1"}')


@pytest.mark.parametrize(("api", "check"), [("1.41", True), ("1.43", True), ("1.44", False), ("1.50", False)])
def test_create_check_duplicate_only_before_api_1_44(api, check):
    body = _create("n1", api=api)
    assert ("CheckDuplicate" in body) is check
    if check:
        assert list(body)[-2:] == ["Name", "CheckDuplicate"] and body["CheckDuplicate"] is True


def test_create_every_flag_maps_like_docker():
    body = _create("--subnet", "10.1.0.0/16", "--gateway", "10.1.0.1", "--ip-range", "10.1.2.0/24",
                   "--aux-address", "a=10.1.0.5", "--label", "x=y", "--label", "z", "-o",
                   "com.docker.network.bridge.name=br9", "--internal", "--attachable", "--ipv6", "--ipam-opt", "q=r",
                   "--scope", "local", "n1")
    assert _wire(body) == (
        '{"Driver":"bridge","Scope":"local","EnableIPv6":true,"IPAM":{"Driver":"default","Options":{"q":"r"},'
        '"Config":[{"Subnet":"10.1.0.0/16","IPRange":"10.1.2.0/24","Gateway":"10.1.0.1",'
        '"AuxiliaryAddresses":{"a":"10.1.0.5"}}]},"Internal":true,"Attachable":true,"Ingress":false,'
        '"ConfigOnly":false,"ConfigFrom":null,"Options":{"com.docker.network.bridge.name":"br9"},'
        '"Labels":{"x":"y","z":""},"Name":"n1"}')


def test_create_pointer_bools_config_from_and_driver():
    body = _create("--ipv4=false", "--ipv6", "--config-from", "x", "--config-only", "--ingress", "-d", "macvlan",
                   "--ipam-driver", "other", "-o", "a", "n1")
    assert _wire(body) == (
        '{"Driver":"macvlan","Scope":"","EnableIPv4":false,"EnableIPv6":true,"IPAM":{"Driver":"other",'
        '"Options":{},"Config":[]},"Internal":false,"Attachable":false,"Ingress":true,"ConfigOnly":true,'
        '"ConfigFrom":{"Network":"x"},"Options":{"a":""},"Labels":{},"Name":"n1"}')


def test_create_two_families_each_with_its_gateway_and_aux():
    body = _create("--subnet", "10.1.0.0/16,fd00::/64", "--gateway", "fd00::1,10.1.0.1", "--aux-address",
                   "a=10.1.0.3", "--aux-address", "b=fd00::3", "n1")
    assert body["IPAM"]["Config"] == [
        {"Subnet": "10.1.0.0/16", "Gateway": "10.1.0.1", "AuxiliaryAddresses": {"a": "10.1.0.3"}},
        {"Subnet": "fd00::/64", "Gateway": "fd00::1", "AuxiliaryAddresses": {"b": "fd00::3"}},
    ]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--subnet", "10.1.0.0/16", "--gateway", "10.2.0.1"], "no matching subnet for gateway 10.2.0.1"),
        (["--gateway", "10.2.0.1"], "every ip-range or gateway must have a corresponding subnet"),
        (["--subnet", "10.1.0.0/16", "--gateway", "10.1.0.1", "--gateway", "10.1.0.2"],
         "every ip-range or gateway must have a corresponding subnet"),
        (["--subnet", "10.1.0.0/16,10.1.2.0/24"], "multiple overlapping subnet configuration is not supported"),
        (["--subnet", "10.1.0.0/16", "--subnet", "10.1.0.0/16"],
         "multiple overlapping subnet configuration is not supported"),
        (["--subnet", "10.1.0.0/16", "--ip-range", "foo"], "invalid CIDR address: foo"),
        (["--subnet", "10.1.0.0/16", "--ip-range", "10.9.0.0/24"], "no matching subnet for range 10.9.0.0/24"),
        (["--subnet", "10.1.0.0/16,10.2.0.0/16", "--ip-range", "10.1.0.0/24", "--ip-range", "10.1.1.0/24"],
         "cannot configure multiple ranges (10.1.1.0/24, 10.1.0.0/24) on the same subnet (10.1.0.0/16)"),
        (["--subnet", "10.1.0.0/16,10.2.0.0/16", "--gateway", "10.1.0.1", "--gateway", "10.1.0.2"],
         "cannot configure multiple gateways (10.1.0.2, 10.1.0.1) for the same subnet (10.1.0.0/16)"),
        (["--subnet", "10.1.0.0/16", "--gateway", "foo"], "no matching subnet for gateway foo"),
        (["--subnet", "10.1.0.0/16", "--gateway", "10.1.0.1/33"], "invalid CIDR address: 10.1.0.1/33"),
        (["--subnet", "foo", "--subnet", "bar"], "invalid subnet: invalid CIDR address: bar"),
        (["--subnet", "foo", "--gateway", "1.2.3.4"], "invalid subnet: invalid CIDR address: foo"),
        (["--subnet", "10.1.0.0/16", "--aux-address", "a=9.9.9.9"], "no matching subnet for aux-address 9.9.9.9"),
        (["--subnet", "10.1.0.0/16", "--aux-address", "a"], "no matching subnet for aux-address "),
        (["--subnet", "fd00::/64", "--gateway", "10.0.0.1"], "no matching subnet for gateway 10.0.0.1"),
    ],
)
def test_create_ipam_refusals_use_dockers_words(argv, message):
    with pytest.raises(ValueError) as e:
        _create(*argv, "n1")
    assert str(e.value) == message and not isinstance(e.value, FlagValueError)


def test_create_lone_bad_subnet_is_left_to_the_daemon():
    # docker checks a subnet only against something else; alone, the daemon judges it
    assert _create("--subnet", "foo", "n1")["IPAM"]["Config"] == [{"Subnet": "foo"}]


@pytest.mark.parametrize(
    ("label", "message"),
    [("", "invalid argument \"\" for \"--label\" flag: invalid label '': empty name"),
     ("=x", "invalid argument \"=x\" for \"--label\" flag: invalid label '=x': empty name"),
     (" a b=c", "invalid argument \" a b=c\" for \"--label\" flag: label 'a b' contains whitespaces")],
)
def test_create_bad_label_is_a_flag_error(label, message):
    with pytest.raises(FlagValueError) as e:
        _create("--label", label, "n1")
    assert str(e.value) == message


@pytest.mark.parametrize(
    ("text", "ok"),
    [("10.0.0.0/8", True), ("10.0.0.1/24", True), ("fd00::/64", True), ("10.0.0.0/008", True),
     ("10.0.0.0", False), ("10.0.0.0/33", False), ("fd00::/129", False), ("10.0.0.0/x", False),
     ("10.0.0.0/8/9", False), ("fe80::1%eth0/64", False), ("010.0.0.0/8", False), ("10.0.0/8", False),
     ("10.0.0.0/", False), ("10.0.0.0/+8", False)],
)
def test_parse_cidr_like_go(text, ok):
    if ok:
        parse_cidr(text)
    else:
        with pytest.raises(ValueError, match=f"^invalid CIDR address: {re.escape(text)}$"):
            parse_cidr(text)


@pytest.mark.parametrize(
    ("value", "reason"),
    [('"abc', 'column 5: extraneous or missing " in quoted-field'),
     ('"a"b', 'column 3: extraneous or missing " in quoted-field'),
     ('a,"b', 'column 5: extraneous or missing " in quoted-field'),
     ('a,b"c', 'column 4: bare " in non-quoted-field'),
     (' "a"', 'column 2: bare " in non-quoted-field')],
)
def test_split_csv_quote_errors_are_go_csv_errors(value, reason):
    # the texts docker 28.2 printed for `network create --subnet VALUE n1`
    with pytest.raises(FlagValueError) as e:
        split_csv([value], "--subnet")
    quoted = value.replace('"', '\\"')
    assert str(e.value) == f'invalid argument "{quoted}" for "--subnet" flag: parse error on line 1, {reason}'


def test_split_csv_like_pflag_string_slice():
    assert split_csv(["a,b", "c", "", "\"d,e\",f", '"a""b",c', "x\ny"], "--x") == [
        "a", "b", "c", "d,e", "f", 'a"b', "c", "x"]


def test_connect_full_endpoint_settings():
    o = NETWORK_CONNECT.flagset().parse([
        "--alias", "a,b", "--alias", "c", "--ip", "10.0.0.2", "--ip6", "fe80::1", "--link", "x:y",
        "--link-local-ip", "169.254.1.1", "--driver-opt", "k=v", "--driver-opt", " q = r ", "--gw-priority", "3",
        "net10", "c1"])
    network, body = connect_request(o.args[0], o.args[1], o)
    assert network == "net10"
    assert _wire(body) == (
        '{"Container":"c1","EndpointConfig":{"IPAMConfig":{"IPv4Address":"10.0.0.2","IPv6Address":"fe80::1",'
        '"LinkLocalIPs":["169.254.1.1"]},"Links":["x:y"],"Aliases":["a","b","c"],"MacAddress":"",'
        '"DriverOpts":{"k":"v","q":"r"},"GwPriority":3,"NetworkID":"","EndpointID":"","Gateway":"",'
        '"IPAddress":"","IPPrefixLen":0,"IPv6Gateway":"","GlobalIPv6Address":"","GlobalIPv6PrefixLen":0,'
        '"DNSNames":null}}')


def test_connect_plain_body():
    o = NETWORK_CONNECT.flagset().parse(["net10", " c1 "])
    assert _wire(connect_request(" net10", " c1 ", o)[1]) == (
        '{"Container":"c1","EndpointConfig":{"IPAMConfig":{},"Links":null,"Aliases":[],"MacAddress":"",'
        '"DriverOpts":{},"GwPriority":0,"NetworkID":"","EndpointID":"","Gateway":"","IPAddress":"",'
        '"IPPrefixLen":0,"IPv6Gateway":"","GlobalIPv6Address":"","GlobalIPv6PrefixLen":0,"DNSNames":null}}')


@pytest.mark.parametrize(
    ("argv", "message", "flag"),
    [(["--driver-opt", "bad", "n", "c"], "invalid key/value pair format in driver options", False),
     (["--driver-opt", "=v", "n", "c"], "invalid key/value pair format in driver options", False),
     (["--driver-opt", "bad", " ", "c"], "invalid key/value pair format in driver options", False),
     ([" ", "c"], "invalid network name or ID: value is empty", False),
     (["n", " "], "invalid container name or ID: value is empty", False),
     (["--link", "a:b:c", "n", "c"], 'invalid argument "a:b:c" for "--link" flag: bad format for links: a:b:c', True),
     (["--link", "", "n", "c"], 'invalid argument "" for "--link" flag: empty string specified for links', True)],
)
def test_connect_refusals(argv, message, flag):
    o = NETWORK_CONNECT.flagset().parse(argv)
    with pytest.raises(ValueError) as e:
        connect_request(o.args[0], o.args[1], o)
    assert str(e.value) == message and isinstance(e.value, FlagValueError) is flag


def test_disconnect_body():
    assert disconnect_request("n", "c1", True) == ("n", {"Container": "c1", "Force": True})
    with pytest.raises(ValueError, match="^invalid network name or ID: value is empty$"):
        disconnect_request("", "c1", False)


def test_filters_like_filter_opt():
    got = parse_filters(["name=net", "driver=bridge", "label=a=1", "label=b", " NAME = x ", ""], "-f, --filter")
    assert got == {"name": ["net", "x"], "driver": ["bridge"], "label": ["a=1", "b"]}
    assert list(sorted_filters(got)) == ["driver", "label", "name"]
    with pytest.raises(FlagValueError, match='^invalid argument "foo" for "-f, --filter" flag: bad format of filter'):
        parse_filters(["foo"], "-f, --filter")


# -- output ---------------------------------------------------------------------------------

def _net(name: str, ident: str, created: str = "2026-11-22T15:56:38.259318914Z", **kw) -> dict:
    doc = {"Name": name, "Id": ident, "Created": created, "Scope": "local", "Driver": "bridge", "EnableIPv4": True,
           "EnableIPv6": False, "Internal": False, "Labels": {}}
    doc.update(kw)
    return doc


NETS = [
    _net("net10", "aa11" + "0" * 60, "2026-11-22T16:00:29.605579016+01:00", Labels={"a": "1", "b": "2"}),
    _net("none", "0e53" + "1" * 60, Driver="null"),
    _net("bridge", "bbec" + "2" * 60),
    _net("net9", "9a11" + "3" * 60, "2026-11-22T16:00:29Z", Internal=True),
]


def _ls(fmt: str, quiet: bool = False, trunc: bool = True) -> str:
    rows = [NetworkRow(n, trunc) for n in sort_networks(NETS)]
    return format_rows(list_format(fmt, quiet), rows, NetworkRow.HEADERS, DEFAULT_TABLE)


def test_ls_table_in_natural_name_order():
    assert _ls("") == (
        "NETWORK ID     NAME      DRIVER    SCOPE\n"
        "bbec22222222   bridge    bridge    local\n"
        "9a1133333333   net9      bridge    local\n"
        "aa1100000000   net10     bridge    local\n"
        "0e5311111111   none      null      local\n")


def test_ls_quiet_raw_json_and_custom_formats():
    assert _ls("", quiet=True, trunc=False).splitlines()[0] == "bbec" + "2" * 60
    assert _ls("table", quiet=True).splitlines() == ["bbec22222222", "9a1133333333", "aa1100000000", "0e5311111111"]
    assert _ls("{{.Name}}", quiet=True) == "bridge\nnet9\nnet10\nnone\n"
    assert _ls("raw").startswith("network_id: bbec22222222\nname: bridge\ndriver: bridge\nscope: local\n\n")
    assert _ls("raw", quiet=True).splitlines()[1] == "network_id: 9a1133333333"
    assert json.loads(_ls("json").splitlines()[2]) == {
        "CreatedAt": "2026-11-22 16:00:29.605579016 +0100 +0100", "Driver": "bridge", "ID": "aa1100000000",
        "IPv4": "true", "IPv6": "false", "Internal": "false", "Labels": "a=1,b=2", "Name": "net10", "Scope": "local"}
    assert _ls('{{.Name}} {{.Labels}} {{.Label "a"}} {{.Internal}}').splitlines()[1:3] == [
        "net9   true", "net10 a=1,b=2 1 false"]
    assert _ls('table {{.Name}}\t{{.Label "com.x_y-z"}}').splitlines()[0] == "NAME      x y z"


@pytest.mark.parametrize(
    ("a", "b", "less"),
    [("net9", "net10", True), ("net10", "net9", False), ("a", "b", True), ("a1", "a01", True),
     ("a01", "a1", False), ("1a", "a", True), ("net", "net1", True), ("x", "x", False), ("B", "a", True)],
)
def test_natural_less(a, b, less):
    assert natural_less(a, b) is less


@pytest.mark.parametrize(
    ("text", "shown"),
    [("2026-11-22T15:56:38.259318914Z", "2026-11-22 15:56:38.259318914 +0000 UTC"),
     ("2026-11-22T15:56:38.2500Z", "2026-11-22 15:56:38.25 +0000 UTC"),
     ("2026-11-22T16:00:29Z", "2026-11-22 16:00:29 +0000 UTC"),
     ("2026-11-22T16:00:29.605579016+01:00", "2026-11-22 16:00:29.605579016 +0100 +0100"),
     ("2026-11-22T16:00:29-05:30", "2026-11-22 16:00:29 -0530 -0530"),
     ("", "0001-01-01 00:00:00 +0000 UTC")],
)
def test_go_time_text_in_utc(text, shown, monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    try:
        assert go_time_text(text) == shown
    finally:
        monkeypatch.undo()
        time.tzset()


def test_go_time_text_takes_the_local_zone_name_when_offsets_agree(monkeypatch):
    monkeypatch.setenv("TZ", "Europe/Berlin")
    time.tzset()
    try:
        assert go_time_text("2026-11-22T16:00:29.605579016+01:00") == "2026-11-22 16:00:29.605579016 +0100 CET"
        assert go_time_text("2026-07-22T16:00:29+02:00") == "2026-07-22 16:00:29 +0200 CEST"
        assert go_time_text("2026-07-22T16:00:29+01:00") == "2026-07-22 16:00:29 +0100 +0100"
    finally:
        monkeypatch.undo()
        time.tzset()
