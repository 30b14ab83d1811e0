"""`port` / `container port`: the published ports from `NetworkSettings.Ports` of an inspect."""

from __future__ import annotations

import re

from dockyard.cli.command import Cli, Command, StatusError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from dockyard.cli.flags import Parsed

__all__ = ["PORT", "port_lines"]


def _join_host_port(ip: str, port: str) -> str:
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def _natural_key(text: str) -> list[Any]:
    # sortorder.NaturalLess: digit runs compare as numbers
    return [(0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.findall(r"\d+|\D+", text)]


def port_lines(ports: dict[str, Any] | None, container: str, wanted: str = "") -> list[str]:
    """docker's `port` output lines for `ports` (the inspect's NetworkSettings.Ports)."""
    ports = ports or {}
    out: list[str] = []
    if wanted:
        port, _, proto = wanted.partition("/")
        if not port.isdigit() or int(port) > 65535:
            raise StatusError(f'Error: invalid port ({port}): strconv.ParseUint: parsing "{port}": '
                              f"{'value out of range' if port.isdigit() else 'invalid syntax'}", 1)
        frontends = ports.get(f"{port}/{proto or 'tcp'}") or []
        if not frontends:
            raise StatusError(f"Error: No public port '{wanted}' published for {container}", 1)
        out = [_join_host_port(f.get("HostIp", ""), f.get("HostPort", "")) for f in frontends]
    else:
        for key, frontends in ports.items():
            for f in frontends or []:
                out.append(f"{key} -> {_join_host_port(f.get('HostIp', ''), f.get('HostPort', ''))}")
    return sorted(out, key=_natural_key)


def _port(cli: Cli, o: Parsed) -> int:
    info = cli.client.inspect_container(o.args[0])
    lines = port_lines((info.get("NetworkSettings") or {}).get("Ports"), o.args[0],
                       o.args[1] if len(o.args) > 1 else "")
    if lines:
        cli.print("\n".join(lines))
    return 0


PORT = Command("CONTAINER [PRIVATE_PORT[/PROTO]]",
               "List port mappings or a specific mapping for the container", _port,
               aliases=("container port", "port"), args=("range", 1, 2))
