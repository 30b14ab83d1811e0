"""`network create`/`connect` flags → Engine-API request bodies, checked as the docker CLI checks them.

Pure functions.  The bodies are shaped field for field like docker 28.2's (Go struct order,
its omitempty rules): `POST /networks/create` carries `network.CreateRequest`, `connect`
a full `network.EndpointSettings`.  Addresses are parsed with Go's rules (net.ParseCIDR,
net.ParseIP) because the error texts users see come from them.  Errors are ValueError
with docker's words; `FlagValueError` marks the ones pflag reports as a bad flag value.
"""

from __future__ import annotations

import ipaddress

from dockyard.cli.flags import parse_map

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from dockyard.cli.flags import Parsed

__all__ = [
    "FlagValueError",
    "split_csv",
    "parse_filters",
    "sorted_filters",
    "validate_label",
    "validate_link",
    "parse_cidr",
    "parse_ip",
    "ipam_config",
    "create_body",
    "connect_request",
    "disconnect_request",
    "check_id",
]

_WHITESPACE = " \t"


class FlagValueError(ValueError):
    """A value pflag refuses while parsing: shown as `invalid argument "V" for "FLAG" flag: ...`."""

    def __init__(self, flag: str, value: str, reason: str) -> None:
        from dockyard.cli.gotemplate import go_quote  # pflag shows the value with %q

        super().__init__(f'invalid argument {go_quote(value)} for "{flag}" flag: {reason}')


def _csv_record(text: str) -> list[str]:
    """The first record of `text` as Go's encoding/csv reads it (strict quotes), or its error."""
    fields: list[str] = []
    i, n = 0, len(text)
    while True:
        if i < n and text[i] == '"':
            parts, j = [], i + 1
            while True:
                k = text.find('"', j)
                if k < 0:
                    raise ValueError(f'parse error on line 1, column {n + 1}: extraneous or missing " in quoted-field')
                parts.append(text[j:k])
                after = text[k + 1:k + 2]
                if after == '"':
                    parts.append('"')
                    j = k + 2
                elif after in ("", "\n", ","):
                    fields.append("".join(parts))
                    if after != ",":
                        return fields
                    i = k + 2
                    break
                else:
                    raise ValueError(f'parse error on line 1, column {k + 1}: extraneous or missing " in quoted-field')
            continue
        end = min((p for p in (text.find(",", i), text.find("\n", i)) if p >= 0), default=n)
        quote = text.find('"', i, end)
        if quote >= 0:
            raise ValueError(f'parse error on line 1, column {quote + 1}: bare " in non-quoted-field')
        fields.append(text[i:end])
        if end == n or text[end] == "\n":
            return fields
        i = end + 1


def split_csv(values: list[str], flag: str) -> list[str]:
    """pflag's StringSlice: each occurrence is one CSV record ("" adds nothing)."""
    out: list[str] = []
    for v in values:
        if v:
            try:
                out.extend(_csv_record(v))
            except ValueError as e:
                raise FlagValueError(flag, v, str(e)) from None
    return out


def parse_filters(values: list[str], flag: str) -> dict[str, list[str]]:
    """docker's FilterOpt: names lower-cased and trimmed, values trimmed, "" ignored."""
    out: dict[str, list[str]] = {}
    for v in values:
        if not v:
            continue
        if "=" not in v:
            raise FlagValueError(flag, v, "bad format of filter (expected name=value)")
        name, _, val = v.partition("=")
        vals = out.setdefault(name.strip().lower(), [])
        if val.strip() not in vals:
            vals.append(val.strip())
    return out


def sorted_filters(filters: dict[str, list[str]]) -> dict[str, list[str]]:
    """Names and values sorted, as Go's encoding/json writes the filters map."""
    return {k: sorted(filters[k]) for k in sorted(filters)}


def validate_label(value: str) -> str:
    key = value.partition("=")[0].lstrip(_WHITESPACE)
    if not key:
        raise FlagValueError("--label", value, f"invalid label '{value}': empty name")
    if any(c in key for c in _WHITESPACE):
        raise FlagValueError("--label", value, f"label '{key}' contains whitespaces")
    return value


def validate_link(value: str) -> str:
    if not value:
        raise FlagValueError("--link", value, "empty string specified for links")
    if len(value.split(":", 2)) > 2:
        raise FlagValueError("--link", value, f"bad format for links: {value}")
    return value


# -- addresses, the Go way ---------------------------------------------------------------

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _parse_addr(text: str) -> Address | None:
    if "%" in text:  # Go's ParseIP and ParseCIDR take no IPv6 zone
        return None
    try:
        addr = ipaddress.ip_address(text)
    except ValueError:
        return None
    return addr


def parse_ip(text: str) -> Address | None:
    """net.ParseIP: the address, or None."""
    addr = _parse_addr(text)
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return addr.ipv4_mapped  # Go treats ::ffff:a.b.c.d as the IPv4 address
    return addr


def parse_cidr(text: str) -> tuple[Address, Network]:
    """net.ParseCIDR: (the address as written, its network), or docker's error."""
    addr_text, slash, bits = text.partition("/")
    addr = _parse_addr(addr_text) if slash else None
    if addr is None or not bits.isdigit() or not bits.isascii() or int(bits) > addr.max_prefixlen:
        raise ValueError(f"invalid CIDR address: {text}")
    return addr, ipaddress.ip_network((addr, int(bits)), strict=False)


def _unmapped(net: Network) -> Network:
    """Go's IPNet.Contains sees an IPv4-mapped network (::ffff:a.b.c.d/96+) as the IPv4 one."""
    if isinstance(net, ipaddress.IPv6Network) and net.prefixlen >= 96:
        v4 = net.network_address.ipv4_mapped
        if v4 is not None:
            return ipaddress.IPv4Network((v4, net.prefixlen - 96))
    return net


def _subnet_matches(subnet: str, data: str) -> bool:
    """docker's subnetMatches: does `subnet` hold the address of `data` (an IP or a CIDR)?"""
    try:
        net = _unmapped(parse_cidr(subnet)[1])
    except ValueError as e:
        raise ValueError(f"invalid subnet: {e}") from None
    ip = parse_ip(str(parse_cidr(data)[0])) if "/" in data else parse_ip(data)
    if ip is None or ip.version != net.version:
        return False
    return ip in net


def ipam_config(driver: str, subnets: list[str], ranges: list[str], gateways: list[str],
                aux: dict[str, str], options: dict[str, str]) -> dict[str, Any]:
    """The IPAM block: one Config entry per subnet with its range, gateway and aux addresses."""
    if len(subnets) < len(ranges) or len(subnets) < len(gateways):
        raise ValueError("every ip-range or gateway must have a corresponding subnet")
    configs: dict[str, dict[str, Any]] = {}
    for s in subnets:
        for k in configs:
            if _subnet_matches(s, k) or _subnet_matches(k, s):
                raise ValueError("multiple overlapping subnet configuration is not supported")
        configs[s] = {"Subnet": s}

    def attach(values: list[str], field: str, what: str) -> None:
        for v in values:
            matched = False
            for s in subnets:
                if field == "IPRange":
                    parse_cidr(v)  # a range must itself be a CIDR
                if not _subnet_matches(s, v):
                    continue
                if field in configs[s]:
                    kind = "ranges" if field == "IPRange" else "gateways"
                    prep = "on" if field == "IPRange" else "for"
                    raise ValueError(f"cannot configure multiple {kind} ({v}, {configs[s][field]}) "
                                     f"{prep} the same subnet ({s})")
                configs[s][field] = v
                matched = True
            if not matched:
                raise ValueError(f"no matching subnet for {what} {v}")

    attach(ranges, "IPRange", "range")
    attach(gateways, "Gateway", "gateway")
    for key, addr in aux.items():
        matched = False
        for s in subnets:
            if _subnet_matches(s, addr):
                configs[s].setdefault("AuxiliaryAddresses", {})[key] = addr
                matched = True
        if not matched:
            raise ValueError(f"no matching subnet for aux-address {addr}")
    ordered = [{k: c[k] for k in ("Subnet", "IPRange", "Gateway", "AuxiliaryAddresses") if k in c}
               for c in configs.values()]
    return {"Driver": driver, "Options": options, "Config": ordered}


def _older(version: str, than: str) -> bool:
    def parts(v: str) -> tuple[int, ...]:
        return tuple(int(p) if p.isdigit() else 0 for p in v.split("."))

    return parts(version) < parts(than)


def create_body(name: str, o: Parsed, api_version: str) -> dict[str, Any]:
    """`network create` options → the `POST /networks/create` body docker 28.2 sends."""
    labels = [validate_label(v) for v in o.list("label")]
    subnets, ranges, gateways = (split_csv(o.list(f), f"--{f}") for f in ("subnet", "ip-range", "gateway"))
    ipam = ipam_config(o.str("ipam-driver", "default"), subnets, ranges, gateways,
                       parse_map(o.list("aux-address")), parse_map(o.list("ipam-opt")))
    body: dict[str, Any] = {"Driver": o.str("driver", "bridge"), "Scope": o.str("scope")}
    for flag, field in (("ipv4", "EnableIPv4"), ("ipv6", "EnableIPv6")):
        if o.changed(flag):  # a pointer in Go: sent only when given
            body[field] = o.bool(flag)
    config_from = o.str("config-from")
    body.update({
        "IPAM": ipam,
        "Internal": o.bool("internal"),
        "Attachable": o.bool("attachable"),
        "Ingress": o.bool("ingress"),
        "ConfigOnly": o.bool("config-only"),
        "ConfigFrom": {"Network": config_from} if config_from else None,
        "Options": parse_map(o.list("opt")),
        "Labels": parse_map(labels),
        "Name": name,
    })
    if _older(api_version, "1.44"):
        body["CheckDuplicate"] = True  # deprecated in 1.44; older daemons need it to refuse duplicates
    return body


def _driver_opts(values: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for v in values:
        key, eq, val = v.partition("=")
        key = key.strip()
        if not eq or not key:
            raise ValueError("invalid key/value pair format in driver options")
        out[key] = val.strip()
    return out


def check_id(kind: str, ident: str) -> str:
    """The client's trimID: surrounding space dropped, an empty name refused before any request."""
    ident = ident.strip()
    if not ident:
        raise ValueError(f"invalid {kind} name or ID: value is empty")
    return ident


def connect_request(network: str, container: str, o: Parsed) -> tuple[str, dict[str, Any]]:
    """`network connect` options → (network, `{"Container": ..., "EndpointConfig": EndpointSettings}`).

    Checked in docker's order: flag values, driver options, then the two names.
    """
    links = [validate_link(v) for v in o.list("link")]
    aliases, link_local, opts = (split_csv(o.list(f), f"--{f}") for f in ("alias", "link-local-ip", "driver-opt"))
    driver_opts = _driver_opts(opts)
    network = check_id("network", network)
    ipam: dict[str, Any] = {}
    if o.str("ip"):
        ipam["IPv4Address"] = o.str("ip")
    if o.str("ip6"):
        ipam["IPv6Address"] = o.str("ip6")
    if link_local:
        ipam["LinkLocalIPs"] = link_local
    endpoint = {
        "IPAMConfig": ipam, "Links": links or None, "Aliases": aliases, "MacAddress": "",
        "DriverOpts": driver_opts, "GwPriority": int(o.get("gw-priority") or 0),  # type: ignore[call-overload]
        "NetworkID": "", "EndpointID": "", "Gateway": "", "IPAddress": "", "IPPrefixLen": 0, "IPv6Gateway": "",
        "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0, "DNSNames": None,
    }
    return network, {"Container": check_id("container", container), "EndpointConfig": endpoint}


def disconnect_request(network: str, container: str, force: bool) -> tuple[str, dict[str, Any]]:
    network = check_id("network", network)
    return network, {"Container": check_id("container", container), "Force": force}
