"""Checking what clients send about networks: `POST /networks/create` bodies and endpoint settings.

Pure: turns a request into a `Network` (without its subnet when none was
given: the service picks one) or raises Docker's error for it.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from dockyard import errors
from dockyard.engine.network_store import PREDEFINED, Network
from dockyard.network.ipam import validate_ipam_config

__all__ = ["network_from_request", "endpoint_settings", "ENDPOINT_OPERATIONAL", "BRIDGE_NAME_OPTION",
           "validate_bridge_name"]

BRIDGE_NAME_OPTION = "com.docker.network.bridge.name"
_BRIDGE_NAME = re.compile(r"^[A-Za-z0-9_.:-]{1,15}$")
# Endpoint fields that only exist while the container runs (cleared at stop, as Docker does).
ENDPOINT_OPERATIONAL = {"EndpointID": "", "Gateway": "", "IPAddress": "", "IPPrefixLen": 0, "IPv6Gateway": "",
                        "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0, "MacAddress": ""}


def _dict_of_str(value: Any, what: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise errors.InvalidArgument(f"invalid {what}: must be an object of strings")
    return dict(value)


def validate_bridge_name(name: str) -> str:
    if not _BRIDGE_NAME.match(name) or name in (".", ".."):
        raise errors.InvalidArgument(f"invalid bridge name {name!r}: 1-15 letters, digits, '.', '-', '_' or ':'")
    return name


def network_from_request(body: Any, nid: str, created: str) -> Network:
    if not isinstance(body, dict):
        raise errors.InvalidArgument("invalid JSON body: expected an object")
    name = body.get("Name")
    if not isinstance(name, str) or not name:
        raise errors.InvalidArgument("network name must not be empty" if not name else "invalid network name")
    if name in PREDEFINED:
        raise errors.Forbidden(f"operation is not permitted on predefined {name} network ")
    driver = body.get("Driver") or "bridge"
    if driver != "bridge":
        raise errors.NotFound(f'plugin "{driver}" not found') if driver not in ("host", "null", "overlay") \
            else errors.Forbidden(f"only one instance of \"{driver}\" network is allowed"
                                  if driver != "overlay" else "overlay networks need a swarm: not supported")
    if body.get("EnableIPv6"):
        raise errors.InvalidArgument("IPv6 networks are not supported by dockyard")
    options = _dict_of_str(body.get("Options"), "Options")
    labels = _dict_of_str(body.get("Labels"), "Labels")
    for key in ("com.docker.network.bridge.enable_ip_masquerade", "com.docker.network.bridge.enable_icc"):
        if key in options and options[key] not in ("true", "false"):
            raise errors.InvalidArgument(f"failed to parse {key}: {options[key]!r} is not a valid bool")
    mtu = options.get("com.docker.network.driver.mtu", "")
    if mtu and (not mtu.isdigit() or not 68 <= int(mtu) <= 65535):
        raise errors.InvalidArgument(f"invalid MTU number: {mtu}")
    ipam = body.get("IPAM") or {}
    if not isinstance(ipam, dict):
        raise errors.InvalidArgument("invalid IPAM: must be an object")
    if (ipam.get("Driver") or "default") != "default":
        raise errors.NotFound(f'plugin "{ipam["Driver"]}" not found')
    configs = ipam.get("Config") or []
    if not isinstance(configs, list) or not all(isinstance(c, dict) for c in configs):
        raise errors.InvalidArgument("invalid IPAM.Config: must be a list of objects")
    net = Network(id=nid, name=name, driver="bridge", created=created, internal=bool(body.get("Internal")),
                  attachable=bool(body.get("Attachable")), options=options, labels=labels,
                  ipam_given=[dict(c) for c in configs], ipam_options=ipam.get("Options"))
    v4 = [c for c in configs if not (c.get("Subnet") and ":" in str(c.get("Subnet")))]
    if len(v4) > 1:
        raise errors.InvalidArgument("dockyard networks take one IPv4 subnet")
    if v4:
        _apply_ipam(net, v4[0])
    net.bridge = validate_bridge_name(options[BRIDGE_NAME_OPTION]) if options.get(BRIDGE_NAME_OPTION) \
        else f"br-{nid[:12]}"
    return net


def _apply_ipam(net: Network, cfg: dict) -> None:
    subnet, gateway = str(cfg.get("Subnet") or ""), str(cfg.get("Gateway") or "")
    ip_range, aux = str(cfg.get("IPRange") or ""), _dict_of_str(cfg.get("AuxiliaryAddresses"), "AuxiliaryAddresses")
    if not subnet:
        if gateway or ip_range or aux:
            raise errors.InvalidArgument("invalid network config: a gateway, ip-range or auxiliary address "
                                         "needs a subnet")
        return
    problems = validate_ipam_config(subnet, gateway, ip_range, aux)
    if problems:
        raise errors.InvalidArgument("invalid network config:\n" + "\n".join(problems))
    network = ipaddress.IPv4Network(subnet, strict=False)
    net.subnet = str(network)
    net.gateway = gateway or str(next(network.hosts()))
    net.ip_range = str(ipaddress.IPv4Network(ip_range, strict=False)) if ip_range else ""
    net.aux_addresses = aux


def endpoint_settings(given: Any) -> dict[str, Any]:
    """An EndpointSettings object as a container record keeps it, from what the client sent."""
    given = given if isinstance(given, dict) else {}
    ipam = given.get("IPAMConfig")
    if ipam is not None and not isinstance(ipam, dict):
        raise errors.InvalidArgument("invalid IPAMConfig: must be an object")
    if ipam:
        ip = ipam.get("IPv4Address") or ""
        if ip:
            try:
                addr = ipaddress.ip_address(ip)
            except ValueError:
                addr = None
            if addr is None or addr.version != 4 or addr.is_unspecified:
                raise errors.InvalidArgument(f"invalid endpoint settings:\ninvalid IPv4 address: {ip}")
        if ipam.get("IPv6Address"):
            raise errors.InvalidArgument("invalid endpoint settings:\nIPv6 addresses are not supported by dockyard")
        ipam = {k: v for k, v in ipam.items() if v} or None
    aliases = given.get("Aliases")
    if aliases is not None and (not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases)):
        raise errors.InvalidArgument("invalid Aliases: must be a list of strings")
    return {"IPAMConfig": ipam, "Links": given.get("Links"), "Aliases": aliases or None,
            "MacAddress": "", "DriverOpts": given.get("DriverOpts"), "GwPriority": given.get("GwPriority") or 0,
            "NetworkID": "", **ENDPOINT_OPERATIONAL, "DNSNames": None}
